import { describe, expect, it } from 'vitest';
import { composeRdp, computeRdp, dpSgdEpsilon, epsilonFromRdp, noiseForEpsilon, sampledGaussianRdp } from '../../src/privacy/accountant.js';

/** TF Privacy's / Opacus's default orders (the classic published figures were computed over these). */
const TF_ORDERS = [...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10), ...Array.from({ length: 52 }, (_, x) => 12 + x)];

/** log A_α by direct numerical integration of E_{z∼N(0,σ²)}[((1−q) + q·e^{(2z−1)/(2σ²)})^α]: independent of the series. */
function logAByQuadrature(q: number, sigma: number, alpha: number): number {
  const h = 1e-3 * sigma;
  let sum = 0;
  for (let z = -40 * sigma; z <= 40 * sigma; z += h) {
    const pdf = Math.exp((-z * z) / (2 * sigma * sigma)) / Math.sqrt(2 * Math.PI * sigma * sigma);
    sum += pdf * ((1 - q) + q * Math.exp((2 * z - 1) / (2 * sigma * sigma))) ** alpha * h;
  }
  return Math.log(sum);
}

describe('RDP of the sampled Gaussian mechanism', () => {
  it('matches dp-accounting at integer orders (q 0.01, σ 2.5, 50 steps; rtol 1e-6)', () => {
    // google/differential-privacy, dp_accounting/rdp/rdp_privacy_accountant_test.py,
    // test_compute_rdp_poisson_sampled_gaussian (values given to 9 significant digits).
    const rdp = computeRdp(0.01, 2.5, 50, [5, 50, 100]);
    const expected = [2.18075656e-3, 2.38460375e-2, 1.67416308e2];
    expected.forEach((e, k) => expect(Math.abs(rdp[k]! - e) / e).toBeLessThan(1e-6));
  });

  it('matches numerical integration at fractional orders (rtol 1e-6)', () => {
    // dp-accounting's own figures at 1.5 and 2.5 (6.7058e-4, 1.08549e-3) are upper bounds it
    // interpolates between integer orders; Mironov et al.'s series, used here, is exact.
    for (const [q, sigma, alpha] of [
      [0.01, 2.5, 1.5],
      [0.01, 2.5, 2.5],
      [0.1, 1.2, 7.3],
      [0.3, 5, 20.5],
    ] as const) {
      const exact = logAByQuadrature(q, sigma, alpha) / (alpha - 1);
      expect(Math.abs(sampledGaussianRdp(q, sigma, alpha) - exact) / exact).toBeLessThan(1e-6);
    }
  });

  it('composes by adding RDP at every order: two runs cost what one run of their summed steps costs', () => {
    const both = composeRdp(computeRdp(0.02, 1.3, 40), computeRdp(0.02, 1.3, 60));
    const once = computeRdp(0.02, 1.3, 100);
    for (let k = 0; k < once.length; k++) expect(both[k]!).toBeCloseTo(once[k]!, 9);
    expect(epsilonFromRdp(both, 1e-5).epsilon).toBeGreaterThan(epsilonFromRdp(computeRdp(0.02, 1.3, 60), 1e-5).epsilon);
  });

  it('is α/(2σ²) without sampling and 0 with nothing sampled', () => {
    expect(sampledGaussianRdp(1, 2, 3)).toBeCloseTo(3 / 8, 14);
    expect(sampledGaussianRdp(0, 2, 3)).toBe(0);
  });
});

describe('conversion to (ε, δ)', () => {
  it('reproduces dp-accounting for constant RDP 1.1 over orders 2..32 at δ = 1e-5 (tol 1e-9)', () => {
    const orders = Array.from({ length: 31 }, (_, k) => k + 2);
    const r = epsilonFromRdp(orders.map(() => 1.1), 1e-5, orders);
    expect(Math.abs(r.epsilon - 1.32783806176)).toBeLessThan(1e-9);
    expect(r.order).toBe(32);
  });

  it('gives ε = 1 for the Gaussian with σ = 4.530877117 at δ = 1e-6 (dp-accounting; tol 1e-6)', () => {
    const orders = Array.from({ length: 99000 }, (_, k) => 1.001 + k * 0.001);
    expect(Math.abs(epsilonFromRdp(computeRdp(1, 4.530877117, 1, orders), 1e-6, orders).epsilon - 1)).toBeLessThan(1e-6);
  });

  it('reproduces the published MNIST DP-SGD figures with the classic conversion', () => {
    // n 60000, batch 256 (q = 256/60000), 60 epochs (⌈60·60000/256⌉ steps), δ = 1e-5:
    // σ 1.12 → ε 2.92 (TF Privacy compute_dp_sgd_privacy.py and Opacus's copy of it; tol 0.005);
    // σ 1.1 → ε ≈ 3.0 (TF Privacy MNIST tutorial; tol 0.02).
    const b = { sampleRate: 256 / 60000, steps: Math.ceil((60 * 60000) / 256), delta: 1e-5, orders: TF_ORDERS, conversion: 'classic' as const };
    expect(Math.abs(dpSgdEpsilon(1.12, b) - 2.92)).toBeLessThan(0.005);
    expect(Math.abs(dpSgdEpsilon(1.1, b) - 3.0)).toBeLessThan(0.02);
    // The improved conversion (Balle et al. 2020) is never looser.
    expect(dpSgdEpsilon(1.12, { ...b, conversion: 'improved' })).toBeLessThan(dpSgdEpsilon(1.12, b));
  });
});

describe('monotonicity and the σ search', () => {
  const base = { sampleRate: 0.05, steps: 500, delta: 1e-5 };

  it('ε falls with σ and grows with steps and sampling rate', () => {
    let prev = Infinity;
    for (const s of [0.6, 0.8, 1, 1.5, 2, 4, 8]) {
      const e = dpSgdEpsilon(s, base);
      expect(e).toBeLessThan(prev);
      prev = e;
    }
    expect(dpSgdEpsilon(1, { ...base, steps: 1000 })).toBeGreaterThan(dpSgdEpsilon(1, base));
    expect(dpSgdEpsilon(1, { ...base, sampleRate: 0.1 })).toBeGreaterThan(dpSgdEpsilon(1, base));
  });

  it('finds the smallest σ for a target ε: its ε is at most the target, a slightly smaller σ overshoots', () => {
    for (const target of [0.5, 1, 4, 8]) {
      const s = noiseForEpsilon(target, base);
      expect(dpSgdEpsilon(s, base)).toBeLessThanOrEqual(target);
      expect(dpSgdEpsilon(s * (1 - 1e-3), base)).toBeGreaterThan(target);
    }
  });
});
