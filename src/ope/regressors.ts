/**
 * Reward models q̂(x, a) for the direct method and doubly robust estimators, one table by name:
 *
 * - `ridge`: closed-form ridge regression on dense features of (record, candidate): a bias, the
 *   action's one-hot id, the record's context, the candidate's own features, the action's
 *   features and, with `interactions`, context ⊗ action features (so the best action may depend
 *   on the context). Solved by Cholesky on the Gram matrix (src/util/linalg.ts).
 * - `action-mean`: each action's mean logged reward, shrunk toward the overall mean by a prior
 *   worth `priorWeight` pseudo-observations (context-free; robust when rewards are rare).
 *
 * A regressor is fitted on the logged (record, chosen action, reward) triples of some records and
 * predicts every candidate of other records; ./cross-fit.ts arranges the folds.
 */
import { ConfigError, UnknownNameError } from '../errors.js';
import { cholesky, choleskySolve, gram } from '../util/linalg.js';
import type { BanditLog } from './estimators.js';
import type { FeatureMatrix } from './logs.js';

/** What a reward model may look at: the log and the features that came with it. */
export interface RegressionData {
  log: BanditLog;
  /** `log.actions` hold ids 0 … nActions−1. */
  nActions: number;
  context?: FeatureMatrix;
  candidateFeatures?: FeatureMatrix;
  actionFeatures?: FeatureMatrix;
}

export interface Regressor {
  readonly name: string;
  /** Fit on the logged action and reward of each record in `records`. */
  fit(data: RegressionData, records: Int32Array): void;
  /** q̂ for every candidate of `record`, written to `out[log.indptr[record] …]` (absolute positions). */
  predict(data: RegressionData, record: number, out: Float64Array): void;
}

export interface RegressorEntry {
  name: string;
  description: string;
  create(config: Record<string, unknown>): Regressor;
}

function numberOption(config: Record<string, unknown>, key: string, def: number, min: number): number {
  const v = config[key];
  if (v === undefined) return def;
  const x = typeof v === 'string' ? Number(v) : v;
  if (typeof x !== 'number' || !(x >= min)) throw new ConfigError(`reward model option ${key} must be a number ≥ ${min}, got ${JSON.stringify(v)}`, `reward-model.${key}`);
  return x;
}

function checkKeys(name: string, config: Record<string, unknown>, known: readonly string[]): void {
  for (const k of Object.keys(config)) if (!known.includes(k)) throw new ConfigError(`reward model "${name}" has no option "${k}" (known: ${known.join(', ')})`, `reward-model.${k}`);
}

/** Per-action mean reward with a prior toward the overall mean. */
export class ActionMean implements Regressor {
  readonly name = 'action-mean';
  private means = new Float64Array(0);
  constructor(readonly priorWeight = 10) {}

  fit(data: RegressionData, records: Int32Array): void {
    const { log } = data;
    const sum = new Float64Array(data.nActions);
    const cnt = new Float64Array(data.nActions);
    let total = 0;
    for (let j = 0; j < records.length; j++) {
      const i = records[j]!;
      const a = log.actions[log.logged[i]!]!;
      sum[a] += log.reward[i]!;
      cnt[a] += 1;
      total += log.reward[i]!;
    }
    const mean = records.length > 0 ? total / records.length : 0;
    this.means = new Float64Array(data.nActions);
    for (let a = 0; a < data.nActions; a++) {
      const w = cnt[a]! + this.priorWeight;
      // An action never logged in the training folds (with no prior) falls back to the overall mean.
      this.means[a] = w > 0 ? (sum[a]! + this.priorWeight * mean) / w : mean;
    }
  }

  predict(data: RegressionData, record: number, out: Float64Array): void {
    const { log } = data;
    for (let k = log.indptr[record]!; k < log.indptr[record + 1]!; k++) out[k] = this.means[log.actions[k]!]!;
  }
}

/** Closed-form ridge regression on (record, candidate) features; see the file comment. */
export class Ridge implements Regressor {
  readonly name = 'ridge';
  private w = new Float64Array(0);
  private x = new Float64Array(0);

  constructor(
    readonly lambda = 1,
    readonly interactions = false,
  ) {}

  /** Feature count for this data: bias, one-hot action, context, candidate, action, context⊗action. */
  dim(data: RegressionData): number {
    const dc = data.context?.dim ?? 0;
    const da = data.actionFeatures?.dim ?? 0;
    return 1 + data.nActions + dc + (data.candidateFeatures?.dim ?? 0) + da + (this.interactions ? dc * da : 0);
  }

  /** Features of candidate k (absolute position) of record i into `out[o … o+dim)`. */
  private features(data: RegressionData, i: number, k: number, out: Float64Array, o: number): void {
    const a = data.log.actions[k]!;
    let p = o;
    out[p++] = 1;
    for (let b = 0; b < data.nActions; b++) out[p++] = b === a ? 1 : 0;
    const c = data.context;
    if (c) for (let d = 0; d < c.dim; d++) out[p++] = c.values[i * c.dim + d]!;
    const cf = data.candidateFeatures;
    if (cf) for (let d = 0; d < cf.dim; d++) out[p++] = cf.values[k * cf.dim + d]!;
    const af = data.actionFeatures;
    if (af) for (let d = 0; d < af.dim; d++) out[p++] = af.values[a * af.dim + d]!;
    if (this.interactions && c && af) {
      for (let d = 0; d < c.dim; d++) {
        const cv = c.values[i * c.dim + d]!;
        for (let e = 0; e < af.dim; e++) out[p++] = cv * af.values[a * af.dim + e]!;
      }
    }
  }

  fit(data: RegressionData, records: Int32Array): void {
    const D = this.dim(data);
    const n = records.length;
    const X = new Float64Array(n * D);
    const xty = new Float64Array(D);
    for (let j = 0; j < n; j++) {
      const i = records[j]!;
      this.features(data, i, data.log.logged[i]!, X, j * D);
      const r = data.log.reward[i]!;
      for (let d = 0; d < D; d++) xty[d] += X[j * D + d]! * r;
    }
    const g = gram(X, n, D, new Float64Array(D * D), this.lambda);
    // The bias is not shrunk: an unpenalised intercept keeps q̂ centred on the mean reward.
    g[0] = g[0]! - this.lambda + 1e-9;
    if (!cholesky(g, D)) throw new ConfigError(`ridge: the Gram matrix is not positive definite (lambda ${this.lambda} too small?)`, 'reward-model.lambda');
    choleskySolve(g, D, xty);
    this.w = xty;
    this.x = new Float64Array(D);
  }

  predict(data: RegressionData, record: number, out: Float64Array): void {
    const D = this.w.length;
    for (let k = data.log.indptr[record]!; k < data.log.indptr[record + 1]!; k++) {
      this.features(data, record, k, this.x, 0);
      let s = 0;
      for (let d = 0; d < D; d++) s += this.w[d]! * this.x[d]!;
      out[k] = s;
    }
  }
}

const REGRESSORS: ReadonlyMap<string, RegressorEntry> = new Map(
  (
    [
      {
        name: 'ridge',
        description: 'closed-form ridge on bias, one-hot action, context, candidate and action features (lambda=1, interactions=false)',
        create: (config) => {
          checkKeys('ridge', config, ['lambda', 'interactions']);
          const inter = config.interactions;
          return new Ridge(numberOption(config, 'lambda', 1, 1e-12), inter === true || inter === 'true' || inter === 1 || inter === '1');
        },
      },
      {
        name: 'action-mean',
        description: 'per-action mean reward shrunk toward the overall mean (priorWeight=10)',
        create: (config) => {
          checkKeys('action-mean', config, ['priorWeight']);
          return new ActionMean(numberOption(config, 'priorWeight', 10, 0));
        },
      },
    ] satisfies RegressorEntry[]
  ).map((e) => [e.name, e]),
);

export function listRegressors(): { name: string; description: string }[] {
  return [...REGRESSORS.values()].map(({ name, description }) => ({ name, description }));
}

/** A fresh regressor by registry name; unknown names are refused with the known ones listed. */
export function createRegressor(name: string, config: Record<string, unknown> = {}): Regressor {
  const e = REGRESSORS.get(name);
  if (!e) throw new UnknownNameError('reward model', name, [...REGRESSORS.keys()]);
  return e.create(config);
}
