import { describe, expect, it } from 'vitest';
import { bootstrapMean, pairedComparison, regularizedBeta, studentTTwoSided } from '../../src/eval/stats.js';
import { Rng } from '../../src/util/rng.js';

describe('bootstrapMean', () => {
  const rng = new Rng(7);
  const values = Float64Array.from({ length: 300 }, () => rng.next());

  it('is deterministic for a seed and changes with the seed', () => {
    const a = bootstrapMean(values, { seed: 3, samples: 500 });
    const b = bootstrapMean(values, { seed: 3, samples: 500 });
    const c = bootstrapMean(values, { seed: 4, samples: 500 });
    expect(a).toEqual(b);
    expect(c.lo === a.lo && c.hi === a.hi).toBe(false);
  });

  it('brackets the mean, with a width near 2·1.96·sd/√n', () => {
    const r = bootstrapMean(values, { seed: 1, samples: 2000 });
    expect(r.lo).toBeLessThan(r.mean);
    expect(r.hi).toBeGreaterThan(r.mean);
    // uniform(0,1): sd = 1/√12 → normal-theory width 2·1.96·0.2887/√300 = 0.0653
    expect(r.hi - r.lo).toBeGreaterThan(0.05);
    expect(r.hi - r.lo).toBeLessThan(0.08);
  });

  it('ignores NaN entries and collapses on constant data', () => {
    const r = bootstrapMean([2, NaN, 2, 2]);
    expect([r.mean, r.lo, r.hi]).toEqual([2, 2, 2]);
  });
});

describe('Student t and incomplete beta', () => {
  it('matches table values', () => {
    // two-sided critical values of t with 10 df: 2.228139 at 5 %, 1.812461 at 10 %
    expect(studentTTwoSided(2.228138852, 10)).toBeCloseTo(0.05, 8);
    expect(studentTTwoSided(-1.812461123, 10)).toBeCloseTo(0.1, 8);
    expect(studentTTwoSided(0, 5)).toBeCloseTo(1, 12);
    // I_x(1,1) = x; I_x(2,1) = x²
    expect(regularizedBeta(0.3, 1, 1)).toBeCloseTo(0.3, 12);
    expect(regularizedBeta(0.6, 2, 1)).toBeCloseTo(0.36, 12);
  });
});

describe('pairedComparison', () => {
  it('hand-computed paired t-test: d = 1..5', () => {
    // a − b = [1,2,3,4,5]: mean 3, sd √2.5, t = 3 / (√2.5/√5) = 4.242641, df 4
    // two-sided p = 0.0132356 (scipy.stats.ttest_rel on the same pairs)
    const r = pairedComparison([2, 4, 6, 8, 10], [1, 2, 3, 4, 5], { seed: 1 });
    expect(r.n).toBe(5);
    expect(r.meanDiff).toBeCloseTo(3, 12);
    expect(r.t).toBeCloseTo(4.242641, 5);
    expect(r.pValue).toBeCloseTo(0.0132356, 6);
    // all 32 sign patterns: only all-positive and all-negative reach |Σ| = 15 → exact p = 2/32
    expect(r.pRandomization).toBeGreaterThan(0.04);
    expect(r.pRandomization).toBeLessThan(0.09);
  });

  it('the sign follows which model is better, and the interval excludes 0 for a clear gap', () => {
    const rng = new Rng(11);
    const b = Float64Array.from({ length: 200 }, () => rng.next() * 0.5);
    const a = b.map((x) => x + 0.05 + rng.normal() * 0.02);
    const ab = pairedComparison(a, b, { seed: 2 });
    const ba = pairedComparison(b, a, { seed: 2 });
    expect(ab.meanDiff).toBeGreaterThan(0);
    expect(ab.diffInterval.lo).toBeGreaterThan(0);
    expect(ab.pValue).toBeLessThan(1e-6);
    expect(ba.meanDiff).toBeCloseTo(-ab.meanDiff, 12);
    expect(ba.diffInterval.hi).toBeLessThan(0);
    expect(ba.t).toBeCloseTo(-ab.t, 9);
  });

  it('finds no difference between a model and itself', () => {
    const v = [0.1, 0.5, 0.3];
    const r = pairedComparison(v, v);
    expect(r.meanDiff).toBe(0);
    expect(r.pValue).toBe(1);
  });
});
