import { describe, expect, it } from 'vitest';
import { logPopularity } from '../../src/util/log-popularity.js';

describe('logPopularity', () => {
  it('is log(1 + p) / log(1 + max p): 1 for the most popular item, 0 for an unseen one', () => {
    const out = logPopularity(Int32Array.from([0, 3, 15, 1]));
    expect(out).toBeInstanceOf(Float64Array);
    expect(out[0]).toBe(0);
    expect(out[2]).toBe(1);
    expect(out[1]).toBeCloseTo(Math.log(4) / Math.log(16), 15);
    expect(out[3]).toBeCloseTo(Math.log(2) / Math.log(16), 15);
  });

  it('gives zeros, not NaN, when nothing has been seen, and reads negative counts as 0', () => {
    expect([...logPopularity(new Float32Array(3))]).toEqual([0, 0, 0]);
    expect(logPopularity(Float32Array.from([-2, 1]))[0]).toBe(0);
  });

  it('writes into the array it is given, rounding to its precision', () => {
    const out = new Float32Array(2);
    expect(logPopularity([1, 2], out)).toBe(out);
    expect(out[0]).toBe(Math.fround(Math.log(2) / Math.log(3)));
  });
});
