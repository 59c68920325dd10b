import { describe, expect, it } from 'vitest';
import { datasetFromTriples } from '../../src/data/dataset.js';
import { Als } from '../../src/recommenders/als.js';
import { Bpr } from '../../src/recommenders/bpr.js';
import { FoldInCache } from '../../src/recommenders/fold-in-cache.js';
import { BiasedMf } from '../../src/recommenders/mf.js';
import { deserializeModel, serializeModel } from '../../src/recommenders/persist.js';
import type { Recommender, UserState } from '../../src/recommenders/types.js';
import { Rng } from '../../src/util/rng.js';

function data(seed: number) {
  const rng = new Rng(seed);
  const triples: [string, string, number][] = [];
  for (let u = 0; u < 30; u++) for (let j = 0; j < 8; j++) triples.push([`u${u}`, `i${rng.int(40)}`, 1 + rng.int(5)]);
  return datasetFromTriples(triples);
}

const state = (items: number[], values?: number[]): UserState => ({ items: Int32Array.from(items), values: values ? Float32Array.from(values) : undefined });

describe('FoldInCache', () => {
  it('computes once per state, tells states apart by items, order and values, and evicts the least recent', () => {
    const cache = new FoldInCache<number[]>(2);
    let calls = 0;
    const f = (s: UserState): number[] => (calls++, [...s.items, ...(s.values ?? [])]);
    const a = cache.get(state([1, 2, 3]), f);
    expect(cache.get(state([1, 2, 3]), f)).toBe(a);
    expect(calls).toBe(1);
    cache.get(state([3, 2, 1]), f);
    cache.get(state([1, 2, 3], [1, 1, 1]), f);
    expect(calls).toBe(3);
    // Capacity 2: [1,2,3] was least recently used and is gone.
    expect(cache.size).toBe(2);
    cache.get(state([1, 2, 3]), f);
    expect(calls).toBe(4);
    expect(cache.hits).toBe(1);
    expect(cache.misses).toBe(4);
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it('keeps a private copy of the state, so a caller reusing its arrays cannot poison it', () => {
    const cache = new FoldInCache<number>(8);
    const s = state([5, 6]);
    cache.get(s, () => 1);
    s.items[1] = 7;
    expect(cache.get(s, () => 2)).toBe(2);
    expect(cache.get(state([5, 6]), () => 3)).toBe(1);
  });

  it('does not remember a fold-in that threw', () => {
    const cache = new FoldInCache<number>(8);
    expect(() => cache.get(state([1]), () => { throw new Error('bad'); })).toThrow('bad');
    expect(cache.get(state([1]), () => 4)).toBe(4);
  });
});

const models: [string, () => Recommender][] = [
  ['bpr', () => new Bpr({ factors: 6, iterations: 15, seed: 3 })],
  ['als', () => new Als({ factors: 6, iterations: 4, seed: 3 })],
  ['mf', () => new BiasedMf({ factors: 6, epochs: 5, seed: 3 })],
];

describe.each(models)('%s fold-in through the cache', (_name, make) => {
  it('gives the scores of a fresh fold-in, follows a changed history, and is cleared by a refit', async () => {
    const m = make();
    await m.fit(data(1));
    const s1 = state([0, 4, 9, 11], [4, 3, 5, 2]);
    const first = Float32Array.from(m.scoreAll(s1));
    const again = Float32Array.from(m.scoreAll(state([0, 4, 9, 11], [4, 3, 5, 2])));
    expect(again).toEqual(first);
    // A copy that never folded anything in: the same numbers.
    const fresh = deserializeModel(serializeModel(m));
    expect(Float32Array.from(fresh.scoreAll(s1))).toEqual(first);
    // One more item in the history is a different user.
    const longer = Float32Array.from(m.scoreAll(state([0, 4, 9, 11, 20], [4, 3, 5, 2, 5])));
    expect(longer).not.toEqual(first);
    // Refit on other data: the remembered vector must not survive.
    await m.fit(data(2));
    const refit = Float32Array.from(m.scoreAll(s1));
    const other = make();
    await other.fit(data(2));
    expect(refit).toEqual(Float32Array.from(other.scoreAll(s1)));
  });
});
