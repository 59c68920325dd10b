import type { Observation, Slate } from '../env/types.js';
import { BaseAgent, type SeededConfig } from './base.js';

export interface RandomConfig extends SeededConfig {}

/** Uniform random slate of distinct unseen items. Propensity = marginal probability k / available. */
export class RandomAgent extends BaseAgent<RandomConfig> {
  readonly name = 'random';
  readonly version = 1;

  act(obs: Observation, k: number): Slate {
    const n = this.ctx.items.nItems;
    const items = new Int32Array(k);
    let size = 0;
    while (size < k) {
      const i = this.rng.int(n);
      if (this.inHistory(obs, i)) continue;
      let dup = false;
      for (let p = 0; p < size; p++) if (items[p] === i) dup = true;
      if (!dup) items[size++] = i;
    }
    const avail = n - obs.history.length;
    return { items, propensities: new Float32Array(k).fill(k / Math.max(k, avail)) };
  }
}
