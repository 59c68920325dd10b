/**
 * Ceilings for the multi-agent benchmark: oracles that read the simulated user's hidden state
 * (VecEnv.hiddenState: hidden factors, preference drift, genre satiation, consumed items) and
 * fill each slate greedily, evaluated on exactly the sessions and metrics of bench/marl.ts
 * (SeedRun.evaluate with the same seeds). No learner can see this state, so these returns bound
 * what "better relevance" can buy on a preset, short of planning over the session.
 *
 *   node --import tsx bench/marl-ceiling.ts [--preset sim-ml-ls-v1] [--lambda 0.1] [--alpha 0.1] [--seeds 20] [--seed0 201] [--eval 1000] [--out file.json]
 *
 * Oracles:
 *  - `oracle: utility` ranks every unconsumed item by its exact click utility at the top position
 *    (hidden rating with drift, genre affinity, satiation, attractiveness) — the click-maximising
 *    slate of a multinomial-logit user with additive position bias.
 *  - `oracle: value` builds the slate position by position, each time adding the item that most
 *    raises the expected one-step reward E[r] = Σ_k p_k·v_k + λ·G + α·A, where p_k is the exact
 *    choice probability and v_k the expected click reward (click + purchase + rating) at the
 *    item's mean rating.
 * Writes rows in bench/marl.ts's JSON shape, so bench/marl-report.ts can set them beside the agents.
 */
import { writeFileSync } from 'node:fs';
import { buildSetup } from '../src/eval/sim/setup.js';
import { SeedRun } from '../src/eval/sim/runner.js';
import { meanCi, type MeanCi } from '../src/eval/sim/stats.js';
import type { Observation, Slate } from '../src/env/types.js';
import { ratingFamilyEnv, type SimPreset } from '../src/env/presets.js';
import { greedySlate, makeScorer, newScores, topByUtility, type Env } from './hidden-state-oracles.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

type OracleKind = 'utility' | 'value';
type Policy = (obs: Observation, slot: number, env: Env) => Slate;

function makeOracle(kind: OracleKind, preset: SimPreset): Policy {
  const { world, config } = preset;
  const K = config.slateSize;
  const score = makeScorer(preset);
  const sc = newScores(world.nItems);
  return (_obs, slot, env) => {
    // Only the rating family's hidden state is a rating model's.
    score(ratingFamilyEnv(env, config.preset), slot, null, sc);
    if (kind === 'utility') return { items: topByUtility(sc, K) };
    const items = new Int32Array(K);
    greedySlate(preset, env, sc, 0, null, items);
    return { items };
  };
}

async function main(): Promise<void> {
  const preset = arg('preset', 'sim-ml-ls-v1');
  const lambda = Number(arg('lambda', '0.1'));
  const alpha = Number(arg('alpha', '0.1'));
  const seeds = Number(arg('seeds', '20'));
  const seed0 = Number(arg('seed0', '201'));
  const evalSessions = Number(arg('eval', '1000'));
  const dataDir = arg('data', '../shared/datasets/ml-latest-small');
  const out = arg('out', '');
  const setup = await buildSetup({ preset, dataDir, lambda, alpha });
  const rows: Record<string, unknown>[] = [];
  console.log('| oracle | λ | α | return | CTR | exposure Gini | cold share | wall s |');
  console.log('| --- | ---: | ---: | --- | --- | --- | --- | ---: |');
  for (const kind of ['utility', 'value'] as const) {
    const t0 = performance.now();
    const per: { ret: number; ctr: number; gini: number; cold: number; len: number }[] = [];
    for (let seed = seed0; seed < seed0 + seeds; seed++) {
      // A non-learning agent stands in for the run; the oracle acts instead of it.
      const run = new SeedRun(setup, { agent: 'random', trainSteps: 0, nEnvs: 16, curvePoints: 1 }, seed);
      const m = run.evaluate(evalSessions, undefined, makeOracle(kind, setup.preset));
      per.push({ ret: m.return, ctr: m.ctr, gini: m.exposureGini, cold: m.coldExposureShare, len: m.sessionLength });
    }
    const ci = (f: (x: (typeof per)[number]) => number): MeanCi => meanCi(per.map(f));
    const label = `oracle: ${kind}${lambda === 0.1 ? '' : ` λ=${lambda}`}`;
    const row = { label, agent: `oracle-${kind}`, config: {}, lambda, alpha, return: ci((x) => x.ret), ctr: ci((x) => x.ctr), gini: ci((x) => x.gini), cold: ci((x) => x.cold), sessionLength: ci((x) => x.len), wallSeconds: (performance.now() - t0) / 1000, perSeedReturn: per.map((x) => x.ret), perSeedGini: per.map((x) => x.gini) };
    rows.push(row);
    const f = (m: MeanCi, d = 3): string => `${m.mean.toFixed(d)} [${m.ci95[0].toFixed(d)}, ${m.ci95[1].toFixed(d)}]`;
    console.log(`| ${label} | ${lambda} | ${alpha} | ${f(row.return)} | ${f(row.ctr)} | ${f(row.gini)} | ${f(row.cold, 4)} | ${row.wallSeconds.toFixed(0)} |`);
    if (out) writeFileSync(out, JSON.stringify({ preset, steps: 0, seeds, seed0, evalSessions, rows }, null, 2));
  }
}

void main();
