import { describe, expect, it } from 'vitest';
import { datasetFromTriples } from '../../src/data/dataset.js';
import { P1_SPLIT, temporalRatioSplit, validationSplit } from '../../src/data/split.js';
import { DataError } from '../../src/errors.js';
import { deserializeModel, serializeModel } from '../../src/recommenders/persist.js';
import { Popularity } from '../../src/recommenders/popularity.js';
import { createRecommender } from '../../src/recommenders/registry.js';
import { validationNdcg, validationUsers } from '../../src/recommenders/validation-ndcg.js';
import { describeRecommenderContract } from './contract.js';
import { stableWithFadData, trendingData } from './trend-data.js';

describeRecommenderContract('popularity', () => new Popularity(), { seeded: false });
describeRecommenderContract('popularity (window and half-life)', () => new Popularity({ windowDays: 30, halfLifeDays: 7 }), { seeded: false });

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

  it('counts only the interactions inside the recent window', async () => {
    // Newest interaction at day 20; a 10-day window keeps days 10–20: c (3) and b (1), not a or d.
    const m = new Popularity({ windowDays: 10 });
    await m.fit(ds);
    const s = m.scoreAll(0);
    expect([s[a], s[b], s[c], s[d]]).toEqual([0, 1, 3, 0]);
    // A 5-day window keeps only b: it moves from third to first for user z.
    const short = new Popularity({ windowDays: 5 });
    await short.fit(ds);
    expect(short.recommend(ds.users.toIndex('z'), 1).items[0]).toBe(b);
  });

  it('applies the half-life inside the window', async () => {
    const m = new Popularity({ windowDays: 10, halfLifeDays: 10 });
    await m.fit(ds);
    const s = m.scoreAll(0);
    expect(s[a]).toBe(0);
    expect(s[c]).toBeCloseTo(1.5, 6);
    expect(s[b]).toBeCloseTo(1, 6);
  });

  it('refuses a window without timestamps, naming the field', async () => {
    await expect(new Popularity({ windowDays: 7 }).fit(datasetFromTriples([['x', 'a']]))).rejects.toThrow(/windowDays > 0 needs timestamps/);
  });

  it('with the options off, needs no timestamps and keeps its config as given', async () => {
    const m = new Popularity();
    await m.fit(datasetFromTriples([['x', 'a'], ['y', 'a'], ['y', 'b']]));
    expect(Array.from(m.scoreAll(0))).toEqual([2, 1]);
    expect(m.config).toEqual({ windowDays: 0, halfLifeDays: 0, autoGridDays: [0, 7, 30, 90, 365, 1095], tuned: [], useValues: false });
    expect(m.timeTrials).toEqual([]);
  });

  it('takes the grid as a list, or as the comma-separated string or single number a -p flag gives', () => {
    expect(createRecommender('popularity', { autoGridDays: [0, 30] }).config.autoGridDays).toEqual([0, 30]);
    expect(createRecommender('popularity', { autoGridDays: '0,30,365' }).config.autoGridDays).toEqual([0, 30, 365]);
    expect(createRecommender('popularity', { autoGridDays: 14 }).config.autoGridDays).toEqual([14]);
    expect(() => createRecommender('popularity', { autoGridDays: '0;30' })).toThrow(/autoGridDays/);
    expect(() => createRecommender('popularity', { autoGridDays: [] })).toThrow(/autoGridDays/);
  });

  it('rejects a negative window or an unknown word, naming the field', () => {
    expect(() => createRecommender('popularity', { windowDays: -1 })).toThrow(/windowDays|too small/);
    expect(() => createRecommender('popularity', { halfLifeDays: 'soon' })).toThrow(/halfLifeDays|invalid/i);
  });
});

describe("Popularity with 'auto' windows (chosen on a validation split of train)", () => {
  it('picks a short window when recent items are what users take next', async () => {
    const m = new Popularity({ windowDays: 'auto' });
    await m.fit(trendingData());
    expect(m.config.tuned).toEqual(['windowDays']);
    expect(m.config.windowDays).toBeGreaterThan(0);
    expect(m.config.windowDays).toBeLessThanOrEqual(30);
    // Every grid value was tried on validation, and the chosen one beat "off" there.
    const trials = m.timeTrials;
    expect(trials.map((t) => t.windowDays)).toEqual([0, 7, 30, 90, 365, 1095]);
    const off = trials.find((t) => t.windowDays === 0)!;
    const chosen = trials.find((t) => t.windowDays === m.config.windowDays)!;
    expect(chosen.ndcg).toBeGreaterThan(off.ndcg + 0.2);
    // The final model uses the chosen window on all of train: the newest period's items lead.
    const data = trendingData();
    const top = m.recommend(0, 10, { excludeSeen: false }).items;
    expect(Array.from(top, (i) => data.items.toExternal(i).slice(0, 3))).toEqual(Array(10).fill('p3-'));
  });

  it('picks off when the recent window is full of items nobody takes next', async () => {
    const m = new Popularity({ windowDays: 'auto', halfLifeDays: 'auto' });
    await m.fit(stableWithFadData());
    expect(m.config.windowDays).toBe(0);
    expect(m.config.halfLifeDays).toBe(0);
    expect(m.config.tuned).toEqual(['windowDays', 'halfLifeDays']);
    expect(m.timeTrials.length).toBe(36); // both 'auto': the grids are searched jointly
    const best = Math.max(...m.timeTrials.map((t) => t.ndcg));
    expect(m.timeTrials[0]).toMatchObject({ windowDays: 0, halfLifeDays: 0, ndcg: best });
    const shortest = m.timeTrials.find((t) => t.windowDays === 7 && t.halfLifeDays === 0)!;
    expect(shortest.ndcg).toBeLessThan(best);
  });

  it("scores each grid value on P1's validation split of its own training data (never on test)", async () => {
    const { train } = temporalRatioSplit(trendingData());
    const m = new Popularity({ windowDays: 'auto' });
    await m.fit(train);
    const { train: fitPart, validation } = validationSplit(train, P1_SPLIT);
    const users = validationUsers(validation, 1000);
    for (const t of m.timeTrials) {
      const trial = new Popularity({ windowDays: t.windowDays });
      await trial.fit(fitPart);
      expect(t.ndcg).toBe(validationNdcg(trial, fitPart, validation, users, 10));
    }
  });

  it("saves the chosen values, not 'auto', and loads back with the same scores", async () => {
    const m = new Popularity({ windowDays: 'auto', useValues: true });
    const data = trendingData();
    await m.fit(data);
    const back = deserializeModel(serializeModel(m));
    expect(back.config).toEqual(m.config);
    expect(typeof back.config.windowDays).toBe('number');
    expect(Array.from(back.scoreAll(3))).toEqual(Array.from(m.scoreAll(3)));
  });

  it("refuses 'auto' on data without timestamps, naming the option", async () => {
    await expect(new Popularity({ halfLifeDays: 'auto' }).fit(datasetFromTriples([['x', 'a'], ['y', 'b']]))).rejects.toThrow(
      /popularity with halfLifeDays 'auto' needs timestamps/,
    );
  });

  it('reports each validation fit as progress', async () => {
    const calls: [number, number, string][] = [];
    await new Popularity({ halfLifeDays: 'auto', autoGridDays: [0, 30] }).fit(trendingData(), { onProgress: (d, t, u) => calls.push([d, t, u]) });
    expect(calls).toEqual([
      [1, 2, 'validation fits'],
      [2, 2, 'validation fits'],
    ]);
  });

  it('refits choose again from the requested config', async () => {
    const m = new Popularity({ windowDays: 'auto' });
    await m.fit(trendingData());
    const first = m.config.windowDays;
    await m.fit(stableWithFadData());
    expect(first).toBeGreaterThan(0);
    expect(m.config.windowDays).toBe(0);
  });
});
