/**
 * Neighbourhood models on implicit feedback, cosine similarity with shrinkage:
 *   sim(a, b) = a·b / (‖a‖‖b‖ + shrink)
 *
 * Item-kNN follows implicit's CosineRecommender (the P1 peer): item vectors over users are
 * normalised, each item keeps its K most similar items (itself included, as implicit does — it
 * only ever scores seen items, which are excluded), and a user's scores are their row times the
 * neighbour matrix: score(j) = Σ_{i ∈ user} r_ui · S[i, j].
 *
 * User-kNN finds the K users most similar to the target user at scoring time (so a new user or a
 * session, given as a `UserState`, is scored the same way as a training user) and sums their rows
 * weighted by similarity.
 *
 * Similarities are built sparsely from the CSR views: for each item, co-occurrence counts are
 * accumulated in one dense row buffer over the items its users touched, never an item × item
 * matrix (knn-rows.ts; rows split over worker threads on big inputs, knn-worker.ts).
 *
 * Item-kNN is trend-aware on request (time-window.ts): `windowDays` builds the similarities from
 * the interactions of the last N days before the newest one only (what is co-consumed lately;
 * a user's whole history still scores, but an item with no interaction in the window has no
 * neighbours), and
 * `halfLifeDays` weights each interaction by 2^(−age/half-life), age measured back from that
 * user's newest interaction, in the similarities and in the user's scoring row alike (pairs far
 * apart in a user's history, and a user's old items, count less). Either may be 'auto'.
 */
import { z } from 'zod';
import type { Csr, Dataset } from '../data/dataset.js';
import { dpCountsConfigSchema, parseDp, PLAIN_COUNTS, refuseWithDp, type PrivacyReport } from '../privacy/config.js';
import { boundUserItems, gramSensitivity, noisyGram, planCounts, type DpCountsPlan } from '../privacy/dp-counts.js';
import { Rng } from '../util/rng.js';
import { topK } from '../util/topk.js';
import { defaultThreads, WorkerPool, workerUrl } from '../util/workers.js';
import { BaseRecommender } from './base.js';
import { checkDenseMemory } from './dense-memory.js';
import { itemSimRows, itemSimWork, splitByWork, type ItemSimInput, type ItemSimRows } from './knn-rows.js';
import { typedField } from './saved-state.js';
import {
  decayByUserAge,
  decayRate,
  newestPerUser,
  recentSubset,
  requireTimestamps,
  resolveTimeConfig,
  TIME_DEFAULTS,
  timeConfigShape,
  type TimeTrial,
} from './time-window.js';
import type { FitOptions, UserRef } from './types.js';

export const knnConfigSchema = z.strictObject({
  /** Neighbours kept per item (item-kNN) or used per user (user-kNN). */
  k: z.number().int().positive(),
  /** Added to the cosine denominator: damps similarities built on few co-occurrences. */
  shrink: z.number().min(0),
  /** Treat every interaction as 1 (default) instead of using its value (play count, rating). */
  binary: z.boolean(),
});
export type KnnConfig = z.infer<typeof knnConfigSchema>;
export const KNN_DEFAULTS: KnnConfig = { k: 100, shrink: 0, binary: true };

export const itemKnnConfigSchema = knnConfigSchema.extend({
  /** Worker threads for the similarity build: 0 = automatic (2 where the work pays for them, else 1). */
  threads: z.number().int().min(0).max(16),
  ...timeConfigShape,
  /**
   * Differential privacy (docs/privacy.md): similarities from the noisy Gram matrix of user-bounded
   * binary rows; items whose noisy count is under 3σ get no neighbours and are no one's neighbour.
   */
  dp: dpCountsConfigSchema.optional(),
});
export type ItemKnnConfig = z.infer<typeof itemKnnConfigSchema>;
export const ITEMKNN_DEFAULTS: ItemKnnConfig = { ...KNN_DEFAULTS, threads: 0, ...TIME_DEFAULTS };

/**
 * Σ n_u² (accumulations) above which a second thread is started: about 1 s of single-threaded
 * work. Below it (ml-latest-small's P1 train is 39 M, ≈ 0.6 s) starting a worker, and under tsx
 * loading its sources, costs about what it saves.
 */
const THREADS_MIN_WORK = 100_000_000;

function toShared<T extends Int32Array | Float32Array | Float64Array>(a: T): T {
  const ctor = a.constructor as { new (b: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number };
  const out = new ctor(new SharedArrayBuffer(Math.max(1, a.length) * ctor.BYTES_PER_ELEMENT));
  out.set(a as ArrayLike<number>);
  return a.length === 0 ? (out.subarray(0, 0) as T) : out;
}

/** Interaction weights of a CSR under the config (1s when binary). */
function weightsOf(csr: Csr, binary: boolean): Float32Array {
  return binary ? new Float32Array(csr.indices.length).fill(1) : Float32Array.from(csr.values);
}

function rowNorms(indptr: Int32Array, w: Float32Array, rows: number): Float64Array {
  const n = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let p = indptr[r]!; p < indptr[r + 1]!; p++) s += w[p]! * w[p]!;
    n[r] = Math.sqrt(s);
  }
  return n;
}

/** The user's items and weights, from the training rows or from a state. */
function userRow(
  user: UserRef,
  indptr: Int32Array,
  indices: Int32Array,
  weights: Float32Array,
  nUsers: number,
  binary: boolean,
): { items: Int32Array; w: Float32Array } {
  if (typeof user !== 'number') {
    const w = binary || !user.values ? new Float32Array(user.items.length).fill(1) : user.values;
    return { items: user.items, w };
  }
  if (user < 0 || user >= nUsers) return { items: new Int32Array(0), w: new Float32Array(0) };
  const a = indptr[user]!;
  const b = indptr[user + 1]!;
  return { items: indices.subarray(a, b), w: weights.subarray(a, b) };
}

export class ItemKnn extends BaseRecommender<ItemKnnConfig> {
  readonly kind = 'itemknn';
  readonly version = 1;
  /** Neighbour matrix S, CSR by source item. */
  private simIndptr: Int32Array = new Int32Array(1);
  private simIndices: Int32Array = new Int32Array(0);
  private simValues: Float32Array = new Float32Array(0);
  /** Training interaction weights, aligned with the base's seen CSR. */
  private userWeights: Float32Array = new Float32Array(0);
  /** The config as given: 'auto' fields are chosen again on every fit. */
  private readonly requested: ItemKnnConfig;
  private trials: TimeTrial[] = [];

  constructor(config: Partial<ItemKnnConfig> = {}) {
    super({ ...ITEMKNN_DEFAULTS, ...config });
    this.requested = this.config;
  }

  /** The validation NDCG@10 of each grid point tried by the last fit (empty when nothing was 'auto'). */
  get timeTrials(): readonly TimeTrial[] {
    return this.trials;
  }


  protected async fitModel(train: Dataset, options: FitOptions): Promise<void> {
    if (this.requested.dp) return this.fitPrivate(train, parseDp(dpCountsConfigSchema, this.requested.dp, 'itemknn'), options);
    const { config, trials } = await resolveTimeConfig(train, 'itemknn', this.requested, (c) => new ItemKnn(c), options.onProgress);
    // The stamp prints `config`: it must show the window and half-life actually used, so the
    // chosen values replace 'auto' (the field is readonly to callers, not to the model).
    (this as { config: Readonly<ItemKnnConfig> }).config = Object.freeze(config);
    this.trials = trials;
    const { k, shrink, binary, windowDays, halfLifeDays } = config;
    if (windowDays > 0) requireTimestamps(train, 'itemknn', 'windowDays');
    if (halfLifeDays > 0) requireTimestamps(train, 'itemknn', 'halfLifeDays');
    // The similarities come from the window; the scoring rows (and seen items) from all of train.
    const simData = windowDays > 0 ? recentSubset(train, windowDays) : train;
    const byUser = simData.byUser();
    const byItem = simData.byItem();
    const nItems = train.nItems;
    const uw = weightsOf(byUser, binary);
    const iw = weightsOf(byItem, binary);
    const rate = decayRate(halfLifeDays);
    const newest = rate > 0 ? newestPerUser(train) : undefined;
    if (newest) {
      decayByUserAge(byUser, simData, uw, newest, rate, true);
      decayByUserAge(byItem, simData, iw, newest, rate, false);
    }
    let scoreWeights = uw;
    if (simData !== train) {
      scoreWeights = weightsOf(train.byUser(), binary);
      if (newest) decayByUserAge(train.byUser(), train, scoreWeights, newest, rate, true);
    }
    let threads = this.config.threads;
    if (threads === 0) threads = itemSimWork(byUser.indptr) >= THREADS_MIN_WORK ? defaultThreads(2) : 1;
    threads = Math.max(1, Math.min(threads, nItems));
    // With workers, the inputs go to shared memory once; each thread reads them without a copy.
    const share = <T extends Int32Array | Float32Array | Float64Array>(a: T): T => (threads > 1 ? toShared(a) : a);
    const input: ItemSimInput = {
      uIndptr: share(byUser.indptr),
      uIndices: share(byUser.indices),
      uWeights: share(uw),
      iIndptr: share(byItem.indptr),
      iUsers: share(byItem.indices),
      iWeights: share(iw),
      norms: share(rowNorms(byItem.indptr, iw, nItems)),
      k,
      shrink,
    };
    const cuts = threads > 1 ? splitByWork(input, threads) : [0, nItems];
    let done = 0;
    const report = (n: number): void => {
      done += n;
      options.onProgress?.(done, nItems, 'item');
    };
    let parts: ItemSimRows[];
    if (threads > 1) {
      const pool = new WorkerPool(workerUrl(import.meta.url, './knn-worker.js'), threads - 1, input);
      try {
        const waits: Promise<ItemSimRows>[] = [];
        for (let w = 0; w < pool.size; w++) {
          const from = cuts[w + 1]!;
          const to = cuts[w + 2]!;
          waits.push(pool.run<ItemSimRows>(w, { from, to }).then((r) => (report(to - from), r)));
        }
        let last = 0;
        const mine = itemSimRows(input, cuts[0]!, cuts[1]!, (d) => {
          report(d - last);
          last = d;
        });
        parts = [mine, ...(await Promise.all(waits))];
      } finally {
        await pool.close();
      }
    } else {
      let last = 0;
      parts = [
        itemSimRows(input, 0, nItems, (d) => {
          report(d - last);
          last = d;
        }, Math.max(1, Math.floor(nItems / 100))),
      ];
    }
    // Concatenate the row ranges in order.
    let nnz = 0;
    for (const p of parts) nnz += p.indices.length;
    const indptr = new Int32Array(nItems + 1);
    const indices = new Int32Array(nnz);
    const values = new Float32Array(nnz);
    let row = 0;
    let off = 0;
    for (const p of parts) {
      for (let r = 0; r < p.counts.length; r++, row++) indptr[row + 1] = indptr[row]! + p.counts[r]!;
      indices.set(p.indices, off);
      values.set(p.values, off);
      off += p.indices.length;
    }
    this.simIndptr = indptr;
    this.simIndices = indices;
    this.simValues = values;
    this.userWeights = scoreWeights;
  }

  /**
   * The DP path: cosine similarities a·b/(√(n_a n_b) + shrink) read off the noisy Gram matrix over
   * the whole catalogue (dp-counts.ts), K per kept item; the counts under the root are clamped to
   * ≥ 3σ, the keep threshold. Scoring rows stay each user's own binary items.
   */
  private async fitPrivate(train: Dataset, dp: NonNullable<ItemKnnConfig['dp']>, options: FitOptions): Promise<void> {
    const { k, shrink, binary, windowDays, halfLifeDays } = this.requested;
    refuseWithDp('itemknn', [['windowDays', windowDays, windowDays !== 0], ['halfLifeDays', halfLifeDays, halfLifeDays !== 0], ['binary', binary, !binary]], PLAIN_COUNTS);
    const nItems = train.nItems;
    checkDenseMemory('itemknn', nItems, 'catalogue items (dp releases the Gram matrix of every item)', 'use a smaller catalogue', 'dp');
    const m = dp.maxItemsPerUser;
    const { plan, sigma } = planCounts(dp, gramSensitivity(m), train.nUsers, 'itemknn');
    const rng = new Rng(dp.seed);
    const g = noisyGram(boundUserItems(train.byUser(), nItems, m, rng), nItems, sigma, rng);
    const floor = 3 * sigma;
    const root = new Float64Array(nItems);
    const kept = new Uint8Array(nItems);
    for (let i = 0; i < nItems; i++) {
      const c = g[i * nItems + i]!;
      kept[i] = c >= floor ? 1 : 0;
      root[i] = Math.sqrt(Math.max(c, floor));
    }
    const mask = new Uint8Array(nItems);
    for (let i = 0; i < nItems; i++) mask[i] = 1 - kept[i]!;
    const sims = new Float32Array(nItems);
    const indptr = new Int32Array(nItems + 1);
    const rowsI: Int32Array[] = [];
    const rowsV: Float32Array[] = [];
    for (let a = 0; a < nItems; a++) {
      if (kept[a]) {
        const ra = a * nItems;
        for (let b = 0; b < nItems; b++) sims[b] = g[ra + b]! / (root[a]! * root[b]! + shrink);
        const best = topK(sims, Math.min(k, nItems), mask);
        rowsI.push(best.items);
        rowsV.push(best.scores);
        indptr[a + 1] = indptr[a]! + best.items.length;
      } else indptr[a + 1] = indptr[a]!;
      if (a % 256 === 255) options.onProgress?.(a + 1, nItems, 'item');
    }
    const indices = new Int32Array(indptr[nItems]!);
    const values = new Float32Array(indptr[nItems]!);
    let off = 0;
    for (let r = 0; r < rowsI.length; r++) {
      indices.set(rowsI[r]!, off);
      values.set(rowsV[r]!, off);
      off += rowsI[r]!.length;
    }
    this.simIndptr = indptr;
    this.simIndices = indices;
    this.simValues = values;
    this.userWeights = weightsOf(train.byUser(), true);
    this.trials = [];
    (this as { config: Readonly<ItemKnnConfig> }).config = Object.freeze({ ...this.requested, dp: plan });
    options.onProgress?.(nItems, nItems, 'item');
  }

  /** The stored neighbours of item `i`, most similar first (itself included when it has any interaction). */
  neighbours(i: number): { items: Int32Array; scores: Float32Array } {
    this.assertFitted();
    const a = this.simIndptr[i]!;
    const b = this.simIndptr[i + 1]!;
    const order = Array.from({ length: b - a }, (_, t) => a + t).sort(
      (x, y) => this.simValues[y]! - this.simValues[x]! || this.simIndices[x]! - this.simIndices[y]!,
    );
    return { items: Int32Array.from(order, (p) => this.simIndices[p]!), scores: Float32Array.from(order, (p) => this.simValues[p]!) };
  }

  scoreAll(user: UserRef, out?: Float32Array): Float32Array {
    this.assertFitted();
    const o = out ?? new Float32Array(this.nItems);
    o.fill(0);
    const { items, w } = userRow(user, this.seenIndptr, this.seenIndices, this.userWeights, this.nUsers, this.config.binary);
    const sp = this.simIndptr;
    const si = this.simIndices;
    const sv = this.simValues;
    for (let t = 0; t < items.length; t++) {
      const i = items[t]!;
      if (i < 0 || i >= this.nItems) continue;
      const r = w[t]!;
      for (let p = sp[i]!; p < sp[i + 1]!; p++) o[si[p]!] += r * sv[p]!;
    }
    return o;
  }

  protected getState(): Record<string, unknown> {
    return { simIndptr: this.simIndptr, simIndices: this.simIndices, simValues: this.simValues, userWeights: this.userWeights };
  }

  protected setState(state: Record<string, unknown>): void {
    this.simIndptr = typedField(state, 'simIndptr', Int32Array, this.nItems + 1);
    const nnz = this.simIndptr[this.nItems]!;
    this.simIndices = typedField(state, 'simIndices', Int32Array, nnz);
    this.simValues = typedField(state, 'simValues', Float32Array, nnz);
    this.userWeights = typedField(state, 'userWeights', Float32Array, this.seenIndices.length);
  }
}

export class UserKnn extends BaseRecommender<KnnConfig> {
  readonly kind = 'userknn';
  readonly version = 1;
  /** CSR by item (rows = items, cols = users) with weights: who else touched an item. */
  private itemIndptr: Int32Array = new Int32Array(1);
  private itemUsers: Int32Array = new Int32Array(0);
  private itemWeights: Float32Array = new Float32Array(0);
  private userWeights: Float32Array = new Float32Array(0);
  private userNorms: Float64Array = new Float64Array(0);
  // Scratch buffers for scoring, sized to nUsers (scoring is synchronous, so one set suffices).
  private acc: Float64Array = new Float64Array(0);
  private touched: Int32Array = new Int32Array(0);
  private mark: Uint8Array = new Uint8Array(0);

  constructor(config: Partial<KnnConfig> = {}) {
    super({ ...KNN_DEFAULTS, ...config });
  }

  protected async fitModel(train: Dataset): Promise<void> {
    const byUser = train.byUser();
    const byItem = train.byItem();
    this.itemIndptr = byItem.indptr;
    this.itemUsers = byItem.indices;
    this.itemWeights = weightsOf(byItem, this.config.binary);
    this.userWeights = weightsOf(byUser, this.config.binary);
    this.userNorms = rowNorms(byUser.indptr, this.userWeights, train.nUsers);
    this.allocScratch(train.nUsers);
  }

  private allocScratch(nUsers: number): void {
    this.acc = new Float64Array(nUsers);
    this.touched = new Int32Array(nUsers);
    this.mark = new Uint8Array(nUsers);
  }

  /** The K most similar training users and their similarities, best first. */
  neighbours(user: UserRef): { users: Int32Array; scores: Float32Array } {
    this.assertFitted();
    const { items, w } = userRow(user, this.seenIndptr, this.seenIndices, this.userWeights, this.nUsers, this.config.binary);
    const acc = this.acc;
    const touched = this.touched;
    const mark = this.mark;
    let nt = 0;
    let norm = 0;
    for (let t = 0; t < items.length; t++) {
      const i = items[t]!;
      if (i < 0 || i >= this.nItems) continue;
      const wi = w[t]!;
      norm += wi * wi;
      for (let p = this.itemIndptr[i]!; p < this.itemIndptr[i + 1]!; p++) {
        const v = this.itemUsers[p]!;
        if (mark[v] === 0) {
          mark[v] = 1;
          touched[nt++] = v;
        }
        acc[v] += wi * this.itemWeights[p]!;
      }
    }
    norm = Math.sqrt(norm);
    const shrink = this.config.shrink;
    for (let t = 0; t < nt; t++) {
      const v = touched[t]!;
      const d = norm * this.userNorms[v]! + shrink;
      acc[v] = d > 0 ? acc[v]! / d : 0;
    }
    // A training user is not their own neighbour.
    if (typeof user === 'number' && user >= 0 && user < this.nUsers && nt > 0) acc[user] = -Infinity;
    const best = topK(acc, this.config.k, undefined, touched.subarray(0, nt));
    for (let t = 0; t < nt; t++) {
      acc[touched[t]!] = 0;
      mark[touched[t]!] = 0;
    }
    return { users: best.items, scores: best.scores };
  }

  scoreAll(user: UserRef, out?: Float32Array): Float32Array {
    this.assertFitted();
    const o = out ?? new Float32Array(this.nItems);
    o.fill(0);
    const nb = this.neighbours(user);
    for (let t = 0; t < nb.users.length; t++) {
      const v = nb.users[t]!;
      const s = nb.scores[t]!;
      for (let p = this.seenIndptr[v]!; p < this.seenIndptr[v + 1]!; p++) o[this.seenIndices[p]!] += s * this.userWeights[p]!;
    }
    return o;
  }

  protected getState(): Record<string, unknown> {
    return { itemIndptr: this.itemIndptr, itemUsers: this.itemUsers, itemWeights: this.itemWeights, userWeights: this.userWeights };
  }

  protected setState(state: Record<string, unknown>): void {
    this.itemIndptr = typedField(state, 'itemIndptr', Int32Array, this.nItems + 1);
    const nnz = this.seenIndices.length;
    this.itemUsers = typedField(state, 'itemUsers', Int32Array, nnz);
    this.itemWeights = typedField(state, 'itemWeights', Float32Array, nnz);
    this.userWeights = typedField(state, 'userWeights', Float32Array, nnz);
    this.userNorms = rowNorms(this.seenIndptr, this.userWeights, this.nUsers);
    this.allocScratch(this.nUsers);
  }
}
