/**
 * Off-policy estimators for contextual bandits: the value of a target policy π from decisions
 * logged by a behaviour policy μ (Dudík, Langford & Li 2011; Swaminathan & Joachims 2015; Wang,
 * Agarwal & Dudík 2017; the Open Bandit Pipeline's definitions):
 *
 *   DM       (1/n) Σ_i Σ_a π(a|x_i) q̂(x_i, a)
 *   IPS      (1/n) Σ_i w_i r_i,                 w_i = π(a_i|x_i) / μ(a_i|x_i)
 *   SNIPS    Σ_i w_i r_i / Σ_i w_i
 *   DR       DM_i + w_i (r_i − q̂(x_i, a_i))
 *   clipped  IPS or DR with w_i ∧ M
 *   switch   Switch-DR: DR where w_i ≤ τ, the model alone for actions whose weight exceeds τ
 *
 * Every estimate is a ratio of per-record sums, Σ num_i / Σ den_i (den_i = 1 except SNIPS), so one
 * seeded bootstrap over records serves them all: each resample recomputes the ratio, which is
 * what a self-normalised estimator's interval needs. The effective sample size is Kish's
 * (Σ w)² / Σ w² of the importance weights.
 */
import { ConfigError, DataError } from '../errors.js';
import { quantileSorted } from '../eval/stats.js';
import { Rng } from '../util/rng.js';

/**
 * Logged decisions over per-record candidate sets (CSR): record i offered the actions
 * `actions[indptr[i] .. indptr[i+1])`, took the one at absolute index `logged[i]`, with logging
 * probability `propensity[i]`, and got `reward[i]`.
 */
export interface BanditLog {
  n: number;
  indptr: Int32Array;
  /** Action ids of every candidate (any id space; estimators only use positions). */
  actions: Int32Array;
  /** Absolute index into `actions` of the logged action, per record. */
  logged: Int32Array;
  /** μ(a_i | x_i) of the logged action, in (0, 1]. */
  propensity: Float64Array;
  reward: Float64Array;
}

/** What an estimator needs beyond the log: π over each record's candidates, and q̂ where used. */
export interface OpeInputs {
  log: BanditLog;
  /** π(a | x_i) for every candidate, aligned with `log.actions`; each record's sum is 1. */
  target: Float64Array;
  /** q̂(x_i, a) for every candidate (DM, DR, switch); fitted out of fold (see ./cross-fit.ts). */
  predicted?: Float64Array;
}

export const ESTIMATORS = ['dm', 'ips', 'snips', 'dr', 'clipped-ips', 'clipped-dr', 'switch-dr'] as const;
export type EstimatorName = (typeof ESTIMATORS)[number];

export interface EstimatorOptions {
  /** Weight cap M of the clipped estimators (default 10). */
  clip?: number;
  /** Weight threshold τ of switch-DR (default 10). */
  tau?: number;
  /** Bootstrap resamples for the 95 % interval (default 1000; 0 for none). */
  bootstrap?: number;
  seed?: number;
}

export interface Estimate {
  value: number;
  /** Seeded percentile bootstrap over records; [NaN, NaN] without resamples. */
  ci95: [number, number];
}

export interface OpeResult {
  estimates: Partial<Record<EstimatorName, Estimate>>;
  n: number;
  /** Kish's effective sample size of the importance weights, (Σ w)² / Σ w². */
  ess: number;
  /** Largest importance weight (a heavy tail makes IPS unreliable). */
  maxWeight: number;
}

const NEEDS_MODEL: ReadonlySet<EstimatorName> = new Set(['dm', 'dr', 'clipped-dr', 'switch-dr']);

/** Whether any of these estimators needs reward predictions (DM and the DR family). */
export function needsRewardModel(estimators: readonly EstimatorName[]): boolean {
  return estimators.some((e) => NEEDS_MODEL.has(e));
}

/** Check shapes and probabilities once, naming the first offending record. */
export function checkInputs(inp: OpeInputs, estimators: readonly EstimatorName[]): void {
  const { log, target, predicted } = inp;
  const nnz = log.actions.length;
  if (log.indptr.length !== log.n + 1 || log.indptr[log.n] !== nnz) throw new DataError('log.indptr does not span the candidates', { field: 'indptr' });
  for (const [name, arr] of [['logged', log.logged], ['propensity', log.propensity], ['reward', log.reward]] as const) {
    if (arr.length !== log.n) throw new DataError(`log.${name} has ${arr.length} entries for ${log.n} records`, { field: name });
  }
  if (target.length !== nnz) throw new DataError(`target probabilities: ${target.length} for ${nnz} candidates`, { field: 'target' });
  const model = needsRewardModel(estimators);
  if (model && (!predicted || predicted.length !== nnz)) throw new ConfigError(`${estimators.filter((e) => NEEDS_MODEL.has(e)).join(', ')} need reward predictions for every candidate`, 'estimators');
  for (let i = 0; i < log.n; i++) {
    const lo = log.indptr[i]!;
    const hi = log.indptr[i + 1]!;
    const a = log.logged[i]!;
    if (a < lo || a >= hi) throw new DataError(`record ${i}: the logged action is not among its candidates`, { field: `logged[${i}]` });
    const p = log.propensity[i]!;
    if (!(p > 0 && p <= 1)) throw new DataError(`record ${i}: logging propensity ${p} is not in (0, 1]`, { field: `propensity[${i}]` });
    let s = 0;
    for (let k = lo; k < hi; k++) {
      const t = target[k]!;
      if (!(t >= 0)) throw new DataError(`record ${i}: target probability ${t} is negative or not a number`, { field: `target[${k}]` });
      s += t;
    }
    if (Math.abs(s - 1) > 1e-6) throw new DataError(`record ${i}: target probabilities sum to ${Number(s.toFixed(6))}, not 1`, { field: 'target' });
  }
}

/** Record i's DM term, Σ_a π(a|x_i) q̂(x_i, a) over its candidates. */
function directTerm(log: BanditLog, target: Float64Array, predicted: Float64Array, i: number): number {
  const hi = log.indptr[i + 1]!;
  let dm = 0;
  for (let k = log.indptr[i]!; k < hi; k++) dm += target[k]! * predicted[k]!;
  return dm;
}

/**
 * Record i's DR term, DM_i + w (r_i − q̂(x_i, a_i)), with importance weight `w` (clipped-DR passes
 * w ∧ M). Exported so that the serving gate's paired DR (./paired-dr.ts) computes the very terms
 * `estimate`'s DR does, bit for bit.
 */
export function drTerm(log: BanditLog, target: Float64Array, predicted: Float64Array, i: number, w: number): number {
  return directTerm(log, target, predicted, i) + w * (log.reward[i]! - predicted[log.logged[i]!]!);
}

/** Per-record numerator and denominator of one estimator. */
function terms(inp: OpeInputs, name: EstimatorName, o: Required<Pick<EstimatorOptions, 'clip' | 'tau'>>): { num: Float64Array; den: Float64Array | null } {
  const { log, target, predicted } = inp;
  const num = new Float64Array(log.n);
  let den: Float64Array | null = null;
  if (name === 'snips') den = new Float64Array(log.n);
  for (let i = 0; i < log.n; i++) {
    const w = target[log.logged[i]!]! / log.propensity[i]!;
    const r = log.reward[i]!;
    switch (name) {
      case 'ips':
        num[i] = w * r;
        break;
      case 'clipped-ips':
        num[i] = Math.min(w, o.clip) * r;
        break;
      case 'snips':
        num[i] = w * r;
        den![i] = w;
        break;
      case 'dm':
        num[i] = directTerm(log, target, predicted!, i);
        break;
      case 'dr':
        num[i] = drTerm(log, target, predicted!, i, w);
        break;
      case 'clipped-dr':
        num[i] = drTerm(log, target, predicted!, i, Math.min(w, o.clip));
        break;
      case 'switch-dr':
        // Actions whose weight π/μ would exceed τ are left to the model; the rest get DR's
        // correction. μ is known only for the logged action, so the split uses its weight
        // (the logged action's own term), as OBP's SwitchDR does.
        num[i] = w <= o.tau ? drTerm(log, target, predicted!, i, w) : directTerm(log, target, predicted!, i);
        break;
    }
  }
  return { num, den };
}

function ratio(num: Float64Array, den: Float64Array | null, idx?: Int32Array): number {
  let s = 0;
  let d = 0;
  const n = idx ? idx.length : num.length;
  for (let j = 0; j < n; j++) {
    const i = idx ? idx[j]! : j;
    s += num[i]!;
    d += den ? den[i]! : 1;
  }
  return s / d;
}

/** Kish's effective sample size and the largest weight of the logged actions' importance weights. */
export function importanceWeightStats(inp: OpeInputs): { ess: number; maxWeight: number } {
  let s = 0;
  let s2 = 0;
  let mx = 0;
  for (let i = 0; i < inp.log.n; i++) {
    const w = inp.target[inp.log.logged[i]!]! / inp.log.propensity[i]!;
    s += w;
    s2 += w * w;
    if (w > mx) mx = w;
  }
  return { ess: s2 > 0 ? (s * s) / s2 : 0, maxWeight: mx };
}

/** Per-record terms of one estimator: its value is Σ num / Σ den (den null: Σ 1). */
export interface EstimatorTerms<N extends string = string> {
  name: N;
  num: Float64Array;
  den: Float64Array | null;
}

/** Record draws per chunk of resamples between two steps of `bootstrapSteps` (a few milliseconds of work). */
const DRAWS_PER_CHUNK = 1 << 20;

/**
 * Values and seeded percentile-bootstrap intervals of ratio estimators over the same records: each
 * resample draws n records with replacement once, and every estimator is recomputed on it.
 */
export function bootstrapTerms<N extends string>(parts: readonly EstimatorTerms<N>[], n: number, options: Pick<EstimatorOptions, 'bootstrap' | 'seed'> = {}): Record<N, Estimate> {
  const steps = bootstrapSteps(parts, n, options);
  let r = steps.next();
  while (!r.done) r = steps.next();
  return r.value;
}

/**
 * The bootstrap of `bootstrapTerms`, yielding between chunks of about `DRAWS_PER_CHUNK` record
 * draws (a generator, so that the synchronous caller and one that pauses between chunks, as
 * ./paired-dr.ts does on a server's event loop, run the one loop and draw the same records).
 */
export function* bootstrapSteps<N extends string>(
  parts: readonly EstimatorTerms<N>[],
  n: number,
  options: Pick<EstimatorOptions, 'bootstrap' | 'seed'> = {},
): Generator<void, Record<N, Estimate>, void> {
  const samples = options.bootstrap ?? 1000;
  const boot = parts.map(() => new Float64Array(samples));
  if (samples > 0) {
    const rng = new Rng(options.seed ?? 0);
    const idx = new Int32Array(n);
    const chunk = Math.max(1, Math.floor(DRAWS_PER_CHUNK / n));
    for (let b = 0; b < samples; b++) {
      if (b > 0 && b % chunk === 0) yield;
      for (let j = 0; j < n; j++) idx[j] = rng.int(n);
      for (let k = 0; k < parts.length; k++) boot[k]![b] = ratio(parts[k]!.num, parts[k]!.den, idx);
    }
  }
  const out = {} as Record<N, Estimate>;
  parts.forEach((p, k) => {
    const sorted = boot[k]!.sort();
    out[p.name] = { value: ratio(p.num, p.den), ci95: samples > 0 ? [quantileSorted(sorted, 0.025), quantileSorted(sorted, 0.975)] : [NaN, NaN] };
  });
  return out;
}

/**
 * Estimate the target policy's value with each named estimator; one seeded bootstrap (the same
 * resampled records for every estimator, so their intervals are comparable).
 */
export function estimate(inp: OpeInputs, estimators: readonly EstimatorName[], options: EstimatorOptions = {}): OpeResult {
  for (const e of estimators) if (!ESTIMATORS.includes(e)) throw new ConfigError(`unknown estimator "${e}" (known: ${ESTIMATORS.join(', ')})`, 'estimators');
  if (inp.log.n === 0) throw new DataError('the log holds no decisions', { field: 'log' });
  checkInputs(inp, estimators);
  const o = { clip: options.clip ?? 10, tau: options.tau ?? 10 };
  if (!(o.clip > 0)) throw new ConfigError(`clip must be > 0, got ${o.clip}`, 'clip');
  if (!(o.tau > 0)) throw new ConfigError(`tau must be > 0, got ${o.tau}`, 'tau');
  const parts = estimators.map((e) => ({ name: e, ...terms(inp, e, o) }));
  const estimates = bootstrapTerms(parts, inp.log.n, options) as OpeResult['estimates'];
  return { estimates, n: inp.log.n, ...importanceWeightStats(inp) };
}
