import type { Observation, Slate } from '../env/types.js';
import { BaseAgent, clickedReward, type SeededConfig } from './base.js';
import { matVec, quadForm, scaledIdentity, shermanMorrison } from './linalg.js';
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

export interface LinUcbConfig extends SeededConfig {
  /** Width of the confidence bonus. */
  alpha: number;
  /** Ridge prior precision λ (A starts at λI). */
  ridge: number;
  /** Prior mean of the popularity weight (b starts at λ·m on that feature). */
  popularityPrior: number;
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
  protected readonly f: LinearSlateFeatures;
  protected ainv: Float64Array;
  protected b: Float64Array;
  protected theta: Float64Array;
  protected readonly phiBuf: Float64Array;
  protected readonly tmp: Float64Array;
  protected readonly mean: Float64Array;

  constructor(ctx: AgentContext, config: LinUcbConfig) {
    super(ctx, config);
    this.f = new LinearSlateFeatures(ctx);
    const D = this.f.dim;
    this.ainv = scaledIdentity(D, 1 / config.ridge);
    this.b = new Float64Array(D);
    this.b[this.f.popIndex] = config.ridge * config.popularityPrior;
    this.theta = new Float64Array(D);
    matVec(this.ainv, D, this.b, this.theta);
    this.phiBuf = new Float64Array(D);
    this.tmp = new Float64Array(D);
    this.mean = new Float64Array(ctx.items.nItems);
  }

  act(obs: Observation, k: number): Slate {
    this.f.setState(obs);
    this.f.scoreAll(this.theta, this.mean);
    if (!this.training || this.config.alpha === 0) return this.greedySlate(this.mean, obs, k);
    const short = this.greedySlate(this.mean, obs, Math.max(k, this.config.shortlist));
    const ucb = new Float64Array(short.items.length);
    const D = this.f.dim;
    for (let p = 0; p < short.items.length; p++) {
      this.f.phi(short.items[p]!, this.phiBuf);
      ucb[p] = this.mean[short.items[p]!]! + this.config.alpha * Math.sqrt(Math.max(0, quadForm(this.ainv, D, this.phiBuf)));
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
  }
}
