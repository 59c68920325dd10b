/**
 * What a next-item model's encoder offers: a batch of left-padded token sequences in, one hidden
 * state per step out (B × T × dim, row b·T + t), a backward pass into the shared parameter store,
 * and the item table its output head scores against. `encodeHistory` turns one user's history
 * into a state vector — the recommenders' fold-in and an agent's state both use it.
 */
import { DataError } from '../../errors.js';
import type { Embedding } from './embedding.js';
import type { ParamStore } from './params.js';

export interface SequenceEncoder {
  readonly dim: number;
  /** Longest history the encoder reads (older items are dropped). */
  readonly maxLen: number;
  readonly store: ParamStore;
  /** Token table ((nItems + 1) × dim, token = item index + 1, 0 = padding). */
  readonly items: Embedding;
  /** Hidden states; tokens is B × T, start[b] the first real step of sequence b (left padding). */
  forward(tokens: Int32Array, B: number, T: number, start: Int32Array, train: boolean): Float32Array;
  /** Accumulate parameter gradients from dLoss/dHidden (B × T × dim). */
  backward(dHidden: Float32Array): void;
  /** Hold invariants after an optimiser step (the padding row stays zero). */
  afterStep(): void;
}

/** Reusable single-sequence buffers for `encodeHistory` (one per caller; not shared across threads). */
export class HistoryScratch {
  tokens = new Int32Array(0);
  readonly start = new Int32Array(1);
}

/**
 * The encoder's state after reading `items` (item indices, oldest first; only the last maxLen
 * are read) into out[0..dim): the hidden state at the last step, no dropout — or, with `pool` > 1,
 * the mean of the states at the last `pool` steps (a smoother, longer-range summary). An empty
 * history gives the zero vector. Same arithmetic for every caller, so equal histories give equal
 * states.
 */
export function encodeHistory(
  enc: SequenceEncoder,
  items: Int32Array,
  nItems: number,
  out: Float32Array,
  scratch = new HistoryScratch(),
  pool = 1,
): Float32Array {
  const d = enc.dim;
  const T = Math.min(items.length, enc.maxLen);
  if (T === 0) return out.fill(0, 0, d);
  if (scratch.tokens.length < T) scratch.tokens = new Int32Array(enc.maxLen);
  const from = items.length - T;
  for (let t = 0; t < T; t++) {
    const i = items[from + t]!;
    if (!(i >= 0 && i < nItems)) throw new DataError(`item index ${i} is out of range 0..${nItems - 1}`, { field: `items[${from + t}]` });
    scratch.tokens[t] = i + 1;
  }
  scratch.start[0] = 0;
  const h = enc.forward(scratch.tokens, 1, T, scratch.start, false);
  const m = Math.max(1, Math.min(pool, T));
  for (let j = 0; j < d; j++) {
    let s = 0;
    for (let t = T - m; t < T; t++) s += h[t * d + j]!;
    out[j] = s / m;
  }
  return out;
}
