import { describe, expect, it } from 'vitest';
import { registerTeam } from '../../src/marl/register.js';
import { TeamBlendRecommender } from '../../src/marl/team-blend.js';
import { ItemAgentRecommender } from '../../src/marl/item-recommender.js';
import { createRecommender, restoreRecommender } from '../../src/recommenders/registry.js';
import { contractData, describeRecommenderContract } from '../recommenders/contract.js';

// The team is not in the agent and recommender registries until asked for (as the CLI does).
registerTeam();

// The team's offline scorers: user agent (ALS) + an extra agent (item-kNN) + the item agent, weights tuned on validation.
describeRecommenderContract('team-blend', (seed) => new TeamBlendRecommender({ content: false, extras: ['itemknn'], seed }), { seeded: false });
describeRecommenderContract('team-item', () => new ItemAgentRecommender(), { seeded: false });

describe('team-blend: the team\'s scorers as a ranker', () => {
  it('reports a learned weight per agent that sums to 1, and rejects unknown options by name', async () => {
    const model = new TeamBlendRecommender({ content: false, extras: ['itemknn'] });
    await model.fit(contractData());
    const w = model.weights;
    expect(Object.keys(w)).toEqual(['user', 'itemknn', 'item']);
    expect(Object.values(w).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    expect(() => createRecommender('team-blend', { oracle: true })).toThrow(/oracle/);
  });

  it('the item agent prefers rarely seen items', async () => {
    const m = new ItemAgentRecommender({ newDays: 0, newBonus: 0 });
    const data = contractData();
    await m.fit(data);
    const s = m.scoreAll(0);
    const counts = data.itemCounts();
    let a = 0;
    let b = 0;
    for (let i = 0; i < counts.length; i++) if (counts[i]! > counts[a]!) a = i;
    for (let i = 0; i < counts.length; i++) if (counts[i]! < counts[b]!) b = i;
    expect(s[b]!).toBeGreaterThan(s[a]!);
  });

  it('is no longer created as "team" (that name is the agent), but a file saved as "team" still loads and scores the same', async () => {
    expect(() => createRecommender('team')).toThrow(/recommender "team" is now "team-blend".*no agent in it/);
    expect(() => createRecommender('team')).toThrow(expect.objectContaining({ code: 'E_RENAMED' }));
    const model = new TeamBlendRecommender({ content: false, extras: ['itemknn'] });
    await model.fit(contractData());
    // A file written before the rename: the same state under the old kind.
    const old = { ...model.toJSON(), kind: 'team' };
    const back = restoreRecommender(old);
    expect(back.kind).toBe('team-blend');
    expect(Array.from(back.scoreAll(3))).toEqual(Array.from(model.scoreAll(3)));
  });
});
