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
 * matrix.
 */
import { z } from 'zod';
import type { Csr, Dataset } from '../data/dataset.js';
import { topK } from '../util/topk.js';
import { BaseRecommender } from './base.js';
import { typedField } from './saved-state.js';
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

/**
 * The `heapIdx.length` best of `acc[touched[0..nt)]` (higher score first, ties to the lower index,
 * as util/topk does) into heapIdx/heapVal, unordered; returns how many were kept. A min-heap with
 * an inline rejection test: most candidates lose to the root and cost one comparison. Allocates
 * nothing (it runs once per item).
 */
function selectTopK(acc: Float64Array, touched: Int32Array, nt: number, heapIdx: Int32Array, heapVal: Float64Array): number {
  const k = heapIdx.length;
  let size = 0;
  for (let t = 0; t < nt; t++) {
    const i = touched[t]!;
    const s = acc[i]!;
    if (size === k) {
      const rv = heapVal[0]!;
      if (k === 0 || s < rv || (s === rv && i > heapIdx[0]!)) continue;
      // Replace the root (the worst kept) and sift down.
      let j = 0;
      for (;;) {
        const l = 2 * j + 1;
        if (l >= size) break;
        const r = l + 1;
        const m = r < size && worse(heapVal[r]!, heapIdx[r]!, heapVal[l]!, heapIdx[l]!) ? r : l;
        if (worse(heapVal[m]!, heapIdx[m]!, s, i)) {
          heapVal[j] = heapVal[m]!;
          heapIdx[j] = heapIdx[m]!;
          j = m;
        } else break;
      }
      heapVal[j] = s;
      heapIdx[j] = i;
    } else {
      let j = size++;
      while (j > 0) {
        const p = (j - 1) >> 1;
        if (worse(s, i, heapVal[p]!, heapIdx[p]!)) {
          heapVal[j] = heapVal[p]!;
          heapIdx[j] = heapIdx[p]!;
          j = p;
        } else break;
      }
      heapVal[j] = s;
      heapIdx[j] = i;
    }
  }
  return size;
}

/** Is (s1, i1) ranked below (s2, i2)? */
function worse(s1: number, i1: number, s2: number, i2: number): boolean {
  return s1 < s2 || (s1 === s2 && i1 > i2);
}

export class ItemKnn extends BaseRecommender<KnnConfig> {
  readonly kind = 'itemknn';
  readonly version = 1;
  /** Neighbour matrix S, CSR by source item. */
  private simIndptr: Int32Array = new Int32Array(1);
  private simIndices: Int32Array = new Int32Array(0);
  private simValues: Float32Array = new Float32Array(0);
  /** Training interaction weights, aligned with the base's seen CSR. */
  private userWeights: Float32Array = new Float32Array(0);

  constructor(config: Partial<KnnConfig> = {}) {
    super({ ...KNN_DEFAULTS, ...config });
  }

  protected async fitModel(train: Dataset, options: FitOptions): Promise<void> {
    const { k, shrink, binary } = this.config;
    const byUser = train.byUser();
    const byItem = train.byItem();
    const nItems = train.nItems;
    const uw = weightsOf(byUser, binary);
    const iw = weightsOf(byItem, binary);
    const norms = rowNorms(byItem.indptr, iw, nItems);

    const acc = new Float64Array(nItems);
    const touched = new Int32Array(nItems);
    const mark = new Uint8Array(nItems);
    const indptr = new Int32Array(nItems + 1);
    const kk = Math.min(k, nItems);
    const heapIdx = new Int32Array(kk);
    const heapVal = new Float64Array(kk);
    // At most k neighbours per item; trimmed at the end.
    let cap = Math.min(nItems * Math.min(k, nItems), 1 << 20);
    let indices = new Int32Array(cap);
    let values = new Float32Array(cap);
    let nnz = 0;
    const step = Math.max(1, Math.floor(nItems / 100));
    for (let i = 0; i < nItems; i++) {
      let nt = 0;
      for (let p = byItem.indptr[i]!; p < byItem.indptr[i + 1]!; p++) {
        const u = byItem.indices[p]!;
        const w1 = iw[p]!;
        for (let q = byUser.indptr[u]!; q < byUser.indptr[u + 1]!; q++) {
          const j = byUser.indices[q]!;
          if (mark[j] === 0) {
            mark[j] = 1;
            touched[nt++] = j;
          }
          acc[j] += w1 * uw[q]!;
        }
      }
      const ni = norms[i]!;
      for (let t = 0; t < nt; t++) {
        const j = touched[t]!;
        const d = ni * norms[j]! + shrink;
        acc[j] = d > 0 ? acc[j]! / d : 0;
      }
      const kept = selectTopK(acc, touched, nt, heapIdx, heapVal);
      if (nnz + kept > cap) {
        cap = Math.max(cap * 2, nnz + kept);
        const ni2 = new Int32Array(cap);
        ni2.set(indices.subarray(0, nnz));
        indices = ni2;
        const nv2 = new Float32Array(cap);
        nv2.set(values.subarray(0, nnz));
        values = nv2;
      }
      for (let t = 0; t < kept; t++) {
        indices[nnz + t] = heapIdx[t]!;
        values[nnz + t] = heapVal[t]!;
      }
      nnz += kept;
      indptr[i + 1] = nnz;
      for (let t = 0; t < nt; t++) {
        const j = touched[t]!;
        acc[j] = 0;
        mark[j] = 0;
      }
      if (options.onProgress && ((i + 1) % step === 0 || i + 1 === nItems)) options.onProgress(i + 1, nItems, 'item');
    }
    this.simIndptr = indptr;
    this.simIndices = indices.slice(0, nnz);
    this.simValues = values.slice(0, nnz);
    this.userWeights = uw;
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
