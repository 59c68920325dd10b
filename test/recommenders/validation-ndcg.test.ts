import { describe, expect, it } from 'vitest';
import { P1_SPLIT, validationSplit } from '../../src/data/split.js';
import { evaluateRanking } from '../../src/eval/ranking.js';
import { ItemKnn } from '../../src/recommenders/knn.js';
import { Popularity } from '../../src/recommenders/popularity.js';
import { listNdcg, validationNdcg, validationUsers } from '../../src/recommenders/validation-ndcg.js';
import { driftingData, trendingData } from './trend-data.js';

describe('validation NDCG (the tuners’ metric, kept in the recommenders layer)', () => {
  it('scores one list by the textbook formula', () => {
    const truth = new Uint8Array(6);
    truth[2] = 1;
    truth[5] = 1;
    // Hits at ranks 2 and 3 of 3; two relevant items.
    const want = (1 / Math.log2(3) + 1 / Math.log2(4)) / (1 + 1 / Math.log2(3));
    expect(listNdcg(Int32Array.from([0, 2, 5]), truth, 2, 10)).toBeCloseTo(want, 12);
    expect(listNdcg(Int32Array.from([0, 1]), truth, 2, 10)).toBe(0);
    expect(listNdcg(Int32Array.from([0, 2]), truth, 0, 10)).toBe(0);
  });

  it("agrees with eval's full-catalogue NDCG@10 on the same split", async () => {
    for (const [data, model] of [
      [trendingData(), new Popularity({ windowDays: 30 })],
      [driftingData(), new ItemKnn({ halfLifeDays: 30 })],
    ] as const) {
      const { train, validation } = validationSplit(data, P1_SPLIT);
      await model.fit(train);
      const users = validationUsers(validation, 1_000_000);
      const ours = validationNdcg(model, train, validation, users, 10);
      const theirs = evaluateRanking(model, train, validation, { k: 10, users });
      expect(ours).toBeGreaterThan(0);
      expect(ours).toBeCloseTo(theirs.metrics['ndcg@10']!, 6);
    }
  });

  it('thins users to at most max without randomness', () => {
    const { validation } = validationSplit(trendingData(), P1_SPLIT);
    const all = validationUsers(validation, 1000);
    expect(all.length).toBe(60);
    const some = validationUsers(validation, 7);
    expect(some.length).toBe(7);
    expect(Array.from(some)).toEqual(Array.from(validationUsers(validation, 7)));
    for (const u of some) expect(all).toContain(u);
  });
});
