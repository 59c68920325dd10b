/**
 * Plumbing shared by the neural agents (dqn, reinforce, a2c, ddpg, ppo).
 *
 * Every neural agent re-ranks a per-step candidate set rather than the whole catalogue: the top
 * `candidates` unseen items by the myopic prior (the context's `scoreUser`, else user × item CF
 * factors, else popularity) plus `randomCandidates` uniformly drawn unseen items, so cold and
 * long-tail items can be reached. When the catalogue is no larger than the candidate count every
 * item is a candidate. Each (state, item) pair is described by `PairFeatures`:
 *
 *   [ state (StateFeaturiser) | item vector | item genres | cold | log-popularity |
 *     prior score z-scored over the catalogue | state·item vector | genre overlap |
 *     (itemMeanValue) mean training value | (retrieval linear) linear score ]
 *
 * so one network scores any item, including ones never shown before. With `encoder` gru or
 * attention (./encoder-state.ts) the state part is [ StateFeaturiser | encoder state ], the
 * encoder trained through the network's input gradient (`PairFeatures.trainEncoder`).
 */
import type { Observation } from '../env/types.js';
import { ConfigError, ModelStateError } from '../errors.js';
import type { Adam, Mlp } from '../nn/index.js';
import { Rng } from '../util/rng.js';
import { BaseAgent } from './base.js';
import type { ActOptions, Transition } from './types.js';
import { StateFeaturiser, contextScores, type AgentContext, type StateConfig } from './state.js';
import { HistoryEncoder, encoderConfigOf, type EncoderStateConfig } from './encoder-state.js';
import { logPopularity } from '../util/log-popularity.js';
import { LinearBanditStats } from './linear-bandit.js';
import { topK } from '../util/topk.js';
import { matVecSmall } from '../util/linalg.js';

/**
 * Knobs every neural agent shares. The encoder ones (./encoder-state.ts) are optional: absent
 * means `encoder: 'none'`, and only the agents that train an encoder (DQN, REINFORCE, A2C, PPO)
 * list them in their defaults.
 */
export interface NeuralConfig extends Partial<EncoderStateConfig> {
  seed: number;
  /** Candidate set size per step (top items by the myopic prior). */
  candidates: number;
  /** Extra uniformly drawn unseen items per step (exploration of the long tail). */
  randomCandidates: number;
  /** Hidden layer widths of the networks. */
  hidden: number[];
  /** Discount factor. */
  gamma: number;
  /** Adam learning rate. */
  lr: number;
  /** State featuriser settings (see state.ts). */
  state?: Partial<StateConfig>;
  /**
   * How the per-step candidates are retrieved: `prior`, the top items by the context's myopic
   * prior (fixed per user); `linear`, the top items by a ridge regression of the click reward on
   * LinUCB's features φ(state, item) (./linear-bandit.ts), learned online from every shown item
   * and re-scored over the whole catalogue at each step — the retrieval stage of a two-stage
   * recommender, so the network re-ranks what a learned state-aware model finds, not what a
   * static user prior does. With `linear` each pair row also carries that model's score.
   * Absent = prior (older saved agents).
   */
  retrieval?: 'prior' | 'linear';
  /**
   * Append the item's mean training value (`ItemSpace.meanValue`, a z-scored Bayesian average) to
   * every pair row: an item property that need not move the immediate reward but may move the
   * session's future (the interest family's quality), which only a learner of returns can use.
   * Absent = false (older saved agents).
   */
  itemMeanValue?: boolean;
}

export const NEURAL_DEFAULTS: Omit<NeuralConfig, 'seed'> = {
  candidates: 100,
  randomCandidates: 10,
  hidden: [64, 64],
  gamma: 0.9,
  lr: 1e-3,
  retrieval: 'prior',
  itemMeanValue: false,
};

/** A copy of an observation that later env steps cannot mutate. */
export function snapshotObservation(o: Observation): Observation {
  return { user: o.user, history: Int32Array.from(o.history), t: o.t, context: o.context ? Float32Array.from(o.context) : undefined };
}

/** Reward credited to each slate position: its own when per-position rewards are given, else the clicked positions share the step reward (all do without click info). */
function positionRewards(t: Transition, out: Float32Array): Float32Array {
  if (t.rewards) {
    for (let p = 0; p < t.slate.items.length; p++) out[p] = t.rewards[p] ?? 0;
    return out;
  }
  const k = t.slate.items.length;
  const c = t.clicks;
  let n = 0;
  if (c) for (let p = 0; p < k; p++) n += c[p] ? 1 : 0;
  for (let p = 0; p < k; p++) out[p] = c ? (c[p] ? t.reward / Math.max(1, n) : 0) : t.reward / k;
  return out;
}

/** Learned transitions per bootstrap-retrieval epoch (`CandidateSource.topCached`). */
const TOP_EPOCH = 1000;

/** Chooses the items a neural agent ranks at one step. */
export class CandidateSource {
  private readonly ctx: AgentContext;
  private readonly n: number;
  private readonly nRandom: number;
  /** Per user: items sorted by prior score, best first (enough to survive history exclusion). */
  private readonly ranked = new Map<number, Int32Array>();
  private readonly priors = new Map<number, Float32Array>();
  private readonly zpriors = new Map<number, Float32Array>();
  private readonly seen: Uint8Array;
  private readonly maxCached = 2048;
  /** With `retrieval: 'linear'`: the ridge model that ranks the catalogue per state, else null. */
  readonly linear: LinearBanditStats | null;
  private linearStale = false;
  private readonly linScores: Float64Array;
  private readonly phiBuf: Float64Array;
  /** The click model's b = Σ click·φ over the retrieval model's rows, and θ_click = A⁻¹·b (refreshed with θ). */
  private clickB: Float64Array;
  private readonly clickTheta: Float64Array;

  constructor(ctx: AgentContext, n: number, nRandom: number, retrieval: 'prior' | 'linear' = 'prior', state: Partial<StateConfig> = {}) {
    this.ctx = ctx;
    this.n = Math.max(1, n);
    this.nRandom = Math.max(0, nRandom);
    this.seen = new Uint8Array(ctx.items.nItems);
    // LinUCB's defaults (ridge 1, popularity prior 0.5): before any feedback it retrieves by popularity.
    // Its state reads the user's train profile as the agent's own state does (`state.profile`); it
    // keeps the default history length and decay, as it always had, so older agents stay identical.
    this.linear = retrieval === 'linear' ? new LinearBanditStats(ctx, 1, 0.5, { profile: state.profile ?? 0 }) : null;
    this.linScores = new Float64Array(retrieval === 'linear' ? ctx.items.nItems : 0);
    this.phiBuf = new Float64Array(this.linear ? this.linear.f.dim : 0);
    this.clickB = new Float64Array(this.phiBuf.length);
    this.clickTheta = new Float64Array(this.phiBuf.length);
  }

  /** Learn the retrieval model from a transition (every shown item with its click reward); no-op for `prior`. */
  learn(t: Transition): void {
    if (!this.linear || t.slate.items.length === 0) return;
    this.linear.observe(t);
    // The click model regresses the click flags on the same rows, so it shares A⁻¹ and needs only its own b.
    if (t.clicks) {
      const f = this.linear.f;
      f.setState(t.observation);
      for (let p = 0; p < t.slate.items.length; p++) {
        if (!t.clicks[p]) continue;
        f.phi(t.slate.items[p]!, this.phiBuf);
        for (let j = 0; j < f.dim; j++) this.clickB[j] += this.phiBuf[j]!;
      }
    }
    this.linearStale = true;
    this.learned++;
  }

  /**
   * The click model's probability that each item of `items` is clicked where it is shown at this
   * observation: a ridge regression of the click flags on the retrieval model's rows φ(state, item)
   * (a linear probability model, clipped to [0.001, 1]). Needs `retrieval: 'linear'`.
   */
  clickProbabilities(obs: Observation, items: ArrayLike<number>, out: Float32Array): Float32Array {
    const lin = this.linear;
    if (!lin) throw new ConfigError("the click model needs retrieval 'linear'", 'retrieval');
    this.theta();
    lin.f.setState(obs);
    const D = lin.f.dim;
    const th = this.clickTheta;
    for (let q = 0; q < items.length; q++) {
      lin.f.phi(items[q]!, this.phiBuf);
      let v = 0;
      for (let j = 0; j < D; j++) v += th[j]! * this.phiBuf[j]!;
      out[q] = v < 0.001 ? 0.001 : v > 1 ? 1 : v;
    }
    return out;
  }

  /** Transitions the retrieval model has learned from. */
  private learned = 0;
  /**
   * Bootstrap retrieval reads θ as of the start of the current epoch of `TOP_EPOCH` learned
   * transitions, so `topCached` is a pure function of (observation, saved state): memoised, and a
   * saved agent continues exactly as the original would.
   */
  private frozenEpoch = -1;
  private frozenTheta: Float64Array = new Float64Array(0);
  private topCache = new WeakMap<Observation, { n: number; items: Int32Array }>();

  /**
   * The best `n` unseen items at `obs` by the retrieval model as of this epoch, memoised per
   * observation object (replay buffers keep theirs): bootstrap targets read the next states'
   * candidates many times, and re-scoring the catalogue each time would cost more than the
   * network's own step. With `prior` retrieval it is `top` (fixed per user anyway).
   */
  topCached(obs: Observation, n: number): Int32Array {
    if (!this.linear) return this.top(obs, n);
    const epoch = Math.floor(this.learned / TOP_EPOCH);
    if (epoch !== this.frozenEpoch) {
      this.frozenTheta = Float64Array.from(this.theta());
      this.frozenEpoch = epoch;
      this.topCache = new WeakMap();
    }
    const c = this.topCache.get(obs);
    if (c && c.n === n) return c.items;
    const items = this.top(obs, n, this.frozenTheta);
    this.topCache.set(obs, { n, items });
    return items;
  }

  /** The retrieval model's learned state (A⁻¹, b and the bootstrap epoch), for save/load. */
  retrievalState(): Record<string, unknown> | undefined {
    if (!this.linear) return undefined;
    return { ...this.linear.getState(), learned: this.learned, frozenEpoch: this.frozenEpoch, frozenTheta: this.frozenTheta, clickB: this.clickB };
  }

  loadRetrievalState(r: Record<string, unknown> | undefined): void {
    const lin = this.linear;
    if (!lin) return;
    if (!r || !(r.ainv instanceof Float64Array) || !(r.b instanceof Float64Array) || r.b.length !== lin.d || !(r.frozenTheta instanceof Float64Array)) {
      throw new ModelStateError('saved retrieval model is missing or has another shape');
    }
    lin.setState(r);
    this.linearStale = false;
    this.learned = Number(r.learned) || 0;
    this.frozenEpoch = Number(r.frozenEpoch);
    this.frozenTheta = r.frozenTheta;
    // Saved before the click model existed: it starts from nothing.
    this.clickB = r.clickB instanceof Float64Array && r.clickB.length === lin.d ? r.clickB : new Float64Array(lin.d);
    this.linearStale = true;
    this.topCache = new WeakMap();
  }

  private theta(): Float64Array {
    const lin = this.linear!;
    if (this.linearStale) {
      lin.refresh();
      matVecSmall(lin.ainv, lin.d, this.clickB, this.clickTheta);
      this.linearStale = false;
    }
    return lin.theta;
  }

  /** The retrieval model's score of each item in `items` at this observation (0 for `prior`). */
  linearScores(obs: Observation, items: ArrayLike<number>, out: Float32Array): Float32Array {
    const lin = this.linear;
    if (!lin) return out.fill(0, 0, items.length);
    const th = this.theta();
    lin.f.setState(obs);
    const D = lin.f.dim;
    for (let q = 0; q < items.length; q++) {
      lin.f.phi(items[q]!, this.phiBuf);
      let v = 0;
      for (let j = 0; j < D; j++) v += th[j]! * this.phiBuf[j]!;
      out[q] = v;
    }
    return out;
  }

  /** The best `n` items not marked in `this.seen` by the retrieval model at this observation, best first (ties by index). */
  private linearTop(obs: Observation, n: number, out: number[], theta: Float64Array = this.theta()): void {
    const lin = this.linear!;
    lin.f.setState(obs);
    const sc = this.linScores;
    lin.f.scoreAll(theta, sc);
    for (const i of topK(sc, n, this.seen).items) out.push(i);
  }

  get maxSize(): number {
    return Math.min(this.ctx.items.nItems, this.n + this.nRandom);
  }

  /** Prior (myopic) score of every item for this user. */
  prior(user: number): Float32Array {
    let p = this.priors.get(user);
    if (p) return p;
    const { nItems, popularity } = this.ctx.items;
    p = new Float32Array(nItems);
    if (!contextScores(this.ctx, user, p)) for (let i = 0; i < nItems; i++) p[i] = Math.log1p(popularity[i]!);
    if (this.priors.size >= this.maxCached) {
      const first = this.priors.keys().next().value as number;
      this.priors.delete(first);
      this.ranked.delete(first);
    }
    this.priors.set(user, p);
    return p;
  }

  private rankedFor(user: number): Int32Array {
    let r = this.ranked.get(user);
    if (r) return r;
    const p = this.prior(user);
    const idx = new Int32Array(p.length);
    for (let i = 0; i < idx.length; i++) idx[i] = i;
    // Stable by index on ties, so the order is reproducible.
    r = Int32Array.from([...idx].sort((a, b) => p[b]! - p[a]! || a - b));
    this.ranked.set(user, r);
    return r;
  }

  /**
   * Candidates for this observation, never including history items nor those `options` rules
   * out. With `options.candidates` (a caller's filter) they are exactly those items that remain,
   * in the given order, with no random draw: every allowed item can then be ranked.
   */
  get(obs: Observation, rng: Rng, options?: ActOptions): Int32Array {
    const nItems = this.ctx.items.nItems;
    const h = obs.history;
    const ex = options?.exclude;
    if (ex) this.seen.set(ex.length > nItems ? ex.subarray(0, nItems) : ex);
    for (let a = 0; a < h.length; a++) if (h[a]! >= 0 && h[a]! < nItems) this.seen[h[a]!] = 1;
    const out: number[] = [];
    const only = options?.candidates;
    if (only) {
      for (const i of only) {
        if (i >= 0 && i < nItems && !this.seen[i]) {
          out.push(i);
          this.seen[i] = 1;
        }
      }
      this.seen.fill(0);
      return Int32Array.from(out);
    }
    if (this.linear) {
      this.linearTop(obs, this.n, out);
      for (const i of out) this.seen[i] = 1;
    } else {
      const ranked = this.rankedFor(obs.user);
      for (let q = 0; q < ranked.length && out.length < this.n; q++) {
        const i = ranked[q]!;
        if (!this.seen[i]) {
          out.push(i);
          this.seen[i] = 1;
        }
      }
    }
    // Random unseen items; bounded tries so a nearly exhausted catalogue cannot loop forever.
    let tries = 0;
    let added = 0;
    while (added < this.nRandom && tries < this.nRandom * 20) {
      tries++;
      const i = rng.int(nItems);
      if (!this.seen[i]) {
        out.push(i);
        this.seen[i] = 1;
        added++;
      }
    }
    if (ex) this.seen.fill(0);
    else {
      for (const i of out) this.seen[i] = 0;
      for (let a = 0; a < h.length; a++) if (h[a]! >= 0 && h[a]! < nItems) this.seen[h[a]!] = 0;
    }
    return Int32Array.from(out);
  }

  /**
   * The user's prior score of each item, z-scored over the whole catalogue (so the feature means
   * the same whatever candidate set an item appears in).
   */
  zPrior(user: number): Float32Array {
    let z = this.zpriors.get(user);
    if (z) return z;
    const p = this.prior(user);
    let m = 0;
    for (let i = 0; i < p.length; i++) m += p[i]!;
    m /= Math.max(1, p.length);
    let v = 0;
    for (let i = 0; i < p.length; i++) v += (p[i]! - m) ** 2;
    const sd = Math.sqrt(v / Math.max(1, p.length));
    z = new Float32Array(p.length);
    // A (numerically) flat prior carries no information: all zeros, not rounding noise blown up.
    if (sd > 1e-6 * (Math.abs(m) + 1)) for (let i = 0; i < p.length; i++) z[i] = (p[i]! - m) / sd;
    if (this.zpriors.size >= this.maxCached) this.zpriors.delete(this.zpriors.keys().next().value as number);
    this.zpriors.set(user, z);
    return z;
  }

  /** The n best unseen items by prior, no random part (deterministic; used for bootstrap targets). */
  top(obs: Observation, n: number, theta?: Float64Array): Int32Array {
    const nItems = this.ctx.items.nItems;
    const h = obs.history;
    for (let a = 0; a < h.length; a++) if (h[a]! >= 0 && h[a]! < nItems) this.seen[h[a]!] = 1;
    const out: number[] = [];
    if (this.linear) this.linearTop(obs, n, out, theta);
    else {
      const ranked = this.rankedFor(obs.user);
      for (let q = 0; q < ranked.length && out.length < n; q++) if (!this.seen[ranked[q]!]) out.push(ranked[q]!);
    }
    for (let a = 0; a < h.length; a++) if (h[a]! >= 0 && h[a]! < nItems) this.seen[h[a]!] = 0;
    return Int32Array.from(out);
  }
}

/** (state, item) feature rows for a list of items; see the module comment for the layout. */
export class PairFeatures {
  readonly featuriser: StateFeaturiser;
  /** The learned history encoder whose state follows the featuriser's, or null. */
  readonly encoder: HistoryEncoder | null;
  readonly stateDim: number;
  readonly itemDim: number;
  readonly dim: number;
  private readonly ctx: AgentContext;
  private readonly state: Float32Array;
  readonly source: CandidateSource;
  private readonly logPop: Float64Array;
  private dStates: Float32Array = new Float32Array(0);
  private lin: Float32Array = new Float32Array(0);
  /** The items' mean training values when pair rows carry them (config `itemMeanValue`), else null. */
  private readonly meanValue: Float32Array | null;

  constructor(ctx: AgentContext, source: CandidateSource, stateConfig: Partial<StateConfig> = {}, encoder: HistoryEncoder | null = null, itemMeanValue = false) {
    this.ctx = ctx;
    this.source = source;
    this.featuriser = new StateFeaturiser(ctx, stateConfig);
    this.encoder = encoder;
    this.stateDim = this.featuriser.dim + (encoder ? encoder.dim : 0);
    const { dim, categoryNames } = ctx.items;
    if (itemMeanValue && !ctx.items.meanValue) throw new ConfigError('itemMeanValue needs the item space\'s meanValue (itemSpaceFromTrain builds it)', 'itemMeanValue');
    this.meanValue = itemMeanValue ? ctx.items.meanValue! : null;
    this.itemDim = dim + categoryNames.length + 5 + (source.linear ? 1 : 0) + (this.meanValue ? 1 : 0);
    this.dim = this.stateDim + this.itemDim;
    this.state = new Float32Array(this.stateDim);
    this.logPop = logPopularity(ctx.items.popularity);
  }

  /** The state vector alone (stateDim) into out. */
  encodeState(obs: Observation, out: Float32Array): Float32Array {
    this.featuriser.encode(obs, out);
    if (this.encoder) this.encoder.encode(obs, out, this.featuriser.dim);
    return out;
  }

  /**
   * State vectors of several observations into out (row o at o·stateDim): `encodeState` for each,
   * with the encoder run once over the batch.
   */
  encodeStates(obs: readonly Observation[], out: Float32Array): Float32Array {
    const S = this.stateDim;
    const f = this.featuriser.dim;
    for (let o = 0; o < obs.length; o++) this.featuriser.encode(obs[o]!, out.subarray(o * S, (o + 1) * S));
    if (this.encoder) {
      const E = this.encoder.dim;
      const st = this.encoder.forward(obs);
      for (let o = 0; o < obs.length; o++) out.set(st.subarray(o * E, (o + 1) * E), o * S + f);
    }
    return out;
  }

  /**
   * The encoder states of a batch of observations (obs.length × encoder dim, a fresh array), the
   * forward kept for `trainEncoder`; rows for `fill`'s `encoded`. Only with an encoder.
   */
  encodeBatch(obs: readonly Observation[]): Float32Array {
    if (!this.encoder) throw new ConfigError('encodeBatch needs an encoder (config encoder gru or attention)', 'encoder');
    return this.encoder.forward(obs);
  }

  /** `encoderBackward`, then one encoder Adam step (gradients zeroed after it). */
  trainEncoder(dRows: Float32Array, rowCounts: ArrayLike<number>): void {
    if (!this.encoder) return;
    this.encoderBackward(dRows, rowCounts);
    this.encoder.step();
  }

  /**
   * Accumulate the encoder's parameter gradients from dLoss/dRows (the network's input gradient,
   * rows × dim). The rows are those of the last `encodeBatch`'s observations, in order, rowCounts[o]
   * rows each; only the encoder's columns of the state part carry its gradient (the state·item and
   * genre-overlap features read the featuriser's columns alone).
   */
  encoderBackward(dRows: Float32Array, rowCounts: ArrayLike<number>): void {
    const enc = this.encoder;
    if (!enc) return;
    const E = enc.dim;
    const f0 = this.featuriser.dim;
    const n = rowCounts.length;
    this.dStates = grow(this.dStates, n * E);
    const dS = this.dStates.fill(0, 0, n * E);
    let r = 0;
    for (let o = 0; o < n; o++) {
      for (let q = 0; q < rowCounts[o]!; q++, r++) {
        const src = r * this.dim + f0;
        for (let j = 0; j < E; j++) dS[o * E + j]! += dRows[src + j]!;
      }
    }
    enc.backward(dS);
  }

  /**
   * Writes one row per item of `items` into out (row-major, rows × dim, starting at row `row0`).
   * With an encoder, `encoded` is this observation's encoder state when the caller has it (a row
   * of `encodeBatch`); else it is computed here.
   */
  fill(obs: Observation, items: ArrayLike<number>, out: Float32Array, row0 = 0, encoded?: Float32Array): void {
    const s = this.featuriser.encode(obs, this.state);
    if (this.encoder) {
      if (encoded) s.set(encoded.subarray(0, this.encoder.dim), this.featuriser.dim);
      else this.encoder.encode(obs, s, this.featuriser.dim);
    }
    const z = this.source.zPrior(obs.user);
    const { dim: d, vectors, categoryNames, catIndptr, catIndices, cold } = this.ctx.items;
    const nC = categoryNames.length;
    if (this.source.linear) {
      this.lin = grow(this.lin, items.length);
      this.source.linearScores(obs, items, this.lin);
    }
    for (let q = 0; q < items.length; q++) {
      const i = items[q]!;
      const o = (row0 + q) * this.dim;
      out.set(s, o);
      let p = o + this.stateDim;
      out.fill(0, p, p + this.itemDim);
      const vo = i * d;
      let dot = 0;
      for (let k = 0; k < d; k++) {
        const v = vectors[vo + k]!;
        out[p + k] = v;
        dot += v * s[k]!;
      }
      p += d;
      let overlap = 0;
      for (let c = catIndptr[i]!; c < catIndptr[i + 1]!; c++) {
        const ci = catIndices[c]!;
        out[p + ci] = 1;
        overlap += s[d + ci]!;
      }
      p += nC;
      out[p++] = cold[i]!;
      out[p++] = this.logPop[i]!;
      out[p++] = z[i]!;
      out[p++] = dot;
      out[p++] = overlap;
      // The linear score stays the last column (DQN's `residual` reads it there).
      if (this.meanValue) out[p++] = this.meanValue[i]!;
      if (this.source.linear) out[p] = this.lin[q]!;
    }
  }
}

/** Fixed-capacity ring buffer of transitions (copies), sampled uniformly with the agent's Rng. */
export class ReplayBuffer<T> {
  private readonly items: T[] = [];
  private next = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.items.length;
  }

  push(x: T): void {
    if (this.items.length < this.capacity) this.items.push(x);
    else this.items[this.next] = x;
    this.next = (this.next + 1) % this.capacity;
  }

  sample(rng: Rng, n: number, out: T[] = []): T[] {
    out.length = 0;
    for (let i = 0; i < n; i++) out.push(this.items[rng.int(this.items.length)]!);
    return out;
  }

  clear(): void {
    this.items.length = 0;
    this.next = 0;
  }

  /** Contents in storage order and the write position (for save/load). */
  contents(): { items: T[]; next: number } {
    return { items: this.items.slice(), next: this.next };
  }

  restore(items: T[], next: number): void {
    this.items.length = 0;
    for (const x of items.slice(0, this.capacity)) this.items.push(x);
    this.next = this.items.length === 0 ? 0 : next % this.capacity;
  }
}

/**
 * Groups transitions into sessions. Runners hand the `next` observation of one step back as the
 * `observation` of the session's following step (the same object), so sessions are chained by
 * object identity — robust when several sessions of one user run side by side in a VecEnv.
 * Where a caller passes copies instead, a transition continues the open session of its user.
 */
export class SessionTracker<S> {
  private readonly byObs = new WeakMap<Observation, S>();
  private readonly byUser = new Map<number, S>();

  /** Open sessions by user (what survives save/load: identity links do not). */
  openByUser(): [number, S][] {
    return [...this.byUser.entries()];
  }

  restoreOpen(entries: [number, S][]): void {
    this.byUser.clear();
    for (const [u, s] of entries) this.byUser.set(u, s);
  }

  /** The open session this transition continues, or a new one from `create`. */
  session(t: Transition, create: () => S): S {
    let s = this.byObs.get(t.observation);
    if (s === undefined) s = t.observation.t > 0 ? this.byUser.get(t.observation.user) : undefined;
    if (s === undefined) s = create();
    if (t.done) {
      if (this.byUser.get(t.observation.user) === s) this.byUser.delete(t.observation.user);
    } else {
      this.byObs.set(t.next, s);
      this.byUser.set(t.observation.user, s);
    }
    return s;
  }
}

/** Grows a scratch Float32Array to at least n values (reused across calls). */
export function grow(buf: Float32Array, n: number): Float32Array {
  return buf.length >= n ? buf : new Float32Array(Math.max(n, buf.length * 2));
}

/** Sample k distinct positions from probabilities p[0..n) without replacement (Plackett–Luce). */
export function sampleWithoutReplacement(p: Float32Array, n: number, k: number, rng: Rng, out: Int32Array, taken: Uint8Array): number {
  const m = Math.min(k, n);
  taken.fill(0, 0, n);
  let rest = 1;
  for (let s = 0; s < m; s++) {
    let u = rng.next() * rest;
    let pick = -1;
    for (let q = 0; q < n; q++) {
      if (taken[q]) continue;
      pick = q;
      u -= p[q]!;
      if (u < 0) break;
    }
    taken[pick] = 1;
    out[s] = pick;
    rest -= p[pick]!;
    if (rest <= 1e-12) rest = 0;
    if (rest === 0 && s + 1 < m) {
      // Remaining mass underflowed: fill with the untaken positions in order.
      for (let q = 0; q < n && s + 1 < m; q++) if (!taken[q]) (taken[q] = 1), (out[++s] = q);
      return m;
    }
  }
  return m;
}

/** Check the shared knobs; `field` names are the config keys. */
function validateNeuralConfig(c: NeuralConfig): void {
  const bad = (field: string, msg: string): never => {
    throw new ConfigError(msg, field);
  };
  if (!Number.isInteger(c.candidates) || c.candidates < 1) bad('candidates', `candidates must be a positive integer, got ${c.candidates}`);
  if (!Number.isInteger(c.randomCandidates) || c.randomCandidates < 0) bad('randomCandidates', `randomCandidates must be an integer ≥ 0, got ${c.randomCandidates}`);
  if (!Array.isArray(c.hidden) || c.hidden.some((h) => !Number.isInteger(h) || h < 1)) bad('hidden', `hidden must be a list of positive integers, got ${JSON.stringify(c.hidden)}`);
  if (!(c.gamma >= 0 && c.gamma <= 1)) bad('gamma', `gamma must be in [0, 1], got ${c.gamma}`);
  if (!(c.lr > 0)) bad('lr', `lr must be > 0, got ${c.lr}`);
}

/**
 * Base of the neural agents: candidate source, pair features, a separate generator for weight
 * initialisation (so acting draws are the same whatever the network sizes), and save/load of
 * every network and optimiser the subclass lists in `networks()`.
 */
export abstract class NeuralAgent<C extends NeuralConfig> extends BaseAgent<C> {
  protected readonly source: CandidateSource;
  protected readonly pairs: PairFeatures;
  protected readonly initRng: Rng;

  constructor(ctx: AgentContext, config: C) {
    super(ctx, config);
    validateNeuralConfig(config);
    this.source = new CandidateSource(ctx, config.candidates, config.randomCandidates, config.retrieval ?? 'prior', config.state ?? {});
    const enc = encoderConfigOf(config);
    if (enc.encoder !== 'none' && !this.trainsEncoder()) {
      // (The subclass's `name` field is not set yet here, hence no name in the message.)
      throw new ConfigError('this agent does not train a history encoder, so encoder must be none (dqn, reinforce, a2c and ppo train one)', 'encoder');
    }
    this.pairs = new PairFeatures(ctx, this.source, config.state ?? {}, enc.encoder === 'none' ? null : new HistoryEncoder(ctx, enc, config.seed), config.itemMeanValue ?? false);
    this.initRng = new Rng((config.seed ^ 0x5bd1e995) >>> 0);
  }

  /**
   * Whether the agent's loss trains `pairs.encoder` (through `PairFeatures.trainEncoder`). An agent
   * that would only read a frozen random encoder refuses `encoder` gru|attention instead.
   */
  protected trainsEncoder(): boolean {
    return false;
  }

  /** Subclasses call this from `observe` while training: the retrieval model learns every transition. */
  protected learnRetrieval(t: Transition): void {
    if (this.training) this.source.learn(t);
  }

  /** Every network (with its optimiser, if trained) that makes up the agent's learned state. */
  protected abstract networks(): Record<string, { net: Mlp; opt?: Adam }>;

  /** Counters and other small learned state beyond the networks. */
  protected extraState(): Record<string, unknown> {
    return {};
  }

  protected loadExtraState(_s: Record<string, unknown>): void {}

  protected override getState(): Record<string, unknown> {
    const nets: Record<string, unknown> = {};
    for (const [name, { net, opt }] of Object.entries(this.networks())) nets[name] = { params: new Float32Array(net.params), adam: opt?.toJSON() };
    const out: Record<string, unknown> = { nets, extra: this.extraState() };
    // Only with an encoder, so an agent without one saves exactly what it saved before.
    if (this.pairs.encoder) out.encoder = this.pairs.encoder.toJSON();
    if (this.source.linear) out.retrieval = this.source.retrievalState();
    return out;
  }

  protected override setState(state: Record<string, unknown>): void {
    const saved = (state.nets ?? {}) as Record<string, { params?: Float32Array; adam?: unknown }>;
    for (const [name, { net, opt }] of Object.entries(this.networks())) {
      const s = saved[name];
      if (!s || !(s.params instanceof Float32Array) || s.params.length !== net.params.length) {
        throw new ModelStateError(`${this.name}: saved network "${name}" is missing or has another shape (was the agent saved with other hidden sizes or another item space?)`);
      }
      net.params.set(s.params);
      if (opt && s.adam) opt.load(s.adam);
    }
    if (this.pairs.encoder) this.pairs.encoder.load(state.encoder);
    this.source.loadRetrievalState(state.retrieval as Record<string, unknown> | undefined);
    this.loadExtraState((state.extra ?? {}) as Record<string, unknown>);
  }
}

/* ---- Packing of learning buffers into a few typed arrays, so saved agents stay compact. ---- */

/** Ragged list of integer arrays as offsets + data. */
export function packInts(list: ArrayLike<number>[]): { ptr: Int32Array; data: Int32Array } {
  return packRagged(list, Int32Array);
}

export function unpackInts(p: { ptr: Int32Array; data: Int32Array }): Int32Array[] {
  return unpackRagged(p);
}

/** Ragged list of float arrays as offsets + data. */
export function packFloats(list: ArrayLike<number>[]): { ptr: Int32Array; data: Float32Array } {
  return packRagged(list, Float32Array);
}

export function unpackFloats(p: { ptr: Int32Array; data: Float32Array }): Float32Array[] {
  return unpackRagged(p);
}

function packRagged<T extends Int32Array | Float32Array>(list: ArrayLike<number>[], Data: new (n: number) => T): { ptr: Int32Array; data: T } {
  const ptr = new Int32Array(list.length + 1);
  for (let i = 0; i < list.length; i++) ptr[i + 1] = ptr[i]! + list[i]!.length;
  const data = new Data(ptr[list.length]!);
  for (let i = 0; i < list.length; i++) data.set(list[i]!, ptr[i]!);
  return { ptr, data };
}

function unpackRagged<T extends Int32Array | Float32Array>(p: { ptr: Int32Array; data: T }): T[] {
  return Array.from({ length: p.ptr.length - 1 }, (_, i) => p.data.slice(p.ptr[i]!, p.ptr[i + 1]!) as T);
}

export interface PackedObservations {
  user: Int32Array;
  t: Int32Array;
  history: { ptr: Int32Array; data: Int32Array };
  /** 1 where the observation had a context array. */
  hasContext: Uint8Array;
  context: { ptr: Int32Array; data: Float32Array };
}

export function packObservations(list: Observation[]): PackedObservations {
  return {
    user: Int32Array.from(list, (o) => o.user),
    t: Int32Array.from(list, (o) => o.t),
    history: packInts(list.map((o) => o.history)),
    hasContext: Uint8Array.from(list, (o) => (o.context ? 1 : 0)),
    context: packFloats(list.map((o) => o.context ?? new Float32Array(0))),
  };
}

export function unpackObservations(p: PackedObservations): Observation[] {
  const hist = unpackInts(p.history);
  const ctx = unpackFloats(p.context);
  return Array.from(p.user, (user, i) => ({ user, t: p.t[i]!, history: hist[i]!, context: p.hasContext[i] ? ctx[i]! : undefined }));
}

/** The replay and target-network settings the off-policy agents (DQN, DDPG) share. */
export interface ReplayConfig extends NeuralConfig {
  bufferSize: number;
  batchSize: number;
  /** Transitions to collect before the first gradient step. */
  learningStarts: number;
  /** One gradient step per this many observed transitions (update() catches up on what it owes). */
  trainEvery: number;
  /** Target network Polyak rate per gradient step. */
  tau: number;
  /** Candidates at the next state for the bootstrap value (DQN: its max; DDPG: the target's kNN). */
  nextCandidates: number;
}

/** A replayed slate step (DQN, DDPG): state, shown items, per-position rewards, next state. */
export interface ReplaySample {
  obs: Observation;
  items: Int32Array;
  rewards: Float32Array;
  next: Observation;
  done: boolean;
  /** 1 at the clicked slate positions; absent when not kept (`pushReplay`'s keepClicks) or not given. */
  clicked?: Uint8Array;
  /**
   * The session's discounted return after this step, Σ_{k≥1} γ^(k−1)·r_(t+k), once the session
   * has ended (DQN's `target: 'mc'`); absent for bootstrapped samples.
   */
  future?: number;
}

/**
 * Store a transition in a replay buffer (observations snapshotted, rewards per slate position).
 * Returns whether the buffer now holds enough samples for learning to start, i.e. whether the
 * transition should be paid for with gradient steps.
 */
export function pushReplay(buffer: ReplayBuffer<ReplaySample>, t: Transition, learningStarts: number, batchSize: number, keepClicks = false): boolean {
  buffer.push(replaySample(t, keepClicks));
  return buffer.size >= Math.max(learningStarts, batchSize);
}

/** A transition as a replay sample (observations snapshotted, rewards per slate position). */
export function replaySample(t: Transition, keepClicks = false): ReplaySample {
  const rewards = positionRewards(t, new Float32Array(t.slate.items.length));
  const x: ReplaySample = { obs: snapshotObservation(t.observation), items: Int32Array.from(t.slate.items), rewards, next: snapshotObservation(t.next), done: t.done };
  // Only for a learner that reads them (DQN's credit 'clicked'): other agents save what they did before.
  if (keepClicks && t.clicks) x.clicked = Uint8Array.from(t.clicks, (c) => (c ? 1 : 0));
  return x;
}

/** Sets each sample's `future` from the session's step rewards (the samples of one whole session, in order). */
export function setFutures(samples: readonly ReplaySample[], stepRewards: readonly number[], gamma: number): void {
  let g = 0;
  for (let t = samples.length - 1; t >= 0; t--) {
    samples[t]!.future = g;
    g = stepRewards[t]! + gamma * g;
  }
}

export function packReplay(buffer: ReplayBuffer<ReplaySample>): unknown {
  const { items, next } = buffer.contents();
  return {
    next,
    obs: packObservations(items.map((x) => x.obs)),
    nextObs: packObservations(items.map((x) => x.next)),
    items: packInts(items.map((x) => x.items)),
    rewards: packFloats(items.map((x) => x.rewards)),
    done: Uint8Array.from(items, (x) => (x.done ? 1 : 0)),
    ...(items.some((x) => x.clicked) ? { clicked: packInts(items.map((x) => x.clicked ?? new Uint8Array(0))) } : {}),
    ...(items.some((x) => x.future !== undefined) ? { future: Float64Array.from(items, (x) => x.future ?? NaN) } : {}),
  };
}

export function unpackReplay(buffer: ReplayBuffer<ReplaySample>, packed: unknown): void {
  const p = packed as { next: number; obs: PackedObservations; nextObs: PackedObservations; items: { ptr: Int32Array; data: Int32Array }; rewards: { ptr: Int32Array; data: Float32Array }; done: Uint8Array; clicked?: { ptr: Int32Array; data: Int32Array }; future?: Float64Array } | undefined;
  if (!p || !p.obs) return buffer.clear();
  const obs = unpackObservations(p.obs);
  const nexts = unpackObservations(p.nextObs);
  const items = unpackInts(p.items);
  const rewards = unpackFloats(p.rewards);
  // Click flags are saved only where a learner kept them; elsewhere a sample has none.
  const clicked = p.clicked ? unpackInts(p.clicked).map((c) => Uint8Array.from(c)) : [];
  buffer.restore(
    obs.map((o, i) => ({ obs: o, items: items[i]!, rewards: rewards[i]!, next: nexts[i]!, done: p.done[i] === 1, ...(clicked[i]?.length ? { clicked: clicked[i] } : {}), ...(p.future && !Number.isNaN(p.future[i]!) ? { future: p.future[i]! } : {}) })),
    p.next,
  );
}
