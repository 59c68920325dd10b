import { describe, expect, it } from 'vitest';
import { Dataset, datasetFromTriples, type ItemMeta } from '../../src/data/dataset.js';
import { HybridRecommender, type HybridMember } from '../../src/recommenders/hybrid.js';
import { createRecommender, restoreRecommender } from '../../src/recommenders/registry.js';
import type { Recommender } from '../../src/recommenders/types.js';

/** 30 users over 12 titled items, in two taste groups; a5 and b5 are new (no interactions), so the cold-item fusion runs too. */
function data(): Dataset {
  const triples: [string, string, number, number][] = [];
  let t = 0;
  for (let u = 0; u < 30; u++) {
    const g = u % 3 === 0 ? 'b' : 'a';
    for (let j = 0; j < 5; j++) if ((u + 2 * j) % 5 !== 0) triples.push([`u${u}`, `${g}${j}`, 1, t++]);
    triples.push([`u${u}`, `${g === 'a' ? 'b' : 'a'}${u % 5}`, 1, t++]);
  }
  const ds = datasetFromTriples(triples);
  const items = ds.items.clone();
  items.add('a5');
  items.add('b5');
  const words = ['space war', 'alien space', 'robot space', 'space station', 'galaxy space', 'space saga', 'love comedy', 'wedding comedy', 'family comedy', 'romance drama', 'comedy of errors', 'comedy saga'];
  const meta: ItemMeta[] = items.ids().map((id) => ({ title: words[(id[0] === 'a' ? 0 : 6) + Number(id[1])]!, categories: [id[0] === 'a' ? 'Sci-Fi' : 'Comedy'] }));
  return new Dataset({ name: 'two-groups', users: ds.users, items, interactions: ds.interactions, itemMeta: meta });
}

const KINDS: Omit<HybridMember, 'weight'>[] = [
  { kind: 'popularity' },
  { kind: 'itemknn' },
  { kind: 'bpr', config: { factors: 4, iterations: 5 } },
  { kind: 'content', config: { dim: 4, halfLife: 3 } },
  { kind: 'content', config: { dim: 4, halfLife: 20 } },
  { kind: 'ease' },
];

/** A hybrid with fixed weights whose members count their `scoreAll` calls. */
async function fitted(weights: number[], fusion: 'score' | 'rrf' = 'score'): Promise<{ h: HybridRecommender; calls: number[] }> {
  const calls: number[] = [];
  const count = (r: Recommender, m: number): Recommender => {
    const inner = r.scoreAll.bind(r);
    r.scoreAll = (user, out) => {
      calls[m]!++;
      return inner(user, out);
    };
    return r;
  };
  let made = 0;
  const factory = {
    create: (kind: string, config?: Record<string, unknown>) => {
      calls.push(0);
      return count(createRecommender(kind, config), made++);
    },
    restore: restoreRecommender,
  };
  const h = new HybridRecommender({ members: KINDS.map((m, i) => ({ ...m, weight: weights[i]! })), tune: false, fusion, threads: 1 }, factory);
  await h.fit(data());
  return { h, calls };
}

const allItems = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);

describe('hybrid scoring skips the members with weight 0', () => {
  // 1 to 6 members with a non-zero weight: every unrolled case of the fusion and the general loop.
  const cases = [
    [0, 0, 1, 0, 0, 0],
    [0, 2, 0, 0, 1, 0],
    [1, 0, 0, 1, 0, 3],
    [0, 1, 1, 1, 0, 1],
    [2, 1, 0, 1, 1, 1],
    [1, 1, 2, 1, 1, 1],
    [0, 1, 1, 0, 0, 1], // no member that covers new items has weight: new items fuse every member
  ];
  for (const weights of cases) {
    it(`weights ${weights.join(',')}: the full fusion's scores to the last bit, and only weighted members scored`, async () => {
      const { h, calls } = await fitted(weights);
      const ds = data();
      const M = weights.length;
      const items = allItems(ds.nItems);
      for (let u = 0; u < ds.nUsers; u++) {
        const before = calls.slice();
        const fast = h.scoreAll(u).slice();
        for (let m = 0; m < M; m++) expect(calls[m]! - before[m]!).toBe(weights[m]! > 0 ? 1 : 0);
        // scoreTerms fuses every member (the path before this change) over every item.
        const full = h.scoreTerms(u, items);
        expect(Array.from(fast)).toEqual(Array.from(full.scores));
        // Independent oracle for known items: Σ_m w_m·c_m over all members in order, from +0, rounded once to float32.
        const counts = ds.itemCounts();
        for (let i = 0; i < ds.nItems; i++) {
          if (counts[i] === 0) continue;
          let s = 0;
          for (let m = 0; m < M; m++) s += full.terms[i * M + m]!;
          expect(fast[i]).toBe(Math.fround(s));
        }
      }
      // The same after a save and load (the weighted members are found again from the saved weights).
      const back = restoreRecommender(h.toJSON());
      for (let u = 0; u < ds.nUsers; u++) expect(Array.from(back.scoreAll(u))).toEqual(Array.from(h.scoreAll(u)));
    });
  }

  it('skips them in reciprocal-rank fusion too, with the same scores', async () => {
    const weights = [1, 0, 2, 0, 1, 0];
    const { h, calls } = await fitted(weights, 'rrf');
    const ds = data();
    const items = allItems(ds.nItems);
    for (let u = 0; u < ds.nUsers; u++) {
      const before = calls.slice();
      const fast = h.scoreAll(u).slice();
      for (let m = 0; m < weights.length; m++) expect(calls[m]! - before[m]!).toBe(weights[m]! > 0 ? 1 : 0);
      expect(Array.from(fast)).toEqual(Array.from(h.scoreTerms(u, items).scores));
    }
  });
});
