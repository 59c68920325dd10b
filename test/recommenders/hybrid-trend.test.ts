import { describe, expect, it } from 'vitest';
import { HybridRecommender } from '../../src/recommenders/hybrid.js';
import { deserializeModel, serializeModel } from '../../src/recommenders/persist.js';
import { createRecommender, restoreRecommender } from '../../src/recommenders/registry.js';
import { trendingData } from './trend-data.js';

const factory = { create: createRecommender, restore: restoreRecommender };

describe('HybridRecommender with a trending popularity member', () => {
  it("fits the member's 'auto' window inside its own fit, and the tuned weights use it", async () => {
    const data = trendingData();
    const plain = new HybridRecommender({ members: [{ kind: 'itemknn' }, { kind: 'popularity' }], tuneStep: 0.25 }, factory);
    const trending = new HybridRecommender({ members: [{ kind: 'itemknn' }, { kind: 'popularity', config: { windowDays: 'auto' } }], tuneStep: 0.25 }, factory);
    await plain.fit(data);
    await trending.fit(data);
    const member = trending.memberModels[1]!;
    expect(member.config).toMatchObject({ tuned: ['windowDays'] });
    expect(member.config.windowDays).toBeGreaterThan(0);
    // On the hybrid's validation split, where the newest period is what users take next, the
    // trending member earns weight and lifts the tuned NDCG over plain popularity's.
    expect(trending.weights[1]).toBeGreaterThan(0);
    expect(trending.tunedNdcg).toBeGreaterThan(plain.tunedNdcg + 0.05);
  });

  it('saves the member with the window it chose and loads back with the same scores', async () => {
    const h = new HybridRecommender({ members: [{ kind: 'itemknn' }, { kind: 'popularity', config: { windowDays: 'auto' } }], tune: false }, factory);
    await h.fit(trendingData());
    const back = deserializeModel(serializeModel(h)) as HybridRecommender;
    expect(back.memberModels[1]!.config).toEqual(h.memberModels[1]!.config);
    expect(Array.from(back.scoreAll(2))).toEqual(Array.from(h.scoreAll(2)));
  });
});
