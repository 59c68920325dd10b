/**
 * Multi-head causal self-attention (Vaswani et al. 2017) over a batch of left-padded sequences.
 *
 * Rows are batch-major (row b·T + t is step t of sequence b). One fused projection gives Q, K, V
 * (rows × 3d, head h at columns h·dh of each third); per sequence and head,
 * S = Q·Kᵀ/√dh, P = softmax(S) over the allowed keys, O = P·V; then an output projection.
 * Step t of sequence b may attend to keys j with start[b] ≤ j ≤ t (never a later item, never
 * padding); a padding query attends only to itself so its row stays finite (its output is never
 * used). P is kept for the backward pass.
 *
 * The GEMM binding takes whole arrays and row strides, not offsets, so each (sequence, head)
 * product is given subarray views: a few small objects per call against ≈ T²·dh multiply-adds.
 */
import { ConfigError } from '../../errors.js';
import { kernels } from '../kernels.js';
import { Dropout } from './dropout.js';
import { Linear } from './linear.js';
import { grow, type ParamStore } from './params.js';
import type { Rng } from '../../util/rng.js';

export class CausalSelfAttention {
  readonly qkv: Linear;
  readonly out: Linear;
  readonly dh: number;
  private readonly drop: Dropout;
  private probs: Float32Array = new Float32Array(0);
  private ctx: Float32Array = new Float32Array(0);
  private dqkv: Float32Array = new Float32Array(0);
  private dp: Float32Array = new Float32Array(0);
  private qkvOut: Float32Array = new Float32Array(0);
  private B = 0;
  private T = 0;
  private start: Int32Array = new Int32Array(0);

  constructor(
    store: ParamStore,
    name: string,
    readonly dim: number,
    readonly heads: number,
    dropout: number,
    rng: Rng,
  ) {
    if (!Number.isInteger(heads) || heads < 1 || dim % heads !== 0) {
      throw new ConfigError(`attention: dim ${dim} must be a multiple of heads ${heads}`, 'heads');
    }
    this.dh = dim / heads;
    this.qkv = new Linear(store, `${name}.qkv`, dim, 3 * dim);
    this.out = new Linear(store, `${name}.out`, dim, dim);
    this.drop = new Dropout(dropout, rng);
  }

  /** rows = B·T; x is B × T × dim; start[b] is the first non-padding step of sequence b. */
  forward(x: Float32Array, B: number, T: number, start: Int32Array, train: boolean): Float32Array {
    const { dim, heads, dh } = this;
    const rows = B * T;
    this.B = B;
    this.T = T;
    this.start = start;
    const qkv = this.qkv.forward(x, rows);
    this.qkvOut = qkv;
    this.probs = grow(this.probs, B * heads * T * T);
    this.ctx = grow(this.ctx, rows * dim);
    const k = kernels();
    const scale = 1 / Math.sqrt(dh);
    const d3 = 3 * dim;
    for (let b = 0; b < B; b++) {
      const s0 = start[b]!;
      for (let h = 0; h < heads; h++) {
        const po = (b * heads + h) * T * T;
        const P = this.probs.subarray(po, po + T * T);
        const base = b * T * d3 + h * dh;
        const Q = qkv.subarray(base);
        const K = qkv.subarray(base + dim);
        const V = qkv.subarray(base + 2 * dim);
        k.sgemm(false, true, T, T, dh, scale, Q, d3, K, d3, 0, P, T);
        maskedSoftmaxRows(P, T, s0);
        k.sgemm(false, false, T, dh, T, 1, P, T, V, d3, 0, this.ctx.subarray(b * T * dim + h * dh), dim);
      }
    }
    const y = this.out.forward(this.ctx, rows);
    return this.drop.forward(y, rows * dim, train);
  }

  /** dX (B × T × dim) from dY; accumulates the projections' gradients. */
  backward(dy: Float32Array): Float32Array {
    const { dim, heads, dh, B, T } = this;
    const rows = B * T;
    const dctx = this.out.backward(this.drop.backward(dy));
    this.dqkv = grow(this.dqkv, rows * 3 * dim);
    this.dp = grow(this.dp, T * T);
    const { dqkv, dp } = this;
    const qkv = this.qkvOut;
    const k = kernels();
    const scale = 1 / Math.sqrt(dh);
    const d3 = 3 * dim;
    for (let b = 0; b < B; b++) {
      const s0 = this.start[b]!;
      for (let h = 0; h < heads; h++) {
        const po = (b * heads + h) * T * T;
        const P = this.probs.subarray(po, po + T * T);
        const base = b * T * d3 + h * dh;
        const dO = dctx.subarray(b * T * dim + h * dh);
        // dP = dO·Vᵀ; dV = Pᵀ·dO
        k.sgemm(false, true, T, T, dh, 1, dO, dim, qkv.subarray(base + 2 * dim), d3, 0, dp, T);
        k.sgemm(true, false, T, dh, T, 1, P, T, dO, dim, 0, dqkv.subarray(base + 2 * dim), d3);
        softmaxBackwardRows(P, dp, T, s0);
        // dS is now in dp: dQ = dS·K·scale; dK = dSᵀ·Q·scale
        k.sgemm(false, false, T, dh, T, scale, dp, T, qkv.subarray(base + dim), d3, 0, dqkv.subarray(base), d3);
        k.sgemm(true, false, T, dh, T, scale, dp, T, qkv.subarray(base), d3, 0, dqkv.subarray(base + dim), d3);
      }
    }
    return this.qkv.backward(dqkv);
  }

  /** Attention weights of the last forward pass for sequence b, head h (T × T, row = query). */
  weights(b: number, h: number): Float32Array {
    const T = this.T;
    const po = (b * this.heads + h) * T * T;
    return this.probs.subarray(po, po + T * T);
  }
}

/** Row-wise softmax of S (T × T) over keys [lo, t] for query t ≥ s0 (lo = s0), [t, t] below s0; other entries 0. */
function maskedSoftmaxRows(S: Float32Array, T: number, s0: number): void {
  for (let t = 0; t < T; t++) {
    const o = t * T;
    const lo = t < s0 ? t : s0;
    let mx = -Infinity;
    for (let j = lo; j <= t; j++) if (S[o + j]! > mx) mx = S[o + j]!;
    let sum = 0;
    for (let j = lo; j <= t; j++) {
      const e = Math.exp(S[o + j]! - mx);
      S[o + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < lo; j++) S[o + j] = 0;
    for (let j = lo; j <= t; j++) S[o + j]! *= inv;
    for (let j = t + 1; j < T; j++) S[o + j] = 0;
  }
}

/** In place: dP → dS = P ⊙ (dP − Σ_j P·dP) on the allowed keys, 0 elsewhere. */
function softmaxBackwardRows(P: Float32Array, dP: Float32Array, T: number, s0: number): void {
  for (let t = 0; t < T; t++) {
    const o = t * T;
    const lo = t < s0 ? t : s0;
    let dot = 0;
    for (let j = lo; j <= t; j++) dot += P[o + j]! * dP[o + j]!;
    for (let j = 0; j < lo; j++) dP[o + j] = 0;
    for (let j = lo; j <= t; j++) dP[o + j] = P[o + j]! * (dP[o + j]! - dot);
    for (let j = t + 1; j < T; j++) dP[o + j] = 0;
  }
}
