/**
 * The per-row work of one ALS half-sweep (Hu, Koren & Volinsky 2008): solve every row x_u of X
 * against fixed factors Y for
 *
 *   (YᵀY + λI + Σ_{i∈I_u} (c_ui − 1)·y_i·y_iᵀ) · x_u = Σ_{i∈I_u} c_ui·y_i,   c_ui = 1 + α·r_ui.
 *
 * Two solvers. `exact`: build the f×f system per row and Cholesky-solve it. `cg`: a few conjugate-
 * gradient steps per row, warm-started from the current x_u, as implicit's CPU solver does. The CG
 * here runs in lock-step over all rows: the dense product with YᵀY+λI for every row at once is one
 * GEMM (rows×f · f×f, done by the caller through the native kernel), and these functions do the
 * sparse part and the vector updates over a range of rows. Row ranges are independent, so worker
 * threads split them (als-worker.ts) over SharedArrayBuffer-backed arrays.
 *
 * Everything a phase needs is in `HalfSweep`; nothing here allocates.
 *
 * These are the JS kernels: with the native addon built, ALS runs src/nn/native/als.c instead (the
 * same arithmetic per row, one call per half-sweep). They stay as the fallback and the test oracle.
 */
import { cholesky, choleskySolve } from '../util/linalg.js';

export interface HalfSweep {
  f: number;
  /** CSR of the rows being solved: entries are the columns of Y, `cm1` = c − 1 = α·r. */
  indptr: Int32Array;
  indices: Int32Array;
  cm1: Float32Array;
  /** Factors being solved (rows×f) and the fixed ones (cols×f). */
  x: Float32Array;
  y: Float32Array;
  /** CG state, rows×f each, and ‖r‖² per row (0 once a row has converged). */
  r: Float32Array;
  p: Float32Array;
  ap: Float32Array;
  rs: Float64Array;
}

/**
 * The sparse part of one row's product, added into out[o..o+f): for each entry e with factor y_e,
 *   d = y_e·v[o..];  out += w·y_e,  w = c1·d  (A·v),  or  w = 1 + c1 − c1·d  (b − A·v, `rhs`).
 * Four entries at a time: each v[k] and out[k] is loaded once per four entries, which is what
 * limits plain JS loops here (measured ~1.35× over one entry at a time).
 */
function sparseRow(
  y: Float32Array,
  f: number,
  indices: Int32Array,
  cm1: Float32Array,
  start: number,
  end: number,
  v: Float32Array,
  o: number,
  out: Float32Array,
  rhs: boolean,
): void {
  let e = start;
  for (; e + 3 < end; e += 4) {
    const ya = indices[e]! * f;
    const yb = indices[e + 1]! * f;
    const yc = indices[e + 2]! * f;
    const yd = indices[e + 3]! * f;
    let a = 0;
    let b = 0;
    let c = 0;
    let d = 0;
    for (let k = 0; k < f; k++) {
      const vk = v[o + k]!;
      a += y[ya + k]! * vk;
      b += y[yb + k]! * vk;
      c += y[yc + k]! * vk;
      d += y[yd + k]! * vk;
    }
    const ca = cm1[e]!;
    const cb = cm1[e + 1]!;
    const cc = cm1[e + 2]!;
    const cd = cm1[e + 3]!;
    const wa = rhs ? 1 + ca - ca * a : ca * a;
    const wb = rhs ? 1 + cb - cb * b : cb * b;
    const wc = rhs ? 1 + cc - cc * c : cc * c;
    const wd = rhs ? 1 + cd - cd * d : cd * d;
    for (let k = 0; k < f; k++) {
      out[o + k] = out[o + k]! + wa * y[ya + k]! + wb * y[yb + k]! + wc * y[yc + k]! + wd * y[yd + k]!;
    }
  }
  for (; e < end; e++) {
    const ya = indices[e]! * f;
    let a = 0;
    for (let k = 0; k < f; k++) a += y[ya + k]! * v[o + k]!;
    const ca = cm1[e]!;
    const wa = rhs ? 1 + ca - ca * a : ca * a;
    for (let k = 0; k < f; k++) out[o + k] = out[o + k]! + wa * y[ya + k]!;
  }
}

/** CG stops a row once ‖r‖² falls below this (implicit uses the same constant). */
const CG_TOL = 1e-20;

/**
 * First CG phase over rows [from, to). On entry `ap` holds X·(YᵀY+λI). Sets r = b − A·x, p = r.
 * A row with no entries has the exact solution 0, so it is set there and marked done.
 */
export function cgInit(s: HalfSweep, from: number, to: number): void {
  const { f, indptr, indices, cm1, x, y, r, p, ap, rs } = s;
  for (let u = from; u < to; u++) {
    const o = u * f;
    const start = indptr[u]!;
    const end = indptr[u + 1]!;
    if (start === end) {
      for (let k = 0; k < f; k++) {
        x[o + k] = 0;
        r[o + k] = 0;
        p[o + k] = 0;
      }
      rs[u] = 0;
      continue;
    }
    for (let k = 0; k < f; k++) r[o + k] = -ap[o + k]!;
    sparseRow(y, f, indices, cm1, start, end, x, o, r, true);
    let n2 = 0;
    for (let k = 0; k < f; k++) {
      const v = r[o + k]!;
      p[o + k] = v;
      n2 += v * v;
    }
    rs[u] = n2 < CG_TOL ? 0 : n2;
    if (n2 < CG_TOL) for (let k = 0; k < f; k++) p[o + k] = 0;
  }
}

/** One CG step over rows [from, to). On entry `ap` holds P·(YᵀY+λI). */
export function cgStep(s: HalfSweep, from: number, to: number): void {
  const { f, indptr, indices, cm1, x, y, r, p, ap, rs } = s;
  for (let u = from; u < to; u++) {
    const rsOld = rs[u]!;
    if (rsOld === 0) continue;
    const o = u * f;
    sparseRow(y, f, indices, cm1, indptr[u]!, indptr[u + 1]!, p, o, ap, false);
    let pap = 0;
    for (let k = 0; k < f; k++) pap += p[o + k]! * ap[o + k]!;
    if (!(pap > 0)) {
      rs[u] = 0;
      continue;
    }
    const alpha = rsOld / pap;
    let rsNew = 0;
    for (let k = 0; k < f; k++) {
      x[o + k] = x[o + k]! + alpha * p[o + k]!;
      const v = r[o + k]! - alpha * ap[o + k]!;
      r[o + k] = v;
      rsNew += v * v;
    }
    if (rsNew < CG_TOL) {
      rs[u] = 0;
      for (let k = 0; k < f; k++) p[o + k] = 0;
      continue;
    }
    const beta = rsNew / rsOld;
    for (let k = 0; k < f; k++) p[o + k] = r[o + k]! + beta * p[o + k]!;
    rs[u] = rsNew;
  }
}

/** Scratch for `exactRows` / `solveRow`: the f×f system and its right-hand side. */
export interface ExactWork {
  a: Float64Array;
  b: Float64Array;
}

export function exactWork(f: number): ExactWork {
  return { a: new Float64Array(f * f), b: new Float64Array(f) };
}

/**
 * Solve one row exactly: x = (G + Σ c1_e·y_e·y_eᵀ)⁻¹ · Σ (1 + c1_e)·y_e, where `g` = YᵀY+λI
 * (f×f, float64) and the entries are `cols[from..to)` with weights `cm1`. Writes x at `out[oo..]`.
 */
export function solveRow(
  g: Float64Array,
  f: number,
  y: Float32Array,
  cols: Int32Array,
  cm1: Float32Array,
  from: number,
  to: number,
  out: Float32Array,
  oo: number,
  work: ExactWork,
): void {
  const { a, b } = work;
  a.set(g);
  b.fill(0);
  for (let e = from; e < to; e++) {
    const yo = cols[e]! * f;
    const c1 = cm1[e]!;
    for (let i = 0; i < f; i++) {
      const yi = y[yo + i]!;
      b[i] = b[i]! + (1 + c1) * yi;
      const w = c1 * yi;
      if (w === 0) continue;
      const ai = i * f;
      // Upper triangle only; mirrored before the factorisation.
      for (let j = i; j < f; j++) a[ai + j] = a[ai + j]! + w * y[yo + j]!;
    }
  }
  for (let i = 0; i < f; i++) for (let j = i + 1; j < f; j++) a[j * f + i] = a[i * f + j]!;
  if (!cholesky(a, f)) throw new RangeError('ALS: normal equations are not positive definite (is regularization > 0?)');
  choleskySolve(a, f, b);
  for (let i = 0; i < f; i++) out[oo + i] = b[i]!;
}

/** Exact solve of rows [from, to) of a half-sweep; `g` = YᵀY+λI in float64. */
export function exactRows(s: HalfSweep, g: Float64Array, from: number, to: number, work: ExactWork): void {
  const { f, indptr, indices, cm1, x, y } = s;
  for (let u = from; u < to; u++) {
    const start = indptr[u]!;
    const end = indptr[u + 1]!;
    if (start === end) x.fill(0, u * f, (u + 1) * f);
    else solveRow(g, f, y, indices, cm1, start, end, x, u * f, work);
  }
}
