import { beforeAll, describe, expect, it } from 'vitest';
import { datasetFromTriples, type Dataset } from '../../src/data/dataset.js';
import { temporalRatioSplit } from '../../src/data/split.js';
import { syntheticPowerLaw } from '../../src/data/synthetic.js';
import { DataError } from '../../src/errors.js';
import { evaluateRanking } from '../../src/eval/ranking.js';
import { Als, implicitMatrix, transposeImplicit } from '../../src/recommenders/als.js';
import { Popularity } from '../../src/recommenders/popularity.js';
import { describeRecommenderContract } from './contract.js';

describeRecommenderContract('als', (seed) => new Als({ factors: 4, iterations: 5, regularization: 0.1, seed }));
describeRecommenderContract('als (exact solver)', (seed) => new Als({ factors: 4, iterations: 5, regularization: 0.1, solver: 'exact', seed }));

/** 400 users × 300 items in 6 planted taste groups, power-law activity and popularity. */
function planted(): Dataset {
  return syntheticPowerLaw({ users: 400, items: 300, interactions: 12_000, groups: 6, affinity: 0.85, seed: 7 }).dataset;
}

function topOverlap(a: Float32Array, b: Float32Array, k: number): number {
  const top = (s: Float32Array): Set<number> =>
    new Set(
      Array.from(s, (v, i) => [v, i] as const)
        .sort((x, y) => y[0] - x[0] || x[1] - y[1])
        .slice(0, k)
        .map((x) => x[1]),
    );
  const ta = top(a);
  let n = 0;
  for (const i of top(b)) if (ta.has(i)) n++;
  return n / k;
}

describe('Als', () => {
  let data: Dataset;
  beforeAll(() => {
    data = planted();
  });

  it('recovers planted taste groups: held-out NDCG@10 well above popularity', async () => {
    const { train, test } = temporalRatioSplit(data);
    const als = new Als({ factors: 16, iterations: 10, regularization: 1, alpha: 2, seed: 1 });
    await als.fit(train);
    const pop = new Popularity();
    await pop.fit(train);
    const a = evaluateRanking(als, train, test, { k: 10 }).metrics['ndcg@10']!;
    const p = evaluateRanking(pop, train, test, { k: 10 }).metrics['ndcg@10']!;
    expect(a).toBeGreaterThan(2 * p);
  });

  it('CG with as many steps as factors agrees with the exact solver', async () => {
    const exact = new Als({ factors: 6, iterations: 8, regularization: 1, solver: 'exact', seed: 3 });
    const cg = new Als({ factors: 6, iterations: 8, regularization: 1, solver: 'cg', cgSteps: 6, seed: 3 });
    await exact.fit(data);
    await cg.fit(data);
    const e = exact.itemEmbeddings();
    const c = cg.itemEmbeddings();
    let num = 0;
    let den = 0;
    for (let k = 0; k < e.length; k++) {
      num += (e[k]! - c[k]!) ** 2;
      den += e[k]! ** 2;
    }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-3);
    // And three CG steps (the default) already rank like the exact solver.
    const cg3 = new Als({ factors: 6, iterations: 8, regularization: 1, seed: 3 });
    await cg3.fit(data);
    let overlap = 0;
    for (let u = 0; u < 50; u++) overlap += topOverlap(exact.scoreAll(u), cg3.scoreAll(u), 10);
    expect(overlap / 50).toBeGreaterThan(0.8);
  });

  it('folding in a training user’s items reproduces that user’s ranking', async () => {
    const als = new Als({ factors: 8, iterations: 10, regularization: 1, solver: 'exact', seed: 2 });
    await als.fit(data);
    let overlap = 0;
    let n = 0;
    for (let u = 0; u < data.nUsers; u += 7) {
      const items = als.seenItems(u);
      if (items.length < 3) continue;
      overlap += topOverlap(als.scoreAll(u), als.scoreAll({ items }), 10);
      n++;
    }
    expect(n).toBeGreaterThan(20);
    expect(overlap / n).toBeGreaterThan(0.9);
  });

  it('two worker threads give exactly the single-thread result (CG and exact)', async () => {
    const one = new Als({ factors: 8, iterations: 3, threads: 1, seed: 5 });
    const two = new Als({ factors: 8, iterations: 3, threads: 2, seed: 5 });
    await one.fit(data);
    await two.fit(data);
    expect(Array.from(two.itemEmbeddings())).toEqual(Array.from(one.itemEmbeddings()));
    expect(Array.from(two.userEmbeddings())).toEqual(Array.from(one.userEmbeddings()));
    const exact1 = new Als({ factors: 8, iterations: 2, solver: 'exact', threads: 1, seed: 5 });
    const exact2 = new Als({ factors: 8, iterations: 2, solver: 'exact', threads: 2, seed: 5 });
    await exact1.fit(data);
    await exact2.fit(data);
    expect(Array.from(exact2.itemEmbeddings())).toEqual(Array.from(exact1.itemEmbeddings()));
  });

  it('reports progress once per iteration', async () => {
    const seen: string[] = [];
    await new Als({ factors: 4, iterations: 3 }).fit(data, { onProgress: (d, t, unit) => seen.push(`${d}/${t} ${unit}`) });
    expect(seen).toEqual(['1/3 iteration', '2/3 iteration', '3/3 iteration']);
  });

  it('merges repeated pairs: binary gives r = 1, raw sums the values; the transpose matches', () => {
    const ds = datasetFromTriples([
      ['a', 'x', 2],
      ['a', 'x', 3],
      ['a', 'y', 1],
      ['b', 'y', 4],
    ]);
    const bin = implicitMatrix(ds, 2, 'binary');
    expect(Array.from(bin.indptr)).toEqual([0, 2, 3]);
    expect(Array.from(bin.cm1)).toEqual([2, 2, 2]);
    const raw = implicitMatrix(ds, 2, 'raw');
    expect(Array.from(raw.cm1)).toEqual([10, 2, 8]);
    const t = transposeImplicit(raw);
    expect(Array.from(t.indptr)).toEqual([0, 1, 3]);
    expect(Array.from(t.indices)).toEqual([0, 0, 1]);
    expect(Array.from(t.cm1)).toEqual([10, 2, 8]);
  });

  it('rejects negative values in raw mode and out-of-range items in a user state', async () => {
    const ds = datasetFromTriples([
      ['a', 'x', 1],
      ['b', 'x', -1],
    ]);
    await expect(new Als({ factors: 2, iterations: 1, values: 'raw' }).fit(ds)).rejects.toThrow(DataError);
    const als = new Als({ factors: 2, iterations: 1 });
    await als.fit(ds);
    expect(() => als.scoreAll({ items: Int32Array.from([5]) })).toThrow(/items\[0\]/);
    // A user index outside the training data has no factors: all scores 0.
    expect(Array.from(als.scoreAll(99))).toEqual([0]);
  });
});
