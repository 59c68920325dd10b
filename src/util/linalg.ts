/**
 * Dense kernels for the factor models (ALS, MF), the closed-form models (EASE) and the linear
 * bandits: axpy, the Gram matrix of a factor matrix, Cholesky solves, the small-matrix routines of
 * the bandits' posteriors, and an in-place inverse of a large SPD matrix. Matrices are row-major typed arrays; every routine writes into
 * caller-owned buffers, so hot loops allocate nothing.
 *
 * The big inverse is written in terms of a GEMM passed in by the caller (`Sgemm`, the signature of
 * src/nn's kernels), so this module stays free of any native dependency; the plain-JS GEMM below
 * is the fallback and the test oracle.
 */

type Vec = Float32Array | Float64Array;

/** y[yo..yo+n) += alpha · x[xo..xo+n). */
export function axpy(alpha: number, x: Vec, xo: number, y: Vec, yo: number, n: number): void {
  let k = 0;
  for (; k + 3 < n; k += 4) {
    y[yo + k] = y[yo + k]! + alpha * x[xo + k]!;
    y[yo + k + 1] = y[yo + k + 1]! + alpha * x[xo + k + 1]!;
    y[yo + k + 2] = y[yo + k + 2]! + alpha * x[xo + k + 2]!;
    y[yo + k + 3] = y[yo + k + 3]! + alpha * x[xo + k + 3]!;
  }
  for (; k < n; k++) y[yo + k] = y[yo + k]! + alpha * x[xo + k]!;
}

/**
 * out (cols×cols, full symmetric) = Aᵀ·A for the row-major rows×cols matrix A, plus `ridge` on
 * the diagonal. Rows go four at a time so each `out` entry is loaded and stored once per four
 * rows (the loop is bound by memory traffic on `out`, not by arithmetic).
 */
export function gram(a: Vec, rows: number, cols: number, out: Float64Array, ridge = 0): Float64Array {
  out.fill(0);
  let r = 0;
  for (; r + 3 < rows; r += 4) {
    const o0 = r * cols;
    const o1 = o0 + cols;
    const o2 = o1 + cols;
    const o3 = o2 + cols;
    for (let i = 0; i < cols; i++) {
      const a0 = a[o0 + i]!;
      const a1 = a[o1 + i]!;
      const a2 = a[o2 + i]!;
      const a3 = a[o3 + i]!;
      const oi = i * cols;
      for (let j = i; j < cols; j++) {
        out[oi + j] = out[oi + j]! + a0 * a[o0 + j]! + a1 * a[o1 + j]! + a2 * a[o2 + j]! + a3 * a[o3 + j]!;
      }
    }
  }
  for (; r < rows; r++) {
    const o0 = r * cols;
    for (let i = 0; i < cols; i++) {
      const a0 = a[o0 + i]!;
      const oi = i * cols;
      for (let j = i; j < cols; j++) out[oi + j] = out[oi + j]! + a0 * a[o0 + j]!;
    }
  }
  for (let i = 0; i < cols; i++) {
    out[i * cols + i] = out[i * cols + i]! + ridge;
    for (let j = i + 1; j < cols; j++) out[j * cols + i] = out[i * cols + j]!;
  }
  return out;
}

/**
 * In-place Cholesky factorisation A = L·Lᵀ of the row-major n×n SPD matrix `a`: the lower
 * triangle becomes L, the strict upper triangle is zeroed. Returns false when A is not positive
 * definite (a non-positive pivot), leaving `a` partly overwritten.
 *
 * Every inner product is summed in plain sequential order: the seeded figures of the bandits and
 * of the calibrated simulator were produced with that rounding, so it is kept. Speed comes from
 * four rows of L at a time instead (independent sums the CPU overlaps; each one keeps its order,
 * so the result is bit-identical to one row at a time). On a 64×64 system (ALS's exact solver)
 * this is as fast as four-accumulator dot products.
 */
export function cholesky(a: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let s = a[rj + j]!;
    for (let k = 0; k < j; k++) s -= a[rj + k]! * a[rj + k]!;
    if (!(s > 0)) return false;
    const ljj = Math.sqrt(s);
    a[rj + j] = ljj;
    let i = j + 1;
    for (; i + 3 < n; i += 4) {
      const r0 = i * n;
      const r1 = r0 + n;
      const r2 = r1 + n;
      const r3 = r2 + n;
      let t0 = a[r0 + j]!;
      let t1 = a[r1 + j]!;
      let t2 = a[r2 + j]!;
      let t3 = a[r3 + j]!;
      for (let k = 0; k < j; k++) {
        const l = a[rj + k]!;
        t0 -= a[r0 + k]! * l;
        t1 -= a[r1 + k]! * l;
        t2 -= a[r2 + k]! * l;
        t3 -= a[r3 + k]! * l;
      }
      a[r0 + j] = t0 / ljj;
      a[r1 + j] = t1 / ljj;
      a[r2 + j] = t2 / ljj;
      a[r3 + j] = t3 / ljj;
    }
    for (; i < n; i++) {
      const ri = i * n;
      let t = a[ri + j]!;
      for (let k = 0; k < j; k++) t -= a[ri + k]! * a[rj + k]!;
      a[ri + j] = t / ljj;
    }
    for (let k = j + 1; k < n; k++) a[rj + k] = 0;
  }
  return true;
}

/** Solve L·Lᵀ·x = b in place (`b` at offset `bo` becomes x), L from `cholesky`. */
export function choleskySolve(l: Float64Array, n: number, b: Vec, bo = 0): void {
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    let s = b[bo + i]!;
    for (let k = 0; k < i; k++) s -= l[ri + k]! * b[bo + k]!;
    b[bo + i] = s / l[ri + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = b[bo + i]!;
    for (let k = i + 1; k < n; k++) s -= l[k * n + i]! * b[bo + k]!;
    b[bo + i] = s / l[i * n + i]!;
  }
}

/*
 * Small-matrix routines (d of a few tens: the linear bandits' posteriors). They sum sequentially,
 * like `cholesky`, for the same reason: the seeded figures were produced with that rounding.
 */

/** y = M·x for the small d×d matrix M, sequential sums (see above). */
export function matVecSmall(m: Float64Array, d: number, x: ArrayLike<number>, y: Float64Array): void {
  for (let i = 0; i < d; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += m[i * d + k]! * x[k]!;
    y[i] = s;
  }
}

/** xᵀ·M·x for the symmetric d×d matrix M. */
export function quadForm(m: Float64Array, d: number, x: ArrayLike<number>, xOff = 0): number {
  let q = 0;
  for (let i = 0; i < d; i++) {
    let s = 0;
    const row = i * d;
    for (let k = 0; k < d; k++) s += m[row + k]! * x[xOff + k]!;
    q += x[xOff + i]! * s;
  }
  return q;
}

/**
 * Sherman–Morrison: replace `inv` (= A⁻¹, symmetric) by (A + x·xᵀ)⁻¹ in O(d²).
 * `tmp` is a caller buffer of length d (holds A⁻¹x).
 */
export function shermanMorrison(inv: Float64Array, d: number, x: ArrayLike<number>, tmp: Float64Array): void {
  let denom = 1;
  for (let i = 0; i < d; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += inv[i * d + k]! * x[k]!;
    tmp[i] = s;
    denom += x[i]! * s;
  }
  const f = 1 / denom;
  for (let i = 0; i < d; i++) {
    const ti = tmp[i]! * f;
    for (let k = 0; k < d; k++) inv[i * d + k] -= ti * tmp[k]!;
  }
}

/** s·I (d×d) into `out`. */
export function scaledIdentity(d: number, s: number, out = new Float64Array(d * d)): Float64Array {
  out.fill(0);
  for (let i = 0; i < d; i++) out[i * d + i] = s;
  return out;
}

/** C = alpha·op(A)·op(B) + beta·C, row-major, op(A) M×K, op(B) K×N (the src/nn kernel signature). */
export type Sgemm = (
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: Float32Array,
  lda: number,
  B: Float32Array,
  ldb: number,
  beta: number,
  C: Float32Array,
  ldc: number,
) => void;

/**
 * Plain-JS GEMM: correct for every transpose case, ~1 GFLOP/s. The reference for tests, the
 * fallback when no native kernel is built, and src/nn's `jsKernels.sgemm`. C must not overlap A or B.
 */
export const sgemmJs: Sgemm = (transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) => {
  for (let i = 0; i < M; i++) {
    const r = i * ldc;
    if (beta === 0) C.fill(0, r, r + N);
    else if (beta !== 1) for (let j = 0; j < N; j++) C[r + j]! *= beta;
  }
  if (alpha === 0 || K === 0) return;
  // Loop orders chosen so the innermost loop walks contiguous memory in each case.
  if (!transB) {
    if (!transA) {
      // i-k-j: C row i += a_ik · B row k.
      for (let i = 0; i < M; i++) {
        const cr = i * ldc;
        for (let k = 0; k < K; k++) {
          const a = alpha * A[i * lda + k]!;
          if (a === 0) continue;
          const br = k * ldb;
          for (let j = 0; j < N; j++) C[cr + j]! += a * B[br + j]!;
        }
      }
    } else {
      // k-i-j: C row i += a_ki · B row k.
      for (let k = 0; k < K; k++) {
        const ar = k * lda;
        const br = k * ldb;
        for (let i = 0; i < M; i++) {
          const a = alpha * A[ar + i]!;
          if (a === 0) continue;
          const cr = i * ldc;
          for (let j = 0; j < N; j++) C[cr + j]! += a * B[br + j]!;
        }
      }
    }
    return;
  }
  // B transposed: C_ij += alpha · (row i of op(A)) · (row j of B), a dot product over k.
  for (let i = 0; i < M; i++) {
    const cr = i * ldc;
    for (let j = 0; j < N; j++) {
      const br = j * ldb;
      let s = 0;
      if (!transA) {
        const ar = i * lda;
        for (let k = 0; k < K; k++) s += A[ar + k]! * B[br + k]!;
      } else {
        for (let k = 0; k < K; k++) s += A[k * lda + i]! * B[br + k]!;
      }
      C[cr + j]! += alpha * s;
    }
  }
};

/** Below this size the SPD inverse is done directly in float64 (Cholesky + n solves). */
const SPD_LEAF = 96;

/**
 * Invert the symmetric positive-definite n×n matrix stored (full, row-major, leading dimension
 * `ld`) in `m` in place. Block recursion on the Schur complement, so all O(n³) work is GEMMs (two
 * full ones and two that only fill the lower half of a symmetric result per level: ≈ n³ flops in
 * all, as for Cholesky-based inversion) and runs at the speed of `gemm`:
 *
 *   M = [A C; Cᵀ D]:  A ← A⁻¹;  W = A⁻¹·C;  D ← S = D − Cᵀ·W;  D ← S⁻¹;
 *   C ← V = −W·S⁻¹;  A ← A⁻¹ − V·Wᵀ;  Cᵀ-block ← Vᵀ.
 *
 * Schur complements of an SPD matrix are SPD, so no pivoting is needed and float32 is enough when
 * the matrix is well conditioned (EASE's ridge λ bounds the condition number). Throws when a
 * leaf block turns out not positive definite.
 */
export function spdInverseInPlace(m: Float32Array, n: number, gemm: Sgemm = sgemmJs, ld = n, offset = 0): void {
  if (n <= SPD_LEAF) {
    spdInverseLeaf(m, n, ld, offset);
    return;
  }
  const h = n >> 1;
  const p = n - h;
  const a = offset;
  const ur = offset + h; // top-right block (h × p)
  const ll = offset + h * ld; // bottom-left block (p × h)
  const d = offset + h * ld + h;
  spdInverseInPlace(m, h, gemm, ld, a);
  const w = new Float32Array(h * p);
  // W = A⁻¹ · C, h×p.
  gemm(false, false, h, p, h, 1, m.subarray(a), ld, m.subarray(ur), ld, 0, w, p);
  // S = D − Cᵀ · W (symmetric: lower half only, then mirrored).
  symmetricUpdate(m, d, p, h, -1, m.subarray(ll), ld, w, p, false, gemm, ld);
  spdInverseInPlace(m, p, gemm, ld, d);
  // C ← V = −W · S⁻¹.
  gemm(false, false, h, p, p, -1, w, p, m.subarray(d), ld, 0, m.subarray(ur), ld);
  // A⁻¹ ← A⁻¹ − V · Wᵀ  (= A⁻¹ + W S⁻¹ Wᵀ, symmetric).
  symmetricUpdate(m, a, h, p, -1, m.subarray(ur), ld, w, p, true, gemm, ld);
  // Cᵀ-block ← Vᵀ (the inverse is symmetric).
  for (let i = 0; i < h; i++) {
    const ri = ur + i * ld;
    for (let j = 0; j < p; j++) m[ll + j * ld + i] = m[ri + j]!;
  }
}

/** Row-tile height of `symmetricUpdate`: big enough for the GEMM to run at full speed. */
const SYM_TILE = 256;

/**
 * C ← C + alpha · X · op(Y) for an n×n block C (at `off` in `m`, leading dimension `ld`) whose
 * result is known to be symmetric: only the tiles on and below the diagonal are computed (about
 * half the flops of one GEMM), then the lower triangle is mirrored into the upper one.
 * X is n×k (leading dimension ldx); op(Y) is k×n: Y is k×n (ldy), or n×k when `transY`.
 */
function symmetricUpdate(
  m: Float32Array,
  off: number,
  n: number,
  k: number,
  alpha: number,
  x: Float32Array,
  ldx: number,
  y: Float32Array,
  ldy: number,
  transY: boolean,
  gemm: Sgemm,
  ld: number,
): void {
  for (let i0 = 0; i0 < n; i0 += SYM_TILE) {
    const i1 = Math.min(n, i0 + SYM_TILE);
    gemm(false, transY, i1 - i0, i1, k, alpha, x.subarray(i0 * ldx), ldx, y, ldy, 1, m.subarray(off + i0 * ld), ld);
  }
  for (let i = 0; i < n; i++) {
    const ri = off + i * ld;
    for (let j = i + 1; j < n; j++) m[ri + j] = m[off + j * ld + i]!;
  }
}

function spdInverseLeaf(m: Float32Array, n: number, ld: number, offset: number): void {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) l[i * n + j] = m[offset + i * ld + j]!;
  if (!cholesky(l, n)) throw new RangeError('spdInverse: matrix is not positive definite (or too ill-conditioned for float32)');
  const col = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    col.fill(0);
    col[j] = 1;
    choleskySolve(l, n, col);
    for (let i = 0; i < n; i++) m[offset + i * ld + j] = col[i]!;
  }
}
