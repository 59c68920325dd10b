import { describe, expect, it } from 'vitest';
import { itemPopularity, noHistoryScores } from '../../src/util/no-history.js';

describe('noHistoryScores', () => {
  const popularity = itemPopularity(Int32Array.from([0, 2, 2, 1, 2]), 4);

  it('counts training users per item', () => {
    expect(Array.from(popularity)).toEqual([1, 1, 3, 0]);
  });

  it("keeps the model's own scores for an empty user when they rank anything", () => {
    const own = Float32Array.from([0.1, 0.9, 0.2, NaN]);
    expect(noHistoryScores(own, popularity)).toBe(own);
  });

  it('falls back to popularity when every finite score is equal (a zero user vector)', () => {
    expect(Array.from(noHistoryScores(new Float32Array(4), popularity))).toEqual([1, 1, 3, 0]);
    expect(Array.from(noHistoryScores(Float32Array.from([2, NaN, 2, -Infinity]), popularity))).toEqual([1, 1, 3, 0]);
  });
});
