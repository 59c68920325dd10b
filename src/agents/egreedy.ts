import type { Observation, Slate } from '../env/types.js';
import { BaseAgent, clickedReward, type SeededConfig } from './base.js';
import type { AgentContext } from './state.js';
import type { Transition } from './types.js';

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
 * a random item is shown. Propensity of a position = (1−ε)·[greedy pick] + ε/nItems.
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
    let maxPop = 1;
    for (let i = 0; i < nI; i++) maxPop = Math.max(maxPop, ctx.items.popularity[i]!);
    for (let i = 0; i < nI; i++) {
      this.prior[i] = (config.priorScale * Math.log1p(ctx.items.popularity[i]!)) / Math.log1p(maxPop);
      this.est[i] = this.prior[i]!;
    }
  }

  act(obs: Observation, k: number): Slate {
    const slate = this.greedySlate(this.est, obs, k);
    const eps = this.training ? this.config.epsilon : 0;
    const nI = this.ctx.items.nItems;
    const prop = slate.propensities!;
    // Exploration needs an unseen item outside the slate; with a tiny catalogue there may be none.
    const spare = nI - obs.history.length - slate.items.length;
    for (let p = 0; p < slate.items.length; p++) {
      if (eps > 0 && spare > 0 && this.rng.next() < eps) {
        let i: number;
        do i = this.rng.int(nI);
        while (this.inHistory(obs, i) || slate.items.includes(i));
        slate.items[p] = i;
        prop[p] = eps / nI;
      } else prop[p] = 1 - eps + eps / nI;
    }
    return slate;
  }

  override observe(t: Transition): void {
    const items = t.slate.items;
    const m = this.config.priorWeight;
    for (let p = 0; p < items.length; p++) {
      const i = items[p]!;
      this.n[i] += 1;
      this.sum[i] += clickedReward(t, p);
      this.est[i] = (this.sum[i]! + m * this.prior[i]!) / (this.n[i]! + m);
    }
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
