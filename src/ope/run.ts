/**
 * One off-policy evaluation of a target policy on a logged dataset, as `chorus ope --log` and the
 * server's `POST /snapshots/{id}/evaluate` both run it: the chosen estimators with a cross-fitted
 * reward model where they need one (DM and the DR family), one seeded bootstrap for every
 * interval, Kish's effective sample size, the log's own mean reward, and the slate estimators when
 * the log holds whole slates and the policy defines slot marginals.
 */
import { ConfigError } from '../errors.js';
import { crossFitPredictions, crossFitPredictionsPausing } from './cross-fit.js';
import { ESTIMATORS, estimate, needsRewardModel, type EstimatorName, type OpeResult } from './estimators.js';
import type { OpeDataset } from './logs.js';
import { slateTargetProbabilities, targetProbabilities, type TargetPolicy } from './policies.js';
import { listRegressors, type RegressionData } from './regressors.js';
import { slateEstimates, type SlateResult } from './slates.js';

/** The estimators run when none are named. */
export const DEFAULT_ESTIMATORS: readonly EstimatorName[] = ['dm', 'ips', 'snips', 'dr'];

export interface RewardModelOptions {
  /** Regressor registry name (default `ridge`). */
  rewardModel?: string;
  /** The regressor's own settings (e.g. `{ lambda: 10 }`). */
  rewardParams?: Record<string, unknown>;
  /** Cross-fitting folds (default 5). */
  folds?: number;
  /** Seed of the folds and of the bootstrap (default 0). */
  seed?: number;
}

export interface RunOptions extends RewardModelOptions {
  /** Default DEFAULT_ESTIMATORS. */
  estimators?: readonly EstimatorName[];
  /** Bootstrap resamples for the 95 % intervals (default 1000; 0 for none). */
  bootstrap?: number;
  /** Weight cap of clipped-ips / clipped-dr (estimators' default 10). */
  clip?: number;
  /** Weight threshold of switch-dr (estimators' default 10). */
  tau?: number;
}

export interface OpeRun extends OpeResult {
  rewardModel: { name: string; folds: number; seed: number } | null;
  bootstrap: number;
  seed: number;
  /** The logged (behaviour) policy's own mean reward, for reference. */
  loggedMean: number;
  slates?: SlateResult;
}

/**
 * Check a reward model's name against the regressor registry. `field` names where the value came
 * from (a CLI flag or a request field), so the error points there.
 */
export function checkRewardModel(name: string, field = 'rewardModel'): void {
  if (!listRegressors().some((r) => r.name === name)) throw new ConfigError(`unknown reward model "${name}" (known: ${listRegressors().map((r) => r.name).join(', ')})`, field);
}

/** Check estimator names (duplicates dropped, order kept); `field` as in `checkRewardModel`. */
export function checkEstimators(names: readonly string[], field = 'estimators'): EstimatorName[] {
  for (const n of names) if (!(ESTIMATORS as readonly string[]).includes(n)) throw new ConfigError(`unknown estimator "${n}" (known: ${ESTIMATORS.join(', ')})`, field);
  if (names.length === 0) throw new ConfigError('no estimators named', field);
  return [...new Set(names)] as EstimatorName[];
}

/**
 * Cross-fitted q̂ for every candidate of every record. It does not depend on the target policy, so
 * one fit serves every policy evaluated on the same log (the server reuses it for the active
 * snapshot's ranking).
 */
export function rewardPredictions(data: OpeDataset, options: RewardModelOptions = {}): Float64Array {
  const name = options.rewardModel ?? 'ridge';
  checkRewardModel(name);
  return crossFitPredictions(regressionData(data), name, crossFitOptions(options));
}

/**
 * `rewardPredictions` that awaits `pause` between cross-fitting folds, so that a server thread
 * (`POST /snapshots/{id}/evaluate`, the activation gate) serves requests between them: the same
 * cross-fit loop (./cross-fit.ts), so the same q̂.
 */
export async function rewardPredictionsYielding(data: OpeDataset, options: RewardModelOptions, pause: () => Promise<void>): Promise<Float64Array> {
  const name = options.rewardModel ?? 'ridge';
  checkRewardModel(name);
  return crossFitPredictionsPausing(regressionData(data), name, crossFitOptions(options), pause);
}

function regressionData(data: OpeDataset): RegressionData {
  return { log: data.log, nActions: data.actionIds.length, context: data.context, candidateFeatures: data.candidateFeatures, actionFeatures: data.actionFeatures };
}

function crossFitOptions(options: RewardModelOptions): { folds: number; seed: number; regressorConfig?: Record<string, unknown> } {
  return { folds: options.folds ?? 5, seed: options.seed ?? 0, regressorConfig: options.rewardParams };
}

/** Mean logged reward of the records. */
export function loggedMeanReward(data: OpeDataset): number {
  let s = 0;
  for (let i = 0; i < data.log.n; i++) s += data.log.reward[i]!;
  return s / data.log.n;
}

/**
 * Estimate `policy`'s value on `data`. `predicted` (from `rewardPredictions` with the same options)
 * skips refitting the reward model; without it the model is fitted here when an estimator needs it.
 */
export function runEstimators(data: OpeDataset, policy: TargetPolicy, options: RunOptions = {}, predicted?: Float64Array): OpeRun {
  const estimators = options.estimators ?? DEFAULT_ESTIMATORS;
  const bootstrap = options.bootstrap ?? 1000;
  const seed = options.seed ?? 0;
  const folds = options.folds ?? 5;
  const rewardModel = options.rewardModel ?? 'ridge';
  checkRewardModel(rewardModel);
  const target = targetProbabilities(policy, data);
  const needsModel = needsRewardModel(estimators);
  const q = needsModel ? (predicted ?? rewardPredictions(data, options)) : undefined;
  const res = estimate({ log: data.log, target, predicted: q }, estimators, { bootstrap, seed, clip: options.clip, tau: options.tau });
  const out: OpeRun = { ...res, rewardModel: needsModel ? { name: rewardModel, folds, seed } : null, bootstrap, seed, loggedMean: loggedMeanReward(data) };
  const slateTarget = slateTargetProbabilities(policy, data);
  if (data.slates && slateTarget) out.slates = slateEstimates(data.slates.log, slateTarget, undefined, { bootstrap, seed });
  return out;
}
