import type { Observation, Slate } from '../env/types.js';
import { BaseAgent, clickedReward, type SeededConfig } from './base.js';
import { cholesky, matVec, scaledIdentity, shermanMorrison } from './linalg.js';
import { LinearSlateFeatures } from './linucb.js';
import type { AgentContext } from './state.js';
import type { Transition } from './types.js';

export interface ThompsonConfig extends SeededConfig {
  /** Posterior scale v: θ̃ ~ N(θ, v²A⁻¹). */
  v: number;
  ridge: number;
  popularityPrior: number;
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
  private readonly f: LinearSlateFeatures;
  private ainv: Float64Array;
  private b: Float64Array;
  private readonly theta: Float64Array;
  private readonly sample: Float64Array;
  private readonly chol: Float64Array;
  private readonly z: Float64Array;
  private readonly phiBuf: Float64Array;
  private readonly tmp: Float64Array;
  private readonly scores: Float64Array;
  private sinceDraw = Infinity;

  constructor(ctx: AgentContext, config: ThompsonConfig) {
    super(ctx, config);
    this.f = new LinearSlateFeatures(ctx);
    const D = this.f.dim;
    this.ainv = scaledIdentity(D, 1 / config.ridge);
    this.b = new Float64Array(D);
    this.b[this.f.popIndex] = config.ridge * config.popularityPrior;
    this.theta = new Float64Array(D);
    matVec(this.ainv, D, this.b, this.theta);
    this.sample = new Float64Array(D);
    this.chol = new Float64Array(D * D);
    this.z = new Float64Array(D);
    this.phiBuf = new Float64Array(D);
    this.tmp = new Float64Array(D);
    this.scores = new Float64Array(ctx.items.nItems);
  }

  act(obs: Observation, k: number): Slate {
    this.f.setState(obs);
    if (!this.training) {
      this.f.scoreAll(this.theta, this.scores);
      return this.greedySlate(this.scores, obs, k);
    }
    if (this.sinceDraw >= this.config.resampleEvery) {
      this.draw();
      this.sinceDraw = 0;
    }
    this.sinceDraw++;
    this.f.scoreAll(this.sample, this.scores);
    return this.greedySlate(this.scores, obs, k);
  }

  /** θ̃ = θ + v·L·z with L·Lᵀ = A⁻¹, z ~ N(0, I). */
  private draw(): void {
    const D = this.f.dim;
    this.chol.set(this.ainv);
    // A⁻¹ loses positive definiteness only through rounding after very many updates; jitter then.
    if (!cholesky(this.chol, D)) {
      this.chol.set(this.ainv);
      for (let i = 0; i < D; i++) this.chol[i * D + i] += 1e-9;
      cholesky(this.chol, D);
    }
    for (let i = 0; i < D; i++) this.z[i] = this.rng.normal();
    for (let i = 0; i < D; i++) {
      let s = 0;
      for (let j = 0; j <= i; j++) s += this.chol[i * D + j]! * this.z[j]!;
      this.sample[i] = this.theta[i]! + this.config.v * s;
    }
  }

  override observe(t: Transition): void {
    this.f.setState(t.observation);
    const D = this.f.dim;
    const items = t.slate.items;
    for (let p = 0; p < items.length; p++) {
      this.f.phi(items[p]!, this.phiBuf);
      shermanMorrison(this.ainv, D, this.phiBuf, this.tmp);
      const r = clickedReward(t, p);
      for (let j = 0; j < D; j++) this.b[j] += r * this.phiBuf[j]!;
    }
  }

  override update(): void {
    matVec(this.ainv, this.f.dim, this.b, this.theta);
  }

  protected override getState(): Record<string, unknown> {
    return { ainv: this.ainv, b: this.b };
  }

  protected override setState(s: Record<string, unknown>): void {
    this.ainv = s.ainv as Float64Array;
    this.b = s.b as Float64Array;
    matVec(this.ainv, this.f.dim, this.b, this.theta);
    this.sinceDraw = Infinity;
  }
}
