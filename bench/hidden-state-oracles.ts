/**
 * What the ceiling benchmarks' oracles share (bench/plan-ceiling.ts, bench/marl-ceiling.ts): each
 * item's scores at a slot's hidden state, read from either simulator family, and the slates built
 * from them. Only for oracles: no learner may read this state.
 */
import { topK } from '../src/util/topk.js';
import { VecEnv } from '../src/env/vec-env.js';
import { InterestVecEnv, watchTime } from '../src/env/interest-env.js';
import { interestUtility, interestParams } from '../src/env/interest-world.js';
import type { SimPreset } from '../src/env/presets.js';
import { clickUtility, hiddenRating, itemSatiation, purchaseProbability } from '../src/env/world.js';

export type Env = VecEnv | InterestVecEnv;

/**
 * Per-item scores of slot s at its current hidden state, for the items in `items` (all when
 * null): click utility at the top position, expected reward of a click, the future-only feature
 * f, and consumed items marked in `taken`.
 */
export interface Scores {
  util: Float64Array;
  value: Float64Array;
  future: Float64Array;
  taken: Uint8Array;
}

/** Per family: slot s's consumed items, and a writer of one item's scores at its hidden state. */
function familyScorer(preset: SimPreset): (env: Env, s: number) => { history: Int32Array; score: (i: number, out: Scores) => void } {
  const { world, config } = preset;
  if (preset.interest) {
    const iw = preset.interest;
    const p = interestParams(config);
    return (env, s) => {
      if (!(env instanceof InterestVecEnv)) throw new Error('interest preset on a rating-family env');
      const h = env.interestState(s);
      return {
        history: h.history,
        score: (i, out) => {
          out.util[i] = interestUtility(iw, p, h.interest, 0, i, 0);
          out.value[i] = watchTime(iw, p, h.interest, 0, i, h.budget) / p.length.mean;
          out.future[i] = iw.quality[i]!;
        },
      };
    };
  }
  const rw = config.reward;
  return (env, s) => {
    if (!(env instanceof VecEnv)) throw new Error('rating preset on an interest-family env');
    const h = env.hiddenState(s);
    return {
      history: h.history,
      score: (i, out) => {
        out.util[i] = clickUtility(world, config, h.user, i, 0, h.drift, 0, h.satiation, 0);
        const r = Math.min(5, Math.max(0.5, hiddenRating(world, h.user, i, h.drift, 0) - config.satiation.ratingPenalty * itemSatiation(world, i, h.satiation, 0)));
        out.value[i] = rw.click + rw.purchase * purchaseProbability(config, r) + (rw.rating * (r - 3)) / 2;
        out.future[i] = (r - 3) / 2;
      },
    };
  };
}

export function makeScorer(preset: SimPreset): (env: Env, s: number, items: Int32Array | null, out: Scores) => void {
  const N = preset.world.nItems;
  const family = familyScorer(preset);
  return (env, s, items, out) => {
    const { history, score } = family(env, s);
    out.taken.fill(0);
    for (const i of history) out.taken[i] = 1;
    const n = items ? items.length : N;
    for (let j = 0; j < n; j++) score(items ? items[j]! : j, out);
  };
}

/**
 * The greedy slate of highest expected one-step reward with click values v_i + β·f_i, over the
 * items in `items` (all when null) not taken.
 */
export function greedySlate(preset: SimPreset, env: Env, sc: Scores, beta: number, items: Int32Array | null, slate: Int32Array): void {
  const { world, config } = preset;
  const K = config.slateSize;
  const N = world.nItems;
  const { noClickUtility: noClick, positionDecay: decay } = preset.interest ? interestParams(config).choice : config.choice;
  const rw = config.reward;
  let num = 0;
  let den = Math.exp(noClick);
  slate.fill(-1);
  const n = items ? items.length : N;
  for (let k = 0; k < K; k++) {
    const c = Math.exp(-decay * Math.log1p(k));
    let best = -1;
    let bestGain = -Infinity;
    for (let j = 0; j < n; j++) {
      const i = items ? items[j]! : j;
      if (sc.taken[i]) continue;
      const e = Math.exp(sc.util[i]!) * c;
      const v = sc.value[i]! + beta * sc.future[i]!;
      // G and A are means over the K shown items: each item adds its share.
      const gain = (num + e * v) / (den + e) + (rw.lambda * env.exposureValueOf(i) + rw.alpha * world.attract[i]!) / K;
      if (gain > bestGain) (bestGain = gain), (best = i);
    }
    if (best < 0) break;
    slate[k] = best;
    sc.taken[best] = 1;
    const e = Math.exp(sc.util[best]!) * c;
    num += e * (sc.value[best]! + beta * sc.future[best]!);
    den += e;
  }
  for (let k = 0; k < K; k++) if (slate[k]! >= 0) sc.taken[slate[k]!] = 0;
}

/** The `m` items of highest utility not taken, best first (ties to the lower index). */
export function topByUtility(sc: Scores, m: number): Int32Array {
  return topK(sc.util, m, sc.taken).items;
}

export function newScores(N: number): Scores {
  return { util: new Float64Array(N), value: new Float64Array(N), future: new Float64Array(N), taken: new Uint8Array(N) };
}
