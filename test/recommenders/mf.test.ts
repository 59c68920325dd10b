import { describe, expect, it } from 'vitest';
import { datasetFromTriples, type Dataset } from '../../src/data/dataset.js';
import { DataError } from '../../src/errors.js';
import { ratingErrors } from '../../src/eval/rating.js';
import { BiasedMf } from '../../src/recommenders/mf.js';
import { Rng } from '../../src/util/rng.js';
import { describeRecommenderContract } from './contract.js';

describeRecommenderContract('mf', (seed) => new BiasedMf({ factors: 4, epochs: 10, seed }));

/**
 * Ratings from a rank-2 model with biases plus small noise: r = 3.5 + b_u + b_i + p_u·q_i + ε.
 * 60 % of the 80 × 50 cells are observed; 80 % of those train, 20 % are held out.
 */
function lowRank(): { train: Dataset; test: Dataset } {
  const rng = new Rng(5);
  const U = 80;
  const I = 50;
  const bu = Array.from({ length: U }, () => 0.4 * rng.normal());
  const bi = Array.from({ length: I }, () => 0.4 * rng.normal());
  const p = Array.from({ length: U }, () => [rng.normal(), rng.normal()]);
  const q = Array.from({ length: I }, () => [rng.normal(), rng.normal()]);
  const triples: [string, string, number][] = [];
  const isTest: boolean[] = [];
  for (let u = 0; u < U; u++) {
    for (let i = 0; i < I; i++) {
      if (rng.next() > 0.6) continue;
      const r = 3.5 + bu[u]! + bi[i]! + 0.6 * (p[u]![0]! * q[i]![0]! + p[u]![1]! * q[i]![1]!) + 0.1 * rng.normal();
      triples.push([`u${u}`, `i${i}`, r]);
      isTest.push(rng.next() < 0.2);
    }
  }
  const all = datasetFromTriples(triples);
  const tr: number[] = [];
  const te: number[] = [];
  isTest.forEach((t, k) => (t ? te : tr).push(k));
  return { train: all.subset(Int32Array.from(tr)), test: all.subset(Int32Array.from(te)) };
}

describe('BiasedMf', () => {
  const { train, test } = lowRank();

  it('predicts held-out ratings of a low-rank matrix far better than the global mean', async () => {
    const m = new BiasedMf({ factors: 8, epochs: 60, learningRate: 0.01, regularization: 0.02, clip: false, seed: 1 });
    await m.fit(train);
    const mu = m.globalMean;
    const baseline = ratingErrors({ predict: () => mu }, test);
    const got = ratingErrors(m, test);
    expect(got.n).toBe(test.nInteractions);
    expect(got.rmse).toBeLessThan(0.5 * baseline.rmse);
    expect(got.mae).toBeLessThan(0.5 * baseline.mae);
    // Training error falls over the epochs.
    expect(m.trainRmse.at(-1)!).toBeLessThan(m.trainRmse[0]!);
  });

  it('ranks by predicted rating and clips predict to the training range', async () => {
    const m = new BiasedMf({ factors: 8, epochs: 30, learningRate: 0.01, seed: 1 });
    await m.fit(train);
    const s = m.scoreAll(0);
    const top = m.recommend(0, 1, { excludeSeen: false }).items[0]!;
    expect(s[top]).toBe(Math.max(...s));
    const vals = Array.from(train.interactions.value);
    const [lo, hi] = [Math.min(...vals), Math.max(...vals)];
    for (let i = 0; i < train.nItems; i++) {
      const p = m.predict(0, i);
      expect(p).toBeGreaterThanOrEqual(lo);
      expect(p).toBeLessThanOrEqual(hi);
    }
    // Unknown user: global mean plus the item bias, no factors.
    expect(Number.isFinite(m.predict(10_000, 0))).toBe(true);
  });

  it('folds in a new user from ratings (held-out error below the global mean baseline)', async () => {
    const m = new BiasedMf({ factors: 8, epochs: 60, learningRate: 0.01, clip: false, seed: 1 });
    await m.fit(train);
    // Take one training user's training ratings as a state; predict their held-out ratings.
    const csr = train.byUser();
    let se = 0;
    let seBase = 0;
    let n = 0;
    const tcsr = test.byUser();
    for (let u = 0; u < 20; u++) {
      const a = csr.indptr[u]!;
      const b = csr.indptr[u + 1]!;
      const s = m.scoreAll({ items: csr.indices.slice(a, b), values: csr.values.slice(a, b) });
      for (let p = tcsr.indptr[u]!; p < tcsr.indptr[u + 1]!; p++) {
        se += (s[tcsr.indices[p]!]! - tcsr.values[p]!) ** 2;
        seBase += (m.globalMean - tcsr.values[p]!) ** 2;
        n++;
      }
    }
    expect(n).toBeGreaterThan(20);
    expect(Math.sqrt(se / n)).toBeLessThan(0.6 * Math.sqrt(seBase / n));
    expect(() => m.scoreAll({ items: Int32Array.from([0]) })).toThrow(DataError);
  });
});
