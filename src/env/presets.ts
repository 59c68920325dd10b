/**
 * Named, versioned simulator presets (PROTOCOLS.md P3). A preset = a `SimConfig` + how its world
 * is built from data. Two families:
 *  - rating model (`sim-ml-ls-v1`, `sim-ml-ls-v2`; world.ts, vec-env.ts): `buildPreset` fits the
 *    hidden model on the full data, takes opening histories from the train split and calibrates
 *    the no-click utility;
 *  - interest evolution (`sim-interest-v1`; interest-world.ts, interest-env.ts): the same shared
 *    world (opening histories, exposure value, attractiveness, cold flags) plus documents with
 *    topics, quality and length and users with evolving interests and a time budget.
 * `createVecEnv` starts the right sessions for either; code that runs any preset goes through it.
 */
import type { Dataset } from '../data/dataset.js';
import { ChorusError, UnknownNameError } from '../errors.js';
import { SIM_INTEREST_V1, SIM_ML_LS_V1, SIM_ML_LS_V2, withOverrides, type SimConfig } from './config.js';
import { InterestVecEnv } from './interest-env.js';
import { buildInterestWorld, calibrateInterestNoClick, type InterestWorld } from './interest-world.js';
import type { Observation } from './types.js';
import { VecEnv, type VecStepResult } from './vec-env.js';
import { buildWorld, calibrateNoClick, type BuildWorldOptions, type SimWorld } from './world.js';

export const SIM_PRESETS: Readonly<Record<string, SimConfig>> = {
  'sim-ml-ls-v1': SIM_ML_LS_V1,
  'sim-ml-ls-v2': SIM_ML_LS_V2,
  'sim-interest-v1': SIM_INTEREST_V1,
};

export function presetNames(): string[] {
  return Object.keys(SIM_PRESETS);
}

export function presetConfig(name: string): SimConfig {
  const c = SIM_PRESETS[name];
  if (!c) throw new UnknownNameError('simulator preset', name, presetNames());
  return structuredClone(c);
}

/** Which family a config belongs to: the interest section marks the interest-evolution family. */
export function presetFamily(config: SimConfig): 'rating' | 'interest' {
  return config.interest ? 'interest' : 'rating';
}

export interface SimPreset {
  config: SimConfig;
  /** The shared world (for the rating family also its hidden model). */
  world: SimWorld;
  /** Documents and users of the interest-evolution family (absent for the rating family). */
  interest?: InterestWorld;
}

export interface BuildPresetOptions extends BuildWorldOptions {
  lambda?: number;
  alpha?: number;
}

export function buildPreset(name: string, full: Dataset, train: Dataset, options: BuildPresetOptions = {}): SimPreset {
  let config = presetConfig(name);
  const reward: Partial<SimConfig['reward']> = {};
  if (options.lambda !== undefined) reward.lambda = options.lambda;
  if (options.alpha !== undefined) reward.alpha = options.alpha;
  config = withOverrides(config, { reward });
  const world = buildWorld(full, train, config, options);
  if (presetFamily(config) === 'interest') {
    const interest = buildInterestWorld(full, train, config);
    config.interest!.choice.noClickUtility = calibrateInterestNoClick(interest, world, config, config.calibration.targetFirstStepCtr);
    return { config, world, interest };
  }
  config.choice.noClickUtility = calibrateNoClick(world, config, config.calibration.targetFirstStepCtr);
  return { config, world };
}

/** What every batched simulator offers: the part of `VecEnv` that agents and the runner use. */
export interface SessionBatchEnv {
  readonly n: number;
  readonly slateSize: number;
  readonly nItems: number;
  reset(seed: number): Observation[];
  step(slates: Int32Array): VecStepResult;
  userOf(s: number): number;
  exposureValueOf(i: number): number;
}

/** `n` batched sessions of the preset's family. */
export function createVecEnv(preset: SimPreset, n: number, options: { autoReset?: boolean } = {}): VecEnv | InterestVecEnv {
  if (presetFamily(preset.config) === 'interest') {
    if (!preset.interest) throw new ChorusError('E_ENV_STATE', `preset ${preset.config.preset} was built without its interest world; build it with buildPreset`, { location: { field: 'interest' } });
    return new InterestVecEnv(preset.interest, preset.world, preset.config, n, options);
  }
  return new VecEnv(preset.world, preset.config, n, options);
}

/**
 * `env` as the rating family's `VecEnv`, for code that reads its hidden state (oracles, ceilings);
 * a typed error for other families, whose hidden state is not a rating model's.
 */
export function ratingFamilyEnv(env: SessionBatchEnv, preset: string): VecEnv {
  if (env instanceof VecEnv) return env;
  throw new ChorusError('E_ENV_FAMILY', `preset ${preset} is not a rating-model preset; its hidden state has no factors, drift or satiation`, { location: { field: 'preset' } });
}
