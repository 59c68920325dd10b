import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { jsKernels, nativeAddonPath, nativeKernels, type Kernels } from '../../src/nn/kernels.js';
import { Rng } from '../../src/util/rng.js';

/** Double-precision reference of C = alpha·op(A)·op(B) + beta·C. */
function refGemm(tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number): Float64Array {
  const out = new Float64Array(C.length);
  for (let i = 0; i < C.length; i++) out[i] = C[i]!;
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (tA ? A[k * lda + i]! : A[i * lda + k]!) * (tB ? B[j * ldb + k]! : B[k * ldb + j]!);
      out[i * ldc + j] = alpha * s + beta * C[i * ldc + j]!;
    }
  return out;
}

const backends: Kernels[] = [jsKernels];
const native = nativeKernels();
if (native) backends.push(native);
// `npm ci` builds the addon (the package's install script), so in CI (CI set) a missing or
// unloadable addon fails here instead of passing as skipped native-vs-JS comparisons.
const nativeRequired = Boolean(process.env.CI);

describe.each(backends.map((k) => [k.name, k] as const))('%s kernels', (_name, k) => {
  const rng = new Rng(5);
  const rand = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());
  // Odd sizes exercise the kernel's edge tiles; K > 256 crosses its K blocking.
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [7, 19, 33],
    [13, 17, 300],
    [64, 48, 5],
  ];
  for (const [M, N, K] of shapes)
    for (const tA of [false, true])
      for (const tB of [false, true])
        it(`sgemm ${M}x${N}x${K} transA=${tA} transB=${tB} with padded strides, alpha and beta`, () => {
          const lda = (tA ? M : K) + 3;
          const ldb = (tB ? K : N) + 2;
          const ldc = N + 1;
          const A = rand((tA ? K : M) * lda);
          const B = rand((tB ? N : K) * ldb);
          const C = rand(M * ldc);
          const want = refGemm(tA, tB, M, N, K, 0.7, A, lda, B, ldb, 0.3, C, ldc);
          k.sgemm(tA, tB, M, N, K, 0.7, A, lda, B, ldb, 0.3, C, ldc);
          for (let i = 0; i < M; i++) {
            for (let j = 0; j < N; j++) expect(C[i * ldc + j]).toBeCloseTo(want[i * ldc + j]!, 3);
            // The padding column of C is left alone.
            expect(C[i * ldc + N]).toBe(Math.fround(want[i * ldc + N]!));
          }
        });

  it('beta = 0 overwrites C even where it holds NaN', () => {
    const C = new Float32Array(4).fill(NaN);
    k.sgemm(false, false, 2, 2, 1, 1, Float32Array.of(1, 2), 1, Float32Array.of(3, 4), 2, 0, C, 2);
    expect([...C]).toEqual([3, 4, 6, 8]);
  });

  it('biasAct and actGrad match their definitions for every activation', () => {
    const rows = 3;
    const n = 5;
    const b = rand(n);
    const pre = rand(rows * n);
    const d = rand(rows * n);
    const f: ((x: number) => number)[] = [(x) => x, (x) => Math.max(0, x), Math.tanh, (x) => 1 / (1 + Math.exp(-x))];
    const df: ((y: number) => number)[] = [() => 1, (y) => (y > 0 ? 1 : 0), (y) => 1 - y * y, (y) => y * (1 - y)];
    for (const act of [0, 1, 2, 3] as const) {
      const y = Float32Array.from(pre);
      k.biasAct(y, b, rows, n, act);
      for (let i = 0; i < y.length; i++) expect(y[i]).toBeCloseTo(f[act]!(pre[i]! + b[i % n]!), 5);
      const dz = new Float32Array(rows * n);
      const gb = Float32Array.of(1, 1, 1, 1, 1);
      k.actGrad(d, y, dz, gb, rows, n, act);
      for (let i = 0; i < dz.length; i++) expect(dz[i]).toBeCloseTo(d[i]! * df[act]!(y[i]!), 5);
      for (let j = 0; j < n; j++) expect(gb[j]).toBeCloseTo(1 + dz[j]! + dz[n + j]! + dz[2 * n + j]!, 5);
    }
  });

  it('adam matches the textbook update', () => {
    const p = Float32Array.of(1, -2, 0.5);
    const g = Float32Array.of(0.1, -0.3, 0);
    const m = new Float32Array(3);
    const v = new Float32Array(3);
    k.adam(p, g, m, v, 0.01, 0.9, 0.999, 1e-8, 1 - 0.9, 1 - 0.999);
    // At t = 1 the bias-corrected step is lr·sign(g) (for g ≠ 0).
    expect(p[0]).toBeCloseTo(0.99, 6);
    expect(p[1]).toBeCloseTo(-1.99, 6);
    expect(p[2]).toBe(0.5);
    expect(m[0]).toBeCloseTo(0.01, 7);
    expect(v[1]).toBeCloseTo(0.001 * 0.09, 8);
  });
});

// Runs in a worker: integer-valued operands, so every product sum is exact and must match.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const addon = require(workerData.path);
const n = workerData.n;
const A = Float32Array.from({ length: n * n }, (_, i) => ((i * 7 + n) % 13) - 6);
const B = Float32Array.from({ length: n * n }, (_, i) => ((i * 5 + n) % 11) - 5);
const C = new Float32Array(n * n);
let bad = 0;
for (let r = 0; r < 30; r++) {
  addon.sgemm(0, 0, n, n, n, 1, A, n, B, n, 0, C, n);
  for (let t = 0; t < 50; t++) {
    const i = (t * 7919) % n, j = (t * 104729) % n;
    let s = 0;
    for (let k = 0; k < n; k++) s += A[i * n + k] * B[k * n + j];
    if (s !== C[i * n + j]) bad++;
  }
}
parentPort.postMessage(bad);
`;

describe('native addon', () => {
  it.runIf(nativeRequired)('is built and loads in CI', () => {
    expect(native, 'src/nn/native/build/Release/chorus_nn.node missing or not loadable: run npm ci (or node src/nn/native/build.mjs)').not.toBeNull();
  });

  it.runIf(native !== null || nativeRequired)('is safe when worker threads multiply at the same time (per-thread buffers)', async () => {
    const path = nativeAddonPath()!;
    const bad = await Promise.all(
      [203, 317].map(
        (n) =>
          new Promise<number>((resolve, reject) => {
            const w = new Worker(WORKER, { eval: true, workerData: { path, n } });
            w.once('message', (m: number) => resolve(m));
            w.once('error', reject);
          }),
      ),
    );
    expect(bad).toEqual([0, 0]);
  });

  it.runIf(native !== null || nativeRequired)('rejects operands too small for the shape', () => {
    expect(() => native!.sgemm(false, false, 4, 4, 4, 1, new Float32Array(15), 4, new Float32Array(16), 4, 0, new Float32Array(16), 4)).toThrow(/too small/);
    expect(() => native!.biasAct(new Float32Array(5), new Float32Array(3), 2, 3, 1)).toThrow(/too small/);
    const out = new Float32Array(4);
    expect(() => native!.scoreRows(new Float32Array(4 * 8 - 1), new Float32Array(8), out, 4, 8, 0)).toThrow(/too small/);
    expect(() => native!.scoreRows(new Float32Array(32), new Float32Array(7), out, 4, 8, 0)).toThrow(/too small/);
    expect(() => native!.scoreRows(new Float32Array(32), new Float32Array(8), out, 4, 8, 0, new Float32Array(3))).toThrow(/bias shorter/);
  });
});

describe.each(backends.map((k) => [k.name, k] as const))('%s scoreRows', (_name, k) => {
  // Row counts around the native kernel's 4-row block and dims around its 8-lane chunks.
  for (const [n, dim] of [[0, 8], [1, 1], [3, 7], [4, 8], [5, 9], [9, 65], [1003, 64]] as const) {
    it(`matches a float64 reference for ${n} rows × ${dim} dims (no bias, float32 and float64 bias)`, () => {
      const rng = new Rng(n * 7 + dim);
      const items = Float32Array.from({ length: n * dim }, () => rng.normal());
      const user = Float32Array.from({ length: dim }, () => rng.normal());
      const b32 = Float32Array.from({ length: n }, () => rng.normal());
      const b64 = Float64Array.from(b32);
      for (const bias of [undefined, b32, b64]) {
        const out = new Float32Array(n + 1).fill(-9);
        k.scoreRows(items, user, out, n, dim, 0.25, bias);
        for (let i = 0; i < n; i++) {
          let s = 0.25 + (bias ? bias[i]! : 0);
          for (let f = 0; f < dim; f++) s += user[f]! * items[i * dim + f]!;
          // Float32 accumulation in any order: error ≤ dim · eps · Σ|terms|, far below this bound.
          expect(Math.abs(out[i]! - s)).toBeLessThan(1e-4 * (1 + Math.abs(s)));
        }
        expect(out[n]).toBe(-9); // writes only n values
      }
    });
  }

  it('scores subarray views (rows of a larger matrix, a user row inside a factor table)', () => {
    const rng = new Rng(3);
    const all = Float32Array.from({ length: 20 * 16 }, () => rng.normal());
    const users = Float32Array.from({ length: 3 * 16 }, () => rng.normal());
    const items = all.subarray(5 * 16, 15 * 16);
    const user = users.subarray(16, 32);
    const out = new Float32Array(10);
    k.scoreRows(items, user, out, 10, 16, 0);
    for (let i = 0; i < 10; i++) {
      let s = 0;
      for (let f = 0; f < 16; f++) s += users[16 + f]! * all[(5 + i) * 16 + f]!;
      expect(out[i]).toBeCloseTo(s, 4);
    }
  });
});
