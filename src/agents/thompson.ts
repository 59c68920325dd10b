import type { Observation, Slate } from '../env/types.js';
import { choleskySmall } from '../util/linalg.js';
import { BaseAgent } from './base.js';
import { LinearBanditStats, type LinearBanditConfig } from './linear-bandit.js';
import type { AgentContext } from './state.js';
import type { Transition } from './types.js';

export interface ThompsonConfig extends LinearBanditConfig {
  /** Posterior scale v: θ̃ ~ N(θ, v²A⁻¹). */
  v: number;
  /** Draw a new θ̃ every this many `act` calls (1 = every slate, the textbook variant). */
  resampleEvery: number;
}

/**
 * Linear Thompson sampling (Agrawal & Goyal 2013) over the same φ(state, item) as LinUCB: draw
 * θ̃ from the Gaussian posterior, show the k unseen items with the highest θ̃ᵀφ. In evaluation
 * mode the posterior mean is used. Propensities are reported as 1 (the probability of a sampled
 * ranking has no closed form; off-policy estimators should not use this agent's logs).
 */
export class ThompsonAgent extends BaseAgent<ThompsonConfig> {
  readonly name = 'thompson';
  readonly version = 1;
  private readonly stats: LinearBanditStats;
  private readonly sample: Float64Array;
  private readonly chol: Float64Array;
  private readonly z: Float64Array;
  private readonly scores: Float64Array;
  private sinceDraw = Infinity;

  constructor(ctx: AgentContext, config: ThompsonConfig) {
    super(ctx, config);
    this.stats = new LinearBanditStats(ctx, config.ridge, config.popularityPrior);
    const D = this.stats.f.dim;
    this.sample = new Float64Array(D);
    this.chol = new Float64Array(D * D);
    this.z = new Float64Array(D);
    this.scores = new Float64Array(ctx.items.nItems);
  }

  act(obs: Observation, k: number): Slate {
    const { f } = this.stats;
    f.setState(obs);
    if (!this.training) {
      f.scoreAll(this.stats.theta, this.scores);
      return this.greedySlate(this.scores, obs, k);
    }
    if (this.sinceDraw >= this.config.resampleEvery) {
      this.draw();
      this.sinceDraw = 0;
    }
    this.sinceDraw++;
    f.scoreAll(this.sample, this.scores);
    return this.greedySlate(this.scores, obs, k);
  }

  /** θ̃ = θ + v·L·z with L·Lᵀ = A⁻¹, z ~ N(0, I). */
  private draw(): void {
    const { ainv, theta } = this.stats;
    const D = this.stats.f.dim;
    this.chol.set(ainv);
    // A⁻¹ loses positive definiteness only through rounding after very many updates; jitter then.
    if (!choleskySmall(this.chol, D)) {
      this.chol.set(ainv);
      for (let i = 0; i < D; i++) this.chol[i * D + i] += 1e-9;
      choleskySmall(this.chol, D);
    }
    for (let i = 0; i < D; i++) this.z[i] = this.rng.normal();
    for (let i = 0; i < D; i++) {
      let s = 0;
      for (let j = 0; j <= i; j++) s += this.chol[i * D + j]! * this.z[j]!;
      this.sample[i] = theta[i]! + this.config.v * s;
    }
  }

  override observe(t: Transition): void {
    this.stats.observe(t);
  }

  override update(): void {
    this.stats.refresh();
  }

  protected override getState(): Record<string, unknown> {
    return this.stats.getState();
  }

  protected override setState(s: Record<string, unknown>): void {
    this.stats.setState(s);
    this.sinceDraw = Infinity;
  }
}
