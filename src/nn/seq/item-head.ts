/**
 * The output side of a next-item model: each position's hidden state h scored against item
 * embeddings (the encoder's own table, shared with the input as in SASRec) by a dot product,
 * then one of the sequence losses.
 *
 * Sampled: the columns are [the position's true next item, N distinct negatives shared by the
 * batch], drawn by the caller; a negative equal to a row's positive is left out of that row.
 * Full: the columns are the whole catalogue (every item token); only softmax makes sense there.
 * Both run their products through the kernels' GEMM. Sampled softmax runs as one native call
 * (src/nn/native/seqtrain.c) when the addon has it: the same numbers to the last bit, in about
 * 0.7× the JS head's time with 1,024 negatives (the three GEMMs, shared by both, are most of it).
 */
import { kernels, sampledSoftmaxHeadKernel, type SampledSoftmaxHead } from '../kernels.js';
import { grow, type ParamBlock } from './params.js';
import { binaryCrossEntropy, bprMax, softmaxCrossEntropy, type SeqLossKind } from './seq-losses.js';

export class ItemHead {
  private logits: Float32Array = new Float32Array(0);
  private dlogits: Float32Array = new Float32Array(0);
  private skip = new Int32Array(0);
  /** Column of each token among the current negatives (1-based; 0 = not a negative). */
  private negCol = new Int32Array(0);
  private negEmb: Float32Array = new Float32Array(0);
  private dneg: Float32Array = new Float32Array(0);
  private hRows: Float32Array = new Float32Array(0);
  private dhRows: Float32Array = new Float32Array(0);
  private targetCols = new Int32Array(0);
  private scratch: Float32Array = new Float32Array(0);
  private stats: Float64Array = new Float64Array(0);
  /** The native sampled-softmax head, or null: the JS code below (no addon, another loss, or `native` false). */
  private readonly fused: SampledSoftmaxHead | null;

  /** `native` false keeps sampled softmax in JS (the tests' twin of the native head). */
  constructor(
    private readonly table: ParamBlock,
    readonly dim: number,
    readonly loss: SeqLossKind,
    readonly bprMaxReg = 1,
    native = true,
  ) {
    this.fused = native && loss === 'softmax' ? sampledSoftmaxHeadKernel() : null;
  }

  /**
   * Loss over the positions `rows[0..P)` of hidden states H (row-major, dim wide) with true next
   * tokens `targets[0..P)` and shared negative tokens `negatives` (null: full catalogue of
   * `nTokens − 1` items). Adds dLoss/dH into dH (same rows) and the table's gradient.
   */
  lossAndGrad(
    H: Float32Array,
    dH: Float32Array,
    rows: Int32Array,
    targets: Int32Array,
    P: number,
    negatives: Int32Array | null,
    nTokens: number,
  ): number {
    const d = this.dim;
    const k = kernels();
    const E = this.table.w;
    const gE = this.table.g;
    if (negatives !== null && this.fused) return this.fusedLossAndGrad(this.fused, H, dH, rows, targets, P, negatives, nTokens);
    this.hRows = grow(this.hRows, P * d);
    this.dhRows = grow(this.dhRows, P * d);
    const { hRows, dhRows } = this;
    for (let p = 0; p < P; p++) {
      const src = rows[p]! * d;
      for (let j = 0; j < d; j++) hRows[p * d + j] = H[src + j]!;
    }
    let loss: number;
    if (negatives === null) {
      const C = nTokens - 1;
      this.logits = grow(this.logits, P * C);
      this.dlogits = grow(this.dlogits, P * C);
      if (this.targetCols.length < P) this.targetCols = new Int32Array(Math.ceil(P * 1.5));
      for (let p = 0; p < P; p++) this.targetCols[p] = targets[p]! - 1;
      const items = E.subarray(d);
      k.sgemm(false, true, P, C, d, 1, hRows, d, items, d, 0, this.logits, C);
      loss = softmaxCrossEntropy(this.logits, P, C, this.targetCols, null, this.dlogits);
      k.sgemm(false, false, P, d, C, 1, this.dlogits, C, items, d, 0, dhRows, d);
      k.sgemm(true, false, C, d, P, 1, this.dlogits, C, hRows, d, 1, gE.subarray(d), d);
    } else {
      const N = negatives.length;
      const C = N + 1;
      this.logits = grow(this.logits, P * C);
      this.dlogits = grow(this.dlogits, P * C);
      if (this.skip.length < P) this.skip = new Int32Array(Math.ceil(P * 1.5));
      if (this.negCol.length < nTokens) this.negCol = new Int32Array(nTokens);
      this.negEmb = grow(this.negEmb, N * d);
      this.dneg = grow(this.dneg, N * d);
      const { logits, dlogits, skip, negCol, negEmb, dneg } = this;
      for (let n = 0; n < N; n++) {
        const s = negatives[n]! * d;
        negCol[negatives[n]!] = n + 1;
        for (let j = 0; j < d; j++) negEmb[n * d + j] = E[s + j]!;
      }
      // Negatives into columns 1..N (a view one column in), positives into column 0.
      k.sgemm(false, true, P, N, d, 1, hRows, d, negEmb, d, 0, logits.subarray(1), C);
      for (let p = 0; p < P; p++) {
        const t = targets[p]!;
        const s = t * d;
        let dot = 0;
        for (let j = 0; j < d; j++) dot += hRows[p * d + j]! * E[s + j]!;
        logits[p * C] = dot;
        skip[p] = negCol[t]! > 0 ? negCol[t]! : -1;
      }
      for (let n = 0; n < N; n++) negCol[negatives[n]!] = 0;
      if (this.loss === 'softmax') loss = softmaxCrossEntropy(logits, P, C, null, skip, dlogits);
      else if (this.loss === 'bce') loss = binaryCrossEntropy(logits, P, C, skip, dlogits);
      else loss = bprMax(logits, P, C, skip, this.bprMaxReg, dlogits);
      // dH = dL[:, 1:]·E_neg + dL[:, 0]·E_pos; dE_neg = dL[:, 1:]ᵀ·H; dE_pos += dL[:, 0]·h.
      const dl1 = dlogits.subarray(1);
      k.sgemm(false, false, P, d, N, 1, dl1, C, negEmb, d, 0, dhRows, d);
      k.sgemm(true, false, N, d, P, 1, dl1, C, hRows, d, 0, dneg, d);
      for (let n = 0; n < N; n++) {
        const s = negatives[n]! * d;
        for (let j = 0; j < d; j++) gE[s + j]! += dneg[n * d + j]!;
      }
      for (let p = 0; p < P; p++) {
        const g0 = dlogits[p * C]!;
        const s = targets[p]! * d;
        for (let j = 0; j < d; j++) {
          dhRows[p * d + j]! += g0 * E[s + j]!;
          gE[s + j]! += g0 * hRows[p * d + j]!;
        }
      }
    }
    for (let p = 0; p < P; p++) {
      const dst = rows[p]! * d;
      for (let j = 0; j < d; j++) dH[dst + j]! += dhRows[p * d + j]!;
    }
    return loss;
  }

  /** The sampled-softmax branch above as one native call; the per-row log of the loss stays in JS (Math.log). */
  private fusedLossAndGrad(
    head: SampledSoftmaxHead,
    H: Float32Array,
    dH: Float32Array,
    rows: Int32Array,
    targets: Int32Array,
    P: number,
    negatives: Int32Array,
    nTokens: number,
  ): number {
    const d = this.dim;
    const N = negatives.length;
    this.scratch = grow(this.scratch, 2 * P * d + 2 * N * d + 2 * P * (N + 1));
    if (this.stats.length < 3 * P) this.stats = new Float64Array(Math.ceil(P * 1.5) * 3);
    if (this.negCol.length < nTokens) this.negCol = new Int32Array(nTokens);
    const { stats } = this;
    head(H, dH, rows, targets, P, negatives, this.table.w, this.table.g, d, nTokens, this.scratch, this.negCol, stats);
    // softmaxCrossEntropy's loss, summed in its order: Σ_p (max + log Σ exp(s − max)) − s⁺.
    let loss = 0;
    for (let p = 0; p < P; p++) loss += stats[3 * p]! + Math.log(stats[3 * p + 1]!) - stats[3 * p + 2]!;
    return loss * (1 / P);
  }
}
