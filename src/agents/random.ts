import type { Observation, Slate } from '../env/types.js';
import { BaseAgent, type SeededConfig } from './base.js';
import { UniformSlate } from './slate-distribution.js';
import type { ActOptions, SlateDistribution } from './types.js';

export interface RandomConfig extends SeededConfig {}

/**
 * Uniform random slate of distinct unseen items. Propensity of position p given the positions
 * before it: 1 / (available − p), every remaining unseen item being equally likely there (exact).
 */
export class RandomAgent extends BaseAgent<RandomConfig> {
  readonly name = 'random';
  readonly version = 1;

  act(obs: Observation, k: number, options?: ActOptions): Slate {
    const n = this.ctx.items.nItems;
    const restricted = options?.candidates !== undefined || options?.exclude !== undefined;
    const seen = new Set(obs.history);
    let avail = n;
    if (restricted) avail = this.showableCount(obs, options);
    else for (const i of seen) if (i >= 0 && i < n) avail--;
    const size = Math.min(k, avail);
    const items = new Int32Array(size);
    if (restricted || avail <= 4 * k) {
      // Small or restricted pool: shuffle the showable items (rejection sampling could loop for long).
      const pool = this.showable(obs, options);
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
    return { items, propensities: Float32Array.from(items, (_, p) => 1 / Math.max(1, avail - p)) };
  }

  /** Uniform over ordered slates of distinct showable items (what `act` draws from). */
  slateDistribution(obs: Observation, k: number, options?: ActOptions): SlateDistribution {
    const restricted = options?.candidates !== undefined || options?.exclude !== undefined;
    const n = this.ctx.items.nItems;
    const allowed = restricted ? new Set(this.showable(obs, options)) : null;
    const seen = new Set(obs.history);
    const avail = allowed ? allowed.size : this.showableCount(obs);
    const showable = (i: number): boolean => (allowed ? allowed.has(i) : i >= 0 && i < n && !seen.has(i));
    return new UniformSlate(Math.min(k, avail), avail, showable);
  }
}
