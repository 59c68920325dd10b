import { describe, expect, it } from 'vitest';
import { datasetFromTriples } from '../../src/data/dataset.js';
import { opeDatasetFromRecords, type OpeRecord } from '../../src/ope/logs.js';
import { softened, targetProbabilities } from '../../src/ope/policies.js';
import { recommenderPolicy } from '../../src/ope/recommender-policy.js';
import { createRecommender } from '../../src/recommenders/registry.js';

/** Two taste groups: {a, b} and {c, d}; u5 has only seen a, u6 only c. */
const train = datasetFromTriples([
  ['u1', 'a', 1, 1], ['u1', 'b', 1, 2], ['u2', 'a', 1, 3], ['u2', 'b', 1, 4],
  ['u3', 'c', 1, 5], ['u3', 'd', 1, 6], ['u4', 'c', 1, 7], ['u4', 'd', 1, 8],
  ['u5', 'a', 1, 9], ['u6', 'c', 1, 10],
]);

const records: OpeRecord[] = [
  { user: 'u5', candidates: ['d', 'b', 'zz'], chosen: 'd', propensity: 0.5, reward: 0 },
  { user: 'u6', candidates: ['d', 'b', 'zz'], chosen: 'd', propensity: 0.5, reward: 1 },
  // A user the model does not know: no history, so item-kNN scores every known candidate alike.
  { user: 'stranger', candidates: ['d', 'b', 'zz'], chosen: 'b', propensity: 0.5, reward: 0 },
  // No candidate the model knows: uniform.
  { user: 'u5', candidates: ['yy', 'zz'], chosen: 'yy', propensity: 0.5, reward: 0 },
];

describe('recommenderPolicy', () => {
  it("ranks each record's candidates for its user, never picks unknown items, and is uniform when it knows none", async () => {
    const rec = createRecommender('itemknn');
    await rec.fit(train);
    const data = opeDatasetFromRecords(records);
    const p = recommenderPolicy('itemknn', rec, train.users.ids(), train.items.ids(), data);
    expect(Array.from(targetProbabilities(p, data))).toEqual([0, 1, 0, 1, 0, 0, 0.5, 0.5, 0, 0.5, 0.5]);
    const soft = targetProbabilities(softened(p, 0.3, data), data);
    expect(soft[1]).toBeCloseTo(0.7 + 0.1, 12);
    expect(soft[2]).toBeCloseTo(0.1, 12);
  });
});
