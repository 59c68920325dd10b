import { describe, expect, it } from 'vitest';
import { datasetFromTriples } from '../../src/data/dataset.js';
import { ItemKnn, UserKnn } from '../../src/recommenders/knn.js';
import { Rng } from '../../src/util/rng.js';
import { describeRecommenderContract } from './contract.js';

describeRecommenderContract('itemknn', () => new ItemKnn({ k: 5 }), { seeded: false });
describeRecommenderContract('userknn', () => new UserKnn({ k: 5 }), { seeded: false });

/*
 * u0: A B      Item vectors over users:   A = (1,1,0,0)  B = (1,1,1,0)
 * u1: A B C                                C = (0,1,1,1)  D = (0,0,0,1)
 * u2: B C      cos(A,B) = 2/√6, cos(A,C) = 1/√6, cos(B,C) = 2/3, cos(C,D) = 1/√3, cos(·,D) = 0 else
 * u3: C D
 */
const ds = datasetFromTriples([
  ['u0', 'A'],
  ['u0', 'B'],
  ['u1', 'A'],
  ['u1', 'B'],
  ['u1', 'C'],
  ['u2', 'B'],
  ['u2', 'C'],
  ['u3', 'C'],
  ['u3', 'D'],
]);
const [A, B, C, D] = ['A', 'B', 'C', 'D'].map((x) => ds.items.toIndex(x)) as [number, number, number, number];
const s6 = Math.sqrt(6);

function neighbourMap(m: ItemKnn, i: number): Map<number, number> {
  const n = m.neighbours(i);
  return new Map(Array.from(n.items, (j, t) => [j, n.scores[t]!]));
}

describe('ItemKnn', () => {
  it('computes cosine similarities, itself included, as implicit does', async () => {
    const m = new ItemKnn();
    await m.fit(ds);
    const nA = neighbourMap(m, A);
    expect(nA.get(A)).toBeCloseTo(1, 6);
    expect(nA.get(B)).toBeCloseTo(2 / s6, 6);
    expect(nA.get(C)).toBeCloseTo(1 / s6, 6);
    expect(nA.has(D)).toBe(false); // no co-occurrence, no entry
    const nC = neighbourMap(m, C);
    expect(nC.get(B)).toBeCloseTo(2 / 3, 6);
    expect(nC.get(D)).toBeCloseTo(1 / Math.sqrt(3), 6);
  });

  it('keeps the K most similar per item', async () => {
    const m = new ItemKnn({ k: 2 });
    await m.fit(ds);
    expect(Array.from(m.neighbours(A).items)).toEqual([A, B]);
    expect(Array.from(m.neighbours(C).items)).toEqual([C, B]);
  });

  it('shrinks the similarity by the shrink term', async () => {
    const m = new ItemKnn({ shrink: 1 });
    await m.fit(ds);
    expect(neighbourMap(m, A).get(B)).toBeCloseTo(2 / (s6 + 1), 6);
  });

  it("scores a user's unseen items by summed similarity", async () => {
    const m = new ItemKnn();
    await m.fit(ds);
    const s = m.scoreAll(0); // u0 = {A, B}
    expect(s[C]).toBeCloseTo(1 / s6 + 2 / 3, 6);
    expect(s[D]).toBe(0);
    expect(Array.from(m.recommend(0, 1).items)).toEqual([C]);
    // A session with only D: C is D's one neighbour.
    const r = m.recommend({ items: Int32Array.from([D]) }, 1);
    expect(Array.from(r.items)).toEqual([C]);
    expect(r.scores[0]).toBeCloseTo(1 / Math.sqrt(3), 6);
  });

  it('reports progress over items, ending at the item count', async () => {
    const calls: [number, number, string][] = [];
    await new ItemKnn().fit(ds, { onProgress: (d, t, u) => calls.push([d, t, u]) });
    expect(calls.at(-1)).toEqual([4, 4, 'item']);
  });

  it('builds the same neighbour matrix on two worker threads as on one', async () => {
    const rng = new Rng(9);
    const triples: [string, string, number][] = [];
    for (let u = 0; u < 120; u++) for (let t = 0; t < 15; t++) triples.push([`u${u}`, `i${Math.floor(rng.next() ** 2 * 90)}`, 1 + rng.int(5)]);
    const big = datasetFromTriples(triples);
    const one = new ItemKnn({ k: 10, shrink: 2, binary: false, threads: 1 });
    const two = new ItemKnn({ k: 10, shrink: 2, binary: false, threads: 2 });
    const progress: number[] = [];
    await one.fit(big);
    await two.fit(big, { onProgress: (d) => progress.push(d) });
    expect(progress.at(-1)).toBe(big.nItems);
    for (let i = 0; i < big.nItems; i++) expect(two.neighbours(i)).toEqual(one.neighbours(i));
    for (let u = 0; u < big.nUsers; u++) expect(two.scoreAll(u)).toEqual(one.scoreAll(u));
  });

  it('uses interaction values when binary is off', async () => {
    const w = datasetFromTriples([
      ['u0', 'A', 2],
      ['u0', 'B', 1],
      ['u1', 'A', 1],
      ['u1', 'B', 3],
    ]);
    const m = new ItemKnn({ binary: false });
    await m.fit(w);
    // A = (2,1), B = (1,3): cos = 5 / (√5 √10)
    expect(neighbourMap(m, 0).get(1)).toBeCloseTo(5 / Math.sqrt(50), 6);
  });
});

describe('UserKnn', () => {
  it('finds the most similar users and sums their rows', async () => {
    const m = new UserKnn();
    await m.fit(ds);
    // u0 = {A,B}: cos(u0,u1) = 2/√6, cos(u0,u2) = 1/2, cos(u0,u3) = 0 (not a neighbour).
    const nb = m.neighbours(0);
    expect(Array.from(nb.users)).toEqual([1, 2]);
    expect(nb.scores[0]).toBeCloseTo(2 / s6, 6);
    expect(nb.scores[1]).toBeCloseTo(0.5, 6);
    const s = m.scoreAll(0);
    expect(s[C]).toBeCloseTo(2 / s6 + 0.5, 6);
    expect(s[D]).toBe(0);
  });

  it('uses only K neighbours', async () => {
    const m = new UserKnn({ k: 1 });
    await m.fit(ds);
    expect(m.scoreAll(0)[C]).toBeCloseTo(2 / s6, 6);
  });

  it('scores a state like a user with those items (a training user is not their own neighbour)', async () => {
    const m = new UserKnn();
    await m.fit(ds);
    // State {C, D} is u3's row; u3 itself now counts as a neighbour with similarity 1.
    const s = m.scoreAll({ items: Int32Array.from([C, D]) });
    const viaUser = m.scoreAll(3);
    expect(s[A]! - viaUser[A]!).toBeCloseTo(0, 6);
    expect(s[D]! - viaUser[D]!).toBeCloseTo(1, 6);
  });
});
