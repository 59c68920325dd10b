/**
 * Differentially private counts for the count-based models: item popularity (popularity) and the
 * item co-occurrence (Gram) matrix XᵀX (item-kNN, EASE), by the Gaussian mechanism.
 *
 * The protected unit is a user — all their interactions — under add/remove-one-user neighbouring.
 * So that one user's influence is bounded, each user's data is first cut to at most m distinct
 * items (a seeded random subset when they have more); each kept item counts once, whatever its
 * value or repeats. Then:
 *
 * - item counts c_i = #users with i: one user changes ≤ m entries by 1 → L2 sensitivity √m;
 * - the Gram matrix G = XᵀX (binary X): one user adds the m×m block x·xᵀ. The release is the
 *   upper triangle with the diagonal (the lower one is its mirror, no new information), whose
 *   m(m+1)/2 entries change by 1 → L2 sensitivity √(m(m+1)/2). Its diagonal is the item counts.
 *
 * Everything computed from a release afterwards (similarities, EASE's inverse, thresholds that
 * depend only on σ) is post-processing and costs no further budget. The item catalogue (the
 * dataset's item index) is treated as public; items are never selected from the raw data.
 */
import type { Csr } from '../data/dataset.js';
import { ConfigError } from '../errors.js';
import type { Rng } from '../util/rng.js';
import { checkSpent, resolveDelta, type DpCountsConfig } from './config.js';
import { addGaussianNoise, analyticGaussianEpsilon, analyticGaussianSigma } from './mechanisms.js';

/** Each user's distinct items, at most `maxItems` of them (a seeded random subset when more). */
export interface BoundedRows {
  indptr: Int32Array;
  indices: Int32Array;
  maxItems: number;
}

/** Cut every user to ≤ m distinct items: what bounds one user's contribution (the sensitivity). */
export function boundUserItems(byUser: Pick<Csr, 'indptr' | 'indices' | 'rows'>, nItems: number, maxItems: number, rng: Rng): BoundedRows {
  const mark = new Int32Array(nItems).fill(-1);
  const indptr = new Int32Array(byUser.rows + 1);
  const out: number[] = [];
  const distinct: number[] = [];
  for (let u = 0; u < byUser.rows; u++) {
    distinct.length = 0;
    for (let e = byUser.indptr[u]!; e < byUser.indptr[u + 1]!; e++) {
      const i = byUser.indices[e]!;
      if (mark[i] !== u) {
        mark[i] = u;
        distinct.push(i);
      }
    }
    if (distinct.length > maxItems) {
      // Partial Fisher–Yates: the first maxItems entries become a uniform random subset.
      for (let t = 0; t < maxItems; t++) {
        const r = t + rng.int(distinct.length - t);
        const tmp = distinct[t]!;
        distinct[t] = distinct[r]!;
        distinct[r] = tmp;
      }
      distinct.length = maxItems;
    }
    distinct.sort((a, b) => a - b);
    for (const i of distinct) out.push(i);
    indptr[u + 1] = out.length;
  }
  return { indptr, indices: Int32Array.from(out), maxItems };
}

export function countSensitivity(maxItems: number): number {
  return Math.sqrt(maxItems);
}

export function gramSensitivity(maxItems: number): number {
  return Math.sqrt((maxItems * (maxItems + 1)) / 2);
}

/** Noisy item counts (users per item) over the whole catalogue: counts + N(0, σ²) per item. */
export function noisyItemCounts(rows: BoundedRows, nItems: number, sigma: number, rng: Rng): Float64Array {
  const counts = new Float64Array(nItems);
  for (const i of rows.indices) counts[i] = counts[i]! + 1;
  addGaussianNoise(counts, sigma, rng);
  return counts;
}

/**
 * The noisy Gram matrix over the whole catalogue, dense n×n row-major and symmetric: the bounded
 * co-occurrence counts, plus one N(0, σ²) draw per upper-triangle entry (diagonal included)
 * mirrored to the lower triangle.
 */
export function noisyGram(rows: BoundedRows, nItems: number, sigma: number, rng: Rng): Float32Array {
  const n = nItems;
  const g = new Float32Array(n * n);
  for (let u = 0; u + 1 < rows.indptr.length; u++) {
    const a0 = rows.indptr[u]!;
    const a1 = rows.indptr[u + 1]!;
    for (let a = a0; a < a1; a++) {
      const ra = rows.indices[a]! * n;
      for (let b = a0; b < a1; b++) g[ra + rows.indices[b]!] += 1;
    }
  }
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = i; j < n; j++) {
      const v = g[ri + j]! + sigma * rng.normal();
      g[ri + j] = v;
      g[j * n + i] = v;
    }
  }
  return g;
}

/** The resolved `dp` of a count release: what `config.dp` holds after the fit. */
export interface DpCountsPlan extends DpCountsConfig {
  epsilon: number;
  delta: number;
  noiseMultiplier: number;
}

/** Fill in δ (1/n by default) and the noise (from the target ε, analytic Gaussian) or ε (from a given noise multiplier). */
export function planCounts(dp: DpCountsConfig, sensitivity: number, nUsers: number, model: string): { plan: DpCountsPlan; sigma: number } {
  const delta = resolveDelta(dp.delta, nUsers, model);
  let z = dp.noiseMultiplier;
  let epsilon: number;
  if (z === undefined) {
    if (dp.epsilon === undefined) throw new ConfigError(`${model}: dp needs epsilon or noiseMultiplier`, 'dp.epsilon');
    epsilon = dp.epsilon;
    z = analyticGaussianSigma(sensitivity, epsilon, delta) / sensitivity;
  } else {
    epsilon = analyticGaussianEpsilon(z, delta);
    checkSpent(model, epsilon, dp.epsilon);
  }
  return { plan: { ...dp, epsilon, delta, noiseMultiplier: z }, sigma: z * sensitivity };
}
