import { describe, expect, it } from 'vitest';
import { heapOffer, topK } from '../../src/util/topk.js';
import { Rng } from '../../src/util/rng.js';

/** Reference order: higher score first, ties to the lower index. */
function sortedBest(scores: Float64Array, k: number): number[] {
  return Array.from(scores.keys())
    .sort((a, b) => scores[b]! - scores[a]! || a - b)
    .slice(0, k);
}

describe('topK / heapOffer', () => {
  const rng = new Rng(5);
  // Few distinct values, so ties are common and the tie rule is exercised.
  const scores = Float64Array.from({ length: 300 }, () => Math.floor(rng.next() * 20));

  it('topK returns the k best, ties to the lower index, best first', () => {
    for (const k of [0, 1, 7, 50, 300, 400]) {
      const r = topK(scores, k);
      expect(Array.from(r.items)).toEqual(sortedBest(scores, k));
    }
  });

  it('heapOffer keeps the same set as topK (unordered), for any k', () => {
    for (const k of [0, 1, 7, 50, 300]) {
      const idx = new Int32Array(k);
      const val = new Float64Array(k);
      let size = 0;
      for (let i = 0; i < scores.length; i++) size = heapOffer(idx, val, size, scores[i]!, i);
      expect(size).toBe(k);
      expect(Array.from(idx).sort((a, b) => a - b)).toEqual(sortedBest(scores, k).sort((a, b) => a - b));
      // The root is the worst kept entry.
      if (k > 0) expect(idx[0]).toBe(sortedBest(scores, k)[k - 1]);
    }
  });

  it('topK skips masked and non-finite scores', () => {
    const s = Float32Array.from([3, NaN, -Infinity, 5, 1]);
    const mask = Uint8Array.from([0, 0, 0, 1, 0]);
    expect(Array.from(topK(s, 5, mask).items)).toEqual([0, 4]);
  });
});
