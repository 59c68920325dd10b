/**
 * How far an attack moved a model: the pushed items' hit ratio in genuine users' top-K, their mean
 * rank among each user's unseen items, and, for models that predict ratings, the prediction shift
 * (Mobasher et al. 2007). Every measure runs over the same genuine users and the same clean
 * training rows before and after the attack, so the two sides differ only in the model.
 *
 * Hit ratio of a target = the share of eligible users (genuine, never interacted with the target in
 * the clean training data) whose top-K holds it; the reported figure is its mean over the targets.
 * Ranking-only models get no prediction shift: their scores have no common scale across two fits,
 * so rank shift and hit ratio are what they report.
 */
import type { Dataset } from '../data/dataset.js';
import { isRatingPredictor } from '../eval/rating.js';
import type { Recommender } from '../recommenders/types.js';

export interface PushMeasures {
  k: number;
  /** Mean over targets of the share of eligible users with the target in their top-K. */
  hitRatio: number;
  /** Per target, in the order given. */
  perTarget: Float64Array;
  /** Mean 1-based rank of a target among an eligible user's unseen items (lower = pushed harder). */
  meanRank: number;
  /** Mean predicted rating of the targets for eligible users; NaN when the model predicts no ratings. */
  meanPrediction: number;
  /** (user, target) pairs measured. */
  pairs: number;
}

export interface PushOptions {
  /** Top-K cut-off (default 10). */
  k?: number;
  /**
   * Users the model was fitted without (flagged by the detector and removed): they are scored by
   * fold-in from their clean rows, as a new user would be, so they still count.
   */
  removed?: Uint8Array;
}

/**
 * Measure `targets` for `users` (genuine user indices) under `model`. `clean` is the training data
 * before any attack: it decides who is eligible and which items each user has already seen.
 */
export function pushMeasures(model: Recommender, clean: Dataset, users: Int32Array, targets: Int32Array, options: PushOptions = {}): PushMeasures {
  const k = options.k ?? 10;
  const csr = clean.byUser();
  const nItems = clean.nItems;
  const hits = new Float64Array(targets.length);
  const eligible = new Float64Array(targets.length);
  const scores = new Float32Array(nItems);
  const seen = new Uint8Array(nItems);
  const predictor = isRatingPredictor(model) ? model : undefined;
  let rankSum = 0;
  let predSum = 0;
  let pairs = 0;
  let predPairs = 0;
  for (const u of users) {
    const a = csr.indptr[u]!;
    const b = csr.indptr[u + 1]!;
    const rows = csr.indices.subarray(a, b);
    for (const i of rows) seen[i] = 1;
    let anyEligible = false;
    for (const t of targets) if (!seen[t]) anyEligible = true;
    if (anyEligible) {
      const ref = options.removed?.[u] ? { items: rows.slice(), values: csr.values.slice(a, b) } : u;
      scores.set(model.scoreAll(ref, scores));
      // The K-th best unseen score: a target is a hit when it beats or ties it (ties as topK breaks
      // them would need the index order; the rank below counts strictly better items).
      for (let ti = 0; ti < targets.length; ti++) {
        const t = targets[ti]!;
        if (seen[t]) continue;
        const st = scores[t]!;
        let better = 0;
        let tiedBefore = 0;
        for (let i = 0; i < nItems; i++) {
          if (seen[i]) continue;
          const s = scores[i]!;
          if (s > st) better++;
          else if (s === st && i < t) tiedBefore++;
        }
        // topK ranks ties by the lower index first: the target's position is better + tiedBefore.
        const pos = better + tiedBefore;
        eligible[ti]++;
        if (pos < k && st > -Infinity) hits[ti]++;
        rankSum += better + 1;
        // A removed user's row is empty in the model: a rating prediction for it would measure the
        // fallback, not the attack, so only fitted users count towards the prediction.
        if (predictor && !options.removed?.[u]) {
          predSum += predictor.predict(u, t);
          predPairs++;
        }
        pairs++;
      }
    }
    for (const i of rows) seen[i] = 0;
  }
  const perTarget = new Float64Array(targets.length);
  let hr = 0;
  for (let ti = 0; ti < targets.length; ti++) {
    perTarget[ti] = eligible[ti]! > 0 ? hits[ti]! / eligible[ti]! : 0;
    hr += perTarget[ti]!;
  }
  return {
    k,
    hitRatio: targets.length > 0 ? hr / targets.length : NaN,
    perTarget,
    meanRank: pairs > 0 ? rankSum / pairs : NaN,
    meanPrediction: predictor && predPairs > 0 ? predSum / predPairs : NaN,
    pairs,
  };
}

/** Before/after comparison: prediction shift (rating models) and rank shift (every model). */
export interface PushShift {
  hitRatioBefore: number;
  hitRatioAfter: number;
  /** Mean predicted rating after minus before; NaN for ranking-only models. */
  predictionShift: number;
  /** Mean rank before minus after: positive when the targets moved up. */
  rankShift: number;
}

export function pushShift(before: PushMeasures, after: PushMeasures): PushShift {
  return {
    hitRatioBefore: before.hitRatio,
    hitRatioAfter: after.hitRatio,
    predictionShift: after.meanPrediction - before.meanPrediction,
    rankShift: before.meanRank - after.meanRank,
  };
}
