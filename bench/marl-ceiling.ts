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
import { ratingFamilyEnv } from '../src/env/presets.js';
import type { SimConfig } from '../src/env/config.js';
import { clickUtility, hiddenRating, itemSatiation, type SimWorld } from '../src/env/world.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

type OracleKind = 'utility' | 'value';
type Policy = (obs: Observation, slot: number, env: Parameters<typeof ratingFamilyEnv>[0]) => Slate;

function makeOracle(kind: OracleKind, world: SimWorld, cfg: SimConfig): Policy {
  const N = world.nItems;
  const K = cfg.slateSize;
  const util = new Float64Array(N);
  const expU = new Float64Array(N);
  const value = new Float64Array(N);
  const show = new Float64Array(N);
  const taken = new Uint8Array(N);
  const posW = Float64Array.from({ length: K }, (_, k) => Math.exp(-cfg.choice.positionDecay * Math.log1p(k)));
  const e0 = Math.exp(cfg.choice.noClickUtility);
  const rw = cfg.reward;
  return (_obs, slot, anyEnv) => {
    // Only the rating family's hidden state is a rating model's.
    const env = ratingFamilyEnv(anyEnv, cfg.preset);
    const h = env.hiddenState(slot);
    taken.fill(0);
    for (const i of h.history) taken[i] = 1;
    for (let i = 0; i < N; i++) {
      util[i] = taken[i] ? -Infinity : clickUtility(world, cfg, h.user, i, 0, h.drift, 0, h.satiation, 0);
    }
    const items = new Int32Array(K).fill(-1);
    if (kind === 'utility') {
      for (let k = 0; k < K; k++) {
        let best = -1;
        for (let i = 0; i < N; i++) if (!taken[i] && (best < 0 || util[i]! > util[best]!)) best = i;
        if (best < 0) break;
        items[k] = best;
        taken[best] = 1;
      }
      return { items };
    }
    for (let i = 0; i < N; i++) {
      if (taken[i]) continue;
      expU[i] = Math.exp(util[i]!);
      const r = Math.min(5, Math.max(0.5, hiddenRating(world, h.user, i, h.drift, 0) - cfg.satiation.ratingPenalty * itemSatiation(world, i, h.satiation, 0)));
      const pBuy = 1 / (1 + Math.exp(-(cfg.purchase.bias + cfg.purchase.slope * (r - 3.5))));
      value[i] = rw.click + rw.purchase * pBuy + (rw.rating * (r - 3)) / 2;
      // G and A are means over the K shown items: each item adds its share.
      show[i] = (rw.lambda * env.exposureValueOf(i) + rw.alpha * world.attract[i]!) / K;
    }
    let num = 0;
    let den = e0;
    for (let k = 0; k < K; k++) {
      let best = -1;
      let bestGain = -Infinity;
      const c = posW[k]!;
      for (let i = 0; i < N; i++) {
        if (taken[i]) continue;
        const e = expU[i]! * c;
        const gain = (num + e * value[i]!) / (den + e) + show[i]!;
        if (gain > bestGain) (bestGain = gain), (best = i);
      }
      if (best < 0) break;
      items[k] = best;
      taken[best] = 1;
      num += expU[best]! * c * value[best]!;
      den += expU[best]! * c;
    }
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
  const { world, config } = setup.preset;
  const rows: Record<string, unknown>[] = [];
  console.log('| oracle | λ | α | return | CTR | exposure Gini | cold share | wall s |');
  console.log('| --- | ---: | ---: | --- | --- | --- | --- | ---: |');
  for (const kind of ['utility', 'value'] as const) {
    const t0 = performance.now();
    const per: { ret: number; ctr: number; gini: number; cold: number; len: number }[] = [];
    for (let seed = seed0; seed < seed0 + seeds; seed++) {
      // A non-learning agent stands in for the run; the oracle acts instead of it.
      const run = new SeedRun(setup, { agent: 'random', trainSteps: 0, nEnvs: 16, curvePoints: 1 }, seed);
      const m = run.evaluate(evalSessions, undefined, makeOracle(kind, world, config));
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
