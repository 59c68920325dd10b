/**
 * Uncertainty for per-user metrics: seeded percentile bootstrap of a mean, and a paired comparison
 * of two models on the same users (mean difference, its bootstrap interval, a paired t-test and a
 * sign-flip randomisation test).
 */
import { Rng } from '../util/rng.js';

export interface BootstrapOptions {
  /** Resamples (default 1000). */
  samples?: number;
  /** Seed of the resampling generator (default 0). */
  seed?: number;
  /** Confidence level (default 0.95). */
  level?: number;
}

export interface Interval {
  mean: number;
  lo: number;
  hi: number;
  level: number;
  samples: number;
  seed: number;
}

function finite(values: ArrayLike<number>): Float64Array {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]!)) n++;
  const out = new Float64Array(n);
  let j = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]!)) out[j++] = values[i]!;
  return out;
}

/** Percentile of sorted data with linear interpolation (type 7, as numpy's default). */
export function quantileSorted(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * Percentile bootstrap interval of the mean: resample the values (users) with replacement.
 * Non-finite values (users for whom the metric is undefined) are left out first.
 */
export function bootstrapMean(values: ArrayLike<number>, options: BootstrapOptions = {}): Interval {
  const samples = options.samples ?? 1000;
  const seed = options.seed ?? 0;
  const level = options.level ?? 0.95;
  const xs = finite(values);
  const n = xs.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += xs[i]!;
  mean = n > 0 ? mean / n : NaN;
  if (n === 0 || samples <= 0) return { mean, lo: NaN, hi: NaN, level, samples, seed };
  const rng = new Rng(seed);
  const means = new Float64Array(samples);
  for (let b = 0; b < samples; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += xs[rng.int(n)]!;
    means[b] = s / n;
  }
  means.sort();
  const a = (1 - level) / 2;
  return { mean, lo: quantileSorted(means, a), hi: quantileSorted(means, 1 - a), level, samples, seed };
}

export interface PairedComparison {
  /** Users where both values are finite. */
  n: number;
  meanA: number;
  meanB: number;
  /** mean(a − b): positive when A is better on a higher-is-better metric. */
  meanDiff: number;
  /** Bootstrap interval of the mean difference (users resampled in pairs). */
  diffInterval: Interval;
  /** Paired t statistic and its two-sided p-value (df = n − 1). */
  t: number;
  pValue: number;
  /** Two-sided p-value of a sign-flip randomisation test on the differences (seeded). */
  pRandomization: number;
  randomizations: number;
}

export interface PairedOptions extends BootstrapOptions {
  /** Sign-flip resamples for the randomisation test (default 10000). */
  randomizations?: number;
}

/** Compare two models on the same users: `a[u]` and `b[u]` are the per-user values of one metric. */
export function pairedComparison(a: ArrayLike<number>, b: ArrayLike<number>, options: PairedOptions = {}): PairedComparison {
  if (a.length !== b.length) throw new RangeError(`paired comparison needs equal lengths (${a.length} vs ${b.length})`);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i]!) && Number.isFinite(b[i]!)) n++;
  const d = new Float64Array(n);
  let sa = 0;
  let sb = 0;
  let j = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    d[j++] = x - y;
    sa += x;
    sb += y;
  }
  const diffInterval = bootstrapMean(d, options);
  const meanDiff = diffInterval.mean;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (d[i]! - meanDiff) ** 2;
  const sd = n > 1 ? Math.sqrt(ss / (n - 1)) : NaN;
  let t: number;
  let pValue: number;
  if (n < 2) {
    t = NaN;
    pValue = NaN;
  } else if (sd === 0) {
    // Identical differences: no variance, so either no difference at all or a certain one.
    t = meanDiff === 0 ? 0 : Math.sign(meanDiff) * Infinity;
    pValue = meanDiff === 0 ? 1 : 0;
  } else {
    t = meanDiff / (sd / Math.sqrt(n));
    pValue = studentTTwoSided(t, n - 1);
  }
  const randomizations = options.randomizations ?? 10000;
  const pRandomization = signFlipPValue(d, randomizations, (options.seed ?? 0) + 1);
  return { n, meanA: n ? sa / n : NaN, meanB: n ? sb / n : NaN, meanDiff, diffInterval, t, pValue, pRandomization, randomizations };
}

/**
 * Two-sided p-value of H0 "differences are symmetric around 0": flip each difference's sign at
 * random and count how often |mean| reaches the observed one. (+1 in numerator and denominator so
 * that p is never 0 from a finite number of draws.)
 */
function signFlipPValue(d: Float64Array, draws: number, seed: number): number {
  const n = d.length;
  if (n === 0 || draws <= 0) return NaN;
  let obs = 0;
  for (let i = 0; i < n; i++) obs += d[i]!;
  obs = Math.abs(obs);
  const rng = new Rng(seed);
  let extreme = 0;
  // Tolerance so that sums equal to the observed one up to rounding count as "as extreme".
  const eps = 1e-12 * (1 + obs);
  for (let b = 0; b < draws; b++) {
    let s = 0;
    for (let i = 0; i < n; i += 32) {
      const bits = rng.nextUint32();
      const m = Math.min(32, n - i);
      for (let j = 0; j < m; j++) s += (bits >>> j) & 1 ? d[i + j]! : -d[i + j]!;
    }
    if (Math.abs(s) >= obs - eps) extreme++;
  }
  return (extreme + 1) / (draws + 1);
}

/** P(|T| ≥ |t|) for Student's t with `df` degrees of freedom: I_{df/(df+t²)}(df/2, 1/2). */
export function studentTTwoSided(t: number, df: number): number {
  if (!Number.isFinite(t)) return Number.isNaN(t) ? NaN : 0;
  return regularizedBeta(df / (df + t * t), df / 2, 0.5);
}

/** ln Γ(x) by the Lanczos approximation (g = 7, 9 terms; ~15 significant digits). */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const xx = x - 1;
  let a = c[0]!;
  const t = xx + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (xx + i);
  return 0.5 * Math.log(2 * Math.PI) + (xx + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularised incomplete beta I_x(a, b), by the continued fraction (modified Lentz). */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  // The continued fraction converges fast for x < (a+1)/(a+b+2); use the symmetry otherwise.
  if (x > (a + 1) / (a + b + 2)) return 1 - regularizedBeta(1 - x, b, a);
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
  const tiny = 1e-300;
  let f = 1;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  f = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let num = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    f *= d * c;
    num = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return (Math.exp(lnFront) * f) / a;
}
