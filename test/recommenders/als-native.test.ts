/**
 * ALS's two kernels, native (src/nn/native/als.c: one call per half-sweep, Gram and per-row CG or
 * Cholesky in C, pthreads) and JS (als-solve.ts: lock-step CG over GEMMs, worker threads), run the
 * same arithmetic: they must give the same factors to float tolerance, and each must give the same
 * factors for 1 and 2 threads. Also the P1 quality on the real ml-latest-small (needs ../shared).
 */
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset.js';
import { loadMovieLens } from '../../src/data/movielens.js';
import { temporalRatioSplit } from '../../src/data/split.js';
import { syntheticPowerLaw } from '../../src/data/synthetic.js';
import { evaluateRanking } from '../../src/eval/ranking.js';
import { alsSweepKernel, jsKernels, kernels, nativeKernels, setKernels, type Kernels } from '../../src/nn/kernels.js';
import { Als, type AlsConfig } from '../../src/recommenders/als.js';

const native = nativeKernels();
const hasAlsNative = (() => {
  if (!native) return false;
  const before = kernels();
  setKernels(native);
  const ok = alsSweepKernel() !== null;
  setKernels(before);
  return ok;
})();
const initial = kernels();

afterEach(() => setKernels(initial));

/** 300 users × 200 items, power-law activity, some users and items with few entries. */
function data(): Dataset {
  return syntheticPowerLaw({ users: 300, items: 200, interactions: 6_000, groups: 5, affinity: 0.8, seed: 11 }).dataset;
}

async function fitWith(k: Kernels, ds: Dataset, config: Partial<AlsConfig>): Promise<{ U: Float32Array; V: Float32Array }> {
  setKernels(k);
  const als = new Als(config);
  await als.fit(ds);
  return { U: als.userEmbeddings(), V: als.itemEmbeddings() };
}

/** ‖a − b‖ / ‖b‖ over all entries. */
function relDiff(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let k = 0; k < a.length; k++) {
    num += (a[k]! - b[k]!) ** 2;
    den += b[k]! ** 2;
  }
  return Math.sqrt(num / den);
}

describe.skipIf(!hasAlsNative)('ALS native kernel against the JS kernel', () => {
  const ds = data();

  // f = 13 exercises the scalar tails; f = 72 the 64-wide block plus an 8-wide one; 16 the plain path.
  for (const f of [16, 13, 72]) {
    it(`CG, ${f} factors: same factors to float tolerance after 5 iterations`, async () => {
      const config = { factors: f, iterations: 5, regularization: 1, alpha: 2, seed: 3, threads: 1 };
      const n = await fitWith(native!, ds, config);
      const j = await fitWith(jsKernels, ds, config);
      expect(n.U.length).toBe(j.U.length);
      expect(relDiff(n.U, j.U)).toBeLessThan(2e-4);
      expect(relDiff(n.V, j.V)).toBeLessThan(2e-4);
    });
  }

  it('exact solver: same factors to float tolerance', async () => {
    const config = { factors: 10, iterations: 4, regularization: 0.5, solver: 'exact' as const, seed: 4, threads: 1 };
    const n = await fitWith(native!, ds, config);
    const j = await fitWith(jsKernels, ds, config);
    expect(relDiff(n.U, j.U)).toBeLessThan(1e-5);
    expect(relDiff(n.V, j.V)).toBeLessThan(1e-5);
  });

  it('raw values and more CG steps: same factors to float tolerance', async () => {
    const config = { factors: 8, iterations: 3, values: 'raw' as const, cgSteps: 5, seed: 6, threads: 1 };
    const n = await fitWith(native!, ds, config);
    const j = await fitWith(jsKernels, ds, config);
    expect(relDiff(n.V, j.V)).toBeLessThan(2e-4);
  });

  it('1, 2 and 3 threads give bit-identical factors (CG and exact)', async () => {
    for (const solver of ['cg', 'exact'] as const) {
      const base = { factors: 24, iterations: 3, solver, seed: 9 };
      const one = await fitWith(native!, ds, { ...base, threads: 1 });
      for (const threads of [2, 3]) {
        const many = await fitWith(native!, ds, { ...base, threads });
        expect(Array.from(many.U)).toEqual(Array.from(one.U));
        expect(Array.from(many.V)).toEqual(Array.from(one.V));
      }
    }
  });

  it('rejects a column index outside the fixed factors instead of reading past them', () => {
    setKernels(native!);
    const sweep = alsSweepKernel()!;
    const x = new Float32Array(4);
    const y = new Float32Array(4); // two rows of f = 2
    const call = (col: number): void =>
      sweep(2, Int32Array.from([0, 1, 1]), Int32Array.from([col]), Float32Array.from([1]), x, y, 1, 0, 3, 1);
    expect(() => call(2)).toThrow(RangeError);
    expect(() => call(-1)).toThrow(RangeError);
    expect(() => call(1)).not.toThrow();
  });
});

describe('ALS JS kernel with worker threads', () => {
  it('two worker threads give exactly the single-thread result', async () => {
    const ds = data();
    const base = { factors: 8, iterations: 2, seed: 5 };
    const one = await fitWith(jsKernels, ds, { ...base, threads: 1 });
    const two = await fitWith(jsKernels, ds, { ...base, threads: 2 });
    expect(Array.from(two.V)).toEqual(Array.from(one.V));
    expect(Array.from(two.U)).toEqual(Array.from(one.U));
  });
});

const ML = resolve(process.cwd(), '../shared/datasets/ml-latest-small');

describe('ALS on P1 (ml-latest-small, variant all)', () => {
  it('keeps NDCG@10 within 0.002 of 0.1168 (the figure before the native kernel) with the default config', async () => {
    const { dataset } = await loadMovieLens(ML, { metadata: false });
    const { train, test } = temporalRatioSplit(dataset);
    const als = new Als();
    await als.fit(train);
    const ndcg = evaluateRanking(als, train, test, { k: 10 }).metrics['ndcg@10']!;
    expect(Math.abs(ndcg - 0.1168)).toBeLessThan(0.002);
  }, 60_000);
});
