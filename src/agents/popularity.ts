import type { Observation, Slate } from '../env/types.js';
import { BaseAgent, type SeededConfig } from './base.js';
import { DeterministicSlate } from './slate-distribution.js';
import type { ActOptions, SlateDistribution } from './types.js';

export interface PopularityConfig extends SeededConfig {}

/** The k most-interacted training items the user has not consumed yet (deterministic). */
export class PopularityAgent extends BaseAgent<PopularityConfig> {
  readonly name = 'popularity';
  readonly version = 1;

  act(obs: Observation, k: number, options?: ActOptions): Slate {
    return this.greedySlate(this.ctx.items.popularity, obs, k, options);
  }

  /** Deterministic: the slate `act` returns, with probability 1. */
  slateDistribution(obs: Observation, k: number, options?: ActOptions): SlateDistribution {
    return new DeterministicSlate(this.act(obs, k, options).items);
  }
}
