/**
 * Item-kNN's similarity rows: the native kernel (src/nn/native/knn.c) must give bit-identical rows
 * to the JS kernel (knn-rows.ts `itemSimRowsJs`): same neighbours in the same order, same float32
 * values, including ties (binary weights tie often) and shrinkage.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset.js';
import { syntheticPowerLaw } from '../../src/data/synthetic.js';
import { jsKernels, kernels, knnSimRowsKernel, nativeKernels, setKernels } from '../../src/nn/kernels.js';
import { itemSimRows, itemSimRowsJs, type ItemSimInput } from '../../src/recommenders/knn-rows.js';
import { ItemKnn } from '../../src/recommenders/knn.js';

const native = nativeKernels();
const initial = kernels();
const hasKnnNative = (() => {
  if (!native) return false;
  setKernels(native);
  const ok = knnSimRowsKernel() !== null;
  setKernels(initial);
  return ok;
})();

afterEach(() => setKernels(initial));

function data(): Dataset {
  return syntheticPowerLaw({ users: 250, items: 180, interactions: 5_000, groups: 4, affinity: 0.8, seed: 21 }).dataset;
}

/** The kernel input as ItemKnn builds it, with binary or raw (non-integer) weights. */
function input(ds: Dataset, binary: boolean, k: number, shrink: number): ItemSimInput {
  const byUser = ds.byUser();
  const byItem = ds.byItem();
  // Raw weights: the values times an irrational-ish factor, so products and sums are not exact.
  const w = (v: Float32Array | Float64Array): Float32Array => (binary ? new Float32Array(v.length).fill(1) : Float32Array.from(v, (x) => x * 0.7311));
  const iw = w(byItem.values);
  const norms = new Float64Array(ds.nItems);
  for (let i = 0; i < ds.nItems; i++) {
    let s = 0;
    for (let p = byItem.indptr[i]!; p < byItem.indptr[i + 1]!; p++) s += iw[p]! * iw[p]!;
    norms[i] = Math.sqrt(s);
  }
  return { uIndptr: byUser.indptr, uIndices: byUser.indices, uWeights: w(byUser.values), iIndptr: byItem.indptr, iUsers: byItem.indices, iWeights: iw, norms, k, shrink };
}

describe.skipIf(!hasKnnNative)('item-kNN native rows against the JS kernel', () => {
  const ds = data();
  for (const [binary, k, shrink] of [
    [true, 20, 0],
    [true, 5, 10],
    [false, 50, 2.5],
    [false, 1000, 0],
  ] as const) {
    it(`binary ${binary}, k ${k}, shrink ${shrink}: bit-identical rows, progress reported alike`, () => {
      const inp = input(ds, binary, k, shrink);
      const jsDone: number[] = [];
      const js = itemSimRowsJs(inp, 3, ds.nItems - 2, (d) => jsDone.push(d), 40);
      setKernels(native!);
      const nativeDone: number[] = [];
      const nat = itemSimRows(inp, 3, ds.nItems - 2, (d) => nativeDone.push(d), 40);
      expect(Array.from(nat.counts)).toEqual(Array.from(js.counts));
      expect(Array.from(nat.indices)).toEqual(Array.from(js.indices));
      expect(Array.from(nat.values)).toEqual(Array.from(js.values));
      expect(nativeDone).toEqual(jsDone);
    });
  }

  it('ItemKnn fits the same model on either kernel', async () => {
    setKernels(jsKernels);
    const a = new ItemKnn({ k: 30, threads: 1 });
    await a.fit(ds);
    setKernels(native!);
    const b = new ItemKnn({ k: 30, threads: 1 });
    await b.fit(ds);
    for (let u = 0; u < ds.nUsers; u += 17) expect(Array.from(b.scoreAll(u))).toEqual(Array.from(a.scoreAll(u)));
  });

  it('rejects an index outside the inputs instead of reading past them', () => {
    setKernels(native!);
    const inp = input(ds, true, 10, 0);
    const bad = { ...inp, uIndices: inp.uIndices.map((j, q) => (q === 0 ? ds.nItems + 5 : j)) };
    expect(() => itemSimRows(bad, 0, ds.nItems)).toThrow(RangeError);
  });
});
