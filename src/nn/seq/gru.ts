/**
 * Gated recurrent unit (Cho et al. 2014, PyTorch's gate layout) over left-padded sequences:
 *
 *   r = σ(x·W_r + b_ir + h·U_r + b_hr)      z = σ(x·W_z + b_iz + h·U_z + b_hz)
 *   n = tanh(x·W_n + b_in + r ⊙ (h·U_n + b_hn))      h' = (1 − z) ⊙ n + z ⊙ h
 *
 * Rows are batch-major (row b·T + t). The input products for every step are one GEMM up front;
 * each step then does one B × d × 3d GEMM for the recurrent part, reading h_{t−1} straight out
 * of the batch-major buffer through a row stride of T·d. Padding steps (t < start[b]) hold h = 0
 * and pass no gradient, so a sequence's state starts at its first real item whatever its padding.
 * Backward runs through time once; the recurrent weight gradient is one GEMM over all steps.
 * The GEMM binding takes no offsets, so each step hands it subarray views (two small objects per
 * step against B·d·3d multiply-adds). The forward pass and the backward pass through time each
 * run as one native call when the addon has them (nn/native/seqtrain.c): the same bits, without
 * the JS loops and the Math.exp/Math.tanh calls per gate.
 */
import { gruBackwardKernel, gruForwardKernel, kernels, type GruBackward, type GruForward } from '../kernels.js';
import { Linear } from './linear.js';
import { grow, type ParamBlock, type ParamStore } from './params.js';

export class Gru {
  /** x → [r | z | n] input pre-activations (with b_i). */
  readonly input: Linear;
  /** d × 3d recurrent weights U and the recurrent bias b_h. */
  readonly u: ParamBlock;
  readonly bh: ParamBlock;
  private h: Float32Array = new Float32Array(0);
  /** h_{t−1} per row (0 at a sequence's first real step). */
  private hprev: Float32Array = new Float32Array(0);
  /** Recurrent pre-activations h·U + b_h per row (rows × 3d). */
  private hg: Float32Array = new Float32Array(0);
  /** Gates r, z, n per row (rows × 3d). */
  private gates: Float32Array = new Float32Array(0);
  private dxg: Float32Array = new Float32Array(0);
  private dhg: Float32Array = new Float32Array(0);
  private dhNext: Float32Array = new Float32Array(0);
  private B = 0;
  private T = 0;
  private start: Int32Array = new Int32Array(0);
  /** The native forward and backward, or null (no addon, or `native` false: the tests' JS twin). */
  private readonly fused: GruForward | null;
  private readonly fusedBack: GruBackward | null;

  constructor(
    store: ParamStore,
    name: string,
    readonly inDim: number,
    readonly dim: number,
    native = true,
  ) {
    this.fused = native ? gruForwardKernel() : null;
    this.fusedBack = this.fused ? gruBackwardKernel() : null;
    this.input = new Linear(store, `${name}.input`, inDim, 3 * dim);
    const lim = 1 / Math.sqrt(dim);
    this.u = store.claim(`${name}.u`, dim * 3 * dim, { kind: 'uniform', limit: lim });
    this.bh = store.claim(`${name}.bh`, 3 * dim, { kind: 'uniform', limit: lim });
  }

  /** Hidden states (B × T × dim) for inputs x (B × T × inDim). */
  forward(x: Float32Array, B: number, T: number, start: Int32Array): Float32Array {
    const d = this.dim;
    const d3 = 3 * d;
    const rows = B * T;
    this.B = B;
    this.T = T;
    this.start = start;
    const xg = this.input.forward(x, rows);
    this.h = grow(this.h, rows * d);
    this.hprev = grow(this.hprev, rows * d);
    this.hg = grow(this.hg, rows * d3);
    this.gates = grow(this.gates, rows * d3);
    const { h, hprev, hg, gates } = this;
    const U = this.u.w;
    const bh = this.bh.w;
    if (this.fused) {
      this.fused(xg, h, hprev, hg, gates, U, bh, start, B, T, d);
      return h;
    }
    const k = kernels();
    for (let t = 0; t < T; t++) {
      // h_{t−1} into hprev rows of step t (zeros at t = 0 and at padding).
      for (let b = 0; b < B; b++) {
        const o = (b * T + t) * d;
        if (t === 0 || t <= start[b]!) hprev.fill(0, o, o + d);
        else for (let j = 0; j < d; j++) hprev[o + j] = h[o - d + j]!;
      }
      k.sgemm(false, false, B, d3, d, 1, hprev.subarray(t * d), T * d, U, d3, 0, hg.subarray(t * d3), T * d3);
      for (let b = 0; b < B; b++) {
        const row = b * T + t;
        const o = row * d;
        const o3 = row * d3;
        if (t < start[b]!) {
          h.fill(0, o, o + d);
          gates.fill(0, o3, o3 + d3);
          continue;
        }
        for (let j = 0; j < d; j++) {
          const hr = hg[o3 + j]! + bh[j]!;
          const hz = hg[o3 + d + j]! + bh[d + j]!;
          const hn = hg[o3 + 2 * d + j]! + bh[2 * d + j]!;
          hg[o3 + 2 * d + j] = hn;
          const r = 1 / (1 + Math.exp(-(xg[o3 + j]! + hr)));
          const z = 1 / (1 + Math.exp(-(xg[o3 + d + j]! + hz)));
          const n = Math.tanh(xg[o3 + 2 * d + j]! + r * hn);
          gates[o3 + j] = r;
          gates[o3 + d + j] = z;
          gates[o3 + 2 * d + j] = n;
          h[o + j] = (1 - z) * n + z * hprev[o + j]!;
        }
      }
    }
    return h;
  }

  /** dX (B × T × inDim) from dH (B × T × dim, the loss gradient at every step). */
  backward(dH: Float32Array): Float32Array {
    const d = this.dim;
    const d3 = 3 * d;
    const { B, T, start } = this;
    const rows = B * T;
    this.dxg = grow(this.dxg, rows * d3);
    this.dhg = grow(this.dhg, rows * d3);
    this.dhNext = grow(this.dhNext, B * d);
    const { dxg, dhg, dhNext, gates, hprev, hg } = this;
    if (this.fusedBack) {
      this.fusedBack(dH, dxg, dhg, dhNext, gates, hprev, hg, this.u.w, this.u.g, this.bh.g, start, B, T, d);
      return this.input.backward(dxg);
    }
    dhNext.fill(0, 0, B * d);
    const k = kernels();
    const U = this.u.w;
    for (let t = T - 1; t >= 0; t--) {
      for (let b = 0; b < B; b++) {
        const row = b * T + t;
        const o = row * d;
        const o3 = row * d3;
        const on = b * d;
        if (t < start[b]!) {
          dxg.fill(0, o3, o3 + d3);
          dhg.fill(0, o3, o3 + d3);
          dhNext.fill(0, on, on + d);
          continue;
        }
        for (let j = 0; j < d; j++) {
          const dh = dH[o + j]! + dhNext[on + j]!;
          const r = gates[o3 + j]!;
          const z = gates[o3 + d + j]!;
          const n = gates[o3 + 2 * d + j]!;
          const hp = hprev[o + j]!;
          const dn = dh * (1 - z) * (1 - n * n);
          const dz = dh * (hp - n) * z * (1 - z);
          const dr = dn * hg[o3 + 2 * d + j]! * r * (1 - r);
          dxg[o3 + j] = dr;
          dxg[o3 + d + j] = dz;
          dxg[o3 + 2 * d + j] = dn;
          dhg[o3 + j] = dr;
          dhg[o3 + d + j] = dz;
          dhg[o3 + 2 * d + j] = dn * r;
          // The direct path z ⊙ dh; the path through U is added by the GEMM below.
          dhNext[on + j] = dh * z;
        }
      }
      // dh_{t−1} += dHg_t · Uᵀ, except where step t is a sequence's first (h_{t−1} was the constant 0).
      if (t > 0) {
        k.sgemm(false, true, B, d, d3, 1, dhg.subarray(t * d3), T * d3, U, d3, 1, dhNext, d);
        for (let b = 0; b < B; b++) if (t <= start[b]!) dhNext.fill(0, b * d, b * d + d);
      }
    }
    // dU += Σ_t h_{t−1}ᵀ · dHg_t over all rows at once; db_h += Σ dHg.
    k.sgemm(true, false, d, d3, rows, 1, hprev, d, dhg, d3, 1, this.u.g, d3);
    const gbh = this.bh.g;
    for (let r = 0; r < rows; r++) for (let j = 0; j < d3; j++) gbh[j]! += dhg[r * d3 + j]!;
    return this.input.backward(dxg);
  }
}
