import type { Observation } from '../env/types.js';
import { matVecSmall, scaledIdentity, shermanMorrison } from '../util/linalg.js';
import { clickedReward, type SeededConfig } from './base.js';
import { StateFeaturiser, type AgentContext } from './state.js';
import type { Transition } from './types.js';

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

  constructor(ctx: AgentContext) {
    this.ctx = ctx;
    this.d = ctx.items.dim;
    this.nC = ctx.items.categoryNames.length;
    this.dim = 2 * this.d + 2 * this.nC + 1;
    this.featuriser = new StateFeaturiser(ctx);
    this.state = new Float32Array(this.featuriser.dim);
    this.logPop = new Float32Array(ctx.items.nItems);
    let maxPop = 1;
    for (let i = 0; i < ctx.items.nItems; i++) maxPop = Math.max(maxPop, ctx.items.popularity[i]!);
    for (let i = 0; i < ctx.items.nItems; i++) this.logPop[i] = Math.log1p(ctx.items.popularity[i]!) / Math.log1p(maxPop);
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
    out[this.dim - 1] = this.logPop[item]!;
  }

  /** θᵀφ(current state, i) for every item, into `out`. */
  scoreAll(theta: Float64Array, out: Float64Array): void {
    const { d, nC, state, w, v } = this;
    const { nItems, vectors, catIndptr, catIndices } = this.ctx.items;
    for (let j = 0; j < d; j++) w[j] = theta[j]! * state[j]! + theta[d + j]!;
    for (let g = 0; g < nC; g++) v[g] = theta[2 * d + g]! * state[d + g]! + theta[2 * d + nC + g]!;
    const tp = theta[this.dim - 1]!;
    for (let i = 0; i < nItems; i++) {
      let s = tp * this.logPop[i]!;
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
}

/**
 * The ridge-regression statistics LinUCB and linear Thompson sampling share: A⁻¹ (kept by
 * Sherman–Morrison, O(dim²) per shown item), b = Σ r·φ, and θ = A⁻¹b. A starts at λI and b at
 * λ·m on the popularity feature, so θ starts at the prior mean m there and 0 elsewhere.
 */
export class LinearBanditStats {
  readonly f: LinearSlateFeatures;
  ainv: Float64Array;
  b: Float64Array;
  readonly theta: Float64Array;
  /** φ scratch for callers (and `observe`). */
  readonly phiBuf: Float64Array;
  private readonly tmp: Float64Array;

  constructor(ctx: AgentContext, ridge: number, popularityPrior: number) {
    this.f = new LinearSlateFeatures(ctx);
    const D = this.f.dim;
    this.ainv = scaledIdentity(D, 1 / ridge);
    this.b = new Float64Array(D);
    this.b[this.f.popIndex] = ridge * popularityPrior;
    this.theta = new Float64Array(D);
    matVecSmall(this.ainv, D, this.b, this.theta);
    this.phiBuf = new Float64Array(D);
    this.tmp = new Float64Array(D);
  }

  /** Add every shown item of the slate, with its click reward, to A and b (θ is left stale). */
  observe(t: Transition): void {
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

  /** θ = A⁻¹b. */
  refresh(): void {
    matVecSmall(this.ainv, this.f.dim, this.b, this.theta);
  }

  getState(): Record<string, unknown> {
    return { ainv: this.ainv, b: this.b };
  }

  setState(s: Record<string, unknown>): void {
    this.ainv = s.ainv as Float64Array;
    this.b = s.b as Float64Array;
    this.refresh();
  }
}
