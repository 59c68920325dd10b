import { describe, expect, it } from 'vitest';
import { estimate, type BanditLog, type OpeInputs } from '../../src/ope/estimators.js';
import { ConfigError, DataError } from '../../src/errors.js';
import { Rng } from '../../src/util/rng.js';

/** Two records, two candidates each, every quantity known: the worked example of the tests below. */
function tiny(): OpeInputs {
  const log: BanditLog = {
    n: 2,
    indptr: Int32Array.from([0, 2, 4]),
    actions: Int32Array.from([7, 9, 7, 9]),
    logged: Int32Array.from([0, 3]),
    propensity: Float64Array.from([0.5, 0.25]),
    reward: Float64Array.from([1, 0]),
  };
  return { log, target: Float64Array.from([0.8, 0.2, 0.5, 0.5]), predicted: Float64Array.from([0.6, 0.3, 0.4, 0.1]) };
}

describe('off-policy estimators', () => {
  it('match the closed form on a worked example', () => {
    // w = 0.8/0.5 = 1.6 and 0.5/0.25 = 2; DM terms 0.54 and 0.25.
    const r = estimate(tiny(), ['dm', 'ips', 'snips', 'dr', 'clipped-ips', 'clipped-dr', 'switch-dr'], { clip: 1.8, tau: 1.8, bootstrap: 0 });
    expect(r.estimates.ips!.value).toBeCloseTo(0.8, 12);
    expect(r.estimates.snips!.value).toBeCloseTo(1.6 / 3.6, 12);
    expect(r.estimates.dm!.value).toBeCloseTo(0.395, 12);
    expect(r.estimates.dr!.value).toBeCloseTo((1.18 + 0.05) / 2, 12);
    expect(r.estimates['clipped-ips']!.value).toBeCloseTo(0.8, 12);
    // A cap below record 0's weight 1.6 binds: (1.5·1 + 1.5·0) / 2.
    expect(estimate(tiny(), ['clipped-ips'], { clip: 1.5, bootstrap: 0 }).estimates['clipped-ips']!.value).toBeCloseTo(0.75, 12);
    expect(r.estimates['clipped-dr']!.value).toBeCloseTo((1.18 + (0.25 - 0.18)) / 2, 12);
    // Record 1's weight 2 exceeds τ = 1.8: the model alone speaks for it.
    expect(r.estimates['switch-dr']!.value).toBeCloseTo((1.18 + 0.25) / 2, 12);
    expect(r.ess).toBeCloseTo(3.6 ** 2 / (1.6 ** 2 + 2 ** 2), 12);
    expect(r.maxWeight).toBe(2);
    expect(r.n).toBe(2);
  });

  it('refuse inconsistent inputs, naming the record and field', () => {
    const bad = tiny();
    bad.log.propensity[1] = 0;
    expect(() => estimate(bad, ['ips'])).toThrow(DataError);
    expect(() => estimate(bad, ['ips'])).toThrow(/record 1: logging propensity 0/);
    const sum = tiny();
    sum.target[0] = 0.7;
    expect(() => estimate(sum, ['ips'])).toThrow(/record 0: target probabilities sum to 0.9, not 1/);
    const noModel = { ...tiny(), predicted: undefined };
    expect(() => estimate(noModel, ['dr'])).toThrow(ConfigError);
    expect(() => estimate(tiny(), ['nope' as 'ips'])).toThrow(/unknown estimator "nope"/);
  });

  /**
   * A synthetic contextual bandit: 3 contexts × 5 actions, Bernoulli rewards, a logging policy
   * that favours action 0 and a target that favours action 4. IPS and DR (with a deliberately
   * wrong reward model) are unbiased: over many logs their mean is the true value within 4
   * standard errors, and the 95 % intervals cover the truth about 95 % of the time.
   */
  it('IPS and DR are unbiased over many seeds and their intervals cover the truth', () => {
    const nCtx = 3;
    const nA = 5;
    const p = [0.1, 0.3, 0.2, 0.5, 0.7, 0.6, 0.2, 0.1, 0.4, 0.3, 0.2, 0.5, 0.3, 0.1, 0.6];
    const mu = [0.4, 0.2, 0.2, 0.1, 0.1];
    const pi = [0.05, 0.1, 0.15, 0.2, 0.5];
    let truth = 0;
    for (let x = 0; x < nCtx; x++) for (let a = 0; a < nA; a++) truth += (pi[a]! * p[x * nA + a]!) / nCtx;
    const n = 300;
    const seeds = 200;
    const values = { ips: [] as number[], dr: [] as number[], snips: [] as number[] };
    let covered = 0;
    for (let s = 0; s < seeds; s++) {
      const rng = new Rng(1000 + s);
      const indptr = new Int32Array(n + 1);
      const actions = new Int32Array(n * nA);
      const logged = new Int32Array(n);
      const propensity = new Float64Array(n);
      const reward = new Float64Array(n);
      const target = new Float64Array(n * nA);
      const predicted = new Float64Array(n * nA);
      for (let i = 0; i < n; i++) {
        indptr[i + 1] = (i + 1) * nA;
        const x = rng.int(nCtx);
        let u = rng.next();
        let a = 0;
        while (a < nA - 1 && u >= mu[a]!) u -= mu[a++]!;
        for (let b = 0; b < nA; b++) {
          actions[i * nA + b] = b;
          target[i * nA + b] = pi[b]!;
          predicted[i * nA + b] = 0.3; // wrong on purpose: DR stays unbiased through its correction
        }
        logged[i] = i * nA + a;
        propensity[i] = mu[a]!;
        reward[i] = rng.next() < p[x * nA + a]! ? 1 : 0;
      }
      const r = estimate({ log: { n, indptr, actions, logged, propensity, reward }, target, predicted }, ['ips', 'dr', 'snips'], { bootstrap: 200, seed: s });
      values.ips.push(r.estimates.ips!.value);
      values.dr.push(r.estimates.dr!.value);
      values.snips.push(r.estimates.snips!.value);
      const ci = r.estimates.dr!.ci95;
      if (ci[0] <= truth && truth <= ci[1]) covered++;
    }
    for (const name of ['ips', 'dr'] as const) {
      const xs = values[name];
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
      expect(Math.abs(mean - truth), `${name}: mean ${mean} vs truth ${truth}`).toBeLessThan((4 * sd) / Math.sqrt(xs.length));
    }
    // SNIPS trades a small bias for variance; it still lands near the truth.
    const snips = values.snips.reduce((a, b) => a + b, 0) / seeds;
    expect(Math.abs(snips - truth)).toBeLessThan(0.02);
    expect(covered / seeds).toBeGreaterThan(0.88);
  });

  it('the bootstrap is seeded: same seed, same interval', () => {
    const a = estimate(tiny(), ['ips'], { seed: 3, bootstrap: 100 });
    const b = estimate(tiny(), ['ips'], { seed: 3, bootstrap: 100 });
    expect(a.estimates.ips!.ci95).toEqual(b.estimates.ips!.ci95);
    expect(a.estimates.ips!.ci95[0]).toBeLessThanOrEqual(a.estimates.ips!.value);
  });
});
