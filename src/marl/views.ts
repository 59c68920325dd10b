/**
 * Each team agent's own observation, as (state, item) feature rows for a list of items.
 *
 *  - user agent: the user's state — LinUCB's joint map φ(s, i) = [h ⊙ x_i | x_i | g ⊙ c_i | c_i |
 *    pop_i] (recent-item CF vectors h, recent-genre histogram g) plus the user's myopic prior
 *    score of the item (ALS on the train split when the context has it);
 *  - item agent: item state only — [1 | cold | log-popularity | log exposure so far | online CTR |
 *    never shown | recency of the last showing | newness from the item's age | exposure value
 *    b_i / (1 + e_i / ē)], from `ItemState` (what the team has shown);
 *  - content agent: text embeddings — [e_i ⊙ p(s) | e_i | 1 (| m_i) (| e_i ⊙ p_train(u))] with p(s)
 *    the decayed mean embedding of the recent items (content vectors, or genre indicators when the
 *    context has none), with `itemMeanValue` the item's z-scored mean training value m_i, and
 *    with `contentProfile: 'both'` the mean embedding p_train(u) of the user's train items;
 *  - extra agents: an external scorer's score of the item, z-scored over the catalogue, and 1.
 */
import { LinearSlateFeatures } from '../agents/linucb.js';
import type { CandidateSource } from '../agents/neural.js';
import type { Observation } from '../env/types.js';
import type { ExtraScorer, TeamContext } from './context.js';
import { logPopularity } from '../util/log-popularity.js';
import { ConfigError } from '../errors.js';

/**
 * Which user profiles the content agent reads: `recent`, the decayed mean content of the recent
 * items; `both`, that and the mean content of the user's whole train history, as two feature blocks
 * whose weights the agent learns (long-term taste against what the session has moved to).
 */
export type ContentProfile = 'recent' | 'both';

export interface View {
  readonly name: string;
  readonly dim: number;
  /** Feature rows of `n` items (row-major n × dim into `out`). */
  features(obs: Observation, items: Int32Array, n: number, out: Float64Array): void;
}

export class UserView implements View {
  readonly name = 'user';
  readonly dim: number;
  private readonly f: LinearSlateFeatures;
  private readonly phi: Float64Array;
  constructor(
    ctx: TeamContext,
    private readonly source: CandidateSource,
  ) {
    this.f = new LinearSlateFeatures(ctx);
    this.dim = this.f.dim + 1;
    this.phi = new Float64Array(this.f.dim);
  }

  features(obs: Observation, items: Int32Array, n: number, out: Float64Array): void {
    this.f.setState(obs);
    const z = this.source.zPrior(obs.user);
    const D = this.dim;
    for (let r = 0; r < n; r++) {
      const i = items[r]!;
      this.f.phi(i, this.phi);
      const o = r * D;
      for (let j = 0; j < D - 1; j++) out[o + j] = this.phi[j]!;
      out[o + D - 1] = z[i]!;
    }
  }
}

/** What the team has done to each item so far: its exposure, clicks and when it was last shown. */
export class ItemState {
  exposure: Float64Array;
  clicks: Float64Array;
  lastShown: Float64Array;
  /** Slates shown so far (the team's clock). */
  clock = 0;
  /** Impressions so far over all items (mean exposure = total / nItems). */
  total = 0;
  constructor(nItems: number) {
    this.exposure = new Float64Array(nItems);
    this.clicks = new Float64Array(nItems);
    this.lastShown = new Float64Array(nItems).fill(-1);
  }

  shown(items: Int32Array): void {
    for (let p = 0; p < items.length; p++) {
      const i = items[p]!;
      this.exposure[i]! += 1;
      this.lastShown[i] = this.clock;
    }
    this.total += items.length;
    this.clock++;
  }

  toJSON(): Record<string, unknown> {
    return { exposure: this.exposure, clicks: this.clicks, lastShown: this.lastShown, clock: this.clock, total: this.total };
  }

  load(s: Record<string, unknown>): void {
    this.exposure = s.exposure as Float64Array;
    this.clicks = s.clicks as Float64Array;
    this.lastShown = s.lastShown as Float64Array;
    this.clock = s.clock as number;
    // States saved before `total` existed: it is the sum of the exposures.
    this.total = typeof s.total === 'number' ? s.total : this.exposure.reduce((a, b) => a + b, 0);
  }
}

export const ITEM_FEATURES = ['bias', 'cold', 'popularity', 'exposure', 'ctr', 'neverShown', 'recency', 'age', 'exposureValue'] as const;

export class ItemView implements View {
  readonly name = 'item';
  readonly dim = ITEM_FEATURES.length;
  private readonly logPop: Float64Array;
  /** b_i: the exposure value of a never-shown item (1 cold, else 0.5·(1 − popularity percentile)). */
  private readonly baseValue: Float64Array;
  constructor(
    private readonly ctx: TeamContext,
    readonly state: ItemState,
  ) {
    const { nItems, popularity, cold } = ctx.items;
    this.logPop = logPopularity(popularity);
    const order = Int32Array.from({ length: nItems }, (_, i) => i).sort((a, b) => popularity[b]! - popularity[a]! || a - b);
    this.baseValue = new Float64Array(nItems);
    for (let r = 0; r < nItems; r++) {
      const i = order[r]!;
      this.baseValue[i] = cold[i] ? 1 : 0.5 * (r / Math.max(1, nItems - 1));
    }
  }

  row(i: number, out: Float64Array, o: number): void {
    const s = this.state;
    const e = s.exposure[i]!;
    out[o] = 1;
    out[o + 1] = this.ctx.items.cold[i]!;
    out[o + 2] = this.logPop[i]!;
    out[o + 3] = Math.log1p(e) / 10;
    out[o + 4] = (s.clicks[i]! + 0.1) / (e + 1);
    out[o + 5] = e === 0 ? 1 : 0;
    out[o + 6] = s.lastShown[i]! < 0 ? 0 : Math.exp(-(s.clock - s.lastShown[i]!) / 1000);
    // Newness from the item's age in days when the context knows it (none in the simulator).
    const age = this.ctx.itemAgeDays?.[i];
    out[o + 7] = age === undefined ? 0 : Math.exp(-age / 30);
    // The item agent's own stake, fair exposure, as the team values it: b_i shrunk by how far the
    // item's exposure so far exceeds the mean (the same rule as the simulator's `fair-share` G).
    out[o + 8] = this.baseValue[i]! / (1 + e / Math.max(1, s.total / s.exposure.length));
  }

  features(_obs: Observation, items: Int32Array, n: number, out: Float64Array): void {
    for (let r = 0; r < n; r++) this.row(items[r]!, out, r * this.dim);
  }
}

export class ContentView implements View {
  readonly name = 'content';
  readonly dim: number;
  readonly cdim: number;
  readonly vectors: Float32Array;
  readonly profile: Float64Array;
  /** m_i, the items' mean training values, when the agent reads them (`itemMeanValue`); else null. */
  readonly meanValue: Float32Array | null;
  private readonly decay = 0.8;
  private readonly window = 10;

  /**
   * The users' train profiles (rows × cdim: the mean content vector of each user's train items)
   * with `contentProfile: 'both'`, else null; `trainRows` users have one (others read zeros).
   */
  private readonly trainProfiles: Float32Array | null;
  private trainRows = 0;
  /** This observation's train profile (zeros for a user without one); read after setState. */
  private readonly longProfile: Float64Array;
  /** Offset of the e_i ⊙ p_train(u) block in a row (dim when there is none). */
  private readonly longAt: number;

  constructor(ctx: TeamContext, itemMeanValue = false, profile: ContentProfile = 'recent') {
    if (itemMeanValue && !ctx.items.meanValue) throw new ConfigError("itemMeanValue needs the item space's meanValue (itemSpaceFromTrain builds it)", 'itemMeanValue');
    this.meanValue = itemMeanValue ? ctx.items.meanValue! : null;
    if (ctx.content) {
      this.cdim = ctx.content.dim;
      this.vectors = ctx.content.vectors;
    } else {
      // No text embeddings: genre indicators (split over the item's genres) stand in as content.
      const { nItems, categoryNames, catIndptr, catIndices } = ctx.items;
      this.cdim = Math.max(1, categoryNames.length);
      this.vectors = new Float32Array(nItems * this.cdim);
      for (let i = 0; i < nItems; i++) {
        const c0 = catIndptr[i]!;
        const c1 = catIndptr[i + 1]!;
        for (let c = c0; c < c1; c++) this.vectors[i * this.cdim + catIndices[c]!] = 1 / Math.sqrt(c1 - c0);
      }
    }
    this.longAt = 2 * this.cdim + 1 + (this.meanValue ? 1 : 0);
    this.dim = this.longAt + (profile === 'both' ? this.cdim : 0);
    this.profile = new Float64Array(this.cdim);
    this.longProfile = new Float64Array(this.cdim);
    this.trainProfiles = profile === 'both' ? this.buildTrainProfiles(ctx) : null;
  }

  /** Mean content vector of each user's train items (a content-based recommender's user profile). */
  private buildTrainProfiles(ctx: TeamContext): Float32Array {
    const th = ctx.trainHistory;
    if (!th) throw new ConfigError("contentProfile 'both' needs the users' train items in the context (trainHistory; attachTeamContent's train option)", 'contentProfile');
    const d = this.cdim;
    const v = this.vectors;
    this.trainRows = th.rows;
    const out = new Float32Array(th.rows * d);
    for (let u = 0; u < th.rows; u++) {
      const a = th.indptr[u]!;
      const b = th.indptr[u + 1]!;
      if (b === a) continue;
      for (let k = a; k < b; k++) {
        const o = th.indices[k]! * d;
        for (let j = 0; j < d; j++) out[u * d + j]! += v[o + j]!;
      }
      for (let j = 0; j < d; j++) out[u * d + j]! /= b - a;
    }
    return out;
  }

  /** p(s): decayed mean content vector of the recent items. */
  setState(obs: Observation): void {
    const d = this.cdim;
    this.profile.fill(0);
    const h = obs.history;
    const n = Math.min(h.length, this.window);
    let w = 1;
    let ws = 0;
    for (let a = 0; a < n; a++) {
      const it = h[h.length - 1 - a]!;
      if (it >= 0) {
        const o = it * d;
        for (let j = 0; j < d; j++) this.profile[j]! += w * this.vectors[o + j]!;
        ws += w;
      }
      w *= this.decay;
    }
    if (ws > 0) for (let j = 0; j < d; j++) this.profile[j]! /= ws;
    const tp = this.trainProfiles;
    if (tp) {
      const u = obs.user;
      if (u >= 0 && u < this.trainRows) for (let j = 0; j < d; j++) this.longProfile[j] = tp[u * d + j]!;
      else this.longProfile.fill(0);
    }
  }

  features(obs: Observation, items: Int32Array, n: number, out: Float64Array): void {
    this.setState(obs);
    const d = this.cdim;
    const D = this.dim;
    for (let r = 0; r < n; r++) {
      const o = items[r]! * d;
      const q = r * D;
      for (let j = 0; j < d; j++) {
        const x = this.vectors[o + j]!;
        out[q + j] = x * this.profile[j]!;
        out[q + d + j] = x;
      }
      out[q + 2 * d] = 1;
      if (this.meanValue) out[q + 2 * d + 1] = this.meanValue[items[r]!]!;
      if (this.trainProfiles) for (let j = 0; j < d; j++) out[q + this.longAt + j] = this.vectors[o + j]! * this.longProfile[j]!;
    }
  }

  /** θᵀφ(s, i) for every item (after setState), into `out`: one dot product per item. */
  scoreAll(theta: Float64Array, w: Float64Array, out: Float64Array): void {
    const d = this.cdim;
    const L = this.trainProfiles ? this.longAt : -1;
    for (let j = 0; j < d; j++) w[j] = theta[j]! * this.profile[j]! + theta[d + j]! + (L >= 0 ? theta[L + j]! * this.longProfile[j]! : 0);
    const b = theta[2 * d]!;
    const v = this.vectors;
    const mv = this.meanValue;
    const bm = mv ? theta[2 * d + 1]! : 0;
    for (let i = 0, o = 0; i < out.length; i++, o += d) {
      let s = mv ? b + bm * mv[i]! : b;
      for (let j = 0; j < d; j++) s += w[j]! * v[o + j]!;
      out[i] = s;
    }
  }
}

/** An external scorer (a `Recommender`, an embedding scorer) seen as an agent. */
export class ScorerView implements View {
  readonly dim = 2;
  readonly name: string;
  private readonly cache = new Map<number, Float32Array>();
  private readonly buf: Float32Array;
  constructor(
    private readonly scorer: ExtraScorer,
    nItems: number,
  ) {
    this.name = scorer.name;
    this.buf = new Float32Array(nItems);
  }

  /** The scorer's scores for this user, z-scored over the catalogue (cached per user). */
  z(obs: Observation): Float32Array {
    let z = this.cache.get(obs.user);
    if (z) return z;
    this.scorer.scoreUser(obs.user, obs.history, this.buf);
    const n = this.buf.length;
    let m = 0;
    for (let i = 0; i < n; i++) m += this.buf[i]!;
    m /= Math.max(1, n);
    let v = 0;
    for (let i = 0; i < n; i++) v += (this.buf[i]! - m) ** 2;
    const sd = Math.sqrt(v / Math.max(1, n)) || 1;
    z = new Float32Array(n);
    for (let i = 0; i < n; i++) z[i] = (this.buf[i]! - m) / sd;
    if (this.cache.size >= 1024) this.cache.delete(this.cache.keys().next().value as number);
    this.cache.set(obs.user, z);
    return z;
  }

  features(obs: Observation, items: Int32Array, n: number, out: Float64Array): void {
    const z = this.z(obs);
    for (let r = 0; r < n; r++) {
      out[2 * r] = z[items[r]!]!;
      out[2 * r + 1] = 1;
    }
  }
}


