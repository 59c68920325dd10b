/**
 * Every classic agent on sim-ml-ls-v1 with the documented budget (P3): train 20,000 user-steps
 * per seed, 5 seeds, evaluate 1,000 sessions per seed; prints a Markdown table with 95 %
 * intervals over seeds and writes a report folder with the plots.
 *
 *   node --import tsx bench/sim-agents.ts [--agents random,popularity,…] [--steps 20000] [--seeds 5]
 *        [--eval-sessions 1000] [--data ../shared/datasets/ml-latest-small] [--out bench/out/sim-agents]
 *        [--preset sim-ml-ls-v1] [--workers 2] [--seed0 1]
 *
 * An agent is a registered name, or `label=name:{json config}` for a configured one (agents are
 * separated by `;` when any has a config), e.g.
 *   --agents 'linucb;thompson;dqn-slateq=dqn:{"retrieval":"linear","credit":"slateq","target":"mc"}'
 */
import { loadavg } from 'node:os';
import { codeVersion, fileSha256 } from '../src/eval/stamp.js';
import { writeSimReport } from '../src/eval/sim/report.js';
import { runSimulation, type SimulationResult } from '../src/eval/sim/simulate.js';

const args = process.argv.slice(2);
const flag = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const agentList = flag('agents', 'random,popularity,greedy-als,egreedy,ucb,linucb,thompson,qlearning,sarsa');
const agents = agentList.split(agentList.includes(';') ? ';' : ',').map((spec) => {
  const m = /^([^=]+)=([^:]+):(.*)$/.exec(spec);
  return m ? { label: m[1]!, name: m[2]!, config: JSON.parse(m[3]!) as Record<string, unknown> } : { label: spec, name: spec, config: {} };
});
const preset = flag('preset', 'sim-ml-ls-v1');
const workers = Number(flag('workers', '2'));
// Seeds seed0…seed0+seeds−1: 1–20 are the test seeds of docs/benchmarks.md, 101 on the validation ones.
const seed0 = Number(flag('seed0', '1'));
const steps = Number(flag('steps', '20000'));
const seeds = Number(flag('seeds', '5'));
const evalSessions = Number(flag('eval-sessions', '1000'));
const dataDir = flag('data', '../shared/datasets/ml-latest-small');
const out = flag('out', 'bench/out/sim-agents');

const sha = await fileSha256(`${dataDir}/ratings.csv`);
const started = new Date().toISOString();
console.log(`P3 · ${preset} · ${dataDir} ratings.csv sha256 ${sha.slice(0, 12)} · K 10 · γ 0.95 · train ${steps} user-steps/seed · ${seeds} seeds from ${seed0} × ${evalSessions} eval sessions · code ${codeVersion()} · ${started}`);
console.log(`load before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const runs: SimulationResult[] = [];
const f = (x: number, d = 3) => x.toFixed(d);
console.log('| agent | train steps | return (95% CI) | CTR | session length | exposure Gini | cold share | wall s |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const { label, name, config } of agents) {
  const r = await runSimulation({ preset, dataDir, agent: name, agentConfig: config, trainSteps: steps, seeds, firstSeed: seed0, evalSessions, workers });
  runs.push(r);
  const ci = (m: { mean: number; ci95: [number, number] }, d = 3) => `${f(m.mean, d)} [${f(m.ci95[0], d)}, ${f(m.ci95[1], d)}]`;
  console.log(`| ${label} | ${r.trainSteps} | ${ci(r.return)} | ${ci(r.intervals.ctr)} | ${ci(r.intervals.sessionLength, 2)} | ${f(r.exposureGini)} | ${f(r.coldExposureShare)} | ${f(r.wallSeconds, 0)} |`);
}
await writeSimReport(out, runs, { commit: codeVersion(), date: started });
console.log(`load after: ${loadavg().map((x) => x.toFixed(2)).join(' ')} · report ${out}/report.md`);
