/**
 * Small dense linear algebra on Float64Array (row-major d×d), for the linear bandits, the
 * factor fits and the simulator's calibration. Sizes here are tens of dimensions, so plain
 * O(d³) Cholesky is the right tool; every routine writes into caller-owned buffers.
 */

/** In-place Cholesky factorisation A = L·Lᵀ (lower triangle of `a` becomes L). Returns false if A is not positive definite. */
export function cholesky(a: Float64Array, d: number): boolean {
  for (let j = 0; j < d; j++) {
    let s = a[j * d + j]!;
    for (let k = 0; k < j; k++) s -= a[j * d + k]! * a[j * d + k]!;
    if (!(s > 0)) return false;
    const ljj = Math.sqrt(s);
    a[j * d + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      let t = a[i * d + j]!;
      for (let k = 0; k < j; k++) t -= a[i * d + k]! * a[j * d + k]!;
      a[i * d + j] = t / ljj;
    }
    for (let k = j + 1; k < d; k++) a[j * d + k] = 0;
  }
  return true;
}

/** Solve L·Lᵀ x = b given the Cholesky factor L; `b` is overwritten with x. */
export function cholSolve(l: Float64Array, d: number, b: Float64Array): void {
  for (let i = 0; i < d; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i * d + k]! * b[k]!;
    b[i] = s / l[i * d + i]!;
  }
  for (let i = d - 1; i >= 0; i--) {
    let s = b[i]!;
    for (let k = i + 1; k < d; k++) s -= l[k * d + i]! * b[k]!;
    b[i] = s / l[i * d + i]!;
  }
}

/** Solve Lᵀ x = z (back substitution only); `z` is overwritten with x. Used to sample N(0, A⁻¹) as L⁻ᵀz. */
export function solveUpperT(l: Float64Array, d: number, z: Float64Array): void {
  for (let i = d - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < d; k++) s -= l[k * d + i]! * z[k]!;
    z[i] = s / l[i * d + i]!;
  }
}

/**
 * Sherman–Morrison: replace `inv` (= A⁻¹, symmetric) by (A + x xᵀ)⁻¹ in O(d²).
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

/** xᵀ M x for symmetric M. */
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

/** y = M x (d×d times d). */
export function matVec(m: Float64Array, d: number, x: ArrayLike<number>, y: Float64Array): void {
  for (let i = 0; i < d; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += m[i * d + k]! * x[k]!;
    y[i] = s;
  }
}

/** Identity scaled by `s` into `out`. */
export function scaledIdentity(d: number, s: number, out = new Float64Array(d * d)): Float64Array {
  out.fill(0);
  for (let i = 0; i < d; i++) out[i * d + i] = s;
  return out;
}

/** Dot product of row `i` of a row-major matrix with a vector. */
export function rowDot(m: ArrayLike<number>, i: number, d: number, v: ArrayLike<number>, vOff = 0): number {
  let s = 0;
  const o = i * d;
  for (let k = 0; k < d; k++) s += m[o + k]! * v[vOff + k]!;
  return s;
}
