export * from './types.js';
export * from './config.js';
export { buildWorld, calibrateNoClick, hiddenRating, clickUtility, type SimWorld, type BuildWorldOptions } from './world.js';
export { fitExplicitMf, type ExplicitMf, type ExplicitMfOptions } from './calibrate.js';
export { VecEnv, type VecStepResult } from './vec-env.js';
export { SimEnv } from './sim-env.js';
export { buildPreset, presetConfig, presetNames, SIM_PRESETS, type SimPreset, type BuildPresetOptions } from './presets.js';
export { LogReplayEnv, type ReplayLog, type ReplayOptions, type ReplayEstimate } from './replay.js';
