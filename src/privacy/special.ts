/**
 * The few special functions the privacy accountant and the analytic Gaussian mechanism need, in
 * log space where their callers multiply tiny tails by huge factors (e^ε · Φ(−x), binomial terms).
 * JavaScript has no erf/erfc, so erfc is computed here: a positive-term series below x = 2.5 and
 * Lentz's continued fraction above, both to about 1e-14 relative error, and log erfc stays finite
 * for any x (the continued fraction is evaluated without forming e^{−x²}).
 */

const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);

/** log(e^a + e^b), exact for −∞ arguments. */
export function logAdd(a: number, b: number): number {
  const hi = Math.max(a, b);
  const lo = Math.min(a, b);
  if (lo === -Infinity) return hi;
  return hi + Math.log1p(Math.exp(lo - hi));
}

/** log(e^a − e^b) for a ≥ b; −∞ when they are equal. */
export function logSub(a: number, b: number): number {
  if (b === -Infinity) return a;
  if (a <= b) return -Infinity;
  return b + Math.log(Math.expm1(a - b));
}

/** log erfc(x) for x ≥ 0, accurate far into the tail. */
function logErfcNonNegative(x: number): number {
  if (x < 2.5) {
    // erf(x) = 2/√π · e^{−x²} · Σ_n 2ⁿ x^{2n+1} / (1·3·…·(2n+1)): all terms positive, no cancellation.
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x * x) / (2 * n + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    const erf = (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
    return Math.log1p(-erf);
  }
  // erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), by modified Lentz.
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = x + a * d;
    d = d === 0 ? tiny : 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -x * x - LOG_SQRT_PI - Math.log(f);
}

/** log erfc(x) for any real x. */
export function logErfc(x: number): number {
  if (x >= 0) return logErfcNonNegative(x);
  // erfc(x) = 2 − erfc(−x), which lies in (1, 2]: no precision is lost.
  return Math.log(2 - Math.exp(logErfcNonNegative(-x)));
}

export function erfc(x: number): number {
  return Math.exp(logErfc(x));
}

/** log Φ(x), the standard normal CDF. */
export function logNormalCdf(x: number): number {
  return Math.log(0.5) + logErfc(-x / Math.SQRT2);
}

