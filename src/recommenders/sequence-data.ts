/**
 * Training data for next-item models: each user's training items in time order (the Dataset's
 * by-user CSR is already ordered by timestamp), cut into windows of at most `maxLen` inputs, and
 * batched by length so a batch carries little padding.
 *
 * A user with items s₀ … s_{n−1} gives inputs s₀ … s_{n−2} with targets s₁ … s_{n−1}. Longer
 * histories than maxLen are cut from the end into several windows, so every interaction is a
 * target once (SASRec keeps only the last window; that throws away most of a heavy user's data).
 *
 * A `horizon` above 1 trains each position on an item drawn from the next `horizon` ones instead of
 * the very next (the "all-action" objective of Pancha et al. 2022, PinnerFormer): a model ranked
 * on a user's next several items, as P1's test set is, learns the longer-range taste that way,
 * and less of the order of items rated in the same second (P1 breaks such ties by item id).
 */
import type { Rng } from '../util/rng.js';

/** Window w covers input positions [from[w], to[w]) of user[w]'s sequence (targets one step on). */
export interface Windows {
  user: Int32Array;
  from: Int32Array;
  to: Int32Array;
  count: number;
}

export function buildWindows(indptr: Int32Array, nUsers: number, maxLen: number): Windows {
  const user: number[] = [];
  const from: number[] = [];
  const to: number[] = [];
  for (let u = 0; u < nUsers; u++) {
    const n = indptr[u + 1]! - indptr[u]!;
    for (let b = n - 1; b > 0; b -= maxLen) {
      user.push(u);
      from.push(Math.max(0, b - maxLen));
      to.push(b);
    }
  }
  return { user: Int32Array.from(user), from: Int32Array.from(from), to: Int32Array.from(to), count: user.length };
}

/** One padded batch: B sequences × T steps, left-padded; P target rows. Buffers are reused. */
export class SeqBatch {
  B = 0;
  T = 0;
  P = 0;
  tokens = new Int32Array(0);
  start = new Int32Array(0);
  /** Row (b·T + t) of each target and the target's token. */
  rows = new Int32Array(0);
  targets = new Int32Array(0);

  /**
   * Fill from windows order[lo..hi) of `win` over the user sequences (indptr/items: the CSR).
   * The target of input position t is item t + 1 when `horizon` is 1; with a larger horizon it is
   * drawn uniformly from the next `horizon` items (t + 1 … t + horizon, within the user's sequence).
   */
  fill(win: Windows, order: Int32Array, lo: number, hi: number, indptr: Int32Array, items: Int32Array, horizon = 1, rng: Rng | null = null): void {
    const B = hi - lo;
    let T = 0;
    for (let k = lo; k < hi; k++) T = Math.max(T, win.to[order[k]!]! - win.from[order[k]!]!);
    this.B = B;
    this.T = T;
    if (this.tokens.length < B * T) {
      this.tokens = new Int32Array(B * T * 2);
      this.rows = new Int32Array(B * T * 2);
      this.targets = new Int32Array(B * T * 2);
    }
    if (this.start.length < B) this.start = new Int32Array(B * 2);
    let P = 0;
    for (let b = 0; b < B; b++) {
      const w = order[lo + b]!;
      const base = indptr[win.user[w]!]!;
      const n = indptr[win.user[w]! + 1]! - base;
      const a = win.from[w]!;
      const len = win.to[w]! - a;
      const s = T - len;
      this.start[b] = s;
      this.tokens.fill(0, b * T, b * T + s);
      for (let t = 0; t < len; t++) {
        const row = b * T + s + t;
        this.tokens[row] = items[base + a + t]! + 1;
        this.rows[P] = row;
        const ahead = horizon > 1 && rng ? 1 + rng.int(Math.min(horizon, n - 1 - a - t)) : 1;
        this.targets[P++] = items[base + a + t + ahead]! + 1;
      }
    }
    this.P = P;
  }
}

/**
 * Window order for one epoch: by length with a random jitter of ±`jitter` steps, so batches hold
 * sequences of similar length (little padding) yet differ from epoch to epoch; then the batches
 * themselves are visited in random order. Returns batch boundaries into `order`.
 */
export function epochBatches(win: Windows, batchSize: number, rng: Rng, order: Int32Array, jitter = 8): Int32Array {
  const key = new Float64Array(win.count);
  for (let w = 0; w < win.count; w++) {
    order[w] = w;
    key[w] = win.to[w]! - win.from[w]! + (rng.next() * 2 - 1) * jitter;
  }
  const sorted = Array.from(order.subarray(0, win.count)).sort((a, b) => key[a]! - key[b]!);
  const nBatches = Math.ceil(win.count / batchSize);
  const perm = rng.shuffle(Int32Array.from({ length: nBatches }, (_, i) => i));
  const bounds = new Int32Array(nBatches + 1);
  let k = 0;
  for (let i = 0; i < nBatches; i++) {
    const lo = perm[i]! * batchSize;
    const hi = Math.min(win.count, lo + batchSize);
    for (let w = lo; w < hi; w++) order[k++] = sorted[w]!;
    bounds[i + 1] = k;
  }
  return bounds;
}

/**
 * Draw n distinct negative tokens uniformly over the active items (items with a training
 * interaction); `taken` (one byte per token, all 0) marks draws and is cleared again. With n at or
 * above the number of active items, every active item is taken once.
 */
export function sampleNegatives(active: Int32Array, n: number, rng: Rng, out: Int32Array, taken: Uint8Array): number {
  const m = Math.min(n, active.length);
  if (m === active.length) {
    for (let k = 0; k < m; k++) out[k] = active[k]! + 1;
    return m;
  }
  // Rejection is cheap while m is a small share of the active items, which it is in practice.
  for (let k = 0; k < m; ) {
    const t = active[rng.int(active.length)]! + 1;
    if (taken[t]) continue;
    taken[t] = 1;
    out[k++] = t;
  }
  for (let k = 0; k < m; k++) taken[out[k]!] = 0;
  return m;
}
