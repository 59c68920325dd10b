/**
 * Cross-fitted reward predictions (Chernozhukov et al. 2018's cross-fitting, as OBP's
 * `fit_predict(n_folds=…)` does): records are dealt into K folds by a seeded shuffle, and every
 * record's q̂ comes from a model fitted on the other K − 1 folds. A model that has seen a record's
 * own reward would make DR's correction term r − q̂ shrink toward zero on it, hiding the model's
 * error; out of fold, DR keeps its double robustness with a flexible model.
 */
import { ConfigError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { createRegressor, type RegressionData, type Regressor } from './regressors.js';

export interface CrossFitOptions {
  /** Folds (default 5); 1 fits and predicts on all records (in-sample, for comparison only). */
  folds?: number;
  seed?: number;
}

/** Fold of each record: a seeded shuffle dealt round-robin, so fold sizes differ by at most one. */
export function foldAssignment(n: number, folds: number, seed: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  new Rng(seed).shuffle(order);
  const fold = new Int32Array(n);
  for (let j = 0; j < n; j++) fold[order[j]!] = j % folds;
  return fold;
}

/**
 * q̂ for every candidate of every record (aligned with `data.log.actions`), each record's from a
 * model fitted without its fold. `regressor` is a registry name or a factory of fresh models.
 */
export function crossFitPredictions(
  data: RegressionData,
  regressor: string | (() => Regressor),
  options: CrossFitOptions & { regressorConfig?: Record<string, unknown> } = {},
): Float64Array {
  const steps = crossFitSteps(data, regressor, options);
  let r = steps.next();
  while (!r.done) r = steps.next();
  return r.value;
}

/**
 * The same, pausing between folds (`await pause()`), so that a server evaluating on its event
 * loop keeps answering requests while the folds fit.
 */
export async function crossFitPredictionsPausing(
  data: RegressionData,
  regressor: string | (() => Regressor),
  options: CrossFitOptions & { regressorConfig?: Record<string, unknown> },
  pause: () => Promise<void>,
): Promise<Float64Array> {
  const steps = crossFitSteps(data, regressor, options);
  let r = steps.next();
  while (!r.done) {
    await pause();
    r = steps.next();
  }
  return r.value;
}

/** The cross-fit, one fold per step (a generator, so that both callers run the one loop). */
function* crossFitSteps(
  data: RegressionData,
  regressor: string | (() => Regressor),
  options: CrossFitOptions & { regressorConfig?: Record<string, unknown> },
): Generator<void, Float64Array, void> {
  const folds = options.folds ?? 5;
  const { n } = data.log;
  if (!Number.isInteger(folds) || folds < 1) throw new ConfigError(`folds must be an integer ≥ 1, got ${folds}`, 'folds');
  if (folds > n) throw new ConfigError(`folds (${folds}) exceed the records (${n})`, 'folds');
  const make = typeof regressor === 'string' ? () => createRegressor(regressor, options.regressorConfig) : regressor;
  const out = new Float64Array(data.log.actions.length);
  const all = new Int32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  if (folds === 1) {
    const m = make();
    m.fit(data, all);
    for (let i = 0; i < n; i++) m.predict(data, i, out);
    return out;
  }
  const fold = foldAssignment(n, folds, options.seed ?? 0);
  for (let f = 0; f < folds; f++) {
    if (f > 0) yield;
    const train = all.filter((i) => fold[i] !== f);
    const m = make();
    m.fit(data, train);
    for (let i = 0; i < n; i++) if (fold[i] === f) m.predict(data, i, out);
  }
  return out;
}
