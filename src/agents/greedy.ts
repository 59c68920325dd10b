import type { Observation, Slate } from '../env/types.js';
import { BaseAgent, type SeededConfig } from './base.js';
import { contextScores, type AgentContext } from './state.js';
import { DeterministicSlate } from './slate-distribution.js';
import type { ActOptions, SlateDistribution } from './types.js';

export interface GreedyConfig extends SeededConfig {
  /** How many users' score vectors are cached (each is nItems floats). */
  cacheUsers: number;
}

/**
 * Greedy-by-recommender (`greedy-als`): ranks every item by the recommender's score for the user
 * (ALS fitted on P1's train split) and shows the best unseen k. Myopic by design: it ignores
 * satiation, leaving and exposure, which is what the RL agents are measured against. Without a
 * `scoreUser` in the context it scores with the context's CF user × item factors.
 */
export class GreedyAgent extends BaseAgent<GreedyConfig> {
  readonly name = 'greedy-als';
  readonly version = 1;
  private readonly cache = new Map<number, Float32Array>();

  constructor(ctx: AgentContext, config: GreedyConfig) {
    super(ctx, config);
  }

  act(obs: Observation, k: number, options?: ActOptions): Slate {
    return this.greedySlate(this.scores(obs.user), obs, k, options);
  }

  /** Deterministic: the slate `act` returns, with probability 1. */
  slateDistribution(obs: Observation, k: number, options?: ActOptions): SlateDistribution {
    return new DeterministicSlate(this.act(obs, k, options).items);
  }

  private scores(user: number): Float32Array {
    let s = this.cache.get(user);
    if (s) return s;
    s = new Float32Array(this.ctx.items.nItems);
    if (!contextScores(this.ctx, user, s)) s.set(this.ctx.items.popularity);
    if (this.cache.size >= this.config.cacheUsers) this.cache.delete(this.cache.keys().next().value as number);
    this.cache.set(user, s);
    return s;
  }
}
