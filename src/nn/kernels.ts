/**
 * Compute kernels behind the nn layer: a row-major single-precision GEMM, a fused Adam step, the
 * dense layers' element-wise work (bias + activation forward; activation gradient + bias gradient)
 * and the factor-scoring GEMV (`scoreRows`: one user against every item row).
 *
 * Two implementations share one signature:
 * - `native`: the N-API addon in ./native (packed, register-blocked GEMM; built by node-gyp from
 *   plain C with no system library, see native/build.mjs). About 20× the JS kernel.
 * - `js`: plain TypeScript over Float32Array. Always available; also the test oracle.
 *
 * The backend is picked once per process: the addon when its binary loads, else JS. Set
 * CHORUS_NN_BACKEND=js (or `native`, which then fails loudly if missing) to choose explicitly.
 */
import { ConfigError } from '../errors.js';
import { scoreAllFactorsJs } from '../util/dot.js';
import { sgemmJs, type Sgemm } from '../util/linalg.js';
import { loadChorusAddon, nativeAddonPath, type ChorusAddon } from '../util/native-addon.js';
import type { BprEpochKernel } from './bpr-kernel.js';

// The addon is located and loaded in util (see native-addon.ts for why); re-exported for callers.
export { nativeAddonPath };

/** Activation codes shared with the addon. */
export const ACT_CODES = { linear: 0, relu: 1, tanh: 2, sigmoid: 3 } as const;
export type ActCode = (typeof ACT_CODES)[keyof typeof ACT_CODES];

export interface Kernels {
  readonly name: 'native' | 'js';
  /** y[r, j] = act(y[r, j] + b[j]) for rows × n values, in place. */
  biasAct(y: Float32Array, b: Float32Array, rows: number, n: number, act: ActCode): void;
  /** dz = d ⊙ act'(y) (from the activation's output y) over rows × n values; gb += column sums of dz. */
  actGrad(d: Float32Array, y: Float32Array, dz: Float32Array, gb: Float32Array, rows: number, n: number, act: ActCode): void;
  /** C = alpha·op(A)·op(B) + beta·C (row-major; op(A) is M×K, op(B) is K×N; lda/ldb/ldc are row strides). */
  sgemm: Sgemm;
  /** One Adam step in place; bc1 = 1 − β1^t and bc2 = 1 − β2^t are the bias corrections. */
  adam(
    p: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    bc1: number,
    bc2: number,
  ): void;
  /**
   * out[i] = base + bias[i] + items[i·dim … i·dim+dim) · user for i < n (bias optional): one user
   * scored against every row of a row-major item-factor matrix. util/dot.ts's `scoreAllFactors`
   * calls the addon's version directly; this member lets tests and benchmarks pick a backend.
   */
  scoreRows(items: Float32Array, user: Float32Array, out: Float32Array, n: number, dim: number, base: number, bias?: Float32Array | Float64Array): void;
}

export const jsKernels: Kernels = {
  name: 'js',
  biasAct(y, b, rows, n, act) {
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      if (act === 0) for (let j = 0; j < n; j++) y[o + j]! += b[j]!;
      else if (act === 1)
        for (let j = 0; j < n; j++) {
          const v = y[o + j]! + b[j]!;
          y[o + j] = v > 0 ? v : 0;
        }
      else if (act === 2) for (let j = 0; j < n; j++) y[o + j] = Math.tanh(y[o + j]! + b[j]!);
      else for (let j = 0; j < n; j++) y[o + j] = 1 / (1 + Math.exp(-(y[o + j]! + b[j]!)));
    }
  },
  actGrad(d, y, dz, gb, rows, n, act) {
    const len = rows * n;
    if (act === 0) for (let i = 0; i < len; i++) dz[i] = d[i]!;
    else if (act === 1) for (let i = 0; i < len; i++) dz[i] = y[i]! > 0 ? d[i]! : 0;
    else if (act === 2) for (let i = 0; i < len; i++) dz[i] = d[i]! * (1 - y[i]! * y[i]!);
    else for (let i = 0; i < len; i++) dz[i] = d[i]! * y[i]! * (1 - y[i]!);
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      for (let j = 0; j < n; j++) gb[j]! += dz[o + j]!;
    }
  },
  // One JS GEMM for the whole library (util is the lower layer; EASE falls back to this too).
  sgemm: sgemmJs,
  adam(p, g, m, v, lr, beta1, beta2, eps, bc1, bc2) {
    const step = lr / bc1;
    const rbc2 = 1 / Math.sqrt(bc2);
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]!;
      const mi = beta1 * m[i]! + (1 - beta1) * gi;
      const vi = beta2 * v[i]! + (1 - beta2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i]! -= (step * mi) / (Math.sqrt(vi) * rbc2 + eps);
    }
  },
  scoreRows(items, user, out, n, dim, base, bias) {
    scoreAllFactorsJs(user, items, n, dim, out, base, bias);
  },
};

function loadNative(): Kernels | null {
  const addon = loadChorusAddon();
  if (!addon) return null;
  // A binary from an older build lacks the element-wise ops: use it only once rebuilt.
  if (!addon.biasAct || !addon.actGrad) return null;
  const biasAct = addon.biasAct;
  const actGrad = addon.actGrad;
  // A binary built before the scorer existed still serves the GEMM; scoring then stays in JS.
  const scoreRows = addon.scoreRows;
  return {
    name: 'native',
    biasAct: (y, b, rows, n, act) => biasAct(y, b, rows, n, act),
    actGrad: (d, y, dz, gb, rows, n, act) => actGrad(d, y, dz, gb, rows, n, act),
    sgemm: (tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) =>
      addon.sgemm(tA ? 1 : 0, tB ? 1 : 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc),
    adam: (p, g, m, v, lr, b1, b2, eps, bc1, bc2) => addon.adam(p, g, m, v, lr, b1, b2, eps, bc1, bc2),
    scoreRows: scoreRows
      ? (items, user, out, n, dim, base, bias) => scoreRows(items, user, out, n, dim, base, bias)
      : jsKernels.scoreRows,
  };
}

let selected: Kernels | null = null;

/** The process-wide kernels (see the module comment for how they are chosen). */
export function kernels(): Kernels {
  if (selected) return selected;
  const want = process.env.CHORUS_NN_BACKEND;
  if (want === 'js') return (selected = jsKernels);
  const native = loadNative();
  if (want === 'native' && !native) {
    throw new ConfigError(
      'CHORUS_NN_BACKEND=native but the nn addon is not built; run `node src/nn/native/build.mjs`',
      'CHORUS_NN_BACKEND',
    );
  }
  return (selected = native ?? jsKernels);
}

/** Override the kernels (tests compare backends; benchmarks pick one). */
export function setKernels(k: Kernels): void {
  selected = k;
}

/** Native kernels if the addon loads, else null (for tests and benchmarks). */
export function nativeKernels(): Kernels | null {
  return loadNative();
}

/**
 * The native ALS half-sweep (src/nn/native/als.c): G = YᵀY + λI, then every row of x (rows =
 * indptr.length − 1) solved in place against y, by CG (`solver` 0, `cgSteps` steps warm-started
 * from x) or exactly (1), on `threads` threads; bit-identical for any thread count.
 */
export type AlsSweep = (
  f: number,
  indptr: Int32Array,
  indices: Int32Array,
  cm1: Float32Array,
  x: Float32Array,
  y: Float32Array,
  reg: number,
  solver: 0 | 1,
  cgSteps: number,
  threads: number,
) => void;

/**
 * A kernel the addon may export beyond ChorusAddon's nn ops (ALS, BPR, kNN, the sequence models'
 * training loops), declared beside its only user: the export `name` when the native backend is the
 * selected one and the binary has it (older binaries do not), else null, and the caller runs its
 * JS twin.
 */
function optionalKernel<F>(name: string): F | null {
  if (kernels().name !== 'native') return null;
  const addon = loadChorusAddon() as (ChorusAddon & Record<string, unknown>) | null;
  return (addon?.[name] as F | undefined) ?? null;
}

/**
 * The native ALS half-sweep when the native backend is the selected one and the binary has it
 * (older binaries do not), else null: ALS then runs its JS kernels (recommenders/als-solve.ts).
 */
export function alsSweepKernel(): AlsSweep | null {
  return optionalKernel<AlsSweep>('alsSweep');
}

/**
 * The native BPR epoch (src/nn/native/bpr.c) when the native backend is the selected one and the
 * binary has it, else null: BPR then runs the JS twin, bprEpochJs (./bpr-kernel.ts), which gives
 * the same factors.
 */
export function bprEpochKernel(): BprEpochKernel | null {
  return optionalKernel<BprEpochKernel>('bprEpoch');
}

/**
 * The native item-kNN similarity rows (src/nn/native/knn.c), bit-identical to the JS kernel
 * (recommenders/knn-rows.ts): rows [from, to) into counts / outIdx / outVal, returns the entries written.
 */
export type KnnSimRows = (
  uIndptr: Int32Array,
  uIndices: Int32Array,
  uWeights: Float32Array,
  iIndptr: Int32Array,
  iUsers: Int32Array,
  iWeights: Float32Array,
  norms: Float64Array,
  k: number,
  shrink: number,
  from: number,
  to: number,
  counts: Int32Array,
  outIdx: Int32Array,
  outVal: Float32Array,
) => number;

/** The native item-kNN rows when the native backend is selected and the binary has them, else null. */
export function knnSimRowsKernel(): KnnSimRows | null {
  return optionalKernel<KnnSimRows>('knnSimRows');
}

/**
 * The native sampled-softmax item head (src/nn/native/seqtrain.c), bit-identical to the JS head in
 * nn/seq/item-head.ts: scores P positions' states (rows `rows` of H, d wide) against their targets
 * and the shared `negatives`, and adds the softmax cross-entropy's gradients into dH and gE (the
 * item table's gradient). `scratch` holds 2·P·d + 2·N·d + 2·P·(N + 1) floats; `negCol` (nTokens)
 * is all zero and left so; stats[3p..3p+3) gets row p's max logit, Σ exp(logit − max) (accidental
 * hit left out) and positive logit.
 */
export type SampledSoftmaxHead = (
  H: Float32Array,
  dH: Float32Array,
  rows: Int32Array,
  targets: Int32Array,
  P: number,
  negatives: Int32Array,
  E: Float32Array,
  gE: Float32Array,
  d: number,
  nTokens: number,
  scratch: Float32Array,
  negCol: Int32Array,
  stats: Float64Array,
) => void;

/** The native sampled-softmax head when the native backend is selected and the binary has it, else null. */
export function sampledSoftmaxHeadKernel(): SampledSoftmaxHead | null {
  return optionalKernel<SampledSoftmaxHead>('sampledSoftmaxHead');
}

/** avg = β·avg + (1 − β)·params element-wise (float64, rounded to float32): the sequence models' weight average. */
export type EmaStep = (avg: Float32Array, params: Float32Array, beta: number) => void;

/** The native weight-average step (src/nn/native/seqtrain.c), bit-identical to the JS loop, when the native backend is selected and the binary has it, else null. */
export function emaStepKernel(): EmaStep | null {
  return optionalKernel<EmaStep>('emaStep');
}

/**
 * The GRU's forward pass over a batch (nn/seq/gru.ts documents the arguments: input
 * pre-activations xg, outputs h, hprev, hg and gates, weights U and bh, padding starts), in C with
 * the JS loop's float64 arithmetic and V8's exp and tanh (fdlibm), so the same bits.
 */
export type GruForward = (
  xg: Float32Array,
  h: Float32Array,
  hprev: Float32Array,
  hg: Float32Array,
  gates: Float32Array,
  U: Float32Array,
  bh: Float32Array,
  start: Int32Array,
  B: number,
  T: number,
  d: number,
) => void;

/** The native GRU forward when the native backend is selected and the binary has it, else null. */
export function gruForwardKernel(): GruForward | null {
  return optionalKernel<GruForward>('gruForward');
}

/** The GRU's backward pass through time (nn/seq/gru.ts `backward`, before the input layer's), in C with the JS arithmetic. */
export type GruBackward = (
  dH: Float32Array,
  dxg: Float32Array,
  dhg: Float32Array,
  dhNext: Float32Array,
  gates: Float32Array,
  hprev: Float32Array,
  hg: Float32Array,
  U: Float32Array,
  gU: Float32Array,
  gbh: Float32Array,
  start: Int32Array,
  B: number,
  T: number,
  d: number,
) => void;

/** The native GRU backward when the native backend is selected and the binary has it, else null. */
export function gruBackwardKernel(): GruBackward | null {
  return optionalKernel<GruBackward>('gruBackward');
}
