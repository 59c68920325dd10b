import type { Observation, Slate } from '../env/types.js';
import { BaseAgent, clickedReward, type SeededConfig } from './base.js';
import type { AgentContext } from './state.js';
import { EpsilonGreedySlate } from './slate-distribution.js';
import type { ActOptions, SlateDistribution, Transition } from './types.js';
import { logPopularity } from '../util/log-popularity.js';

export interface EpsilonGreedyConfig extends SeededConfig {
  /** Chance that a slate position shows a uniformly random item instead of the best estimate. */
  epsilon: number;
  /** Weight (pseudo-impressions) of the popularity prior on each item's mean reward. */
  priorWeight: number;
  /** Prior mean reward of the most popular item; others scale by log-popularity. */
  priorScale: number;
}

/**
 * ε-greedy over items as arms (non-contextual). Each item keeps a smoothed mean of the reward
 * credited to it (the step reward goes to the clicked position). Per position, with probability ε
 * a random showable item outside the slate is shown. Propensity of a position given the positions
 * before it: 1 − ε for the greedy pick, ε / (showable items − k) for a random one (exact).
 */
export class EpsilonGreedyAgent extends BaseAgent<EpsilonGreedyConfig> {
  readonly name: string = 'egreedy';
  readonly version = 1;
  protected n: Float64Array;
  protected sum: Float64Array;
  protected prior: Float64Array;
  protected est: Float64Array;

  constructor(ctx: AgentContext, config: EpsilonGreedyConfig) {
    super(ctx, config);
    const nI = ctx.items.nItems;
    this.n = new Float64Array(nI);
    this.sum = new Float64Array(nI);
    this.prior = new Float64Array(nI);
    this.est = new Float64Array(nI);
    const logPop = logPopularity(ctx.items.popularity);
    for (let i = 0; i < nI; i++) {
      this.prior[i] = config.priorScale * logPop[i]!;
      this.est[i] = this.prior[i]!;
    }
  }

  act(obs: Observation, k: number, options?: ActOptions): Slate {
    const slate = this.greedySlate(this.est, obs, k, options);
    const eps = this.training ? this.config.epsilon : 0;
    const prop = slate.propensities!;
    this.exploreGreedy(obs, eps, slate.items, prop, options);
    return slate;
  }

  /**
   * What `act` draws from (no random number is used): the greedy slate, each position explored with
   * probability ε (0 in evaluation mode) over the same spare items as `act`'s draw.
   */
  slateDistribution(obs: Observation, k: number, options?: ActOptions): SlateDistribution {
    const greedy = this.greedySlate(this.est, obs, k, options).items;
    const eps = this.training ? this.config.epsilon : 0;
    const restricted = options?.candidates !== undefined || options?.exclude !== undefined;
    const pool = restricted ? new Set(this.showable(obs, options)) : null;
    const spare = (pool ? pool.size : this.showableCount(obs)) - greedy.length;
    const nI = this.ctx.items.nItems;
    const showable = (i: number): boolean => (pool ? pool.has(i) : i >= 0 && i < nI && !this.inHistory(obs, i));
    return new EpsilonGreedySlate(greedy, eps, spare, showable);
  }

  override observe(t: Transition): boolean {
    const items = t.slate.items;
    const m = this.config.priorWeight;
    for (let p = 0; p < items.length; p++) {
      const i = items[p]!;
      this.n[i] += 1;
      this.sum[i] += clickedReward(t, p);
      this.est[i] = (this.sum[i]! + m * this.prior[i]!) / (this.n[i]! + m);
    }
    return items.length > 0;
  }

  protected override getState(): Record<string, unknown> {
    return { n: this.n, sum: this.sum };
  }

  protected override setState(s: Record<string, unknown>): void {
    this.n = s.n as Float64Array;
    this.sum = s.sum as Float64Array;
    const m = this.config.priorWeight;
    for (let i = 0; i < this.n.length; i++) this.est[i] = (this.sum[i]! + m * this.prior[i]!) / (this.n[i]! + m);
  }
}
