/**
 * Off-policy estimators for slates of K slots (a ranked list), where a slate-level propensity is
 * tiny and plain IPS useless:
 *
 * - position-wise IPS (Li et al. 2018's independent IPS): each slot's reward weighted by its own
 *   marginal ratio, V̂ = (1/n) Σ_i Σ_j r_ij · π_j(s_ij|x_i) / μ_j(s_ij|x_i). Unbiased when a slot's
 *   reward depends only on what that slot shows.
 * - the pseudo-inverse estimator (Swaminathan, Krishnamurthy, Agarwal, Dudík, Langford, Jose &
 *   Zitouni 2017): for a slate-level reward that is additive over (slot, action) pairs,
 *   V̂ = (1/n) Σ_i r_i · q_πᵀ Γ_μ^† 1_{s_i}, with 1_s the slot×action indicator of slate s,
 *   q_π = E_π[1_s] and Γ_μ = E_μ[1_s 1_sᵀ]. When μ picks slots independently this weight is
 *   Σ_j π_j/μ_j − K + 1 (their Example 4), which `slateEstimates` uses; `pseudoInverseWeight`
 *   computes the general form for small action spaces (only the tests use it: to check the
 *   shortcut, and to show that the shortcut is biased when slates hold distinct items, as every
 *   Chorus log's do).
 *
 * Both are ratio estimators over records, so they share ./estimators.ts's seeded bootstrap.
 */
import { jacobiEigen } from '../embed/svd.js';
import { ConfigError, DataError } from '../errors.js';
import { bootstrapTerms, type Estimate, type EstimatorOptions, type EstimatorTerms } from './estimators.js';

/** Logged slates: record i showed `slate[i·K + j]` in slot j. */
export interface SlateLog {
  n: number;
  /** Slots per slate. */
  K: number;
  slate: Int32Array;
  /** μ_j(s_ij | x_i): the logging policy's probability of showing that action in that slot. */
  loggingMarginal: Float64Array;
  /** r_ij: the reward observed in each slot (clicks); the slate's reward is their sum. */
  reward: Float64Array;
}

export const SLATE_ESTIMATORS = ['position-ips', 'pseudo-inverse'] as const;
export type SlateEstimatorName = (typeof SLATE_ESTIMATORS)[number];

export interface SlateResult {
  estimates: Partial<Record<SlateEstimatorName, Estimate>>;
  n: number;
  K: number;
  /** Effective sample size of the pseudo-inverse weights, (Σ w)² / Σ w² (weights can be negative). */
  ess: number;
}

function checkSlates(log: SlateLog, target: Float64Array): void {
  const m = log.n * log.K;
  if (!(log.K >= 1)) throw new ConfigError(`K must be ≥ 1, got ${log.K}`, 'K');
  for (const [name, arr] of [['slate', log.slate], ['loggingMarginal', log.loggingMarginal], ['reward', log.reward], ['target', target]] as const) {
    if (arr.length !== m) throw new DataError(`${name} has ${arr.length} entries for ${log.n} slates × ${log.K} slots`, { field: name });
  }
  for (let k = 0; k < m; k++) {
    const p = log.loggingMarginal[k]!;
    if (!(p > 0 && p <= 1)) throw new DataError(`slate ${Math.floor(k / log.K)} slot ${k % log.K}: logging probability ${p} is not in (0, 1]`, { field: `loggingMarginal[${k}]` });
    const t = target[k]!;
    if (!(t >= 0 && t <= 1)) throw new DataError(`slate ${Math.floor(k / log.K)} slot ${k % log.K}: target probability ${t} is not in [0, 1]`, { field: `target[${k}]` });
  }
}

/**
 * Position-wise IPS and the pseudo-inverse estimate of a target policy whose slot marginals for
 * the logged actions are `target[i·K + j]` = π_j(s_ij | x_i).
 */
export function slateEstimates(log: SlateLog, target: Float64Array, estimators: readonly SlateEstimatorName[] = SLATE_ESTIMATORS, options: Pick<EstimatorOptions, 'bootstrap' | 'seed'> = {}): SlateResult {
  for (const e of estimators) if (!SLATE_ESTIMATORS.includes(e)) throw new ConfigError(`unknown slate estimator "${e}" (known: ${SLATE_ESTIMATORS.join(', ')})`, 'estimators');
  if (log.n === 0) throw new DataError('the log holds no slates', { field: 'log' });
  checkSlates(log, target);
  const { n, K } = log;
  const pos = new Float64Array(n);
  const pi = new Float64Array(n);
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    let r = 0;
    let w = 1 - K;
    for (let j = 0; j < K; j++) {
      const k = i * K + j;
      const ratio = target[k]! / log.loggingMarginal[k]!;
      pos[i] += log.reward[k]! * ratio;
      r += log.reward[k]!;
      w += ratio;
    }
    pi[i] = r * w;
    s += w;
    s2 += w * w;
  }
  const parts: EstimatorTerms<SlateEstimatorName>[] = estimators.map((name) => ({ name, num: name === 'position-ips' ? pos : pi, den: null }));
  return { estimates: bootstrapTerms(parts, n, options), n, K, ess: s2 > 0 ? (s * s) / s2 : 0 };
}

/**
 * The general pseudo-inverse weight q_πᵀ Γ^† 1_s for one context: `q` (length D = K·m) is the
 * target's slot×action marginals, `gamma` (D×D, row-major) the logging policy's second moments
 * E_μ[1_s 1_sᵀ], `slots` the D-indices j·m + s_j of the logged slate. For small D only (an
 * eigendecomposition per call); eigenvalues below `tol` × the largest count as zero.
 */
export function pseudoInverseWeight(q: Float64Array, gamma: Float64Array, slots: ArrayLike<number>, tol = 1e-10): number {
  const d = q.length;
  if (gamma.length !== d * d) throw new DataError(`gamma has ${gamma.length} entries, expected ${d}×${d}`, { field: 'gamma' });
  const { values, vectors } = jacobiEigen(gamma, d);
  let top = 0;
  for (let k = 0; k < d; k++) top = Math.max(top, Math.abs(values[k]!));
  // q ᵀ V Λ^† Vᵀ 1_s, one eigenpair at a time.
  let w = 0;
  for (let k = 0; k < d; k++) {
    const lam = values[k]!;
    if (Math.abs(lam) <= tol * top) continue;
    let qv = 0;
    let sv = 0;
    for (let r = 0; r < d; r++) qv += q[r]! * vectors[r * d + k]!;
    for (let t = 0; t < slots.length; t++) sv += vectors[slots[t]! * d + k]!;
    w += (qv * sv) / lam;
  }
  return w;
}
