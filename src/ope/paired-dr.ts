/**
 * The DR estimates of two target policies on the same log, and their paired difference: the
 * per-record DR terms of each (./estimators.ts's formula, DM_i + w_i (r_i − q̂(x_i, a_i)), with the
 * same reward predictions), and one seeded bootstrap over records for all three. Each resample
 * draws the same record indices as `bootstrapTerms` (one `Rng(seed)`, n draws per resample), so
 * each policy's estimate and interval equal `estimate`'s DR with the same seed, and the
 * difference's interval comes from the same resamples: the two estimates' shared noise (the same
 * records, the same q̂) cancels instead of widening the comparison.
 *
 * Async: it yields to `pause` between chunks of resamples, so a server thread can serve requests
 * while a large bootstrap runs.
 */
import { quantileSorted } from '../eval/stats.js';
import { Rng } from '../util/rng.js';
import type { BanditLog, Estimate } from './estimators.js';

export interface PairedDr {
  a: Estimate;
  b: Estimate;
  /** DR(a) − DR(b). */
  difference: Estimate;
}

/** Record draws per chunk of resamples between two pauses (about a few milliseconds of work). */
const DRAWS_PER_CHUNK = 1 << 20;

/** Per-record DR terms of `target` (aligned with `log.actions`, as `predicted`): their mean is DR. */
export function drTerms(log: BanditLog, target: Float64Array, predicted: Float64Array): Float64Array {
  const num = new Float64Array(log.n);
  for (let i = 0; i < log.n; i++) {
    const lo = log.indptr[i]!;
    const hi = log.indptr[i + 1]!;
    const a = log.logged[i]!;
    const w = target[a]! / log.propensity[i]!;
    let dm = 0;
    for (let k = lo; k < hi; k++) dm += target[k]! * predicted[k]!;
    num[i] = dm + w * (log.reward[i]! - predicted[a]!);
  }
  return num;
}

function mean(num: Float64Array, idx?: Int32Array): number {
  let s = 0;
  const n = idx ? idx.length : num.length;
  for (let j = 0; j < n; j++) s += num[idx ? idx[j]! : j]!;
  return s / n;
}

/**
 * DR of `targetA` and of `targetB` and DR(a) − DR(b), with `bootstrap` resamples (0: intervals
 * [NaN, NaN]). `pause` is awaited between chunks of resamples.
 */
export async function pairedDr(
  log: BanditLog,
  targetA: Float64Array,
  targetB: Float64Array,
  predicted: Float64Array,
  options: { bootstrap: number; seed: number },
  pause: () => Promise<void> = async () => {},
): Promise<PairedDr> {
  const n = log.n;
  const a = drTerms(log, targetA, predicted);
  const b = drTerms(log, targetB, predicted);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = a[i]! - b[i]!;
  const parts = [a, b, d];
  const samples = options.bootstrap;
  const boot = parts.map(() => new Float64Array(samples));
  if (samples > 0 && n > 0) {
    const rng = new Rng(options.seed);
    const idx = new Int32Array(n);
    const chunk = Math.max(1, Math.floor(DRAWS_PER_CHUNK / n));
    for (let s = 0; s < samples; s++) {
      if (s > 0 && s % chunk === 0) await pause();
      for (let j = 0; j < n; j++) idx[j] = rng.int(n);
      for (let k = 0; k < parts.length; k++) boot[k]![s] = mean(parts[k]!, idx);
    }
  }
  const [ea, eb, ed] = parts.map((p, k): Estimate => {
    const sorted = boot[k]!.sort();
    return { value: mean(p), ci95: samples > 0 ? [quantileSorted(sorted, 0.025), quantileSorted(sorted, 0.975)] : [NaN, NaN] };
  });
  return { a: ea!, b: eb!, difference: ed! };
}
