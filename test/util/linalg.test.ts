import { describe, expect, it } from 'vitest';
import { nativeKernels } from '../../src/nn/kernels.js';
import {
  axpy,
  cholesky,
  choleskySolve,
  gram,
  sgemmJs,
  spdInverseInPlace,
} from '../../src/util/linalg.js';
import { Rng } from '../../src/util/rng.js';

function randomMatrix(rng: Rng, rows: number, cols: number): Float64Array {
  const a = new Float64Array(rows * cols);
  for (let k = 0; k < a.length; k++) a[k] = rng.normal();
  return a;
}

/** A = MᵀM + ridge·I (SPD), computed the naive way. */
function randomSpd(rng: Rng, n: number, ridge: number): Float64Array {
  const m = randomMatrix(rng, n + 3, n);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let r = 0; r < n + 3; r++) s += m[r * n + i]! * m[r * n + j]!;
      a[i * n + j] = s + (i === j ? ridge : 0);
    }
  return a;
}

describe('vector kernels', () => {
  it('axpy matches a naive loop at offsets and odd lengths', () => {
    const rng = new Rng(1);
    const a = Float64Array.from({ length: 40 }, () => rng.normal());
    const b = Float32Array.from({ length: 40 }, () => rng.normal());
    for (const n of [0, 1, 3, 4, 7, 13]) {
      const y = Float64Array.from(a);
      axpy(-0.5, b, 9, y, 5, n);
      for (let k = 0; k < 40; k++) {
        const inside = k >= 5 && k < 5 + n;
        expect(y[k]).toBeCloseTo(a[k]! + (inside ? -0.5 * b[k - 5 + 9]! : 0), 12);
      }
    }
  });

  it('gram equals AᵀA + ridge·I for row counts that are not a multiple of 4', () => {
    const rng = new Rng(2);
    for (const rows of [1, 4, 7, 10]) {
      const cols = 5;
      const a = Float32Array.from(randomMatrix(rng, rows, cols));
      const g = gram(a, rows, cols, new Float64Array(cols * cols), 0.25);
      for (let i = 0; i < cols; i++)
        for (let j = 0; j < cols; j++) {
          let s = i === j ? 0.25 : 0;
          for (let r = 0; r < rows; r++) s += a[r * cols + i]! * a[r * cols + j]!;
          expect(g[i * cols + j]).toBeCloseTo(s, 5);
        }
    }
  });
});

describe('solvers', () => {
  it('Cholesky solve recovers x from A·x', () => {
    const rng = new Rng(3);
    const n = 9;
    const a = randomSpd(rng, n, 0.5);
    const x = Float64Array.from({ length: n }, () => rng.normal());
    const b = new Float64Array(n);
    for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) b[i] += a[i * n + k]! * x[k]!;
    const l = Float64Array.from(a);
    expect(cholesky(l, n)).toBe(true);
    choleskySolve(l, n, b);
    for (let i = 0; i < n; i++) expect(b[i]).toBeCloseTo(x[i]!, 9);
  });

  it('Cholesky is bit-identical to the one-row-at-a-time, sequential-sum factorisation (the seeded figures depend on it)', () => {
    const rng = new Rng(7);
    for (const n of [1, 2, 3, 4, 5, 7, 8, 13, 64]) {
      const a = randomSpd(rng, n, 0.5);
      const ref = Float64Array.from(a);
      for (let j = 0; j < n; j++) {
        let s = ref[j * n + j]!;
        for (let k = 0; k < j; k++) s -= ref[j * n + k]! * ref[j * n + k]!;
        const ljj = Math.sqrt(s);
        ref[j * n + j] = ljj;
        for (let i = j + 1; i < n; i++) {
          let t = ref[i * n + j]!;
          for (let k = 0; k < j; k++) t -= ref[i * n + k]! * ref[j * n + k]!;
          ref[i * n + j] = t / ljj;
        }
        for (let k = j + 1; k < n; k++) ref[j * n + k] = 0;
      }
      const l = Float64Array.from(a);
      expect(cholesky(l, n)).toBe(true);
      expect([...l]).toEqual([...ref]);
    }
  });

  it('Cholesky reports a matrix that is not positive definite', () => {
    const a = Float64Array.from([1, 2, 2, 1]);
    expect(cholesky(a, 2)).toBe(false);
  });
});

describe('GEMM and the SPD inverse', () => {
  it('sgemmJs matches a naive product for every transpose case, with alpha and beta', () => {
    const rng = new Rng(5);
    const M = 5;
    const N = 4;
    const K = 6;
    for (const tA of [false, true])
      for (const tB of [false, true]) {
        const A = Float32Array.from(randomMatrix(rng, M, K));
        const B = Float32Array.from(randomMatrix(rng, K, N));
        const C = Float32Array.from(randomMatrix(rng, M, N));
        const ref = Float64Array.from(C);
        const at = (i: number, k: number): number => (tA ? A[k * M + i]! : A[i * K + k]!);
        const bt = (k: number, j: number): number => (tB ? B[j * K + k]! : B[k * N + j]!);
        for (let i = 0; i < M; i++)
          for (let j = 0; j < N; j++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += at(i, k) * bt(k, j);
            ref[i * N + j] = 2 * s + 0.5 * ref[i * N + j]!;
          }
        sgemmJs(tA, tB, M, N, K, 2, A, tA ? M : K, B, tB ? K : N, 0.5, C, N);
        for (let k = 0; k < M * N; k++) expect(C[k]).toBeCloseTo(ref[k]!, 4);
      }
  });

  const gemms = [['js', sgemmJs] as const];
  const native = nativeKernels();
  if (native) gemms.push(['native', native.sgemm] as unknown as (typeof gemms)[0]);

  for (const [name, gemm] of gemms) {
    it(`spdInverseInPlace (${name} GEMM) gives M·M⁻¹ = I across several recursion levels`, () => {
      const rng = new Rng(6);
      // 600: the symmetric updates of the top level span several row tiles.
      for (const n of [1, 5, 97, 230, 600]) {
        // Symmetric with a dominant diagonal (SPD by Gershgorin), cheap to build at n = 600.
        const a = new Float64Array(n * n);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < i; j++) a[i * n + j] = a[j * n + i] = rng.normal();
          a[i * n + i] = n + 1;
        }
        const m = Float32Array.from(a);
        spdInverseInPlace(m, n, gemm);
        let worst = 0;
        let asym = 0;
        // Every row of M·M⁻¹ for small n; a spread of rows (all tiles) for the big one.
        for (let i = 0; i < n; i += n > 300 ? 7 : 1)
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let k = 0; k < n; k++) s += a[i * n + k]! * m[k * n + j]!;
            worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
            asym = Math.max(asym, Math.abs(m[i * n + j]! - m[j * n + i]!));
          }
        expect(worst).toBeLessThan(1e-4);
        expect(asym).toBeLessThan(1e-6);
      }
    });
  }

  it('spdInverseInPlace refuses an indefinite matrix', () => {
    const m = Float32Array.from([1, 2, 2, 1]);
    expect(() => spdInverseInPlace(m, 2)).toThrow(/not positive definite/);
  });
});
