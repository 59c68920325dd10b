import type { Observation } from '../env/types.js';
import { clickedReward, type SeededConfig } from './base.js';
import { checkProfile, StateFeaturiser, type AgentContext, type StateConfig } from './state.js';
import type { Transition } from './types.js';
import { RidgeStats } from './ridge-stats.js';
import { ConfigError } from '../errors.js';
import { logPopularity } from '../util/log-popularity.js';

/**
 * The joint (state, item) feature map shared by LinUCB and linear Thompson sampling:
 *   φ(s, i) = [ h ⊙ x_i | x_i | g ⊙ c_i | c_i | pop_i ]
 * where h is the state's decayed mean recent-item vector, x_i the item vector, g the state's
 * recent-genre histogram, c_i the item's genre indicator (divided by its genre count) and pop_i
 * its log-popularity in [0, 1]. h ⊙ x_i lets the model learn personal affinity, g ⊙ c_i how a
 * genre's recent share (satiation) changes its appeal. Because φ is linear in the item parts,
 * θᵀφ for every item costs O(dim) per item: w = θ₁⊙h + θ₂, v = θ₃⊙g + θ₄.
 */
export class LinearSlateFeatures {
  readonly dim: number;
  readonly featuriser: StateFeaturiser;
  readonly state: Float32Array;
  private readonly ctx: AgentContext;
  private readonly d: number;
  private readonly nC: number;
  private readonly logPop: Float32Array;
  private readonly w: Float64Array;
  private readonly v: Float64Array;

  /** The items' mean training values when φ carries them (before pop_i), else null. */
  private readonly meanValue: Float32Array | null;

  constructor(ctx: AgentContext, state: Partial<StateConfig> = {}, itemMeanValue = false) {
    this.ctx = ctx;
    this.d = ctx.items.dim;
    this.nC = ctx.items.categoryNames.length;
    if (itemMeanValue && !ctx.items.meanValue) throw new ConfigError("itemMeanValue needs the item space's meanValue (itemSpaceFromTrain builds it)", 'itemMeanValue');
    this.meanValue = itemMeanValue ? ctx.items.meanValue! : null;
    this.dim = 2 * this.d + 2 * this.nC + 1 + (this.meanValue ? 1 : 0);
    this.featuriser = new StateFeaturiser(ctx, state);
    this.state = new Float32Array(this.featuriser.dim);
    this.logPop = logPopularity(ctx.items.popularity, new Float32Array(ctx.items.nItems));
    this.w = new Float64Array(this.d);
    this.v = new Float64Array(this.nC);
  }

  /** Index of the popularity feature (its prior mean is set by the agents). */
  get popIndex(): number {
    return this.dim - 1;
  }

  setState(obs: Observation): void {
    this.featuriser.encode(obs, this.state);
  }

  /** φ(current state, item) into `out`. */
  phi(item: number, out: Float64Array): void {
    const { d, nC, state } = this;
    const { vectors, catIndptr, catIndices } = this.ctx.items;
    out.fill(0);
    const o = item * d;
    for (let j = 0; j < d; j++) {
      const x = vectors[o + j]!;
      out[j] = state[j]! * x;
      out[d + j] = x;
    }
    const c0 = catIndptr[item]!;
    const c1 = catIndptr[item + 1]!;
    const share = c1 > c0 ? 1 / (c1 - c0) : 0;
    for (let c = c0; c < c1; c++) {
      const g = catIndices[c]!;
      out[2 * d + g] = state[d + g]! * share;
      out[2 * d + nC + g] = share;
    }
    if (this.meanValue) out[this.dim - 2] = this.meanValue[item]!;
    out[this.dim - 1] = this.logPop[item]!;
  }

  /** θᵀφ(current state, i) for every item, into `out`. */
  scoreAll(theta: Float64Array, out: Float64Array): void {
    const { d, nC, state, w, v } = this;
    const { nItems, vectors, catIndptr, catIndices } = this.ctx.items;
    for (let j = 0; j < d; j++) w[j] = theta[j]! * state[j]! + theta[d + j]!;
    for (let g = 0; g < nC; g++) v[g] = theta[2 * d + g]! * state[d + g]! + theta[2 * d + nC + g]!;
    const tp = theta[this.dim - 1]!;
    const mv = this.meanValue;
    const tm = mv ? theta[this.dim - 2]! : 0;
    for (let i = 0; i < nItems; i++) {
      let s = tp * this.logPop[i]! + (mv ? tm * mv[i]! : 0);
      const o = i * d;
      for (let j = 0; j < d; j++) s += w[j]! * vectors[o + j]!;
      const c0 = catIndptr[i]!;
      const c1 = catIndptr[i + 1]!;
      if (c1 > c0) {
        let gs = 0;
        for (let c = c0; c < c1; c++) gs += v[catIndices[c]!]!;
        s += gs / (c1 - c0);
      }
      out[i] = s;
    }
  }
}

/** The prior both linear bandits put on θ. */
export interface LinearBanditConfig extends SeededConfig {
  /** Ridge prior precision λ (A starts at λI). */
  ridge: number;
  /** Prior mean of the popularity weight (b starts at λ·m on that feature). */
  popularityPrior: number;
  /**
   * Weight of the user's train profile in h (`StateConfig.profile`); absent or 0, the state is
   * the recent history alone, as it always was.
   */
  profile?: number;
  /**
   * Append the item's mean training value (`ItemSpace.meanValue`) to φ, as the neural agents'
   * `itemMeanValue` does to their pair rows, so the bandits can be compared with the same item
   * information. Absent = false.
   */
  itemMeanValue?: boolean;
}

/**
 * The state options of a linear bandit's config (its top-level `profile`), checked here so that a
 * bad value is named by the key the user wrote.
 */
export function linearBanditState(config: { profile?: unknown }): Partial<StateConfig> {
  return { profile: checkProfile(config.profile ?? 0, 'profile') };
}

/**
 * The ridge-regression statistics of LinUCB and linear Thompson sampling over φ (`RidgeStats`):
 * A starts at λI and b at λ·m on the popularity feature, so θ starts at the prior mean m there and
 * 0 elsewhere. Each shown item of a slate is one observation, with its click reward.
 */
export class LinearBanditStats extends RidgeStats {
  readonly f: LinearSlateFeatures;
  /** φ scratch for callers (and `observe`). */
  readonly phiBuf: Float64Array;

  constructor(ctx: AgentContext, ridge: number, popularityPrior: number, state: Partial<StateConfig> = {}, itemMeanValue = false) {
    const f = new LinearSlateFeatures(ctx, state, itemMeanValue);
    const priorMean = new Float64Array(f.dim);
    priorMean[f.popIndex] = popularityPrior;
    super(f.dim, ridge, priorMean);
    this.f = f;
    this.phiBuf = new Float64Array(f.dim);
  }

  /** Add every shown item of the slate, with its click reward, to A and b (θ is left stale). */
  observe(t: Transition): void {
    this.f.setState(t.observation);
    const items = t.slate.items;
    for (let p = 0; p < items.length; p++) {
      this.f.phi(items[p]!, this.phiBuf);
      this.add(this.phiBuf, clickedReward(t, p));
    }
  }

  getState(): Record<string, unknown> {
    return { ainv: this.ainv, b: this.b };
  }

  setState(s: Record<string, unknown>): void {
    this.load(s.ainv as Float64Array, s.b as Float64Array);
  }
}
