import type { SimConfig } from './config.js';
import { SingleSessionEnv } from './single-session.js';
import { VecEnv } from './vec-env.js';
import type { SimWorld } from './world.js';

/** One simulated session at a time behind the `Env` contract (a `VecEnv` of one, no auto-reset). */
export class SimEnv extends SingleSessionEnv {
  constructor(world: SimWorld, config: SimConfig) {
    super(new VecEnv(world, config, 1, { autoReset: false }));
  }
}
