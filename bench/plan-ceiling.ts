/**
 * How much planning can pay on a preset: oracles that read the simulated user's hidden state,
 * myopic ones against ones that look ahead, on exactly the sessions and metrics of
 * bench/marl-ceiling.ts and bench/sim-agents.ts (SeedRun.evaluate, same seeds). No learner sees this
 * state, so the ratio of the best look-ahead oracle to the best myopic one bounds, from below, what
 * planning is worth on the preset before anything has to be learned: if it is small, an agent can
 * only beat a myopic bandit by a wide margin by learning the user better, not by planning.
 *
 *   node --import tsx bench/plan-ceiling.ts [--preset sim-ml-ls-v1] [--data DIR] [--lambda 0.1]
 *     [--alpha 0.1] [--seeds 5] [--seed0 201] [--eval 200] [--betas 0,0.5,1,2,4] [--rollouts 16]
 *     [--pool 300] [--oracles utility,value,rule,rollout] [--out file.json]
 *
 * Oracles (both simulator families; the hidden state is the rating model's user, drift, satiation
 * and patience, or the interest family's interests and time budget):
 *  - `utility`: the K unconsumed items of highest click utility at the top position.
 *  - `value` (myopic): the slate built position by position, each time adding the item that most
 *    raises this step's expected reward Σ_k p_k·v_k + λ·G + α·A (p_k the exact choice
 *    probabilities; v_k the expected reward of a click: click, purchase and rating at the item's
 *    mean rating, or the expected watch time). This is the best one-step policy up to the greedy
 *    slate search.
 *  - `rule β`: the same slate with each item's click value raised by β·f_i, f_i the part of an item
 *    that acts on the future only: in the rating family the mean rating's distance from 3
 *    (patience moves with the rating), in the interest family the document's quality q_i (it moves
 *    the budget and the interests, never the click or its reward). A fixed look-ahead rule.
 *  - `rollout`: one step of policy improvement over `value` (Bertsekas' rollout algorithm): at
 *    every step each distinct `rule β` slate (β = 0 included) is tried on `--rollouts` forks of the
 *    session (SessionBatch.forkSlot: the simulator's own dynamics from the session's exact state),
 *    each continued with `value` to the end; the slate with the highest mean discounted return is
 *    shown. In expectation it is at least as good as `value`, so its lead over `value` is a lower
 *    bound on what planning pays. Rollouts rank items from the `--pool` items of highest utility
 *    at the step they start from (the full catalogue at the step itself).
 * Rows are printed as a table; `--out` writes them as JSON.
 */
import { writeFileSync } from 'node:fs';
import { buildSetup } from '../src/eval/sim/setup.js';
import { SeedRun } from '../src/eval/sim/runner.js';
import { meanCi, type MeanCi } from '../src/eval/sim/stats.js';
import type { Slate } from '../src/env/types.js';
import { createVecEnv, type SimPreset } from '../src/env/presets.js';
import { greedySlate, makeScorer, newScores, topByUtility, type Env } from './hidden-state-oracles.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

type Policy = (slot: number, env: Env) => Slate;


function makeOracle(kind: string, preset: SimPreset, betas: number[], rollouts: number, pool: number, seed: number): Policy {
  const N = preset.world.nItems;
  const K = preset.config.slateSize;
  const gamma = preset.config.gamma;
  const score = makeScorer(preset);
  const sc = newScores(N);
  if (kind === 'utility') {
    return (slot, env) => {
      score(env, slot, null, sc);
      return { items: topByUtility(sc, K) };
    };
  }
  if (kind.startsWith('rule')) {
    const beta = Number(kind.slice(5));
    return (slot, env) => {
      score(env, slot, null, sc);
      const items = new Int32Array(K);
      greedySlate(preset, env, sc, beta, null, items);
      return { items };
    };
  }
  // rollout
  const planner = createVecEnv(preset, rollouts, { autoReset: true });
  planner.reset(seed);
  const live = new Uint8Array(rollouts);
  const ret = new Float64Array(rollouts);
  const buf = new Int32Array(rollouts * K);
  const scR = newScores(N);
  const slateR = new Int32Array(K);
  let calls = 0;
  return (slot, env) => {
    score(env, slot, null, sc);
    const cands: Int32Array[] = [];
    for (const beta of betas) {
      const items = new Int32Array(K);
      greedySlate(preset, env, sc, beta, null, items);
      if (!cands.some((c) => c.every((v, k) => v === items[k]))) cands.push(items);
    }
    if (cands.length === 1) return { items: cands[0]! };
    const pl = topByUtility(sc, pool);
    const stepSeed = seed * 1_000_003 + calls++;
    let best = 0;
    let bestMean = -Infinity;
    for (let c = 0; c < cands.length; c++) {
      // `planner` is built from the same preset as `env`, so it is of the same family (forkSlot's `this` type).
      for (let r = 0; r < rollouts; r++) planner.forkSlot(env as never, slot, r);
      // Same random stream for every candidate: their differences are the slates', not the draws'.
      planner.reseed(stepSeed);
      live.fill(1);
      ret.fill(0);
      let disc = 1;
      for (let r = 0; r < rollouts; r++) buf.set(cands[c]!, r * K);
      for (let step = 0; live.some((x) => x === 1); step++) {
        if (step > 0) {
          buf.fill(-1);
          for (let r = 0; r < rollouts; r++) {
            if (!live[r]) continue;
            score(planner, r, pl, scR);
            greedySlate(preset, planner, scR, 0, pl, slateR);
            buf.set(slateR, r * K);
          }
        }
        const res = planner.step(buf);
        for (let r = 0; r < rollouts; r++) {
          if (!live[r]) continue;
          ret[r] += disc * res.rewards[r]!;
          if (res.done[r]) live[r] = 0;
        }
        disc *= gamma;
      }
      let mean = 0;
      for (let r = 0; r < rollouts; r++) mean += ret[r]! / rollouts;
      if (mean > bestMean) (bestMean = mean), (best = c);
    }
    return { items: cands[best]! };
  };
}

async function main(): Promise<void> {
  const preset = arg('preset', 'sim-ml-ls-v1');
  const lambda = Number(arg('lambda', '0.1'));
  const alpha = Number(arg('alpha', '0.1'));
  const seeds = Number(arg('seeds', '5'));
  const seed0 = Number(arg('seed0', '201'));
  const evalSessions = Number(arg('eval', '200'));
  const betas = arg('betas', '0,0.5,1,2,4').split(',').map(Number);
  const rollouts = Number(arg('rollouts', '16'));
  const pool = Number(arg('pool', '300'));
  const kinds = arg('oracles', 'utility,value,rule,rollout').split(',').flatMap((k) => (k === 'rule' ? betas.filter((b) => b > 0).map((b) => `rule ${b}`) : [k]));
  const dataDir = arg('data', '../shared/datasets/ml-latest-small');
  const out = arg('out', '');
  const setup = await buildSetup({ preset, dataDir, lambda, alpha });
  const rows: Record<string, unknown>[] = [];
  console.log(`preset ${preset}, data ${dataDir}, λ ${lambda}, α ${alpha}, seeds ${seed0}–${seed0 + seeds - 1}, ${evalSessions} sessions each, β ∈ {${betas.join(', ')}}, ${rollouts} rollouts, pool ${pool}`);
  console.log('| oracle | return | per seed | CTR | session length | wall s |');
  console.log('| --- | --- | --- | ---: | ---: | ---: |');
  for (const kind of kinds) {
    const t0 = performance.now();
    const per: { ret: number; ctr: number; len: number }[] = [];
    for (let seed = seed0; seed < seed0 + seeds; seed++) {
      // A non-learning agent stands in for the run; the oracle acts instead of it.
      const run = new SeedRun(setup, { agent: 'random', trainSteps: 0, nEnvs: 16, curvePoints: 1 }, seed);
      const policy = makeOracle(kind === 'value' ? 'rule 0' : kind, setup.preset, betas, rollouts, pool, seed);
      const m = run.evaluate(evalSessions, undefined, (_obs, slot, env) => policy(slot, env));
      per.push({ ret: m.return, ctr: m.ctr, len: m.sessionLength });
    }
    const ci = (f: (x: (typeof per)[number]) => number): MeanCi => meanCi(per.map(f));
    const row = { oracle: kind, preset, lambda, alpha, betas, rollouts, pool, return: ci((x) => x.ret), ctr: ci((x) => x.ctr), sessionLength: ci((x) => x.len), perSeedReturn: per.map((x) => x.ret), wallSeconds: (performance.now() - t0) / 1000 };
    rows.push(row);
    const f = (m: MeanCi, d = 3): string => `${m.mean.toFixed(d)} [${m.ci95[0].toFixed(d)}, ${m.ci95[1].toFixed(d)}]`;
    console.log(`| ${kind} | ${f(row.return)} | ${row.perSeedReturn.map((x) => x.toFixed(3)).join(', ')} | ${row.ctr.mean.toFixed(3)} | ${row.sessionLength.mean.toFixed(2)} | ${row.wallSeconds.toFixed(0)} |`);
    if (out) writeFileSync(out, JSON.stringify({ preset, seeds, seed0, evalSessions, rows }, null, 2));
  }
}

void main();
