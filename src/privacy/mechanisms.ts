/**
 * The Gaussian mechanism: release f(D) + N(0, σ²·I) where f has L2 sensitivity Δ (the most one
 * unit — one user in Chorus — can move f in L2 norm). Two ways to pick σ for a target (ε, δ):
 *
 * - classic (Dwork & Roth 2014, Thm A.1): σ = Δ·√(2 ln(1.25/δ))/ε, proven for ε < 1 only;
 * - analytic (Balle & Wang 2018, Thm 8): the smallest σ with
 *     Φ(Δ/(2σ) − εσ/Δ) − e^ε·Φ(−Δ/(2σ) − εσ/Δ) ≤ δ,
 *   exact for every ε > 0 and never larger than the classic σ. Chorus uses this one.
 *
 * Noise is drawn from the project's seeded `Rng`, so a seed reproduces a release.
 */
import { ConfigError } from '../errors.js';
import type { Rng } from '../util/rng.js';
import { logNormalCdf } from './special.js';

/** Dwork & Roth's σ (valid for ε < 1; larger than needed). */
export function classicGaussianSigma(sensitivity: number, epsilon: number, delta: number): number {
  checkBudget(epsilon, delta);
  return (sensitivity * Math.sqrt(2 * Math.log(1.25 / delta))) / epsilon;
}

/** δ achieved by the Gaussian mechanism with noise multiplier z = σ/Δ at ε (Balle & Wang 2018, Thm 8). */
export function analyticGaussianDelta(noiseMultiplier: number, epsilon: number): number {
  const z = noiseMultiplier;
  if (z === 0) return 1;
  const a = 1 / (2 * z) - epsilon * z;
  const b = -1 / (2 * z) - epsilon * z;
  const d = Math.exp(logNormalCdf(a)) - Math.exp(epsilon + logNormalCdf(b));
  return Math.max(0, d);
}

/** The smallest σ for which the Gaussian mechanism of sensitivity Δ is (ε, δ)-DP (analytic; bisection to 1e-12 relative). */
export function analyticGaussianSigma(sensitivity: number, epsilon: number, delta: number): number {
  checkBudget(epsilon, delta);
  // δ(z) falls as z = σ/Δ grows; bracket, then bisect.
  let lo = 0;
  let hi = 1;
  while (analyticGaussianDelta(hi, epsilon) > delta) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1e-12 * hi) {
    const mid = (lo + hi) / 2;
    if (analyticGaussianDelta(mid, epsilon) > delta) lo = mid;
    else hi = mid;
  }
  return hi * sensitivity;
}

/** The ε at δ of a Gaussian release with noise multiplier z = σ/Δ (inverse of `analyticGaussianSigma`). */
export function analyticGaussianEpsilon(noiseMultiplier: number, delta: number): number {
  checkBudget(1, delta);
  if (!(noiseMultiplier > 0)) return Infinity;
  if (analyticGaussianDelta(noiseMultiplier, 0) <= delta) return 0;
  let lo = 0;
  let hi = 1;
  while (analyticGaussianDelta(noiseMultiplier, hi) > delta) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1e-12 * hi) {
    const mid = (lo + hi) / 2;
    if (analyticGaussianDelta(noiseMultiplier, mid) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** Add N(0, σ²) to every entry, in place. */
export function addGaussianNoise(values: Float32Array | Float64Array, sigma: number, rng: Rng): void {
  if (sigma === 0) return;
  for (let k = 0; k < values.length; k++) values[k] = values[k]! + sigma * rng.normal();
}

function checkBudget(epsilon: number, delta: number): void {
  if (!(epsilon > 0)) throw new ConfigError(`ε must be > 0, got ${epsilon}`, 'epsilon');
  if (!(delta > 0 && delta < 1)) throw new ConfigError(`δ must be in (0, 1), got ${delta}`, 'delta');
}
