/**
 * Privacy accountant for the Poisson-sampled Gaussian mechanism (DP-SGD's step), by Rényi
 * differential privacy (RDP; Mironov 2017) — the computation of Mironov, Talwar & Zhang 2019,
 * "Rényi Differential Privacy of the Sampled Gaussian Mechanism", as TF Privacy's
 * `compute_rdp` and Opacus's `privacy_analysis` implement it:
 *
 *   RDP(α) = log A_α / (α − 1),  A_α = E_{z∼μ0}[(μ(z)/μ0(z))^α],  μ = (1−q)·N(0,σ²) + q·N(1,σ²)
 *
 * with A_α as a finite binomial sum for integer α and as two converging series (erfc tails) for
 * fractional α. q = 1 is the plain Gaussian mechanism, RDP(α) = α/(2σ²). Steps compose by adding
 * RDP at every order; several mechanisms over the same data compose the same way (`composeRdp`).
 *
 * Conversion to (ε, δ), minimised over the orders:
 * - 'improved' (default): ε = RDP(α) + log((α−1)/α) − (log δ + log α)/(α − 1), Balle et al. 2020
 *   ("Hypothesis testing interpretations and Rényi DP", Thm 21), as Opacus's `get_privacy_spent`
 *   and dp-accounting's `compute_epsilon` (Canonne, Kamath & Steinke 2020, Prop. 12) use; never
 *   larger than the classic bound.
 * - 'classic': ε = RDP(α) − log δ/(α − 1), Mironov 2017 Prop. 3 (TF Privacy before 2020), kept
 *   to reproduce figures published with it.
 *
 * The neighbouring relation is add/remove one unit (for Chorus: one user, see dp-sgd.ts); the
 * sampling amplification assumes Poisson sampling, which the trainer does.
 */
import { ConfigError } from '../errors.js';
import { logAdd, logErfc, logSub } from './special.js';

/** Orders α: Opacus/TF Privacy's default list, plus larger ones that small budgets need. */
export const DEFAULT_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10),
  ...Array.from({ length: 52 }, (_, x) => 12 + x),
  80,
  96,
  128,
  192,
  256,
  512,
]);

export type Conversion = 'improved' | 'classic';

/** log A_α for integer α: Σ_i C(α,i) q^i (1−q)^{α−i} exp((i² − i)/(2σ²)). */
function logAInt(q: number, sigma: number, alpha: number): number {
  let logA = -Infinity;
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  let logBinom = 0; // log C(α, 0)
  for (let i = 0; i <= alpha; i++) {
    if (i > 0) logBinom += Math.log(alpha - i + 1) - Math.log(i);
    const s = logBinom + i * logQ + (alpha - i) * log1mQ + (i * i - i) / (2 * sigma * sigma);
    logA = logAdd(logA, s);
  }
  return logA;
}

/** log A_α for fractional α: the two series of Mironov, Talwar & Zhang 2019 (Sec. 3.3), summed until their terms drop below e^−30. */
function logAFrac(q: number, sigma: number, alpha: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  // C(α, i) by its recurrence, tracking log|C| and the sign (it alternates once i > α).
  let logAbsCoef = 0;
  let sign = 1;
  for (let i = 0; i < 100000; i++) {
    if (i > 0) {
      const factor = (alpha - i + 1) / i;
      if (factor < 0) sign = -sign;
      logAbsCoef += Math.log(Math.abs(factor));
    }
    const j = alpha - i;
    const logT0 = logAbsCoef + i * logQ + j * log1mQ;
    const logT1 = logAbsCoef + j * logQ + i * log1mQ;
    const logE0 = Math.log(0.5) + logErfc((i - z0) / (Math.SQRT2 * sigma));
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / (Math.SQRT2 * sigma));
    const logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
    if (sign > 0) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    if (Math.max(logS0, logS1) < -30) break;
  }
  return logAdd(logA0, logA1);
}

/** RDP at order α of one step of the Gaussian mechanism (noise multiplier σ) on a Poisson sample of rate q. */
export function sampledGaussianRdp(q: number, sigma: number, alpha: number): number {
  if (q === 0) return 0;
  if (sigma === 0) return Infinity;
  if (q === 1) return alpha / (2 * sigma * sigma);
  if (!Number.isFinite(alpha)) return Infinity;
  const logA = Number.isInteger(alpha) ? logAInt(q, sigma, alpha) : logAFrac(q, sigma, alpha);
  return logA / (alpha - 1);
}

/** RDP at every order after `steps` steps (RDP adds up under composition). */
export function computeRdp(q: number, sigma: number, steps: number, orders: readonly number[] = DEFAULT_ORDERS): Float64Array {
  checkRate(q);
  if (!(sigma >= 0)) throw new ConfigError(`noise multiplier must be ≥ 0, got ${sigma}`, 'noiseMultiplier');
  if (!(Number.isInteger(steps) && steps >= 0)) throw new ConfigError(`steps must be a non-negative integer, got ${steps}`, 'steps');
  return Float64Array.from(orders, (a) => steps * sampledGaussianRdp(q, sigma, a));
}

/** Sum of RDP curves over the same orders: the budget of several mechanisms run on the same data. */
export function composeRdp(...curves: Float64Array[]): Float64Array {
  const out = new Float64Array(curves[0]?.length ?? 0);
  for (const c of curves) for (let k = 0; k < out.length; k++) out[k] = out[k]! + c[k]!;
  return out;
}

export interface EpsilonAt {
  epsilon: number;
  /** The order α that gave the smallest ε. */
  order: number;
}

/** The smallest ε over the orders for which an RDP curve gives (ε, δ)-DP. */
export function epsilonFromRdp(rdp: ArrayLike<number>, delta: number, orders: readonly number[] = DEFAULT_ORDERS, conversion: Conversion = 'improved'): EpsilonAt {
  checkDelta(delta);
  let best = Infinity;
  let order = NaN;
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k]!;
    const r = rdp[k]!;
    if (!(a > 1) || Number.isNaN(r)) continue;
    let eps: number;
    if (conversion === 'classic') eps = r - Math.log(delta) / (a - 1);
    else if (delta * delta + Math.expm1(-r) >= 0) eps = 0; // δ ≥ √(1 − e^{−KL}) already: ε = 0 suffices
    else eps = r + Math.log1p(-1 / a) - (Math.log(delta) + Math.log(a)) / (a - 1);
    if (eps < best) {
      best = eps;
      order = a;
    }
  }
  return { epsilon: Math.max(0, best), order };
}

export interface SgdBudget {
  /** Poisson sampling rate per step (1 = every unit every step). */
  sampleRate: number;
  steps: number;
  delta: number;
  conversion?: Conversion;
  orders?: readonly number[];
}

/** ε spent by `steps` sampled-Gaussian steps with noise multiplier σ. */
export function dpSgdEpsilon(sigma: number, b: SgdBudget): number {
  const orders = b.orders ?? DEFAULT_ORDERS;
  return epsilonFromRdp(computeRdp(b.sampleRate, sigma, b.steps, orders), b.delta, orders, b.conversion).epsilon;
}

/**
 * The smallest noise multiplier σ whose `steps` steps at rate q spend at most `epsilon` at δ, by
 * bisection (ε falls as σ grows), to a relative width of 1e-4 in σ; the σ returned is the upper end,
 * so its ε never exceeds the target.
 */
export function noiseForEpsilon(epsilon: number, b: SgdBudget): number {
  if (!(epsilon > 0)) throw new ConfigError(`target ε must be > 0, got ${epsilon}`, 'epsilon');
  checkDelta(b.delta);
  if (b.steps === 0 || b.sampleRate === 0) return 0;
  let lo = 0;
  let hi = 1;
  while (dpSgdEpsilon(hi, b) > epsilon) {
    lo = hi;
    hi *= 2;
    if (hi > 1e6) throw new ConfigError(`no noise multiplier up to 1e6 reaches ε = ${epsilon} at δ = ${b.delta} in ${b.steps} steps`, 'epsilon');
  }
  while (hi - lo > 1e-4 * hi) {
    const mid = (lo + hi) / 2;
    if (dpSgdEpsilon(mid, b) > epsilon) lo = mid;
    else hi = mid;
  }
  return hi;
}

function checkRate(q: number): void {
  if (!(q >= 0 && q <= 1)) throw new ConfigError(`sampling rate must be in [0, 1], got ${q}`, 'sampleRate');
}

function checkDelta(delta: number): void {
  if (!(delta > 0 && delta < 1)) throw new ConfigError(`δ must be in (0, 1), got ${delta}`, 'delta');
}
