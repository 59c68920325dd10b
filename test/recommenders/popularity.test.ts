import { describe, expect, it } from 'vitest';
import { datasetFromTriples } from '../../src/data/dataset.js';
import { DataError } from '../../src/errors.js';
import { Popularity } from '../../src/recommenders/popularity.js';
import { describeRecommenderContract } from './contract.js';

describeRecommenderContract('popularity', () => new Popularity(), { seeded: false });

const DAY = 86400;

describe('Popularity', () => {
  // Item c: 3 interactions, a: 2, b: 1, d: none besides user z's.
  const ds = datasetFromTriples([
    ['x', 'a', 1, 0],
    ['y', 'a', 1, 0],
    ['x', 'c', 1, 10 * DAY],
    ['y', 'c', 1, 10 * DAY],
    ['w', 'c', 1, 10 * DAY],
    ['w', 'b', 5, 20 * DAY],
    ['z', 'd', 1, 0],
  ]);
  const a = ds.items.toIndex('a');
  const b = ds.items.toIndex('b');
  const c = ds.items.toIndex('c');
  const d = ds.items.toIndex('d');

  it('ranks by interaction count, the same for every user', async () => {
    const m = new Popularity();
    await m.fit(ds);
    const s = m.scoreAll(0);
    expect([s[a], s[b], s[c], s[d]]).toEqual([2, 1, 3, 1]);
    // User z has seen only d: c, a, then b (b and d tie on 1, d is excluded as seen).
    expect(Array.from(m.recommend(ds.users.toIndex('z'), 3).items)).toEqual([c, a, b]);
  });

  it('sums values when asked', async () => {
    const m = new Popularity({ useValues: true });
    await m.fit(ds);
    expect(m.scoreAll(0)[b]).toBe(5);
  });

  it('decays each interaction by its age with the half-life', async () => {
    const m = new Popularity({ halfLifeDays: 10 });
    await m.fit(ds);
    const s = m.scoreAll(0);
    // Newest interaction is at day 20: b is 0 days old (1), c 10 days (3 · 1/2), a 20 days (2 · 1/4).
    expect(s[b]).toBeCloseTo(1, 6);
    expect(s[c]).toBeCloseTo(1.5, 6);
    expect(s[a]).toBeCloseTo(0.5, 6);
  });

  it('refuses decay without timestamps', async () => {
    const m = new Popularity({ halfLifeDays: 7 });
    await expect(m.fit(datasetFromTriples([['x', 'a']]))).rejects.toThrow(DataError);
  });
});
