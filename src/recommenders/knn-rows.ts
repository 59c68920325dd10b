/**
 * The item-kNN kernel: rows [from, to) of the K-nearest-neighbour cosine matrix, computed from the
 * CSR views by co-occurrence accumulation in one dense row buffer. Each row depends only on the
 * inputs, so any split of the rows over worker threads (knn-worker.ts) gives the same matrix.
 */
import { knnSimRowsKernel, type KnnSimRows } from '../nn/kernels.js';
import { heapOffer } from '../util/topk.js';

export interface ItemSimInput {
  /** CSR by user: items and weights. */
  uIndptr: Int32Array;
  uIndices: Int32Array;
  uWeights: Float32Array;
  /** CSR by item: users and weights. */
  iIndptr: Int32Array;
  iUsers: Int32Array;
  iWeights: Float32Array;
  /** ‖item vector‖ over users. */
  norms: Float64Array;
  k: number;
  shrink: number;
}

export interface ItemSimRows {
  /** Neighbours kept for each row from..to−1. */
  counts: Int32Array;
  indices: Int32Array;
  values: Float32Array;
}

/**
 * Rows [from, to); `onRow(done)` is called every `every` rows. Runs the native kernel
 * (src/nn/native/knn.c, bit-identical) when the addon is built, else `itemSimRowsJs`.
 */
export function itemSimRows(inp: ItemSimInput, from: number, to: number, onRow?: (done: number) => void, every = 1000): ItemSimRows {
  const native = knnSimRowsKernel();
  return native ? itemSimRowsNative(native, inp, from, to, onRow, every) : itemSimRowsJs(inp, from, to, onRow, every);
}

/** The native kernel, one call per `every` rows so that progress is still reported. */
function itemSimRowsNative(native: KnnSimRows, inp: ItemSimInput, from: number, to: number, onRow: ((done: number) => void) | undefined, every: number): ItemSimRows {
  const { uIndptr, uIndices, uWeights, iIndptr, iUsers, iWeights, norms, shrink } = inp;
  const kk = Math.min(inp.k, norms.length);
  const rows = Math.max(0, to - from);
  const counts = new Int32Array(rows);
  const indices = new Int32Array(rows * kk);
  const values = new Float32Array(rows * kk);
  let nnz = 0;
  for (let r0 = from; r0 < to; r0 += every) {
    const r1 = Math.min(to, r0 + every);
    nnz += native(uIndptr, uIndices, uWeights, iIndptr, iUsers, iWeights, norms, inp.k, shrink, r0, r1, counts.subarray(r0 - from), indices.subarray(nnz), values.subarray(nnz));
    onRow?.(r1 - from);
  }
  return { counts, indices: indices.slice(0, nnz), values: values.slice(0, nnz) };
}

/** The JS kernel (the fallback, and the native kernel's test oracle). */
export function itemSimRowsJs(inp: ItemSimInput, from: number, to: number, onRow?: (done: number) => void, every = 1000): ItemSimRows {
  const { uIndptr, uIndices, uWeights, iIndptr, iUsers, iWeights, norms, shrink } = inp;
  const nItems = norms.length;
  const kk = Math.min(inp.k, nItems);
  const acc = new Float64Array(nItems);
  const touched = new Int32Array(nItems);
  const mark = new Uint8Array(nItems);
  const heapIdx = new Int32Array(kk);
  const heapVal = new Float64Array(kk);
  const counts = new Int32Array(Math.max(0, to - from));
  let cap = Math.max(16, Math.min((to - from) * kk, 1 << 20));
  let indices = new Int32Array(cap);
  let values = new Float32Array(cap);
  let nnz = 0;
  for (let i = from; i < to; i++) {
    let nt = 0;
    for (let p = iIndptr[i]!; p < iIndptr[i + 1]!; p++) {
      const u = iUsers[p]!;
      const w1 = iWeights[p]!;
      for (let q = uIndptr[u]!; q < uIndptr[u + 1]!; q++) {
        const j = uIndices[q]!;
        if (mark[j] === 0) {
          mark[j] = 1;
          touched[nt++] = j;
        }
        acc[j] += w1 * uWeights[q]!;
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
    counts[i - from] = kept;
    for (let t = 0; t < nt; t++) {
      const j = touched[t]!;
      acc[j] = 0;
      mark[j] = 0;
    }
    if (onRow && ((i - from + 1) % every === 0 || i + 1 === to)) onRow(i - from + 1);
  }
  return { counts, indices: indices.slice(0, nnz), values: values.slice(0, nnz) };
}

/**
 * The `heapIdx.length` best of `acc[touched[0..nt)]` (util/topk's order) into heapIdx/heapVal,
 * unordered; returns how many were kept. Allocates nothing (it runs once per item).
 */
function selectTopK(acc: Float64Array, touched: Int32Array, nt: number, heapIdx: Int32Array, heapVal: Float64Array): number {
  let size = 0;
  for (let t = 0; t < nt; t++) {
    const i = touched[t]!;
    size = heapOffer(heapIdx, heapVal, size, acc[i]!, i);
  }
  return size;
}

/**
 * Row cuts [0, c1, …, rows] giving each of `parts` ranges about the same work; row i costs
 * Σ_{u ∈ i} n_u accumulations plus a constant.
 */
export function splitByWork(inp: ItemSimInput, parts: number): number[] {
  const rows = inp.norms.length;
  const work = new Float64Array(rows + 1);
  for (let i = 0; i < rows; i++) {
    let w = 16;
    for (let p = inp.iIndptr[i]!; p < inp.iIndptr[i + 1]!; p++) {
      const u = inp.iUsers[p]!;
      w += inp.uIndptr[u + 1]! - inp.uIndptr[u]!;
    }
    work[i + 1] = work[i]! + w;
  }
  const cuts = [0];
  let i = 0;
  for (let p = 1; p < parts; p++) {
    const target = (work[rows]! * p) / parts;
    while (i < rows && work[i]! < target) i++;
    cuts.push(i);
  }
  cuts.push(rows);
  return cuts;
}

/** Total accumulation work Σ_u n_u² (decides whether threads pay). */
export function itemSimWork(uIndptr: Int32Array): number {
  let s = 0;
  for (let u = 0; u + 1 < uIndptr.length; u++) {
    const n = uIndptr[u + 1]! - uIndptr[u]!;
    s += n * n;
  }
  return s;
}
