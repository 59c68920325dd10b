import type { Observation, Slate } from '../env/types.js';
import { quadForm } from '../util/linalg.js';
import { BaseAgent } from './base.js';
import { LinearBanditStats, linearBanditState, type LinearBanditConfig } from './linear-bandit.js';
import type { AgentContext } from './state.js';
import { DeterministicSlate } from './slate-distribution.js';
import type { ActOptions, SlateDistribution, Transition } from './types.js';

// Kept here too: src/marl/views.ts imports the feature map from this module.
export { LinearSlateFeatures } from './linear-bandit.js';

export interface LinUcbConfig extends LinearBanditConfig {
  /** Width of the confidence bonus. */
  alpha: number;
  /** Candidates re-ranked with the bonus: the best `shortlist` items by mean score. */
  shortlist: number;
}

/**
 * LinUCB (Li et al. 2010) with one shared linear model over φ(state, item) — the "shared part"
 * of hybrid LinUCB; per-item disjoint models cannot learn within a budget over 9,742 items.
 * Score = θᵀφ + α·sqrt(φᵀA⁻¹φ). The bonus is computed for the `shortlist` best items by mean
 * (computing it for all items costs dim² each), which keeps a step under a millisecond.
 */
export class LinUcbAgent extends BaseAgent<LinUcbConfig> {
  readonly name = 'linucb';
  readonly version = 1;
  protected readonly stats: LinearBanditStats;
  protected readonly mean: Float64Array;

  constructor(ctx: AgentContext, config: LinUcbConfig) {
    super(ctx, config);
    this.stats = new LinearBanditStats(ctx, config.ridge, config.popularityPrior, linearBanditState(config), config.itemMeanValue ?? false);
    this.mean = new Float64Array(ctx.items.nItems);
  }

  act(obs: Observation, k: number, options?: ActOptions): Slate {
    const { f, theta, ainv, phiBuf } = this.stats;
    f.setState(obs);
    f.scoreAll(theta, this.mean);
    if (!this.training || this.config.alpha === 0) return this.greedySlate(this.mean, obs, k, options);
    const short = this.greedySlate(this.mean, obs, Math.max(k, this.config.shortlist), options);
    const ucb = new Float64Array(short.items.length);
    const D = f.dim;
    for (let p = 0; p < short.items.length; p++) {
      f.phi(short.items[p]!, phiBuf);
      ucb[p] = this.mean[short.items[p]!]! + this.config.alpha * Math.sqrt(Math.max(0, quadForm(ainv, D, phiBuf)));
    }
    const order = Array.from(ucb.keys()).sort((a, c) => ucb[c]! - ucb[a]! || short.items[a]! - short.items[c]!);
    const items = new Int32Array(Math.min(k, order.length));
    const scores = new Float32Array(items.length);
    for (let p = 0; p < items.length; p++) {
      items[p] = short.items[order[p]!]!;
      scores[p] = ucb[order[p]!]!;
    }
    return { items, scores, propensities: new Float32Array(items.length).fill(1) };
  }

  /** Deterministic (an upper bound, no draw): the slate `act` returns. */
  slateDistribution(obs: Observation, k: number, options?: ActOptions): SlateDistribution {
    return new DeterministicSlate(this.act(obs, k, options).items);
  }

  override observe(t: Transition): boolean {
    this.stats.observe(t);
    return t.slate.items.length > 0;
  }

  override update(): void {
    this.stats.refresh();
  }

  protected override getState(): Record<string, unknown> {
    return this.stats.getState();
  }

  protected override setState(s: Record<string, unknown>): void {
    this.stats.setState(s);
  }
}
