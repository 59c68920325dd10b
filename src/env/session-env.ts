/**
 * One session at a time behind the `Env` contract for any preset family: a batched environment
 * of one slot without auto-reset (`createVecEnv(preset, 1)`). `SimEnv` does the same for the
 * rating family only, from a world and a config.
 */
import { createVecEnv, type SimPreset } from './presets.js';
import { SingleSessionEnv } from './single-session.js';

export class SessionEnv extends SingleSessionEnv {
  constructor(preset: SimPreset) {
    super(createVecEnv(preset, 1, { autoReset: false }));
  }
}
