import type { Observation, Slate } from '../env/types.js';
import { BaseAgent, clickedReward, type SeededConfig } from './base.js';
import type { AgentContext } from './state.js';
import { DeterministicSlate } from './slate-distribution.js';
import type { ActOptions, SlateDistribution, Transition } from './types.js';

export interface UcbConfig extends SeededConfig {
  /** Exploration weight c in mean + c·sqrt(2 ln N / n_i) (rewards here are not bounded by 1). */
  c: number;
}

/**
 * UCB1 (Auer et al. 2002) over items as arms, k arms per slate: the k unseen items with the
 * highest upper confidence bound. Items never shown have an infinite bound; among those the
 * more popular (in train) go first. In evaluation mode the bonus is dropped (pure exploitation).
 */
export class Ucb1Agent extends BaseAgent<UcbConfig> {
  readonly name = 'ucb';
  readonly version = 1;
  private n: Float64Array;
  private sum: Float64Array;
  private total = 0;
  private readonly index: Float64Array;
  private readonly tieBreak: Float64Array;

  constructor(ctx: AgentContext, config: UcbConfig) {
    super(ctx, config);
    const nI = ctx.items.nItems;
    this.n = new Float64Array(nI);
    this.sum = new Float64Array(nI);
    this.index = new Float64Array(nI);
    this.tieBreak = new Float64Array(nI);
    let maxPop = 1;
    for (let i = 0; i < nI; i++) maxPop = Math.max(maxPop, ctx.items.popularity[i]!);
    for (let i = 0; i < nI; i++) this.tieBreak[i] = ctx.items.popularity[i]! / maxPop;
  }

  act(obs: Observation, k: number, options?: ActOptions): Slate {
    const nI = this.ctx.items.nItems;
    const logN = Math.log(Math.max(1, this.total));
    const c = this.training ? this.config.c : 0;
    for (let i = 0; i < nI; i++) {
      const ni = this.n[i]!;
      if (ni === 0) this.index[i] = c > 0 ? 1e9 + this.tieBreak[i]! : this.tieBreak[i]! * 1e-6;
      else this.index[i] = this.sum[i]! / ni + c * Math.sqrt((2 * logN) / ni);
    }
    return this.greedySlate(this.index, obs, k, options);
  }

  /** Deterministic (the bonus is a function of the counts, no draw): the slate `act` returns. */
  slateDistribution(obs: Observation, k: number, options?: ActOptions): SlateDistribution {
    return new DeterministicSlate(this.act(obs, k, options).items);
  }

  override observe(t: Transition): boolean {
    const items = t.slate.items;
    for (let p = 0; p < items.length; p++) {
      const i = items[p]!;
      this.n[i] += 1;
      this.sum[i] += clickedReward(t, p);
      this.total += 1;
    }
    return items.length > 0;
  }

  protected override getState(): Record<string, unknown> {
    return { n: this.n, sum: this.sum, total: this.total };
  }

  protected override setState(s: Record<string, unknown>): void {
    this.n = s.n as Float64Array;
    this.sum = s.sum as Float64Array;
    this.total = s.total as number;
  }
}
