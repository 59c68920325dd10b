import { describe, expect, it } from 'vitest';
import { Dataset, datasetFromTriples, type ItemMeta } from '../../src/data/dataset.js';
import { ContentRecommender } from '../../src/recommenders/content.js';
import { HybridRecommender, simplexGrid } from '../../src/recommenders/hybrid.js';
import { PopularityGenre } from '../../src/recommenders/popularity-genre.js';
import { createRecommender, restoreRecommender } from '../../src/recommenders/registry.js';
import { contractData, describeRecommenderContract } from './contract.js';

const GROUP_A = ['space adventure', 'space war', 'alien space', 'robot space', 'space station', 'galaxy space'];
const GROUP_B = ['romantic comedy', 'love comedy', 'wedding comedy', 'family comedy', 'romance drama', 'comedy of errors'];

/** contractData with item text and genres that follow its two taste groups (i0–i5 sci-fi, i6–i11 comedy). */
function textData(): Dataset {
  const ds = contractData();
  const meta: ItemMeta[] = [];
  for (let i = 0; i < ds.nItems; i++) {
    const ext = Number(ds.items.toExternal(i).slice(1));
    meta[i] = ext < 6
      ? { title: `Film ${ext} ${GROUP_A[ext]}`, categories: ['Sci-Fi', ext % 2 ? 'Action' : 'Adventure'] }
      : { title: `Film ${ext} ${GROUP_B[ext - 6]}`, categories: ['Comedy', ext % 2 ? 'Romance' : 'Drama'] };
  }
  return new Dataset({ name: ds.name, users: ds.users, items: ds.items, interactions: ds.interactions, itemMeta: meta });
}

const factory = { create: createRecommender, restore: restoreRecommender };

describeRecommenderContract('content', () => new ContentRecommender({ dim: 4 }), { data: textData, seeded: false });
describeRecommenderContract('popularity-genre', () => new PopularityGenre(), { data: textData, seeded: false });
describeRecommenderContract(
  'hybrid',
  () => new HybridRecommender({ members: [{ kind: 'popularity' }, { kind: 'content', config: { dim: 4 } }], tuneStep: 0.25 }, factory),
  { data: textData, seeded: false },
);
describeRecommenderContract(
  'hybrid (reciprocal-rank fusion)',
  () => new HybridRecommender({ members: [{ kind: 'popularity', weight: 1 }, { kind: 'content', config: { dim: 4 }, weight: 2 }], fusion: 'rrf', tune: false }, factory),
  { data: textData, seeded: false },
);

/** Users 0–3 watch sci-fi items a0–a3, users 4–7 comedies b0–b3; a4 and b4 are new (no interactions). */
function coldData(): Dataset {
  const triples: [string, string, number, number][] = [];
  let t = 0;
  for (let u = 0; u < 8; u++) {
    const g = u < 4 ? 'a' : 'b';
    for (let j = 0; j < 4; j++) if ((u + j) % 4 !== 3) triples.push([`u${u}`, `${g}${j}`, 1, t++]);
  }
  const ds = datasetFromTriples(triples);
  const items = ds.items.clone();
  items.add('a4');
  items.add('b4');
  const meta: ItemMeta[] = items.ids().map((id) =>
    id.startsWith('a')
      ? { title: `${GROUP_A[Number(id[1])]} saga`, categories: ['Sci-Fi'] }
      : { title: `${GROUP_B[Number(id[1])]} story`, categories: ['Comedy'] },
  );
  return new Dataset({ name: 'cold', users: ds.users, items, interactions: ds.interactions, itemMeta: meta });
}

describe('ContentRecommender cold start', () => {
  it('ranks a new item by its text: the sci-fi fan gets the new sci-fi item first', async () => {
    const ds = coldData();
    const m = new ContentRecommender({ dim: 4 });
    await m.fit(ds);
    const a4 = ds.items.toIndex('a4');
    const b4 = ds.items.toIndex('b4');
    const fan = ds.users.toIndex('u0');
    const r = m.recommend(fan, 1, { candidates: Int32Array.from([a4, b4]) });
    expect(r.items[0]).toBe(a4);
    const other = m.recommend(ds.users.toIndex('u5'), 1, { candidates: Int32Array.from([a4, b4]) });
    expect(other.items[0]).toBe(b4);
  });

  it('gives a brand-new user popularity, and a nearly-new user a blend leaning to their item', async () => {
    const ds = coldData();
    const m = new ContentRecommender({ dim: 4, coldUserInteractions: 4 });
    await m.fit(ds);
    const counts = ds.itemCounts();
    const empty = m.scoreAll({ items: new Int32Array(0) });
    // Pure popularity: order of scores follows interaction counts among known items.
    for (let i = 0; i < ds.nItems; i++) for (let j = 0; j < ds.nItems; j++) if (counts[i]! > counts[j]! && counts[j]! > 0) expect(empty[i]!).toBeGreaterThan(empty[j]!);
    const one = m.recommend({ items: Int32Array.from([ds.items.toIndex('b0')]) }, 3);
    // A comedy watcher with one item: comedies first.
    for (const i of one.items) expect(ds.items.toExternal(i)).toMatch(/^b/);
  });

  it('saves the built-in encoder with the model', async () => {
    const ds = coldData();
    const m = new ContentRecommender({ dim: 4 });
    await m.fit(ds);
    const restored = restoreRecommender(structuredClone(m.toJSON())) as ContentRecommender;
    const enc = restored.builtinEncoder()!;
    expect(enc.id).toBe(m.encoderId);
    const v = await enc.embed(['space saga']);
    expect(v.length).toBe(4);
  });
});

describe('HybridRecommender', () => {
  it('scores a new item only through its content member', async () => {
    const ds = coldData();
    const h = new HybridRecommender({ members: [{ kind: 'popularity' }, { kind: 'content', config: { dim: 4 } }], tune: false }, factory);
    await h.fit(ds);
    const a4 = ds.items.toIndex('a4');
    const b4 = ds.items.toIndex('b4');
    expect(h.recommend(ds.users.toIndex('u1'), 1, { candidates: Int32Array.from([a4, b4]) }).items[0]).toBe(a4);
    expect(h.recommend(ds.users.toIndex('u6'), 1, { candidates: Int32Array.from([a4, b4]) }).items[0]).toBe(b4);
  });

  it('with one member, z-score and min-max fusion keep that member’s ranking', async () => {
    const ds = textData();
    const solo = new ContentRecommender({ dim: 4 });
    await solo.fit(ds);
    for (const normalization of ['zscore', 'minmax'] as const) {
      const h = new HybridRecommender({ members: [{ kind: 'content', config: { dim: 4 } }], normalization }, factory);
      await h.fit(ds);
      for (let u = 0; u < ds.nUsers; u++) expect(Array.from(h.recommend(u, 5).items)).toEqual(Array.from(solo.recommend(u, 5).items));
    }
  });

  it('tunes weights on validation (deterministically), summing to 1, and reports the validation NDCG', async () => {
    const ds = textData();
    const make = () => new HybridRecommender({ members: [{ kind: 'popularity' }, { kind: 'content', config: { dim: 4 } }], tuneStep: 0.25 }, factory);
    const a = make();
    const b = make();
    await a.fit(ds);
    await b.fit(ds);
    expect(a.weights).toEqual(b.weights);
    expect(a.weights.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
    expect(a.tunedNdcg).toBeGreaterThanOrEqual(0);
    expect(a.tunedNdcg).toBeLessThanOrEqual(1);
  });

  it('Borda fusion of two identical members equals either member’s top list', async () => {
    const ds = textData();
    const solo = new ContentRecommender({ dim: 4 });
    await solo.fit(ds);
    const h = new HybridRecommender({ members: [{ kind: 'content', config: { dim: 4 } }, { kind: 'content', config: { dim: 4 } }], fusion: 'borda', tune: false, depth: 20 }, factory);
    await h.fit(ds);
    for (let u = 0; u < ds.nUsers; u++) expect(Array.from(h.recommend(u, 4).items)).toEqual(Array.from(solo.recommend(u, 4).items));
  });

  it('simplexGrid enumerates the weight simplex', () => {
    expect(simplexGrid(2, 0.5).map((w) => Array.from(w))).toEqual([[1, 0], [0.5, 0.5], [0, 1]]);
    expect(simplexGrid(3, 0.1).length).toBe(66);
    expect(simplexGrid(6, 0.1).length).toBeLessThanOrEqual(300);
  });
});

describe('PopularityGenre', () => {
  it('ranks new items by the user’s genre shares', async () => {
    const ds = coldData();
    const m = new PopularityGenre();
    await m.fit(ds);
    const a4 = ds.items.toIndex('a4');
    const b4 = ds.items.toIndex('b4');
    const s = m.score(ds.users.toIndex('u0'), Int32Array.from([a4, b4]));
    expect(s[0]).toBeCloseTo(1, 6); // all of u0's items are Sci-Fi
    expect(s[1]).toBe(0);
  });
});
