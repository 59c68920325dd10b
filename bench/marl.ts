/**
 * Multi-agent team benchmark on sim-ml-ls-v1 (protocol P3): each coordination mode against the
 * best single agent on the same features (the team's user, item or content agent alone),
 * greedy-als, popularity and random, plus λ and α ablations. Prints a table with 95 % intervals
 * over seeds and writes JSON.
 *
 *   node --import tsx bench/marl.ts [--preset sim-ml-ls-v1] [--steps 2000] [--seeds 5] [--seed0 1] [--eval 200] [--part 0/1] [--only 'label,label'] [--over '{"key":value}'] [--tag name] [--out file.json]
 *
 * `--extras mf,ease` (or `mf{"epochs":40}`): recommenders fitted on the train split join the team as extra agents.
 * `--part i/n` runs every n-th configuration starting at i (to split the run over processes).
 * `--content genres`: the content agent reads the items' genre indicators (split over each item's
 * genres) instead of the built-in encoder's text embeddings of title and genres (`embed`, the default).
 */
import { writeFileSync } from 'node:fs';
import { registerTeam } from '../src/marl/register.js';
import { buildSetup } from '../src/eval/sim/setup.js';
import { loadSimData } from '../src/eval/sim/data.js';
import { SeedRun } from '../src/eval/sim/runner.js';
import { meanCi, type MeanCi } from '../src/eval/sim/stats.js';
import { attachTeamContent } from '../src/marl/content.js';
import type { TeamAgent } from '../src/marl/team.js';
import { fitExtras, parseExtrasSpec } from '../src/marl/extras.js';

// The team is not in the agent and recommender registries until asked for (as the CLI does).
registerTeam();

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

interface Cfg {
  label: string;
  agent: string;
  config?: Record<string, unknown>;
  lambda?: number;
  alpha?: number;
  /** A learning agent other than the team (trained for the same steps). */
  learns?: boolean;
}

const DEFAULT_LAMBDA = 0.1;
const DEFAULT_ALPHA = 0.1;
const team = (label: string, config: Record<string, unknown>, lambda = DEFAULT_LAMBDA, alpha = DEFAULT_ALPHA): Cfg => ({ label, agent: 'team', config: { ...config, lambda, alpha }, lambda, alpha });

const FAIR = { fairSlots: 5, fairBeta: 20, fairSlotPool: 2000 };
/** The SlateQ team as chosen on sim-interest-v1's validation seeds 101–104 (docs/benchmarks.md). */
const SLATEQ = { learner: 'rls', epsilon: 0.1, credit: 'slateq', target: 'mc', gamma: 0.95, candidates: 200, itemMeanValue: true };
/**
 * The same with the agents sharing the click model (P̂ on every member's rows), the content agent's
 * train profile, and 200 proposals per proposing agent (chosen on the same seeds, docs/benchmarks.md).
 */
const SLATEQ_SHARED = { ...SLATEQ, clickModel: 'team', contentProfile: 'both', proposals: 200 };

const CONFIGS: Cfg[] = [
  { label: 'random', agent: 'random' },
  { label: 'popularity', agent: 'popularity' },
  { label: 'greedy-als', agent: 'greedy-als' },
  // The src/agents bandits that learn by exact ridge regression on the user agent's features (less its prior score).
  { label: 'linucb', agent: 'linucb', learns: true },
  { label: 'thompson', agent: 'thompson', learns: true },
  { label: 'linucb λ=1', agent: 'linucb', learns: true, lambda: 1 },
  { label: 'thompson λ=1', agent: 'thompson', learns: true, lambda: 1 },
  // The best single agent on sim-interest-v1 (docs/benchmarks.md, "Agents that plan"): DQN with SlateQ's decomposition.
  { label: 'dqn slateq', agent: 'dqn', learns: true, config: { retrieval: 'linear', huberDelta: 100, credit: 'slateq', target: 'mc', itemMeanValue: true, trainEvery: 1 } },
  team('user agent alone', { members: ['user'] }),
  // An extra agent alone (with --extras mf): the explicit-rating MF recommender's view [z-score | 1].
  team('mf agent alone', { members: ['mf'] }),
  team('mf agent alone λ=1', { members: ['mf'] }, 1),
  team('user + mf vdn', { members: ['user', 'mf'], coordination: 'vdn' }),
  team('user + mf vdn λ=1', { members: ['user', 'mf'], coordination: 'vdn' }, 1),
  // The three-stake team with MF: the item agent (held near its prior, since its exposure features
  // are the team's own history) takes the lower positions when λ·G outweighs the clicks lost there.
  team('user + mf + item vdn dcg', { members: ['user', 'mf', 'item'], coordination: 'vdn', slotting: 'dcg', memberRidge: { item: 100 } }),
  team('user + mf + item vdn dcg λ=1', { members: ['user', 'mf', 'item'], coordination: 'vdn', slotting: 'dcg', memberRidge: { item: 100 } }, 1),
  team('content agent alone', { members: ['content'] }),
  team('item agent alone', { members: ['item'] }),
  team('team independent', { coordination: 'independent' }),
  team('team vdn', { coordination: 'vdn' }),
  team('team qmix', { coordination: 'qmix' }),
  // The state-weighted VDN: the mode named `qmix` until 2026-12-06 (its figures are labelled `team qmix` before then).
  team('team weighted-vdn', { coordination: 'weighted-vdn' }),
  team('team central-critic', { coordination: 'central-critic' }),
  // The per-item critic: the mode named `central-critic` until 2026-12-06 (its figures are labelled `team central-critic` before then).
  team('team item-critic', { coordination: 'item-critic' }),
  team('team comm', { coordination: 'comm' }),
  // The mode named `comm` until 2026-12-06 (its figures are labelled `team comm` before then).
  team('team value-sharing', { coordination: 'value-sharing' }),
  team('team vdn meta-fusion', { coordination: 'vdn', fusion: 'meta' }),
  // SlateQ's decomposition in the VDN team: P̂ from the user agent's click model × the summed values of a click.
  team('team vdn slateq', { coordination: 'vdn', ...SLATEQ }),
  team('team vdn slateq shared', { coordination: 'vdn', ...SLATEQ_SHARED }),
  // Its members alone with the same options (a one-member team's click model reads its own rows).
  team('user agent alone slateq shared', { members: ['user'], coordination: 'vdn', ...SLATEQ_SHARED }),
  team('content agent alone slateq shared', { members: ['content'], coordination: 'vdn', ...SLATEQ_SHARED }),
  team('user agent alone λ=1', { members: ['user'] }, 1),
  team('team vdn λ=1', { coordination: 'vdn' }, 1),
  // λ ablation of the fair-exposure team (in evaluation 5 of 10 positions — the lower half, where
  // position bias makes clicks least likely — filled by the item agent's exposure-discounted picks
  // from the user's top 2,000 by the prior) against the user agent alone at the same λ.
  team('user agent alone λ=0', { members: ['user'] }, 0),
  team('user agent alone λ=0.5', { members: ['user'] }, 0.5),
  team('team vdn fair', { coordination: 'vdn', ...FAIR }),
  team('team vdn fair λ=0', { coordination: 'vdn', ...FAIR }, 0),
  team('team vdn fair λ=0.5', { coordination: 'vdn', ...FAIR }, 0.5),
  team('team vdn fair λ=1', { coordination: 'vdn', ...FAIR }, 1),
  // The same fair-exposure slots on top of the user agent's relevance alone (no learned item/content values).
  team('user agent + fair slots', { members: ['user'], ...FAIR }),
  team('user agent + fair slots λ=0', { members: ['user'], ...FAIR }, 0),
  team('user agent + fair slots λ=0.5', { members: ['user'], ...FAIR }, 0.5),
  team('user agent + fair slots λ=1', { members: ['user'], ...FAIR }, 1),
  team('team vdn α=1', { coordination: 'vdn' }, DEFAULT_LAMBDA, 1),
  // λ ablation of every coordination mode and single member (for sim-ml-ls-v2, where G pays for rotation).
  team('item agent alone λ=1', { members: ['item'] }, 1),
  team('content agent alone λ=1', { members: ['content'] }, 1),
  team('team independent λ=1', { coordination: 'independent' }, 1),
  team('team qmix λ=1', { coordination: 'qmix' }, 1),
  team('team weighted-vdn λ=1', { coordination: 'weighted-vdn' }, 1),
  team('team central-critic λ=1', { coordination: 'central-critic' }, 1),
  team('team item-critic λ=1', { coordination: 'item-critic' }, 1),
  team('team comm λ=1', { coordination: 'comm' }, 1),
  team('team value-sharing λ=1', { coordination: 'value-sharing' }, 1),
  team('item agent alone λ=0.5', { members: ['item'] }, 0.5),
  team('team vdn λ=0.5', { coordination: 'vdn' }, 0.5),
  team('team central-critic λ=0.5', { coordination: 'central-critic' }, 0.5),
  team('team item-critic λ=0.5', { coordination: 'item-critic' }, 0.5),
  team('team comm λ=0.5', { coordination: 'comm' }, 0.5),
  team('team value-sharing λ=0.5', { coordination: 'value-sharing' }, 0.5),
  // Position-aware slotting (TeamConfig.slotting = 'dcg') for the value modes.
  team('team vdn dcg', { coordination: 'vdn', slotting: 'dcg' }),
  team('team qmix dcg', { coordination: 'qmix', slotting: 'dcg' }),
  team('team weighted-vdn dcg', { coordination: 'weighted-vdn', slotting: 'dcg' }),
  team('team comm dcg', { coordination: 'comm', slotting: 'dcg' }),
  team('team value-sharing dcg', { coordination: 'value-sharing', slotting: 'dcg' }),
  team('team independent dcg', { coordination: 'independent', slotting: 'dcg' }),
  // The learned central-critic team with the item agent's fair-exposure slots in evaluation.
  team('team central-critic fair', { coordination: 'central-critic', ...FAIR }),
  team('team item-critic fair', { coordination: 'item-critic', ...FAIR }),
];
// λ ablation grid: every variant below at λ = 0.5, 1 and 2 (labels "<variant> λ=<x>").
const LAMBDA_GRID: [string, Record<string, unknown>][] = [
  ['user agent alone', { members: ['user'] }],
  ['item agent alone', { members: ['item'] }],
  ['content agent alone', { members: ['content'] }],
  ['team vdn', { coordination: 'vdn' }],
  ['team vdn dcg', { coordination: 'vdn', slotting: 'dcg' }],
  ['team qmix dcg', { coordination: 'qmix', slotting: 'dcg' }],
  ['team central-critic', { coordination: 'central-critic' }],
  ['team item-critic', { coordination: 'item-critic' }],
  ['user agent + fair slots', { members: ['user'], ...FAIR }],
  ['team central-critic fair', { coordination: 'central-critic', ...FAIR }],
  ['team item-critic fair', { coordination: 'item-critic', ...FAIR }],
  ['team comm', { coordination: 'comm' }],
  ['team value-sharing', { coordination: 'value-sharing' }],
  ['team qmix', { coordination: 'qmix' }],
  ['team weighted-vdn', { coordination: 'weighted-vdn' }],
  ['team weighted-vdn dcg', { coordination: 'weighted-vdn', slotting: 'dcg' }],
  ['team independent', { coordination: 'independent' }],
];
for (const lam of [0.5, 1, 2]) {
  for (const [name, config] of LAMBDA_GRID) {
    const label = `${name} λ=${lam}`;
    if (!CONFIGS.some((c) => c.label === label)) CONFIGS.push(team(label, config, lam));
  }
}

async function main(): Promise<void> {
  const steps = Number(arg('steps', '2000'));
  const seeds = Number(arg('seeds', '5'));
  const evalSessions = Number(arg('eval', '200'));
  // --seed0 s: seeds s … s + seeds − 1 (tune on other seeds than the ones reported).
  const seed0 = Number(arg('seed0', '1'));
  const [pi, pn] = arg('part', '0/1').split('/').map(Number) as [number, number];
  const dataDir = arg('data', '../shared/datasets/ml-latest-small');
  const out = arg('out', '');
  // sim-ml-ls-v1 (static exposure value) or sim-ml-ls-v2 (exposure value falls with exposure: docs/simulator.md).
  const preset = arg('preset', 'sim-ml-ls-v1');
  const data = await loadSimData(dataDir);
  // --over '{"fairBeta":20}': JSON merged into every team configuration (for sweeps).
  const over = JSON.parse(arg('over', '{}')) as Record<string, unknown>;
  const tag = arg('tag', '');
  const contentKind = arg('content', 'embed');
  if (contentKind !== 'embed' && contentKind !== 'genres') throw new Error(`--content ${contentKind}: expected embed or genres`);
  // --extras 'mf{"epochs":40},ease': recommender names, each with an optional JSON config.
  const extras = parseExtrasSpec(arg('extras', ''));
  const only = arg('only', '').split(',').map((x) => x.trim()).filter((x) => x.length > 0);
  const rows: Record<string, unknown>[] = [];
  const setups = new Map<string, Awaited<ReturnType<typeof buildSetup>>>();
  for (let c = pi; c < CONFIGS.length; c += pn) {
    const cfg = CONFIGS[c]!;
    if (only.length > 0 && !only.includes(cfg.label)) continue;
    const key = `${cfg.lambda ?? DEFAULT_LAMBDA}/${cfg.alpha ?? DEFAULT_ALPHA}`;
    let setup = setups.get(key);
    if (!setup) {
      setup = await buildSetup({ preset, dataDir, lambda: cfg.lambda ?? DEFAULT_LAMBDA, alpha: cfg.alpha ?? DEFAULT_ALPHA });
      const tctx = await attachTeamContent(setup.ctx, data.full, 32, undefined, data.train);
      // --content genres: the content agent reads the items' genre indicators instead of the text embeddings.
      if (contentKind === 'genres') delete tctx.content;
      tctx.extras = await fitExtras(extras, data.train);
      setups.set(key, setup);
    }
    const t0 = performance.now();
    const per: { ret: number; ctr: number; gini: number; cold: number; len: number; summary?: unknown }[] = [];
    for (let seed = seed0; seed < seed0 + seeds; seed++) {
      const trainSteps = cfg.agent === 'team' || cfg.learns ? steps : 0;
      const run = new SeedRun(setup, { agent: cfg.agent, agentConfig: cfg.agent === 'team' ? { ...cfg.config, ...over } : cfg.config, trainSteps, nEnvs: 16, curvePoints: 5 }, seed);
      while (run.trainStepsDone < trainSteps) run.train(steps);
      const m = run.evaluate(evalSessions);
      per.push({ ret: m.return, ctr: m.ctr, gini: m.exposureGini, cold: m.coldExposureShare, len: m.sessionLength, summary: cfg.agent === 'team' ? (run.agent as unknown as TeamAgent).summary() : undefined });
    }
    const ci = (f: (x: (typeof per)[number]) => number): MeanCi => meanCi(per.map(f));
    // --tag x marks every team row's label "<variant> [x]" (before its λ suffix), so runs with an --over can be pooled and reported beside the defaults.
    const label = tag && cfg.agent === 'team' ? cfg.label.replace(/( λ=[0-9.]+)?$/, (m) => ` [${tag}]${m}`) : cfg.label;
    const row = { label, agent: cfg.agent, config: cfg.config ?? {}, lambda: cfg.lambda ?? DEFAULT_LAMBDA, alpha: cfg.alpha ?? DEFAULT_ALPHA, return: ci((x) => x.ret), ctr: ci((x) => x.ctr), gini: ci((x) => x.gini), cold: ci((x) => x.cold), sessionLength: ci((x) => x.len), wallSeconds: (performance.now() - t0) / 1000, perSeedReturn: per.map((x) => x.ret), perSeedGini: per.map((x) => x.gini), agents: per[0]?.summary };
    rows.push(row);
    const f = (m: MeanCi, d = 3): string => `${m.mean.toFixed(d)} [${m.ci95[0].toFixed(d)}, ${m.ci95[1].toFixed(d)}]`;
    console.log(`| ${label} | ${row.lambda} | ${row.alpha} | ${f(row.return)} | ${f(row.ctr)} | ${f(row.gini)} | ${f(row.cold, 4)} | ${row.wallSeconds.toFixed(0)} |`);
    if (out) writeFileSync(out, JSON.stringify({ preset, steps, seeds, seed0, evalSessions, content: contentKind, rows }, null, 2));
  }
}

void main();
