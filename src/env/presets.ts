/**
 * Named, versioned simulator presets (PROTOCOLS.md P3). A preset = a `SimConfig` + how its world
 * is built from data. `buildPreset` fits the hidden model on the full data, takes opening
 * histories from the train split and calibrates the no-click utility.
 */
import type { Dataset } from '../data/dataset.js';
import { UnknownNameError } from '../errors.js';
import { SIM_ML_LS_V1, SIM_ML_LS_V2, withOverrides, type SimConfig } from './config.js';
import { buildWorld, calibrateNoClick, type BuildWorldOptions, type SimWorld } from './world.js';

export const SIM_PRESETS: Readonly<Record<string, SimConfig>> = { 'sim-ml-ls-v1': SIM_ML_LS_V1, 'sim-ml-ls-v2': SIM_ML_LS_V2 };

export function presetNames(): string[] {
  return Object.keys(SIM_PRESETS);
}

export function presetConfig(name: string): SimConfig {
  const c = SIM_PRESETS[name];
  if (!c) throw new UnknownNameError('simulator preset', name, presetNames());
  return structuredClone(c);
}

export interface SimPreset {
  config: SimConfig;
  world: SimWorld;
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
  config.choice.noClickUtility = calibrateNoClick(world, config, config.calibration.targetFirstStepCtr);
  return { config, world };
}
