import type { Rng } from '../util/rng.js';

/** A sparse matrix in CSR form (rows = documents, cols = features). */
export interface SparseMatrix {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
}

export interface SvdOptions {
  /** Extra random directions beyond k (Halko et al. recommend 5–10). */
  oversample?: number;
  /** Power (subspace) iterations; sharpen the spectrum when singular values decay slowly, as in text. */
  powerIterations?: number;
}

export interface TruncatedSvd {
  k: number;
  /** Right singular vectors, row-major cols × k: row f is feature f's loading on each component. */
  components: Float32Array;
  singularValues: Float64Array;
}

/**
 * Randomized truncated SVD (Halko, Martinsson & Tropp 2011, Alg. 4.4 + 5.1): sample the range of
 * A with a Gaussian test matrix, refine it with power iterations (re-orthonormalised each time),
 * then solve the small l×l problem exactly. Dense blocks are column-major Float64Array so
 * Gram–Schmidt walks contiguous memory. Components get a deterministic sign (largest |loading|
 * positive), so equal inputs and seed give bit-identical output.
 */
export function randomizedSvd(a: SparseMatrix, k: number, rng: Rng, options: SvdOptions = {}): TruncatedSvd {
  const { rows, cols } = a;
  const l = Math.max(1, Math.min(k + (options.oversample ?? 10), rows, cols));
  const q = options.powerIterations ?? 2;

  const omega = new Float64Array(cols * l);
  for (let t = 0; t < omega.length; t++) omega[t] = rng.normal();
  const y = new Float64Array(rows * l);
  const z = new Float64Array(cols * l);
  // Row-major scratch for the sparse products (sized for the larger side).
  const s1 = new Float64Array(Math.max(rows, cols) * l);
  const s2 = new Float64Array(Math.max(rows, cols) * l);
  multiply(a, omega, l, y, s1, s2);
  // Inside the power iterations one Gram–Schmidt pass keeps the basis well enough conditioned
  // (it only has to stop the columns collapsing onto the top singular vector); the final Q gets two.
  for (let it = 0; it < q; it++) {
    orthonormalize(y, rows, l, 1);
    multiplyTransposed(a, y, l, z, s1, s2);
    orthonormalize(z, cols, l, 1);
    multiply(a, z, l, y, s1, s2);
  }
  orthonormalize(y, rows, l, 2); // Q, rows × l
  multiplyTransposed(a, y, l, z, s1, s2); // Bᵀ = Aᵀ Q, cols × l

  // C = B Bᵀ (l × l), eigen-decomposed: B = W Σ Vᵀ  =>  V = Bᵀ W Σ⁻¹.
  const c = new Float64Array(l * l);
  for (let i = 0; i < l; i++) {
    const zi = i * cols;
    for (let j = i; j < l; j++) {
      const zj = j * cols;
      let s = 0;
      for (let f = 0; f < cols; f++) s += z[zi + f]! * z[zj + f]!;
      c[i * l + j] = s;
      c[j * l + i] = s;
    }
  }
  const { values, vectors } = jacobiEigen(c, l);
  const order = Array.from({ length: l }, (_, t) => t).sort((i, j) => values[j]! - values[i]! || i - j);

  const components = new Float32Array(cols * k);
  const singularValues = new Float64Array(k);
  const col = new Float64Array(cols);
  for (let m = 0; m < Math.min(k, l); m++) {
    const e = order[m]!;
    const lambda = values[e]!;
    if (!(lambda > 1e-12)) continue; // rank-deficient: leave the component at zero
    const sigma = Math.sqrt(lambda);
    singularValues[m] = sigma;
    col.fill(0);
    for (let i = 0; i < l; i++) {
      const w = vectors[i * l + e]! / sigma;
      if (w === 0) continue;
      const zi = i * cols;
      for (let f = 0; f < cols; f++) col[f] += z[zi + f]! * w;
    }
    let big = 0;
    for (let f = 0; f < cols; f++) if (Math.abs(col[f]!) > Math.abs(big)) big = col[f]!;
    const sign = big < 0 ? -1 : 1;
    for (let f = 0; f < cols; f++) components[f * k + m] = sign * col[f]!;
  }
  return { k, components, singularValues };
}

/**
 * out (rows × l, column-major) = A · x (x: cols × l, column-major). One pass over the sparse rows
 * with the l-wide inner loop on row-major scratch copies (`xr`, `or`): contiguous memory instead
 * of l strided passes over A.
 */
function multiply(a: SparseMatrix, x: Float64Array, l: number, out: Float64Array, xr: Float64Array, or: Float64Array): void {
  const { rows, cols, indptr, indices, values } = a;
  toRowMajor(x, cols, l, xr);
  or.fill(0);
  for (let r = 0; r < rows; r++) {
    const o = r * l;
    for (let p = indptr[r]!; p < indptr[r + 1]!; p++) {
      const v = values[p]!;
      const xo = indices[p]! * l;
      for (let j = 0; j < l; j++) or[o + j] += v * xr[xo + j]!;
    }
  }
  toColumnMajor(or, rows, l, out);
}

/** out (cols × l, column-major) = Aᵀ · x (x: rows × l, column-major); same layout trick. */
function multiplyTransposed(a: SparseMatrix, x: Float64Array, l: number, out: Float64Array, xr: Float64Array, or: Float64Array): void {
  const { rows, cols, indptr, indices, values } = a;
  toRowMajor(x, rows, l, xr);
  or.fill(0);
  for (let r = 0; r < rows; r++) {
    const xo = r * l;
    for (let p = indptr[r]!; p < indptr[r + 1]!; p++) {
      const v = values[p]!;
      const o = indices[p]! * l;
      for (let j = 0; j < l; j++) or[o + j] += v * xr[xo + j]!;
    }
  }
  toColumnMajor(or, cols, l, out);
}

function toRowMajor(colMajor: Float64Array, n: number, l: number, out: Float64Array): void {
  for (let j = 0; j < l; j++) {
    const c = j * n;
    for (let i = 0; i < n; i++) out[i * l + j] = colMajor[c + i]!;
  }
}

function toColumnMajor(rowMajor: Float64Array, n: number, l: number, out: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const r = i * l;
    for (let j = 0; j < l; j++) out[j * n + i] = rowMajor[r + j]!;
  }
}

/**
 * Orthonormalise the l columns (each of length n) in place: modified Gram–Schmidt, applied twice
 * ("twice is enough", Giraud et al.) where numerical orthogonality matters. A column that collapses to
 * zero (rank deficiency) stays zero.
 */
function orthonormalize(m: Float64Array, n: number, l: number, passes: number): void {
  for (let j = 0; j < l; j++) {
    const cj = j * n;
    for (let pass = 0; pass < passes; pass++) {
      for (let i = 0; i < j; i++) {
        const ci = i * n;
        let d = 0;
        for (let t = 0; t < n; t++) d += m[ci + t]! * m[cj + t]!;
        if (d === 0) continue;
        for (let t = 0; t < n; t++) m[cj + t] -= d * m[ci + t]!;
      }
    }
    let norm = 0;
    for (let t = 0; t < n; t++) norm += m[cj + t]! * m[cj + t]!;
    norm = Math.sqrt(norm);
    if (norm < 1e-10) {
      for (let t = 0; t < n; t++) m[cj + t] = 0;
    } else {
      const inv = 1 / norm;
      for (let t = 0; t < n; t++) m[cj + t] *= inv;
    }
  }
}

/**
 * Eigen-decomposition of a symmetric n×n matrix (row-major) by cyclic Jacobi rotations: exact to
 * machine precision and deterministic, and n (k + oversampling) is small. Returns eigenvalues and
 * eigenvectors as columns of a row-major n×n matrix.
 */
export function jacobiEigen(input: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(input);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < n; i++) {
      diag += a[i * n + i]! * a[i * n + i]!;
      for (let j = i + 1; j < n; j++) off += a[i * n + j]! * a[i * n + j]!;
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < n; p++) {
      for (let qq = p + 1; qq < n; qq++) {
        const apq = a[p * n + qq]!;
        if (Math.abs(apq) < 1e-300) continue;
        const app = a[p * n + p]!;
        const aqq = a[qq * n + qq]!;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const cs = 1 / Math.sqrt(t * t + 1);
        const sn = t * cs;
        for (let r = 0; r < n; r++) {
          const arp = a[r * n + p]!;
          const arq = a[r * n + qq]!;
          a[r * n + p] = cs * arp - sn * arq;
          a[r * n + qq] = sn * arp + cs * arq;
        }
        for (let r = 0; r < n; r++) {
          const apr = a[p * n + r]!;
          const aqr = a[qq * n + r]!;
          a[p * n + r] = cs * apr - sn * aqr;
          a[qq * n + r] = sn * apr + cs * aqr;
        }
        for (let r = 0; r < n; r++) {
          const vrp = v[r * n + p]!;
          const vrq = v[r * n + qq]!;
          v[r * n + p] = cs * vrp - sn * vrq;
          v[r * n + qq] = sn * vrp + cs * vrq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i]!;
  return { values, vectors: v };
}
