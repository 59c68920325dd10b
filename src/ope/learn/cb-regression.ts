/**
 * Off-policy contextual-bandit learning from a logged BanditLog, as Vowpal Wabbit's `--cb_adf`
 * does: every candidate action of a record is a feature row (context × action, "action-dependent
 * features"), one linear reward model q(x, a) = θᵀφ(x, a) is fitted from the log, and the learned
 * policy acts greedily on it (ε-greedy when asked). Three ways to fit θ:
 *
 *   none  ordinary ridge on the logged actions' rewards (biased when the logging policy chose
 *         actions for reasons correlated with the reward that the features do not capture)
 *   ips   importance-weighted regression (VW's `--cb_type mtr`): the logged action's squared
 *         error weighted by 1/μ(a_i|x_i), so every action counts as if it had been shown uniformly
 *         often across contexts
 *   dr    doubly-robust targets (VW's `--cb_type dr`): a first unweighted fit q̂, then every
 *         candidate gets target q̂(x, a) + 1[a = a_i]·(r_i − q̂(x, a_i))/μ_i, fitted unweighted over
 *         all candidates — unbiased for each action's reward when μ is right, whatever q̂ is
 *
 * The fit is exact (normal equations, Cholesky): the feature dimension of an ADF log is small.
 * `LinearCbPolicy.probabilities` returns the policy as target probabilities aligned with the log's
 * candidates, so it plugs straight into `estimate()` (../estimators.ts) for an off-policy estimate.
 */
import { ConfigError, DataError } from '../../errors.js';
import { cholesky, choleskySolve } from '../../util/linalg.js';
import type { BanditLog } from '../estimators.js';
import type { OpeDataset } from '../logs.js';

/** A BanditLog whose candidates carry feature rows (the context crossed with the action's features). */
export interface FeaturedBanditLog extends BanditLog {
  dim: number;
  /** Row-major, one row of `dim` features per candidate, aligned with `actions`. */
  features: Float64Array;
}

export const CB_WEIGHTINGS = ['none', 'ips', 'dr'] as const;
export type CbWeighting = (typeof CB_WEIGHTINGS)[number];

export interface CbLearnConfig {
  weighting: CbWeighting;
  /** Ridge λ on θ. */
  lambda: number;
  /** Cap on the importance weight 1/μ (Infinity: none); a cap trades a little bias for variance. */
  maxWeight: number;
  /** Exploration of the learned policy: ε spread uniformly over each record's candidates. */
  epsilon: number;
}

export const CB_LEARN_DEFAULTS: CbLearnConfig = { weighting: 'ips', lambda: 1, maxWeight: Infinity, epsilon: 0 };

function checkLog(log: FeaturedBanditLog): void {
  const nnz = log.actions.length;
  if (!Number.isInteger(log.dim) || log.dim < 1) throw new DataError(`feature dimension ${log.dim} is not a positive integer`, { field: 'dim' });
  if (log.features.length !== nnz * log.dim) throw new DataError(`features: ${log.features.length} values for ${nnz} candidates × ${log.dim}`, { field: 'features' });
  if (log.indptr.length !== log.n + 1 || log.indptr[log.n] !== nnz) throw new DataError('log.indptr does not span the candidates', { field: 'indptr' });
  for (let i = 0; i < log.n; i++) {
    const a = log.logged[i]!;
    if (a < log.indptr[i]! || a >= log.indptr[i + 1]!) throw new DataError(`record ${i}: the logged action is not among its candidates`, { field: `logged[${i}]` });
    const p = log.propensity[i]!;
    if (!(p > 0 && p <= 1)) throw new DataError(`record ${i}: logging propensity ${p} is not in (0, 1]`, { field: `propensity[${i}]` });
    if (!Number.isFinite(log.reward[i]!)) throw new DataError(`record ${i}: reward is not a number`, { field: `reward[${i}]` });
  }
}

function checkConfig(c: CbLearnConfig): void {
  if (!CB_WEIGHTINGS.includes(c.weighting)) throw new ConfigError(`weighting: expected one of ${CB_WEIGHTINGS.join(', ')}, got "${c.weighting}"`, 'weighting');
  if (!(c.lambda > 0)) throw new ConfigError(`lambda: expected > 0, got ${c.lambda}`, 'lambda');
  if (!(c.maxWeight >= 1)) throw new ConfigError(`maxWeight: expected >= 1, got ${c.maxWeight}`, 'maxWeight');
  if (!(c.epsilon >= 0 && c.epsilon <= 1)) throw new ConfigError(`epsilon: expected a share in [0, 1], got ${c.epsilon}`, 'epsilon');
}

/** Weighted ridge: θ = (λI + Σ w φφᵀ)⁻¹ Σ w y φ over the given candidate rows. */
function ridge(features: Float64Array, dim: number, rows: ArrayLike<number>, y: ArrayLike<number>, w: ArrayLike<number>, lambda: number): Float64Array {
  const A = new Float64Array(dim * dim);
  const b = new Float64Array(dim);
  for (let d = 0; d < dim; d++) A[d * dim + d] = lambda;
  for (let q = 0; q < rows.length; q++) {
    const o = rows[q]! * dim;
    const wq = w[q]!;
    if (wq === 0) continue;
    for (let i = 0; i < dim; i++) {
      const xi = features[o + i]! * wq;
      if (xi === 0) continue;
      b[i] += xi * y[q]!;
      for (let j = 0; j < dim; j++) A[i * dim + j] += xi * features[o + j]!;
    }
  }
  // λ > 0 makes A positive definite; a failure means non-finite features.
  if (!cholesky(A, dim)) throw new DataError('the regression is singular (are there non-finite features?)', { field: 'features' });
  choleskySolve(A, dim, b);
  return b;
}

/** A linear reward model over candidate features and the ε-greedy policy on it. */
export class LinearCbPolicy {
  constructor(
    readonly theta: Float64Array,
    readonly epsilon: number,
  ) {}

  get dim(): number {
    return this.theta.length;
  }

  /** q̂ for every candidate of the log (aligned with `actions`). */
  predict(log: FeaturedBanditLog): Float64Array {
    if (log.dim !== this.dim) throw new DataError(`log has ${log.dim} features per candidate, the model ${this.dim}`, { field: 'dim' });
    const nnz = log.actions.length;
    const out = new Float64Array(nnz);
    for (let k = 0; k < nnz; k++) {
      let s = 0;
      const o = k * log.dim;
      for (let d = 0; d < log.dim; d++) s += this.theta[d]! * log.features[o + d]!;
      out[k] = s;
    }
    return out;
  }

  /** π(a|x) for every candidate: 1 − ε + ε/m on the best (first on ties), ε/m on the others. */
  probabilities(log: FeaturedBanditLog): Float64Array {
    const q = this.predict(log);
    const p = new Float64Array(q.length);
    for (let i = 0; i < log.n; i++) {
      const lo = log.indptr[i]!;
      const hi = log.indptr[i + 1]!;
      if (hi === lo) continue;
      let best = lo;
      for (let k = lo + 1; k < hi; k++) if (q[k]! > q[best]!) best = k;
      const e = this.epsilon / (hi - lo);
      for (let k = lo; k < hi; k++) p[k] = e;
      p[best] += 1 - this.epsilon;
    }
    return p;
  }

  toJSON(): { kind: 'linear-cb'; version: 1; epsilon: number; theta: number[] } {
    return { kind: 'linear-cb', version: 1, epsilon: this.epsilon, theta: [...this.theta] };
  }
}

/**
 * Action-dependent feature rows for a logged dataset (../logs.ts: Chorus OPE log, the server's
 * events, Open Bandit CSV), as `--cb_adf` builds them: per candidate [1 | one-hot action |
 * candidate features | action features], and with `interactions` also context ⊗ one-hot action
 * (a per-action linear model of the context: VW's `-q` between the context and action namespaces).
 */
export function adfLog(data: OpeDataset, options: { interactions?: boolean } = {}): FeaturedBanditLog {
  const { log } = data;
  const nA = data.actionIds.length;
  const ctx = data.context;
  const cand = data.candidateFeatures;
  const act = data.actionFeatures;
  const cross = options.interactions === true && ctx !== undefined;
  const dim = 1 + nA + (cand?.dim ?? 0) + (act?.dim ?? 0) + (cross ? ctx.dim * nA : 0);
  const nnz = log.actions.length;
  const features = new Float64Array(nnz * dim);
  for (let i = 0; i < log.n; i++) {
    for (let k = log.indptr[i]!; k < log.indptr[i + 1]!; k++) {
      const a = log.actions[k]!;
      let o = k * dim;
      features[o++] = 1;
      features[o + a] = 1;
      o += nA;
      if (cand) for (let d = 0; d < cand.dim; d++) features[o++] = cand.values[k * cand.dim + d]!;
      if (act) for (let d = 0; d < act.dim; d++) features[o++] = act.values[a * act.dim + d]!;
      if (cross) for (let d = 0; d < ctx.dim; d++) features[o + a * ctx.dim + d] = ctx.values[i * ctx.dim + d]!;
    }
  }
  return { ...log, dim, features };
}

/** Fit the reward model from the log (see the module comment for the weightings). */
export function fitCbRegression(log: FeaturedBanditLog, config: Partial<CbLearnConfig> = {}): LinearCbPolicy {
  const c = { ...CB_LEARN_DEFAULTS, ...config };
  checkConfig(c);
  checkLog(log);
  const { n, dim, features } = log;
  const weightOf = (i: number): number => Math.min(c.maxWeight, 1 / log.propensity[i]!);
  const ones = new Float64Array(n).fill(1);
  if (c.weighting === 'none') return new LinearCbPolicy(ridge(features, dim, log.logged, log.reward, ones, c.lambda), c.epsilon);
  if (c.weighting === 'ips') return new LinearCbPolicy(ridge(features, dim, log.logged, log.reward, Float64Array.from({ length: n }, (_, i) => weightOf(i)), c.lambda), c.epsilon);
  // dr: a direct model first, then its DR-corrected targets for every candidate.
  const direct = new LinearCbPolicy(ridge(features, dim, log.logged, log.reward, ones, c.lambda), c.epsilon);
  const q = direct.predict(log);
  const nnz = log.actions.length;
  const y = Float64Array.from(q);
  for (let i = 0; i < n; i++) {
    const a = log.logged[i]!;
    y[a] += weightOf(i) * (log.reward[i]! - q[a]!);
  }
  const all = Int32Array.from({ length: nnz }, (_, k) => k);
  // Each record has as many rows as candidates: weight rows by 1/m so a record counts once.
  const w = new Float64Array(nnz);
  for (let i = 0; i < n; i++) for (let k = log.indptr[i]!; k < log.indptr[i + 1]!; k++) w[k] = 1 / (log.indptr[i + 1]! - log.indptr[i]!);
  return new LinearCbPolicy(ridge(features, dim, all, y, w, c.lambda), c.epsilon);
}
