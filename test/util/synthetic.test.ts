// Tests for src/data/synthetic.ts (kept with the numeric utilities it was written with).
import { describe, expect, it } from 'vitest';
import { syntheticPowerLaw } from '../../src/data/synthetic.js';

describe('syntheticPowerLaw', () => {
  const cfg = { users: 500, items: 200, interactions: 20_000, seed: 3, groups: 4, affinity: 0.9 };

  it('is reproducible from its seed and has the requested shape', () => {
    const a = syntheticPowerLaw(cfg);
    const b = syntheticPowerLaw(cfg);
    const c = syntheticPowerLaw({ ...cfg, seed: 4 });
    expect(a.dataset.nUsers).toBe(500);
    expect(a.dataset.nItems).toBe(200);
    expect(a.dataset.nInteractions).toBe(20_000);
    expect(Array.from(a.dataset.interactions.item)).toEqual(Array.from(b.dataset.interactions.item));
    expect(Array.from(a.dataset.interactions.user)).toEqual(Array.from(b.dataset.interactions.user));
    expect(Array.from(a.dataset.interactions.item)).not.toEqual(Array.from(c.dataset.interactions.item));
    // Timestamps are the draw order.
    expect(a.dataset.interactions.timestamp[123]).toBe(123);
  });

  it('draws heavy-tailed popularity and activity, and honours the planted groups', () => {
    const { dataset, userGroup, itemGroup } = syntheticPowerLaw(cfg);
    const items = Array.from(dataset.itemCounts()).sort((x, y) => y - x);
    const users = Array.from(dataset.userCounts()).sort((x, y) => y - x);
    const topShare = (xs: number[], frac: number): number =>
      xs.slice(0, Math.ceil(xs.length * frac)).reduce((s, x) => s + x, 0) / xs.reduce((s, x) => s + x, 0);
    // Uniform draws would give the top 10 % about 10 % of the interactions.
    expect(topShare(items, 0.1)).toBeGreaterThan(0.3);
    expect(topShare(users, 0.1)).toBeGreaterThan(0.25);
    const { user, item } = dataset.interactions;
    let inGroup = 0;
    for (let k = 0; k < user.length; k++) if (userGroup[user[k]!] === itemGroup[item[k]!]) inGroup++;
    // 0.9 from the group plus 0.1 × (about 1/4 by chance).
    expect(inGroup / user.length).toBeGreaterThan(0.88);
    expect(inGroup / user.length).toBeLessThan(0.96);
  });

  it('rejects impossible sizes', () => {
    expect(() => syntheticPowerLaw({ ...cfg, users: 0 })).toThrow(/users/);
    expect(() => syntheticPowerLaw({ ...cfg, groups: 500 })).toThrow(/groups/);
  });
});
