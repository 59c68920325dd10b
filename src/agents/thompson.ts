import type { Observation, Slate } from '../env/types.js';
import { cholesky } from '../util/linalg.js';
import { ConfigError } from '../errors.js';
import { BaseAgent } from './base.js';
import { LinearBanditStats, linearBanditState, type LinearBanditConfig } from './linear-bandit.js';
import type { Rng } from '../util/rng.js';
import { lazyPropensities, monteCarloPropensities, sideRng } from './propensity.js';
import type { AgentContext } from './state.js';
import type { ActOptions, Transition } from './types.js';

export interface ThompsonConfig extends LinearBanditConfig {
  /** Posterior scale v: θ̃ ~ N(θ, v²A⁻¹). */
  v: number;
  /** Draw a new θ̃ every this many `act` calls (1 = every slate, the textbook variant). */
  resampleEvery: number;
  /**
   * Extra posterior draws per slate for the Monte-Carlo propensity estimate (see
   * ./propensity.ts); 0 reports no propensities (the simulator does not read them).
   */
  propensitySamples: number;
}

/**
 * Linear Thompson sampling (Agrawal & Goyal 2013) over the same φ(state, item) as LinUCB: draw
 * θ̃ from the Gaussian posterior, show the k unseen items with the highest θ̃ᵀφ. In evaluation
 * mode the posterior mean is used (propensity 1, exact). While exploring, the probability of a
 * sampled ranking has no closed form: the propensities are a Monte-Carlo *estimate* over
 * `propensitySamples` further draws from the same posterior (`monteCarloPropensities`). They cost
 * M scorings of the catalogue, so they are computed when first read (with the posterior, state
 * and restrictions of the act, and a side generator that leaves the agent's own untouched): the
 * simulator, which does not read them, does not pay.
 */
export class ThompsonAgent extends BaseAgent<ThompsonConfig> {
  readonly name = 'thompson';
  readonly version = 1;
  private readonly stats: LinearBanditStats;
  private readonly sample: Float64Array;
  private chol: Float64Array;
  private readonly z: Float64Array;
  private readonly scores: Float64Array;
  private sinceDraw = Infinity;
  /** `chol` is the Cholesky factor of the current A⁻¹. */
  private factored = false;

  constructor(ctx: AgentContext, config: ThompsonConfig) {
    super(ctx, config);
    if (!Number.isInteger(config.propensitySamples) || config.propensitySamples < 0) {
      throw new ConfigError(`propensitySamples must be an integer ≥ 0, got ${config.propensitySamples}`, 'propensitySamples');
    }
    this.stats = new LinearBanditStats(ctx, config.ridge, config.popularityPrior, linearBanditState(config), config.itemMeanValue ?? false);
    const D = this.stats.f.dim;
    this.sample = new Float64Array(D);
    this.chol = new Float64Array(D * D);
    this.z = new Float64Array(D);
    this.scores = new Float64Array(ctx.items.nItems);
  }

  act(obs: Observation, k: number, options?: ActOptions): Slate {
    const { f } = this.stats;
    f.setState(obs);
    if (!this.training) {
      f.scoreAll(this.stats.theta, this.scores);
      return this.greedySlate(this.scores, obs, k, options);
    }
    if (this.sinceDraw >= this.config.resampleEvery) {
      this.draw(this.sample, this.rng, this.factor(), this.stats.theta);
      this.sinceDraw = 0;
    }
    this.sinceDraw++;
    f.scoreAll(this.sample, this.scores);
    const slate = this.greedySlate(this.scores, obs, k, options);
    const M = this.config.propensitySamples;
    if (M === 0) {
      delete slate.propensities;
      return slate;
    }
    // What the estimate needs, as of this act (later acts and updates change the originals).
    const chol = this.factor(); // replaced, never written in place, when A⁻¹ changes
    const theta = Float64Array.from(this.stats.theta);
    const seen = { user: obs.user, history: Int32Array.from(obs.history), t: obs.t, context: obs.context ? Float32Array.from(obs.context) : undefined };
    const opts: ActOptions | undefined = options && { candidates: options.candidates && Int32Array.from(options.candidates), exclude: options.exclude && Uint8Array.from(options.exclude) };
    const rng = sideRng(this.rng);
    const items = slate.items;
    lazyPropensities(slate, () => {
      const extra = new Float64Array(theta.length);
      const scores = new Float64Array(this.scores.length);
      const draws: Int32Array[] = [];
      f.setState(seen);
      for (let m = 0; m < M; m++) {
        this.draw(extra, rng, chol, theta);
        f.scoreAll(extra, scores);
        draws.push(this.greedySlate(scores, seen, items.length, opts).items);
      }
      return monteCarloPropensities(items, draws);
    });
    return slate;
  }

  /** The Cholesky factor L of A⁻¹ (L·Lᵀ = A⁻¹), computed once per change of A⁻¹. */
  private factor(): Float64Array {
    if (this.factored) return this.chol;
    const { ainv } = this.stats;
    const D = this.stats.f.dim;
    const chol = Float64Array.from(ainv);
    // A⁻¹ loses positive definiteness only through rounding after very many updates; jitter then.
    if (!cholesky(chol, D)) {
      chol.set(ainv);
      for (let i = 0; i < D; i++) chol[i * D + i] += 1e-9;
      cholesky(chol, D);
    }
    this.chol = chol;
    this.factored = true;
    return chol;
  }

  /** θ̃ = θ + v·L·z into `out`, z ~ N(0, I). */
  private draw(out: Float64Array, rng: Rng, chol: Float64Array, theta: Float64Array): void {
    const D = theta.length;
    for (let i = 0; i < D; i++) this.z[i] = rng.normal();
    for (let i = 0; i < D; i++) {
      let s = 0;
      for (let j = 0; j <= i; j++) s += chol[i * D + j]! * this.z[j]!;
      out[i] = theta[i]! + this.config.v * s;
    }
  }

  override observe(t: Transition): boolean {
    this.stats.observe(t);
    this.factored = false;
    return t.slate.items.length > 0;
  }

  override update(): void {
    this.stats.refresh();
    this.factored = false;
  }

  protected override getState(): Record<string, unknown> {
    return this.stats.getState();
  }

  protected override setState(s: Record<string, unknown>): void {
    this.stats.setState(s);
    this.sinceDraw = Infinity;
    this.factored = false;
  }
}
