import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { datasetFromTriples } from '../../src/data/dataset.js';
import { ConfigError, UnknownNameError } from '../../src/errors.js';
import {
  createRecommender,
  defineRecommender,
  getRecommenderEntry,
  listRecommenders,
  registerRecommender,
} from '../../src/recommenders/registry.js';
import { Popularity } from '../../src/recommenders/popularity.js';

describe('recommender registry', () => {
  it('lists the classic models with descriptions and defaults', () => {
    const names = listRecommenders().map((e) => e.name);
    for (const n of ['popularity', 'itemknn', 'userknn', 'bpr', 'mf']) expect(names).toContain(n);
    for (const e of listRecommenders()) expect(e.description.length).toBeGreaterThan(10);
    expect(getRecommenderEntry('itemknn').defaults).toMatchObject({ k: 100, shrink: 0 });
    expect(getRecommenderEntry('bpr').defaults).toMatchObject({ factors: 64, learningRate: 0.01, regularization: 0.01, iterations: 200 });
    expect(getRecommenderEntry('mf').defaults).toMatchObject({ factors: 100, epochs: 20, learningRate: 0.005, regularization: 0.02, initStd: 0.05 });
  });

  it('creates a model with defaults merged under the given config', () => {
    const m = createRecommender('itemknn', { k: 20 });
    expect(m.kind).toBe('itemknn');
    expect(m.config).toEqual({
      k: 20,
      shrink: 0,
      binary: true,
      threads: 0,
      windowDays: 0,
      halfLifeDays: 0,
      autoGridDays: [0, 7, 30, 90, 365, 1095],
      tuned: [],
    });
  });

  it('rejects an unknown name, listing the known ones', () => {
    expect(() => createRecommender('svdpp')).toThrow(UnknownNameError);
    expect(() => createRecommender('svdpp')).toThrow(/expected one of: .*itemknn/);
  });

  it('rejects a bad value naming the field', () => {
    try {
      createRecommender('itemknn', { k: -3 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).location?.field).toBe('k');
      expect((e as Error).message).toMatch(/itemknn: .*got -3/);
    }
    expect(() => createRecommender('bpr', { negativeSampling: 'nearest' })).toThrow(/field "negativeSampling"/);
    expect(() => createRecommender('mf', { factors: 2.5 })).toThrow(/field "factors"/);
  });

  it('rejects an unknown option naming it', () => {
    expect(() => createRecommender('popularity', { halflife: 3 })).toThrow(/field "halflife".*unknown option/);
  });

  it('lets other layers register their models, once', async () => {
    const schema = z.strictObject({ boost: z.number() });
    const entry = defineRecommender({
      name: 'test-boosted-popularity',
      description: 'popularity under another name, for this test',
      defaults: { boost: 1 },
      schema,
      make: () => new Popularity(),
    });
    registerRecommender(entry);
    expect(listRecommenders().map((e) => e.name)).toContain('test-boosted-popularity');
    const m = createRecommender('test-boosted-popularity', { boost: 2 });
    await m.fit(datasetFromTriples([['u', 'a']]));
    expect(m.recommend(0, 1, { excludeSeen: false }).items.length).toBe(1);
    expect(() => createRecommender('test-boosted-popularity', { boost: 'x' })).toThrow(ConfigError);
    expect(() => registerRecommender(entry)).toThrow(/already registered/);
  });
});
