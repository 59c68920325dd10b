import { describe, expect, it } from 'vitest';
import { addGaussianNoise, analyticGaussianDelta, analyticGaussianEpsilon, analyticGaussianSigma, classicGaussianSigma } from '../../src/privacy/mechanisms.js';
import { boundUserItems, type BoundedRows, countSensitivity, gramSensitivity, noisyGram, noisyItemCounts, planCounts } from '../../src/privacy/dp-counts.js';
import { dpCountsConfigSchema } from '../../src/privacy/config.js';
import { ConfigError } from '../../src/errors.js';
import { Rng } from '../../src/util/rng.js';

/** Φ by Simpson's rule on the normal density: independent of the library's erfc. */
function phi(x: number): number {
  if (x < -12) return 0;
  const n = 20000;
  const a = -12;
  const h = (x - a) / n;
  let s = 0;
  for (let k = 0; k <= n; k++) {
    const t = a + k * h;
    const w = k === 0 || k === n ? 1 : k % 2 ? 4 : 2;
    s += w * Math.exp(-t * t / 2);
  }
  return (s * h) / 3 / Math.sqrt(2 * Math.PI);
}

function std(values: Float64Array | Float32Array, mean = 0): number {
  let ss = 0;
  for (const v of values) ss += (v - mean) ** 2;
  return Math.sqrt(ss / values.length);
}

describe('Gaussian mechanism', () => {
  it('classic σ is Δ·√(2 ln(1.25/δ))/ε', () => {
    expect(classicGaussianSigma(2, 0.5, 1e-5)).toBeCloseTo((2 * Math.sqrt(2 * Math.log(1.25e5))) / 0.5, 12);
  });

  it('analytic σ solves Balle & Wang\'s equation δ = Φ(Δ/2σ − εσ/Δ) − e^ε Φ(−Δ/2σ − εσ/Δ) and is tighter than the classic one', () => {
    for (const [eps, delta] of [
      [0.5, 1e-5],
      [1, 1e-5],
      [2, 1e-3],
      [8, 1 / 610],
    ] as const) {
      const sigma = analyticGaussianSigma(3, eps, delta);
      const z = sigma / 3;
      const d = phi(1 / (2 * z) - eps * z) - Math.exp(eps) * phi(-1 / (2 * z) - eps * z);
      expect(Math.abs(d - delta) / delta).toBeLessThan(1e-4);
      expect(Math.abs(analyticGaussianDelta(z, eps) - delta) / delta).toBeLessThan(1e-9);
      expect(analyticGaussianEpsilon(z, delta)).toBeCloseTo(eps, 8);
      if (eps < 1) expect(sigma).toBeLessThan(classicGaussianSigma(3, eps, delta));
    }
  });

  it('adds noise whose empirical standard deviation matches σ (200,000 seeded draws, within 1 %)', () => {
    const sigma = analyticGaussianSigma(Math.sqrt(50), 1, 1e-5);
    const v = new Float64Array(200_000);
    addGaussianNoise(v, sigma, new Rng(3));
    let mean = 0;
    for (const x of v) mean += x / v.length;
    expect(Math.abs(mean)).toBeLessThan((4 * sigma) / Math.sqrt(v.length));
    expect(Math.abs(std(v) / sigma - 1)).toBeLessThan(0.01);
  });

  it('refuses ε ≤ 0 and δ outside (0, 1), naming the field', () => {
    expect(() => analyticGaussianSigma(1, 0, 1e-5)).toThrow(ConfigError);
    expect(() => analyticGaussianSigma(1, 1, 1)).toThrow(/δ must be in \(0, 1\)/);
  });
});

/** Users with 3–12 items over 40 items (CSR by user). */
function rows(seed: number): { indptr: Int32Array; indices: Int32Array; rows: number } {
  const rng = new Rng(seed);
  const indptr = [0];
  const indices: number[] = [];
  for (let u = 0; u < 30; u++) {
    const n = 3 + rng.int(10);
    for (let k = 0; k < n; k++) indices.push(rng.int(40));
    indptr.push(indices.length);
  }
  return { indptr: Int32Array.from(indptr), indices: Int32Array.from(indices), rows: 30 };
}

/** The same rows with user `drop` removed (the neighbouring dataset). */
function withoutUser(b: BoundedRows, drop: number): BoundedRows {
  const len = b.indptr[drop + 1]! - b.indptr[drop]!;
  const indptr = Int32Array.from({ length: b.indptr.length - 1 }, (_, u) => (u <= drop ? b.indptr[u]! : b.indptr[u + 1]! - len));
  const indices = Int32Array.from([...b.indices.subarray(0, b.indptr[drop]!), ...b.indices.subarray(b.indptr[drop + 1]!)]);
  return { indptr, indices, maxItems: b.maxItems };
}

describe('DP counts', () => {
  it('bounds every user to m distinct items', () => {
    const b = boundUserItems(rows(1), 40, 5, new Rng(1));
    for (let u = 0; u < 30; u++) {
      const own = b.indices.subarray(b.indptr[u]!, b.indptr[u + 1]!);
      expect(own.length).toBeLessThanOrEqual(5);
      expect(new Set(own).size).toBe(own.length);
    }
  });

  it('one user moves the counts by at most √m and the Gram upper triangle by at most √(m(m+1)/2) in L2', () => {
    const m = 6;
    const b = boundUserItems(rows(2), 40, m, new Rng(2));
    for (const drop of [0, 7, 29]) {
      const without = withoutUser(b, drop);
      const c1 = noisyItemCounts(b, 40, 0, new Rng(0));
      const c0 = noisyItemCounts(without, 40, 0, new Rng(0));
      let ss = 0;
      for (let i = 0; i < 40; i++) ss += (c1[i]! - c0[i]!) ** 2;
      expect(ss).toBeGreaterThan(0); // the neighbour really lacks the user
      expect(Math.sqrt(ss)).toBeLessThanOrEqual(countSensitivity(m) + 1e-12);
      const g1 = noisyGram(b, 40, 0, new Rng(0));
      const g0 = noisyGram(without, 40, 0, new Rng(0));
      ss = 0;
      for (let i = 0; i < 40; i++) for (let j = i; j < 40; j++) ss += (g1[i * 40 + j]! - g0[i * 40 + j]!) ** 2;
      expect(Math.sqrt(ss)).toBeLessThanOrEqual(gramSensitivity(m) + 1e-12);
    }
  });

  it('adds noise of the planned scale: σ = noiseMultiplier·Δ from the analytic mechanism, symmetric in the Gram matrix', () => {
    const dp = dpCountsConfigSchema.parse({ epsilon: 1, delta: 1e-5, maxItemsPerUser: 4 });
    const { plan, sigma } = planCounts(dp, gramSensitivity(4), 100, 'test');
    expect(sigma).toBeCloseTo(analyticGaussianSigma(gramSensitivity(4), 1, 1e-5), 10);
    expect(plan).toMatchObject({ epsilon: 1, delta: 1e-5 });
    const empty = { indptr: new Int32Array(31), indices: new Int32Array(0), maxItems: 4 };
    const g = noisyGram(empty, 300, sigma, new Rng(5));
    for (let i = 0; i < 300; i += 37) for (let j = 0; j < 300; j += 41) expect(g[i * 300 + j]).toBe(g[j * 300 + i]);
    expect(Math.abs(std(g) / sigma - 1)).toBeLessThan(0.02);
    // δ defaults to 1/n; a noise multiplier gives its ε, and one that overspends a given ε is refused.
    expect(planCounts(dpCountsConfigSchema.parse({ epsilon: 2 }), 1, 50, 't').plan.delta).toBe(1 / 50);
    const z = planCounts(dpCountsConfigSchema.parse({ noiseMultiplier: 1.5 }), 1, 50, 't').plan;
    expect(z.epsilon).toBeCloseTo(analyticGaussianEpsilon(1.5, 1 / 50), 10);
    expect(() => planCounts(dpCountsConfigSchema.parse({ noiseMultiplier: 1.5, epsilon: z.epsilon / 2 }), 1, 50, 't')).toThrow(/spends ε/);
  });
});
