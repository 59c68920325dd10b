/**
 * What every agent knows about the world, and the shared state featuriser.
 *
 * Agents never see the simulator's hidden user model. They see: item vectors (collaborative
 * factors fitted on P1's *train* split, optionally concatenated with text embeddings), item
 * categories (genres), training popularity and a cold flag, and per session an `Observation`
 * (user index, recent items most recent last, step, context). `StateFeaturiser` turns an
 * observation into a fixed-length vector for the linear bandits and the neural agents;
 * `TabularStateAbstraction` turns it into one of a few hundred discrete states for Q-learning
 * and SARSA. Both are documented in docs/simulator.md.
 */
import { categoryCsr } from '../data/categories.js';
import type { Dataset } from '../data/dataset.js';
import type { Observation } from '../env/types.js';
import type { ActOptions } from './types.js';
import { Rng } from '../util/rng.js';
import { cholesky, choleskySolve } from '../util/linalg.js';
import { ConfigError } from '../errors.js';
import { logPopularity } from '../util/log-popularity.js';

export interface ItemSpace {
  nItems: number;
  /** Row-major nItems × dim item vectors (train-split CF factors [+ embeddings]). */
  dim: number;
  vectors: Float32Array;
  /** Category (genre) names; item → categories as CSR (catIndptr/catIndices). */
  categoryNames: string[];
  catIndptr: Int32Array;
  catIndices: Int32Array;
  /** Training interactions per item. */
  popularity: Float32Array;
  /** 1 where the item counts as cold for the agents (few training interactions). */
  cold: Uint8Array;
  /**
   * The item's mean training value, shrunk toward the catalogue mean (a Bayesian average with
   * `MEAN_VALUE_PRIOR` pseudo-values) and z-scored over the catalogue; absent in older contexts.
   * Public item metadata (a catalogue's average rating); the neural agents' `itemMeanValue` reads it.
   */
  meanValue?: Float32Array;
}

/** Pseudo-values at the catalogue mean in `ItemSpace.meanValue`'s Bayesian average. */
export const MEAN_VALUE_PRIOR = 10;

/** `ItemSpace.meanValue` from a split's values (see there). */
export function itemMeanValues(train: Dataset): Float32Array {
  const nI = train.nItems;
  const { item, value } = train.interactions;
  const sum = new Float64Array(nI);
  const n = new Float64Array(nI);
  let total = 0;
  for (let k = 0; k < item.length; k++) {
    sum[item[k]!] += value[k]!;
    n[item[k]!] += 1;
    total += value[k]!;
  }
  const mu = item.length > 0 ? total / item.length : 0;
  const m = new Float64Array(nI);
  let mean = 0;
  for (let i = 0; i < nI; i++) {
    m[i] = (sum[i]! + MEAN_VALUE_PRIOR * mu) / (n[i]! + MEAN_VALUE_PRIOR);
    mean += m[i]! / Math.max(1, nI);
  }
  let sq = 0;
  for (let i = 0; i < nI; i++) sq += (m[i]! - mean) ** 2;
  const sd = Math.sqrt(sq / Math.max(1, nI)) || 1;
  return Float32Array.from(m, (x) => (x - mean) / sd);
}

export interface AgentContext {
  items: ItemSpace;
  /** Users' CF factors on the train split (nUsers × items.dim) when known; rows of unknown users are 0. */
  userVectors?: Float32Array;
  nUsers: number;
  /** Slate size the environment expects. */
  slateSize: number;
  /** Longest possible session (normalises the step feature). */
  horizon: number;
  /**
   * Optional myopic scorer (e.g. an ALS `Recommender.scoreAll`) used by `greedy-als`; writes one
   * score per item for a user index into `out`.
   */
  scoreUser?: (user: number, out: Float32Array) => void;
}

/**
 * The context's myopic score of every item for `user` into `out`: `ctx.scoreUser`, else the dot
 * product of the user's and the items' vectors. Returns false (out untouched) when the context
 * has neither for this user; the caller picks its own fallback.
 */
export function contextScores(ctx: AgentContext, user: number, out: Float32Array): boolean {
  if (ctx.scoreUser) {
    ctx.scoreUser(user, out);
    return true;
  }
  if (!ctx.userVectors || user < 0 || user >= ctx.nUsers) return false;
  const { nItems, dim, vectors } = ctx.items;
  const uv = ctx.userVectors;
  const o = user * dim;
  for (let i = 0; i < nItems; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += uv[o + j]! * vectors[i * dim + j]!;
    out[i] = s;
  }
  return true;
}

export interface StateConfig {
  /** How many recent items the state looks at. */
  historyLength: number;
  /** Weight of an item `a` steps back is decay^a (recent items matter more). */
  decay: number;
  /** How many leading entries of `Observation.context` are used. */
  contextDim: number;
  /**
   * Weight of the user's long-term profile in the recent-history part of the state: h ←
   * (1 − profile)·h + profile·u, u the user's row of the context's `userVectors` (CF factors of
   * the whole train history, in the items' space). The last `historyLength` items say what the
   * user is doing now; u says what they have liked all along, which matters where tastes are
   * stable (the interest family's users start from their whole train history). 0, the default,
   * leaves the state as it always was; a user without a vector (none in the context, an index
   * outside it, or an all-zero row: unknown or erased) keeps h.
   */
  profile: number;
}

export const DEFAULT_STATE_CONFIG: StateConfig = { historyLength: 10, decay: 0.8, contextDim: 2, profile: 0 };

/** `StateConfig.profile` checked: a number in [0, 1], else a ConfigError named by `field`, the key the user wrote. */
export function checkProfile(p: unknown, field: string): number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new ConfigError(`${field} must be a number in [0, 1], got ${JSON.stringify(p) ?? String(p)}`, field);
  return p;
}

/**
 * Observation → Float32Array of length `dim`:
 * [decayed mean of recent item vectors (items.dim) | decayed genre histogram (nCategories) |
 *  t / horizon | context[0..contextDim) | 1].
 */
export class StateFeaturiser {
  readonly dim: number;
  readonly config: StateConfig;
  private readonly items: ItemSpace;
  private readonly horizon: number;

  private readonly userVectors: Float32Array | undefined;
  private readonly nUsers: number;

  constructor(ctx: AgentContext, config: Partial<StateConfig> = {}) {
    this.config = { ...DEFAULT_STATE_CONFIG, ...config };
    checkProfile(this.config.profile, 'state.profile');
    this.items = ctx.items;
    this.horizon = Math.max(1, ctx.horizon);
    this.dim = ctx.items.dim + ctx.items.categoryNames.length + 1 + this.config.contextDim + 1;
    this.userVectors = ctx.userVectors;
    this.nUsers = ctx.nUsers;
  }

  /** h ← (1 − profile)·h + profile·u in `out[0..items.dim)` when the user has a non-zero vector. */
  private mixProfile(user: number, out: Float32Array): void {
    const uv = this.userVectors;
    const d = this.items.dim;
    if (!uv || user < 0 || user >= this.nUsers || (user + 1) * d > uv.length) return;
    const o = user * d;
    let any = false;
    for (let k = 0; k < d && !any; k++) any = uv[o + k] !== 0;
    if (!any) return;
    const p = this.config.profile;
    for (let k = 0; k < d; k++) out[k] = (1 - p) * out[k]! + p * uv[o + k]!;
  }

  encode(obs: Observation, out: Float32Array = new Float32Array(this.dim)): Float32Array {
    const { dim: d, vectors, catIndptr, catIndices, categoryNames } = this.items;
    const nC = categoryNames.length;
    out.fill(0);
    const h = obs.history;
    const n = Math.min(h.length, this.config.historyLength);
    let wsum = 0;
    let w = 1;
    for (let a = 0; a < n; a++) {
      const it = h[h.length - 1 - a]!;
      if (it >= 0) {
        const o = it * d;
        for (let k = 0; k < d; k++) out[k] += w * vectors[o + k]!;
        const c0 = catIndptr[it]!;
        const c1 = catIndptr[it + 1]!;
        const share = c1 > c0 ? w / (c1 - c0) : 0;
        for (let c = c0; c < c1; c++) out[d + catIndices[c]!] += share;
        wsum += w;
      }
      w *= this.config.decay;
    }
    if (wsum > 0) for (let k = 0; k < d + nC; k++) out[k] /= wsum;
    if (this.config.profile > 0) this.mixProfile(obs.user, out);
    let p = d + nC;
    out[p++] = Math.min(1, obs.t / this.horizon);
    const ctx = obs.context;
    for (let c = 0; c < this.config.contextDim; c++) out[p++] = ctx && c < ctx.length ? ctx[c]! : 0;
    out[p] = 1;
    return out;
  }
}

export interface TabularConfig {
  /** Recent items inspected for the dominant genre. */
  window: number;
  /** Step bucket upper bounds (exclusive); the last bucket is open. */
  stepEdges: number[];
  /** Satiation bucket upper bounds on the dominant genre's count in the window. */
  satiationEdges: number[];
}

export const DEFAULT_TABULAR_CONFIG: TabularConfig = { window: 5, stepEdges: [3, 10], satiationEdges: [3, 5] };

/**
 * Discrete state = dominant recent genre (nCategories, or "none") × satiation bucket (how many of
 * the last `window` items carry that genre) × step bucket. Actions of the tabular agents are
 * genres; `CategorySlater` maps a genre to the best items in it.
 */
export class TabularStateAbstraction {
  readonly nStates: number;
  readonly config: TabularConfig;
  private readonly items: ItemSpace;
  private readonly counts: Float64Array;

  constructor(items: ItemSpace, config: Partial<TabularConfig> = {}) {
    this.items = items;
    this.config = { ...DEFAULT_TABULAR_CONFIG, ...config };
    const nC = items.categoryNames.length + 1;
    this.nStates = nC * (this.config.satiationEdges.length + 1) * (this.config.stepEdges.length + 1);
    this.counts = new Float64Array(items.categoryNames.length);
  }

  index(obs: Observation): number {
    const { catIndptr, catIndices, categoryNames } = this.items;
    const nC = categoryNames.length;
    this.counts.fill(0);
    const h = obs.history;
    const n = Math.min(h.length, this.config.window);
    for (let a = 0; a < n; a++) {
      const it = h[h.length - 1 - a]!;
      if (it < 0) continue;
      for (let c = catIndptr[it]!; c < catIndptr[it + 1]!; c++) this.counts[catIndices[c]!] += 1;
    }
    let best = nC;
    let bestCount = 0;
    for (let c = 0; c < nC; c++) if (this.counts[c]! > bestCount) (bestCount = this.counts[c]!), (best = c);
    const sat = bucket(bestCount, this.config.satiationEdges);
    const step = bucket(obs.t, this.config.stepEdges);
    const nSat = this.config.satiationEdges.length + 1;
    const nStep = this.config.stepEdges.length + 1;
    return (best * nSat + sat) * nStep + step;
  }
}

function bucket(v: number, edges: readonly number[]): number {
  let b = 0;
  while (b < edges.length && v >= edges[b]!) b++;
  return b;
}

/**
 * Maps an action "show genre c" to a slate: the k items of genre c that score best for the
 * current state (dot product of the item vector with the state's mean recent-item vector, plus a
 * small popularity prior), skipping items already in the history.
 */
export class CategorySlater {
  readonly members: Int32Array[];
  private readonly items: ItemSpace;
  private readonly prior: Float32Array;
  private readonly h: Float32Array;
  private readonly seen = new Set<number>();
  /** Every item's score for the current state (`fillAll`). */
  private scoreBuf = new Float64Array(0);
  /** The caller's restriction (`restrict`): 1 where an item may be shown, and 1 where it may not. */
  private allow: Uint8Array | null = null;
  private exclude: Uint8Array | null = null;
  private allowBuf: Uint8Array | null = null;

  constructor(items: ItemSpace, popularityWeight = 0.1) {
    this.items = items;
    const nC = items.categoryNames.length;
    const lists: number[][] = Array.from({ length: nC }, () => []);
    for (let i = 0; i < items.nItems; i++) for (let c = items.catIndptr[i]!; c < items.catIndptr[i + 1]!; c++) lists[items.catIndices[c]!]!.push(i);
    this.members = lists.map((l) => Int32Array.from(l));
    const logPop = logPopularity(items.popularity);
    this.prior = new Float32Array(items.nItems);
    for (let i = 0; i < items.nItems; i++) this.prior[i] = popularityWeight * logPop[i]!;
    this.h = new Float32Array(items.dim);
  }

  /**
   * Restrict the following fills to what a caller allows (`ActOptions`: only the candidates, none
   * of the excluded items), as the history is; `restrict()` lifts it.
   */
  restrict(options?: ActOptions): void {
    this.exclude = options?.exclude ?? null;
    const c = options?.candidates;
    if (!c) {
      this.allow = null;
      return;
    }
    if (!this.allowBuf) this.allowBuf = new Uint8Array(this.items.nItems);
    this.allowBuf.fill(0);
    for (const i of c) if (i >= 0 && i < this.items.nItems) this.allowBuf[i] = 1;
    this.allow = this.allowBuf;
  }

  /** Writes up to k items of category `c` into `out` (returns how many); tops up from all items if the genre is too small. */
  fill(obs: Observation, c: number, k: number, out: Int32Array): number {
    this.prepare(obs);
    return this.fillPrepared(c, k, out, null);
  }

  /**
   * The slate of every category (index nCategories: "any genre", c = −1) for one observation, as
   * `fill` would give each: the item scores do not depend on the category, so they are computed
   * once (what makes exact tabular propensities affordable).
   */
  fillAll(obs: Observation, k: number): Int32Array[] {
    this.prepare(obs);
    const { dim: d, vectors, nItems } = this.items;
    if (this.scoreBuf.length !== nItems) this.scoreBuf = new Float64Array(nItems);
    for (let i = 0; i < nItems; i++) {
      let s = this.prior[i]!;
      const o = i * d;
      for (let j = 0; j < d; j++) s += vectors[o + j]! * this.h[j]!;
      this.scoreBuf[i] = s;
    }
    const out: Int32Array[] = [];
    for (let c = 0; c <= this.members.length; c++) {
      const buf = new Int32Array(k);
      const n = this.fillPrepared(c < this.members.length ? c : -1, k, buf, this.scoreBuf);
      out.push(n < k ? buf.slice(0, n) : buf);
    }
    return out;
  }

  private fillPrepared(c: number, k: number, out: Int32Array, scores: Float64Array | null): number {
    const list = c >= 0 && c < this.members.length ? this.members[c]! : new Int32Array(0);
    let n = this.pick(list, k, out, 0, scores);
    if (n < k) n = this.pick(null, k, out, n, scores);
    return n;
  }

  /** The state's summed recent-item vector and the history set, for `pick`. */
  private prepare(obs: Observation): void {
    const { dim: d, vectors } = this.items;
    this.h.fill(0);
    const hist = obs.history;
    for (let a = 0; a < hist.length; a++) {
      const it = hist[a]!;
      if (it < 0) continue;
      const o = it * d;
      for (let j = 0; j < d; j++) this.h[j] += vectors[o + j]!;
    }
    this.seen.clear();
    for (let a = 0; a < hist.length; a++) this.seen.add(hist[a]!);
  }

  /** Best k items of `list` (all items when null) after `start` filled ones; `scores` precomputed by `fillAll`, else computed here. */
  private pick(list: Int32Array | null, k: number, out: Int32Array, start: number, scores: Float64Array | null): number {
    const { dim: d, vectors, nItems } = this.items;
    // Insertion into a small sorted buffer: k is tiny (≈10), lists are ≈1,000 long.
    const bestS = new Float64Array(k).fill(-Infinity);
    const n = list ? list.length : nItems;
    let size = start;
    for (let p = 0; p < start; p++) bestS[p] = Infinity;
    for (let q = 0; q < n; q++) {
      const i = list ? list[q]! : q;
      if (this.seen.has(i) || (this.allow && !this.allow[i]) || (this.exclude && this.exclude[i])) continue;
      let already = false;
      for (let p = 0; p < size; p++) if (out[p] === i) already = true;
      if (already) continue;
      let s: number;
      if (scores) s = scores[i]!;
      else {
        s = this.prior[i]!;
        const o = i * d;
        for (let j = 0; j < d; j++) s += vectors[o + j]! * this.h[j]!;
      }
      if (size < k) {
        let p = size++;
        while (p > start && bestS[p - 1]! < s) (bestS[p] = bestS[p - 1]!), (out[p] = out[p - 1]!), p--;
        bestS[p] = s;
        out[p] = i;
      } else if (s > bestS[k - 1]!) {
        let p = k - 1;
        while (p > start && bestS[p - 1]! < s) (bestS[p] = bestS[p - 1]!), (out[p] = out[p - 1]!), p--;
        bestS[p] = s;
        out[p] = i;
      }
    }
    return size;
  }
}

export interface ItemSpaceOptions {
  /** CF factor dimension. */
  dim?: number;
  /** Implicit-ALS iterations, regularisation and confidence weight. */
  iterations?: number;
  reg?: number;
  alpha?: number;
  /** Items with fewer training interactions than this are cold. */
  coldThreshold?: number;
  /** Optional text embeddings (nItems × embedDim) appended to the CF factors. */
  embeddings?: { dim: number; vectors: Float32Array };
  seed?: number;
}

/**
 * Builds the agents' `ItemSpace` from the *training* split: implicit-feedback ALS factors
 * (Hu, Koren & Volinsky 2008; confidence 1 + alpha on observed pairs), genres from item
 * metadata `categories`, training popularity. Returns the user factors too.
 */
export function itemSpaceFromTrain(train: Dataset, options: ItemSpaceOptions = {}): { items: ItemSpace; userVectors: Float32Array } {
  const d = options.dim ?? 16;
  const iters = options.iterations ?? 6;
  const reg = options.reg ?? 5;
  const alpha = options.alpha ?? 4;
  const rng = new Rng(options.seed ?? 7);
  const nU = train.nUsers;
  const nI = train.nItems;
  const byUser = train.byUser();
  const byItem = train.byItem();
  const X = new Float32Array(nU * d);
  const Y = new Float32Array(nI * d);
  for (let k = 0; k < Y.length; k++) Y[k] = rng.normal() * 0.1;
  const gram = new Float64Array(d * d);
  const A = new Float64Array(d * d);
  const b = new Float64Array(d);
  const solveSide = (F: Float32Array, nF: number, G: Float32Array, csr: { indptr: Int32Array; indices: Int32Array }, nRows: number): void => {
    gram.fill(0);
    for (let r = 0; r < nF; r++) {
      const o = r * d;
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) gram[i * d + j] += F[o + i]! * F[o + j]!;
    }
    for (let r = 0; r < nRows; r++) {
      A.set(gram);
      b.fill(0);
      for (let e = csr.indptr[r]!; e < csr.indptr[r + 1]!; e++) {
        const o = csr.indices[e]! * d;
        for (let i = 0; i < d; i++) {
          b[i] += (1 + alpha) * F[o + i]!;
          for (let j = 0; j < d; j++) A[i * d + j] += alpha * F[o + i]! * F[o + j]!;
        }
      }
      for (let i = 0; i < d; i++) A[i * d + i] += reg;
      cholesky(A, d);
      choleskySolve(A, d, b);
      for (let i = 0; i < d; i++) G[r * d + i] = b[i]!;
    }
  };
  for (let it = 0; it < iters; it++) {
    solveSide(Y, nI, X, byUser, nU);
    solveSide(X, nU, Y, byItem, nI);
  }
  const cats = categoryCsr(train);
  const pop = new Float32Array(nI);
  const counts = train.itemCounts();
  const coldT = options.coldThreshold ?? 3;
  const cold = new Uint8Array(nI);
  for (let i = 0; i < nI; i++) {
    pop[i] = counts[i]!;
    cold[i] = counts[i]! < coldT ? 1 : 0;
  }
  let vectors = Y;
  let dim = d;
  const emb = options.embeddings;
  if (emb) {
    dim = d + emb.dim;
    vectors = new Float32Array(nI * dim);
    for (let i = 0; i < nI; i++) {
      vectors.set(Y.subarray(i * d, i * d + d), i * dim);
      vectors.set(emb.vectors.subarray(i * emb.dim, i * emb.dim + emb.dim), i * dim + d);
    }
  }
  let userVectors = X;
  if (emb) {
    userVectors = new Float32Array(nU * dim);
    for (let u = 0; u < nU; u++) userVectors.set(X.subarray(u * d, u * d + d), u * dim);
  }
  return {
    items: { nItems: nI, dim, vectors, categoryNames: cats.names, catIndptr: cats.indptr, catIndices: cats.indices, popularity: pop, cold, meanValue: itemMeanValues(train) },
    userVectors,
  };
}
