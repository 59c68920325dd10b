import type { Observation, Slate } from '../env/types.js';
import { BaseAgent, type SeededConfig } from './base.js';

export interface RandomConfig extends SeededConfig {}

/** Uniform random slate of distinct unseen items. Propensity = marginal probability k / available. */
export class RandomAgent extends BaseAgent<RandomConfig> {
  readonly name = 'random';
  readonly version = 1;

  act(obs: Observation, k: number): Slate {
    const n = this.ctx.items.nItems;
    const seen = new Set(obs.history);
    let avail = n;
    for (const i of seen) if (i >= 0 && i < n) avail--;
    const size = Math.min(k, avail);
    const items = new Int32Array(size);
    if (avail <= 4 * k) {
      // Small pool: shuffle the allowed items (rejection sampling could loop for long).
      const pool = new Int32Array(avail);
      let q = 0;
      for (let i = 0; i < n; i++) if (!seen.has(i)) pool[q++] = i;
      for (let p = 0; p < size; p++) {
        const j = p + this.rng.int(avail - p);
        const t = pool[p]!;
        pool[p] = pool[j]!;
        pool[j] = t;
        items[p] = pool[p]!;
      }
    } else {
      let filled = 0;
      while (filled < size) {
        const i = this.rng.int(n);
        if (seen.has(i)) continue;
        let dup = false;
        for (let p = 0; p < filled; p++) if (items[p] === i) dup = true;
        if (!dup) items[filled++] = i;
      }
    }
    return { items, propensities: new Float32Array(size).fill(size / Math.max(1, avail)) };
  }
}
