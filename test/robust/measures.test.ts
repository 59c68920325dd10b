import { describe, expect, it } from 'vitest';
import { createRecommender } from '../../src/recommenders/registry.js';
import { injectAttack, pickTargets, dropInteractionsOf } from '../../src/robust/attacks.js';
import { pushMeasures, pushShift } from '../../src/robust/measures.js';
import { ratedWorld } from './world.js';

describe('pushMeasures', () => {
  const world = ratedWorld(3);
  const targets = pickTargets(world, 3, 5);
  const users = Int32Array.from({ length: world.nUsers }, (_, u) => u);

  it('a push attack lifts the targets into popularity top-10s, and removing the fakes undoes it', async () => {
    const before = createRecommender('popularity');
    await before.fit(world);
    const atk = injectAttack(world, { type: 'random', targets, size: 0.2, filler: 0.05, seed: 7 });
    const after = createRecommender('popularity');
    await after.fit(atk.dataset);
    const mb = pushMeasures(before, world, users, targets);
    const ma = pushMeasures(after, world, users, targets);
    expect(mb.hitRatio).toBe(0);
    expect(ma.hitRatio).toBeGreaterThan(0.9);
    const shift = pushShift(mb, ma);
    expect(shift.rankShift).toBeGreaterThan(10);
    expect(Number.isNaN(shift.predictionShift)).toBe(true); // popularity predicts no ratings

    const drop = new Uint8Array(atk.dataset.nUsers);
    for (const u of atk.fake) drop[u] = 1;
    const cleaned = createRecommender('popularity');
    await cleaned.fit(dropInteractionsOf(atk.dataset, drop));
    expect(pushMeasures(cleaned, world, users, targets).hitRatio).toBe(0);
  });

  it('counts only users who had not interacted with a target', async () => {
    const model = createRecommender('popularity');
    await model.fit(world);
    const counts = world.itemCounts();
    const m = pushMeasures(model, world, users, targets);
    let eligible = 0;
    for (const t of targets) eligible += world.nUsers - counts[t]!;
    expect(m.pairs).toBe(eligible);
  });

  it('reports a positive prediction shift for a rating model under a push', async () => {
    const before = createRecommender('mf', { seed: 1 });
    await before.fit(world);
    const atk = injectAttack(world, { type: 'average', targets, size: 0.1, filler: 0.05, seed: 7 });
    const after = createRecommender('mf', { seed: 1 });
    await after.fit(atk.dataset);
    const shift = pushShift(pushMeasures(before, world, users, targets), pushMeasures(after, world, users, targets));
    expect(shift.predictionShift).toBeGreaterThan(0.2);
  });
});
