import { describe, expect, it } from 'vitest';
import { UnknownNameError } from '../../src/errors.js';
import { crossFitPredictions, foldAssignment } from '../../src/ope/cross-fit.js';
import { ActionMean, createRegressor, listRegressors, Ridge, type RegressionData } from '../../src/ope/regressors.js';
import { Rng } from '../../src/util/rng.js';

/** n records over m actions, 2 context features; r = 0.2 + 0.5·[a = 1] + 0.3·x0 − 0.4·x1 + noise. */
function linearBandit(n: number, m: number, seed: number, noise = 0.05): { data: RegressionData; truth: (i: number, a: number) => number } {
  const rng = new Rng(seed);
  const indptr = new Int32Array(n + 1);
  const actions = new Int32Array(n * m);
  const logged = new Int32Array(n);
  const propensity = new Float64Array(n).fill(1 / m);
  const reward = new Float64Array(n);
  const ctx = new Float64Array(n * 2);
  const truth = (i: number, a: number): number => 0.2 + (a === 1 ? 0.5 : 0) + 0.3 * ctx[i * 2]! - 0.4 * ctx[i * 2 + 1]!;
  for (let i = 0; i < n; i++) {
    indptr[i + 1] = (i + 1) * m;
    for (let a = 0; a < m; a++) actions[i * m + a] = a;
    ctx[i * 2] = rng.normal();
    ctx[i * 2 + 1] = rng.normal();
    const a = rng.int(m);
    logged[i] = i * m + a;
    reward[i] = truth(i, a) + noise * rng.normal();
  }
  return { data: { log: { n, indptr, actions, logged, propensity, reward }, nActions: m, context: { dim: 2, values: ctx } }, truth };
}

describe('reward regressors', () => {
  it('ridge recovers a linear reward (one-hot action + context)', () => {
    const { data, truth } = linearBandit(2000, 3, 1);
    const all = Int32Array.from({ length: data.log.n }, (_, i) => i);
    const r = new Ridge(1e-3);
    r.fit(data, all);
    const out = new Float64Array(data.log.actions.length);
    let worst = 0;
    for (let i = 0; i < 50; i++) {
      r.predict(data, i, out);
      for (let a = 0; a < 3; a++) worst = Math.max(worst, Math.abs(out[i * 3 + a]! - truth(i, a)));
    }
    expect(worst).toBeLessThan(0.02);
  });

  it('action-mean shrinks each action toward the overall mean by its prior weight', () => {
    // Two records: action 0 with reward 1, action 1 with reward 0; overall mean 0.5.
    const data: RegressionData = {
      log: { n: 2, indptr: Int32Array.from([0, 2, 4]), actions: Int32Array.from([0, 1, 0, 1]), logged: Int32Array.from([0, 3]), propensity: Float64Array.from([0.5, 0.5]), reward: Float64Array.from([1, 0]) },
      nActions: 2,
    };
    const m = new ActionMean(1);
    m.fit(data, Int32Array.from([0, 1]));
    const out = new Float64Array(4);
    m.predict(data, 0, out);
    expect(out[0]).toBeCloseTo((1 + 0.5) / 2, 12);
    expect(out[1]).toBeCloseTo((0 + 0.5) / 2, 12);
    // Without a prior, an action absent from the training records gets the overall mean, not NaN.
    const bare = new ActionMean(0);
    bare.fit(data, Int32Array.from([0]));
    bare.predict(data, 1, out);
    expect([out[2], out[3]]).toEqual([1, 1]);
  });

  it('the registry builds by name and refuses unknown names and options', () => {
    expect(listRegressors().map((r) => r.name)).toEqual(['ridge', 'action-mean']);
    expect(createRegressor('ridge', { lambda: 2 })).toBeInstanceOf(Ridge);
    expect(createRegressor('action-mean')).toBeInstanceOf(ActionMean);
    expect(() => createRegressor('forest')).toThrow(UnknownNameError);
    expect(() => createRegressor('forest')).toThrow(/ridge, action-mean/);
    expect(() => createRegressor('ridge', { depth: 3 })).toThrow(/no option "depth"/);
    expect(() => createRegressor('ridge', { lambda: -1 })).toThrow(/lambda/);
  });
});

describe('cross-fitting', () => {
  it('deals records into balanced folds by a seeded shuffle', () => {
    const f = foldAssignment(103, 5, 7);
    const sizes = [0, 0, 0, 0, 0];
    for (const x of f) sizes[x]!++;
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(foldAssignment(103, 5, 7)).toEqual(f);
    expect(foldAssignment(103, 5, 8)).not.toEqual(f);
  });

  it("predicts each record out of fold: a record's own noise does not reach its prediction", () => {
    // A very flexible fit (an action-mean with no prior on few records) memorises in-fold rewards;
    // out of fold, the prediction for the logged action must differ from the in-fold one.
    const { data } = linearBandit(60, 3, 2, 0.5);
    const inFold = crossFitPredictions(data, () => new ActionMean(0), { folds: 1 });
    const outFold = crossFitPredictions(data, () => new ActionMean(0), { folds: 5, seed: 3 });
    let differ = 0;
    for (let i = 0; i < data.log.n; i++) if (Math.abs(inFold[data.log.logged[i]!]! - outFold[data.log.logged[i]!]!) > 1e-9) differ++;
    expect(differ).toBe(data.log.n);
    // Out of fold, each record's prediction equals the mean of its action over the other folds.
    const folds = foldAssignment(data.log.n, 5, 3);
    const i = 0;
    const a = data.log.actions[data.log.logged[i]!]!;
    let s = 0;
    let c = 0;
    for (let j = 0; j < data.log.n; j++) {
      if (folds[j] === folds[i] || data.log.actions[data.log.logged[j]!] !== a) continue;
      s += data.log.reward[j]!;
      c++;
    }
    expect(outFold[data.log.logged[i]!]).toBeCloseTo(s / c, 12);
  });

  it('refuses bad fold counts', () => {
    const { data } = linearBandit(10, 2, 3);
    expect(() => crossFitPredictions(data, 'ridge', { folds: 0 })).toThrow(/folds/);
    expect(() => crossFitPredictions(data, 'ridge', { folds: 11 })).toThrow(/exceed/);
  });
});
