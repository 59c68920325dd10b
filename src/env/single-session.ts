/**
 * One session at a time behind the `Env` contract, over a batched environment of one slot
 * without auto-reset. `SessionEnv` (any preset family) and `SimEnv` (rating family, from a world
 * and a config) differ only in how they build that batch.
 */
import { ChorusError } from '../errors.js';
import type { SessionBatchEnv } from './presets.js';
import type { Env, Observation, Slate, StepResult } from './types.js';

export class SingleSessionEnv implements Env {
  readonly nItems: number;
  readonly slateSize: number;
  private readonly vec: SessionBatchEnv;
  private readonly slateBuf: Int32Array;
  private active = false;

  /** `vec` must have one slot and no auto-reset. */
  constructor(vec: SessionBatchEnv) {
    this.vec = vec;
    this.nItems = vec.nItems;
    this.slateSize = vec.slateSize;
    this.slateBuf = new Int32Array(this.slateSize);
  }

  reset(seed: number): Observation {
    this.active = true;
    return this.vec.reset(seed)[0]!;
  }

  step(slate: Slate): StepResult {
    if (!this.active) throw new ChorusError('E_ENV_STATE', 'step() before reset() or after the session ended');
    if (slate.items.length > this.slateSize) throw new ChorusError('E_SLATE', `slate has ${slate.items.length} items; this environment shows at most ${this.slateSize}`, { location: { field: 'slate.items' } });
    this.slateBuf.fill(-1);
    this.slateBuf.set(slate.items);
    const r = this.vec.step(this.slateBuf);
    const done = r.done[0] === 1;
    if (done) this.active = false;
    const K = this.slateSize;
    return {
      observation: r.observations[0]!,
      reward: r.rewards[0]!,
      parts: { R: r.R[0]!, G: r.G[0]!, A: r.A[0]!, itemG: r.g.slice(0, K) },
      done,
      info: {
        clicks: r.clicks.slice(0, K),
        purchases: r.purchases.slice(0, K),
        ratings: r.ratings.slice(0, K),
        propensities: slate.propensities ? Float32Array.from(slate.propensities) : undefined,
      },
    };
  }
}
