/**
 * Learning from logs (issue 17): a behaviour policy — a registered agent, frozen, with ε-greedy
 * exploration over the catalogue — logs user-steps in the simulator; behaviour cloning and CQL
 * are fitted on that log alone (src/ope/learn); then the behaviour policy (as it logged, ε
 * included), BC and CQL are each run on-policy on the same evaluation sessions. Per seed:
 * returns and the ratio CQL / behaviour; over seeds: means with Student-t 95 % intervals.
 *
 *   node --import tsx bench/offline-rl.ts [--behaviour greedy-als] [--epsilon 0.2] [--log-steps 20000]
 *        [--steps 5000] [--alpha 0.1] [--seeds 5] [--seed0 1] [--eval 1000] [--data ../shared/datasets/ml-latest-small] [--write-log sessions.jsonl]
 *        [--dp-epsilons 1,8] [--dp-steps 200] [--dp-rate 0.6] [--dp-lr 0.5] [--dp-clip 1]
 *
 * --dp-epsilons also fits BC and CQL with user-level DP-SGD (src/ope/learn/offline-agent.ts `dp`,
 * δ = 1/users of the log) at each ε, and runs them on the same evaluation sessions.
 *
 * Tune on --seed0 1000 (validation); report seeds 1…5.
 */
import { loadavg } from 'node:os';
import { createAgent } from '../src/agents/registry.js';
import type { Observation, Slate } from '../src/env/types.js';
import { codeVersion, fileSha256 } from '../src/eval/stamp.js';
import { SeedRun } from '../src/eval/sim/runner.js';
import { buildSetup } from '../src/eval/sim/setup.js';
import { meanCi, type MeanCi } from '../src/eval/sim/stats.js';
import { BcAgent, BC_DEFAULTS } from '../src/ope/learn/bc.js';
import { CqlAgent, CQL_DEFAULTS } from '../src/ope/learn/cql.js';
import { OFFLINE_DP_DEFAULTS } from '../src/ope/learn/offline-agent.js';
import { collectSessionLog, ExploringBehaviour, writeSessionLog } from '../src/ope/learn/session-log.js';
import { numArg, strArg } from './args.js';

const behaviourName = strArg('behaviour', 'greedy-als');
const epsilon = numArg('epsilon', 0.2);
const logSteps = numArg('log-steps', 20000);
const gradSteps = numArg('steps', 5000);
const alpha = numArg('alpha', CQL_DEFAULTS.alpha);
const seeds = numArg('seeds', 5);
const seed0 = numArg('seed0', 1);
const evalSessions = numArg('eval', 1000);
const dataDir = strArg('data', '../shared/datasets/ml-latest-small');
/** Write the first seed's session log here (for `chorus simulate --agent cql -p log=<file>`). */
const writeLog = strArg('write-log');
const dpEpsilons = (strArg('dp-epsilons') ?? '').split(',').filter((x) => x.trim() !== '').map(Number);
const dpBase = { steps: numArg('dp-steps', OFFLINE_DP_DEFAULTS.steps), sampleRate: numArg('dp-rate', 0.6), learningRate: numArg('dp-lr', OFFLINE_DP_DEFAULTS.learningRate), clip: numArg('dp-clip', 1), maxItemsPerUser: 100, weightDecay: 0 };
const dpRows = new Map<number, { bc: number[]; cql: number[]; spent: number; delta: number; users: string }>();

const sha = await fileSha256(`${dataDir}/ratings.csv`);
const started = new Date().toISOString();
console.log(
  `P3 · sim-ml-ls-v1 v1 · ml-latest-small ratings.csv sha256 ${sha.slice(0, 12)} · K 10 · γ 0.95 · behaviour ${behaviourName} frozen + ε ${epsilon} · log ${logSteps} user-steps/seed · ` +
    `BC/CQL ${gradSteps} gradient steps (CQL α ${alpha}) · seeds ${seed0}…${seed0 + seeds - 1} × ${evalSessions} eval sessions · code ${codeVersion()} · ${started}`,
);
console.log(`load before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const setup = await buildSetup({ preset: 'sim-ml-ls-v1', dataDir });
const K = setup.preset.config.slateSize;

const rows: Record<'behaviour' | 'greedy' | 'bc' | 'cql', number[]> = { behaviour: [], greedy: [], bc: [], cql: [] };
const ratio: number[] = [];
const ratioBc: number[] = [];
const ratioGreedy: number[] = [];
console.log('| seed | behaviour (ε) | behaviour greedy | BC | CQL | CQL / behaviour | log s | fit s (BC, CQL) |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (let seed = seed0; seed < seed0 + seeds; seed++) {
  const t0 = performance.now();
  const behaviour = new ExploringBehaviour(createAgent(behaviourName, setup.ctx, { seed }), epsilon, setup.preset.world.nItems, seed ^ 0x9e3779b9);
  const log = collectSessionLog(setup, { agent: behaviourName, behaviour, steps: logSteps, seed });
  if (writeLog && seed === seed0) writeSessionLog(writeLog, log);
  const t1 = performance.now();
  const bc = new BcAgent(setup.ctx, { seed, ...BC_DEFAULTS, steps: gradSteps }).fit(log);
  const t2 = performance.now();
  const cql = new CqlAgent(setup.ctx, { seed, ...CQL_DEFAULTS, alpha, steps: gradSteps }).fit(log);
  const t3 = performance.now();
  bc.setTraining(false);
  cql.setTraining(false);
  // The same evaluation sessions for every policy (SeedRun's evaluation seed), so seeds pair up.
  const onPolicy = (act: (obs: Observation) => Slate): number => new SeedRun(setup, { agent: 'random', trainSteps: 0, nEnvs: 16, curvePoints: 1 }, seed).evaluate(evalSessions, undefined, act).return;
  const b = onPolicy((o) => behaviour.act(o, K));
  const g = onPolicy((o) => behaviour.agent.act(o, K));
  const c = onPolicy((o) => bc.act(o, K));
  const q = onPolicy((o) => cql.act(o, K));
  for (const eps of dpEpsilons) {
    const dp = { ...dpBase, epsilon: eps, seed };
    const dbc = new BcAgent(setup.ctx, { seed, ...BC_DEFAULTS, dp }).fit(log);
    const dcql = new CqlAgent(setup.ctx, { seed, ...CQL_DEFAULTS, alpha, dp }).fit(log);
    dbc.setTraining(false);
    dcql.setTraining(false);
    const r = dpRows.get(eps) ?? { bc: [], cql: [], spent: 0, delta: 0, users: '' };
    r.bc.push(onPolicy((o) => dbc.act(o, K)));
    r.cql.push(onPolicy((o) => dcql.act(o, K)));
    r.spent = Math.max(r.spent, dbc.privacy!.epsilon, dcql.privacy!.epsilon);
    r.delta = dbc.privacy!.delta;
    r.users = dbc.privacy!.unit;
    dpRows.set(eps, r);
    console.log(`|   dp ε ${eps} | | | ${r.bc.at(-1)!.toFixed(3)} | ${r.cql.at(-1)!.toFixed(3)} | ${(r.cql.at(-1)! / b).toFixed(3)} | | |`);
  }
  rows.behaviour.push(b);
  rows.greedy.push(g);
  rows.bc.push(c);
  rows.cql.push(q);
  ratio.push(q / b);
  ratioBc.push(c / b);
  ratioGreedy.push(q / g);
  const f = (x: number) => x.toFixed(3);
  console.log(`| ${seed} | ${f(b)} | ${f(g)} | ${f(c)} | ${f(q)} | ${f(q / b)} | ${((t1 - t0) / 1000).toFixed(0)} | ${((t2 - t1) / 1000).toFixed(0)}, ${((t3 - t2) / 1000).toFixed(0)} |`);
}
const ci = (m: MeanCi) => `${m.mean.toFixed(3)} [${m.ci95[0].toFixed(3)}, ${m.ci95[1].toFixed(3)}]`;
console.log('');
console.log('| policy | return (95% CI over seeds) |');
console.log('| --- | --- |');
console.log(`| behaviour: ${behaviourName} + ε ${epsilon} (logged) | ${ci(meanCi(rows.behaviour))} |`);
console.log(`| ${behaviourName} without ε | ${ci(meanCi(rows.greedy))} |`);
console.log(`| BC | ${ci(meanCi(rows.bc))} |`);
console.log(`| CQL α ${alpha} | ${ci(meanCi(rows.cql))} |`);
console.log(`| ratio CQL / behaviour (per seed) | ${ci(meanCi(ratio))} |`);
console.log(`| ratio BC / behaviour (per seed) | ${ci(meanCi(ratioBc))} |`);
console.log(`| ratio CQL / ${behaviourName} without ε (per seed) | ${ci(meanCi(ratioGreedy))} |`);
for (const [eps, r] of dpRows) {
  console.log(`| BC, DP ε ${eps} (spent ${r.spent.toFixed(2)}, δ ${r.delta.toExponential(2)} per ${r.users}; ${dpBase.steps} steps, rate ${dpBase.sampleRate}, lr ${dpBase.learningRate}, clip ${dpBase.clip}) | ${ci(meanCi(r.bc))} |`);
  console.log(`| CQL α ${alpha}, DP ε ${eps} | ${ci(meanCi(r.cql))} |`);
}
console.log(`load after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
