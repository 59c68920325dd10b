import { describe, expect, it } from 'vitest';
import {
  coverage,
  exposureGini,
  idealDcg,
  itemCategoriesFrom,
  listDiversity,
  listNovelty,
  selfInformation,
  userMetrics,
} from '../../src/eval/metrics.js';

function mask(n: number, items: number[]): Uint8Array {
  const m = new Uint8Array(n);
  for (const i of items) m[i] = 1;
  return m;
}

describe('userMetrics (hand-computed)', () => {
  it('two hits at ranks 2 and 4 of 5, three relevant items', () => {
    // list 3,1,7,5,9; truth {1,5,8}: hits at ranks 2 and 4.
    const m = userMetrics(Int32Array.from([3, 1, 7, 5, 9]), mask(10, [1, 5, 8]), 3, 5);
    expect(m.hits).toBe(2);
    expect(m.precision).toBeCloseTo(2 / 5, 12);
    expect(m.recall).toBeCloseTo(2 / 3, 12);
    // F1 = 2·0.4·0.6667 / (0.4 + 0.6667) = 0.5
    expect(m.f1).toBeCloseTo(0.5, 12);
    // DCG = 1/log2(3) + 1/log2(5) = 0.630930 + 0.430677 = 1.061606
    // IDCG (3 relevant) = 1 + 0.630930 + 0.5 = 2.130930 → NDCG = 0.498193
    expect(m.ndcg).toBeCloseTo(0.498193, 5);
    // AP@5 = (1/2 + 2/4) / min(3, 5) = 1/3
    expect(m.ap).toBeCloseTo(1 / 3, 12);
    expect(m.rr).toBeCloseTo(0.5, 12);
    expect(m.hr).toBe(1);
  });

  it('no hit gives zeros everywhere', () => {
    const m = userMetrics(Int32Array.from([0, 1, 2]), mask(10, [7]), 1, 3);
    expect([m.hits, m.precision, m.recall, m.f1, m.ndcg, m.ap, m.rr, m.hr]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('more relevant items than K: ideal DCG is cut at K', () => {
    // list 0,1 (K=2), truth {0,1,2,3}: both hit, perfect at K.
    const m = userMetrics(Int32Array.from([0, 1]), mask(10, [0, 1, 2, 3]), 4, 2);
    expect(m.precision).toBe(1);
    expect(m.recall).toBe(0.5);
    expect(m.ndcg).toBeCloseTo(1, 12);
    expect(m.ap).toBeCloseTo(1, 12); // (1/1 + 2/2) / min(4, 2)
    expect(m.rr).toBe(1);
  });

  it('a list shorter than K still divides precision by K', () => {
    const m = userMetrics(Int32Array.from([4]), mask(10, [4]), 1, 10);
    expect(m.precision).toBeCloseTo(0.1, 12);
    expect(m.recall).toBe(1);
    expect(m.ndcg).toBeCloseTo(1, 12);
  });

  it('only the first K entries of a longer list count', () => {
    const m = userMetrics(Int32Array.from([0, 1, 2]), mask(10, [2]), 1, 2);
    expect(m.hits).toBe(0);
  });

  it('idealDcg sums discounts 1/log2(r+1)', () => {
    expect(idealDcg(2, 10)).toBeCloseTo(1 + 1 / Math.log2(3), 12);
    expect(idealDcg(0, 10)).toBe(0);
  });
});

describe('catalogue metrics (tiny cases)', () => {
  it('coverage counts exposed items over the catalogue', () => {
    expect(coverage(Int32Array.from([2, 0, 1, 0]), 4)).toBe(0.5);
  });

  it('Gini: 0 for equal exposure, 0.75 when one of four items takes everything', () => {
    expect(exposureGini(Int32Array.from([1, 1, 1, 1]))).toBe(0);
    // sorted [0,0,0,4]: Σ(2i−n−1)x = (8−5)·4 = 12; 12 / (4·4) = 0.75
    expect(exposureGini(Int32Array.from([0, 0, 0, 4]))).toBeCloseTo(0.75, 12);
    // restricted to a catalogue of items 0 and 3: [0, 4] → (2·2−3)·4 / (2·4) = 0.5
    expect(exposureGini(Int32Array.from([0, 9, 9, 4]), Uint8Array.from([1, 0, 0, 1]))).toBeCloseTo(0.5, 12);
  });

  it('novelty is the mean self-information −log2(share of users)', () => {
    const info = selfInformation(Int32Array.from([1, 2, 4, 0]), 4);
    expect(Array.from(info.subarray(0, 3))).toEqual([2, 1, 0]);
    expect(Number.isNaN(info[3]!)).toBe(true);
    expect(listNovelty(Int32Array.from([0, 1]), info, 10)).toBeCloseTo(1.5, 12);
  });

  it('intra-list diversity: 1 − cosine over binary category vectors, uncategorised items left out', () => {
    const cats = itemCategoriesFrom([['A', 'B'], ['B'], ['C'], undefined], 4);
    // pairs (0,1): 1 − 1/√2 = 0.292893; (0,2): 1; (1,2): 1 → mean 0.764298
    expect(listDiversity(Int32Array.from([0, 1, 2, 3]), cats, 10)).toBeCloseTo((1 - 1 / Math.SQRT2 + 2) / 3, 12);
    expect(listDiversity(Int32Array.from([1, 1]), cats, 10)).toBe(0);
    expect(Number.isNaN(listDiversity(Int32Array.from([0, 3]), cats, 10))).toBe(true);
  });
});
