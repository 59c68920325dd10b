import { describe, expect, it } from 'vitest';
import { datasetFromTriples } from '../../src/data/dataset.js';
import { ItemKnn, UserKnn } from '../../src/recommenders/knn.js';
import { deserializeModel, serializeModel } from '../../src/recommenders/persist.js';
import { Rng } from '../../src/util/rng.js';
import { describeRecommenderContract } from './contract.js';
import { driftingData } from './trend-data.js';

describeRecommenderContract('itemknn', () => new ItemKnn({ k: 5 }), { seeded: false });
describeRecommenderContract('itemknn (window and half-life)', () => new ItemKnn({ k: 5, windowDays: 30, halfLifeDays: 7 }), { seeded: false });
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

describe('ItemKnn, trend-aware', () => {
  const DAY = 86400;

  it('with the options off, gives the same matrix and scores whether or not the data has timestamps', async () => {
    // `ds` (above) with timestamps added, in the same row order, so the indices match.
    const stamped = datasetFromTriples([
      ['u0', 'A', 1, 5 * DAY],
      ['u0', 'B', 1, 0],
      ['u1', 'A', 1, 900 * DAY],
      ['u1', 'B', 1, 3 * DAY],
      ['u1', 'C', 1, 0],
      ['u2', 'B', 1, 40 * DAY],
      ['u2', 'C', 1, 41 * DAY],
      ['u3', 'C', 1, 7 * DAY],
      ['u3', 'D', 1, 1],
    ]);
    const plain = new ItemKnn();
    await plain.fit(ds);
    const timed = new ItemKnn({ windowDays: 0, halfLifeDays: 0 });
    await timed.fit(stamped);
    for (const i of [A, B, C, D]) expect(timed.neighbours(i)).toEqual(plain.neighbours(i));
    for (let u = 0; u < 4; u++) expect(timed.scoreAll(u)).toEqual(plain.scoreAll(u));
  });

  /*
   * u0 took A long ago and B just now; A's other user took X, B's other user took Y. Undecayed, X
   * and Y tie for u0 (cos(A,X) = cos(B,Y) = 1/√2). A 10-day half-life, age counted from each
   * user's newest interaction, shrinks u0's A to 2^−10: Y (B's neighbour) wins by far.
   */
  const drift = datasetFromTriples([
    ['u0', 'A', 1, 0],
    ['u0', 'B', 1, 100 * DAY],
    ['u1', 'A', 1, 0],
    ['u1', 'X', 1, 0],
    ['u2', 'B', 1, 0],
    ['u2', 'Y', 1, 0],
  ]);
  const [dA, dB, dX, dY] = ['A', 'B', 'X', 'Y'].map((x) => drift.items.toIndex(x)) as [number, number, number, number];

  it("weights each user's interactions by 2^(−age/half-life), age from that user's newest", async () => {
    const plain = new ItemKnn();
    await plain.fit(drift);
    const p = plain.scoreAll(0);
    expect(p[dX]).toBeCloseTo(p[dY]!, 6);
    const m = new ItemKnn({ halfLifeDays: 10 });
    await m.fit(drift);
    const wA = 2 ** -10;
    // A = (wA, 1) over (u0, u1), X = (0, 1): cos = 1/√(1 + wA²); B = (1, 1), Y = (0, 1): 1/√2.
    expect(neighbourMap(m, dA).get(dX)).toBeCloseTo(1 / Math.sqrt(1 + wA * wA), 6);
    expect(neighbourMap(m, dB).get(dY)).toBeCloseTo(1 / Math.SQRT2, 6);
    const s = m.scoreAll(0);
    expect(s[dX]).toBeCloseTo(wA / Math.sqrt(1 + wA * wA), 6);
    expect(s[dY]).toBeCloseTo(1 / Math.SQRT2, 6);
    expect(Array.from(m.recommend(0, 2).items)).toEqual([dY, dX]);
  });

  it('builds the similarities from the recent window only', async () => {
    // Long ago three users took A with X; lately one user took A with Y, and u0 took A.
    const w = datasetFromTriples([
      ['o1', 'A', 1, 0],
      ['o1', 'X', 1, 0],
      ['o2', 'A', 1, DAY],
      ['o2', 'X', 1, DAY],
      ['o3', 'A', 1, 2 * DAY],
      ['o3', 'X', 1, 2 * DAY],
      ['n1', 'A', 1, 95 * DAY],
      ['n1', 'Y', 1, 95 * DAY],
      ['u0', 'A', 1, 100 * DAY],
    ]);
    const [wA, wX, wY] = ['A', 'X', 'Y'].map((x) => w.items.toIndex(x)) as [number, number, number];
    const u0 = w.users.toIndex('u0');
    const all = new ItemKnn();
    await all.fit(w);
    expect(Array.from(all.recommend(u0, 2).items)).toEqual([wX, wY]); // cos 3/√15 against 1/√5
    const recent = new ItemKnn({ windowDays: 30 });
    await recent.fit(w);
    expect(neighbourMap(recent, wA).has(wX)).toBe(false);
    expect(neighbourMap(recent, wA).get(wY)).toBeCloseTo(1 / Math.SQRT2, 6); // A = (1,1) over (n1, u0)
    expect(recent.recommend(u0, 1).items[0]).toBe(wY);
    expect(recent.scoreAll(u0)[wX]).toBe(0);
  });

  it('builds the same decayed matrix on two worker threads as on one', async () => {
    const big = driftingData(5);
    const one = new ItemKnn({ k: 10, halfLifeDays: 30, windowDays: 365, threads: 1 });
    const two = new ItemKnn({ k: 10, halfLifeDays: 30, windowDays: 365, threads: 2 });
    await one.fit(big);
    await two.fit(big);
    for (let i = 0; i < big.nItems; i++) expect(two.neighbours(i)).toEqual(one.neighbours(i));
    for (let u = 0; u < big.nUsers; u++) expect(two.scoreAll(u)).toEqual(one.scoreAll(u));
  });

  it('refuses decay without timestamps, naming the field', async () => {
    await expect(new ItemKnn({ halfLifeDays: 7 }).fit(ds)).rejects.toThrow(/halfLifeDays > 0 needs timestamps/);
  });

  it("picks a half-life on validation when users' tastes drift, and records it", async () => {
    const m = new ItemKnn({ halfLifeDays: 'auto' });
    await m.fit(driftingData());
    expect(m.config.tuned).toEqual(['halfLifeDays']);
    expect(m.config.halfLifeDays).toBeGreaterThan(0);
    expect(m.config.windowDays).toBe(0);
    const off = m.timeTrials.find((t) => t.halfLifeDays === 0)!;
    const chosen = m.timeTrials.find((t) => t.halfLifeDays === m.config.halfLifeDays)!;
    expect(chosen.ndcg).toBeGreaterThan(off.ndcg + 0.2);
    // Saved with the chosen value; loads back with the same scores.
    const back = deserializeModel(serializeModel(m));
    expect(back.config).toEqual(m.config);
    expect(Array.from(back.scoreAll(1))).toEqual(Array.from(m.scoreAll(1)));
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
