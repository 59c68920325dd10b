import { describe, expect, it } from 'vitest';
import { estimate } from '../../src/ope/estimators.js';
import { adfLog, fitCbRegression, type FeaturedBanditLog } from '../../src/ope/learn/cb-regression.js';
import { opeDatasetFromRecords, type OpeRecord } from '../../src/ope/logs.js';
import { Rng } from '../../src/util/rng.js';

/**
 * A confounded log: context x ∈ {0, 1} (unseen by the model, which has one indicator per action),
 * reward r(x, a) = base[a] + 0.6·x + noise. The logging policy shows action 0 mostly when x = 1 —
 * where every reward is high — so action 0's logged rewards over-state it. True per-action means
 * over the context distribution: base + 0.3 = [0.5, 0.7, 0.4]; action 1 is best.
 */
const BASE = [0.2, 0.4, 0.1];
const TRUE_MEAN = BASE.map((b) => b + 0.3);
const LOGGING = [
  [0.1, 0.45, 0.45], // x = 0
  [0.8, 0.1, 0.1], // x = 1
];

function confoundedLog(n: number, seed: number): FeaturedBanditLog {
  const rng = new Rng(seed);
  const A = 3;
  const indptr = new Int32Array(n + 1);
  const actions = new Int32Array(n * A);
  const features = new Float64Array(n * A * A);
  const logged = new Int32Array(n);
  const propensity = new Float64Array(n);
  const reward = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    indptr[i + 1] = (i + 1) * A;
    for (let a = 0; a < A; a++) {
      actions[i * A + a] = a;
      features[(i * A + a) * A + a] = 1;
    }
    const x = rng.next() < 0.5 ? 0 : 1;
    const mu = LOGGING[x]!;
    const u = rng.next();
    const a = u < mu[0]! ? 0 : u < mu[0]! + mu[1]! ? 1 : 2;
    logged[i] = i * A + a;
    propensity[i] = mu[a]!;
    reward[i] = BASE[a]! + 0.6 * x + 0.1 * rng.normal();
  }
  return { n, indptr, actions, logged, propensity, reward, dim: A, features };
}

describe('off-policy contextual-bandit regression (cb_adf style)', () => {
  const log = confoundedLog(20_000, 7);
  const ones = { n: 1, indptr: Int32Array.from([0, 3]), actions: Int32Array.from([0, 1, 2]), logged: Int32Array.from([0]), propensity: Float64Array.from([1]), reward: Float64Array.from([0]), dim: 3, features: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]) };

  it('IPS-weighted regression recovers the true per-action rewards where unweighted regression is biased', () => {
    const ips = fitCbRegression(log, { weighting: 'ips', lambda: 1e-3 }).predict(ones);
    const plain = fitCbRegression(log, { weighting: 'none', lambda: 1e-3 }).predict(ones);
    for (let a = 0; a < 3; a++) expect(Math.abs(ips[a]! - TRUE_MEAN[a]!)).toBeLessThan(0.03);
    // Unweighted: action 0 looks like base + 0.6·P(x=1 | a=0) ≈ 0.2 + 0.53, far above its true 0.5.
    expect(plain[0]! - TRUE_MEAN[0]!).toBeGreaterThan(0.15);
    expect(plain[1]! - TRUE_MEAN[1]!).toBeLessThan(-0.1);
    // So the unweighted policy picks the wrong action and the weighted one the right one.
    expect(fitCbRegression(log, { weighting: 'none' }).probabilities(ones)[0]).toBe(1);
    expect(fitCbRegression(log, { weighting: 'ips' }).probabilities(ones)[1]).toBe(1);
  });

  it('doubly-robust targets recover them too, starting from the biased direct fit', () => {
    const dr = fitCbRegression(log, { weighting: 'dr', lambda: 1e-3 }).predict(ones);
    for (let a = 0; a < 3; a++) expect(Math.abs(dr[a]! - TRUE_MEAN[a]!)).toBeLessThan(0.03);
  });

  it('ε-greedy probabilities feed the estimators, and the learned policy is worth more than the logging one', () => {
    const fresh = confoundedLog(5000, 8);
    const pol = fitCbRegression(log, { weighting: 'ips', epsilon: 0.1 });
    const target = pol.probabilities(fresh);
    for (let i = 0; i < fresh.n; i++) {
      let s = 0;
      for (let k = fresh.indptr[i]!; k < fresh.indptr[i + 1]!; k++) s += target[k]!;
      expect(s).toBeCloseTo(1, 12);
    }
    const est = estimate({ log: fresh, target }, ['snips'], { bootstrap: 200, seed: 1 }).estimates.snips!;
    const loggingValue = fresh.reward.reduce((a, b) => a + b, 0) / fresh.n;
    // Truth: 0.9·0.7 + 0.1·mean(0.5, 0.7, 0.4) ≈ 0.683; the logging policy's ≈ 0.56.
    expect(est.value).toBeGreaterThan(0.65);
    expect(est.ci95[0]).toBeGreaterThan(loggingValue);
  });

  it('names the bad field', () => {
    expect(() => fitCbRegression({ ...log, propensity: Float64Array.from(log.propensity, (p, i) => (i === 3 ? 0 : p)) })).toThrow(/propensity\[3\]/);
    expect(() => fitCbRegression(log, { weighting: 'mtr' as never })).toThrow(/weighting/);
  });

  it('learns a context-dependent policy from a Chorus OPE log through ADF features with context × action interactions', () => {
    const rng = new Rng(3);
    const records: OpeRecord[] = [];
    for (let i = 0; i < 4000; i++) {
      const x = rng.next() < 0.5 ? 0 : 1;
      // Logging favours the action that is wrong for the context.
      const pA = x === 1 ? 0.2 : 0.8;
      const chosen = rng.next() < pA ? 'a' : 'b';
      const good = (x === 1) === (chosen === 'a');
      records.push({ context: [x, 1 - x], candidates: ['a', 'b'], chosen, propensity: chosen === 'a' ? pA : 1 - pA, reward: good ? 1 : 0.2 });
    }
    const data = opeDatasetFromRecords(records);
    const crossed = adfLog(data, { interactions: true });
    expect(crossed.dim).toBe(1 + 2 + 2 * 2);
    const best = (pol: ReturnType<typeof fitCbRegression>, log: FeaturedBanditLog, x: number): string => {
      const i = records.findIndex((r) => r.context![0] === x);
      const p = pol.probabilities(log);
      const lo = log.indptr[i]!;
      return data.actionIds[log.actions[p[lo]! > p[lo + 1]! ? lo : lo + 1]!]!;
    };
    const pol = fitCbRegression(crossed, { weighting: 'ips' });
    expect(best(pol, crossed, 1)).toBe('a');
    expect(best(pol, crossed, 0)).toBe('b');
    // Without the interactions the model cannot tell the contexts apart: one action for both.
    const flat = adfLog(data);
    const one = fitCbRegression(flat, { weighting: 'ips' });
    expect(best(one, flat, 1)).toBe(best(one, flat, 0));
  });
});
