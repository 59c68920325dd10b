/**
 * The DR estimates of two target policies on the same log, and their paired difference: the
 * per-record DR terms of each (`drTerm` of ./estimators.ts, with the same reward predictions), and
 * one seeded bootstrap over records for all three (`bootstrapSteps`, the loop `bootstrapTerms`
 * runs). So each policy's estimate and interval equal `estimate`'s DR with the same seed, and the
 * difference's interval comes from the same resamples: the two estimates' shared noise (the same
 * records, the same q̂) cancels instead of widening the comparison.
 *
 * Async: it awaits `pause` between chunks of resamples, so a server thread can serve requests
 * while a large bootstrap runs.
 */
import { bootstrapSteps, drTerm, type BanditLog, type Estimate } from './estimators.js';

export interface PairedDr {
  a: Estimate;
  b: Estimate;
  /** DR(a) − DR(b). */
  difference: Estimate;
}

/** Per-record DR terms of `target` (aligned with `log.actions`, as `predicted`): their mean is DR. */
export function drTerms(log: BanditLog, target: Float64Array, predicted: Float64Array): Float64Array {
  const num = new Float64Array(log.n);
  for (let i = 0; i < log.n; i++) num[i] = drTerm(log, target, predicted, i, target[log.logged[i]!]! / log.propensity[i]!);
  return num;
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
  const a = drTerms(log, targetA, predicted);
  const b = drTerms(log, targetB, predicted);
  const d = new Float64Array(log.n);
  for (let i = 0; i < log.n; i++) d[i] = a[i]! - b[i]!;
  const steps = bootstrapSteps(
    [
      { name: 'a', num: a, den: null },
      { name: 'b', num: b, den: null },
      { name: 'difference', num: d, den: null },
    ],
    log.n,
    options,
  );
  let r = steps.next();
  while (!r.done) {
    await pause();
    r = steps.next();
  }
  return r.value;
}
