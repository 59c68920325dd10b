import { describe, expect, it } from 'vitest';
import { Dataset, IdMap, interactionsFrom } from '../../src/data/dataset.js';
import { evaluateRanking } from '../../src/eval/ranking.js';
import { Rng } from '../../src/util/rng.js';
import { FixedScores } from './fixed-model.js';

/**
 * Two users, five items. Train: u0 {i0,i1}, u1 {i1,i2,i3}. Test: u0 {i2,i4}, u1 {i0}.
 * i4 has no training interaction, so it is outside the catalogue {i0..i3} but stays in u0's truth.
 */
function split(): { train: Dataset; test: Dataset } {
  const users = IdMap.from(['u0', 'u1']);
  const items = IdMap.from(['i0', 'i1', 'i2', 'i3', 'i4']);
  const mk = (name: string, u: number[], i: number[]) =>
    new Dataset({
      name,
      users,
      items,
      interactions: interactionsFrom({ user: u, item: i }),
      itemMeta: [{ categories: ['a'] }, { categories: ['a', 'b'] }, { categories: ['b'] }, { categories: ['c'] }, undefined],
    });
  return { train: mk('train', [0, 0, 1, 1, 1], [0, 1, 1, 2, 3]), test: mk('test', [0, 0, 1], [2, 4, 0]) };
}

describe('evaluateRanking, full catalogue (hand-computed)', () => {
  it('masks training items and non-catalogue items, keeps test-only items as misses', async () => {
    const { train, test } = split();
    // Global scores; i4 would win but is not in the catalogue, train items would be next.
    const model = new FixedScores({ rows: [[5, 4, 3, 2, 10]] });
    await model.fit(train);
    const r = evaluateRanking(model, train, test, { k: 2 });
    expect(r.candidates).toEqual({ mode: 'full', catalogueSize: 4 });
    expect(r.users).toBe(2);
    // u0: candidates {i2,i3} → [2,3]; truth {2,4}: hit at rank 1.
    // u1: candidates {i0} → [0, −1]; truth {0}: hit at rank 1.
    expect(Array.from(r.lists)).toEqual([2, 3, 0, -1]);
    expect(Array.from(r.perUser.hits)).toEqual([1, 1]);
    expect(Array.from(r.perUser.nTest)).toEqual([2, 1]);
    // u0 NDCG = 1 / (1 + 1/log2 3) = 0.613147; u1 NDCG = 1
    expect(r.perUser.ndcg[0]).toBeCloseTo(0.613147, 5);
    expect(r.perUser.ndcg[1]).toBeCloseTo(1, 12);
    expect(r.metrics['ndcg@2']).toBeCloseTo((0.613147 + 1) / 2, 5);
    expect(r.metrics['recall@2']).toBeCloseTo((0.5 + 1) / 2, 12);
    expect(r.metrics['precision@2']).toBeCloseTo(0.5, 12);
    expect(r.metrics['hr@2']).toBe(1);
    expect(r.metrics['map@2']).toBeCloseTo((0.5 + 1) / 2, 12);
    expect(r.metrics['mrr@2']).toBeCloseTo(1, 12);
    // exposed {i0,i2,i3} of catalogue 4
    expect(r.metrics['coverage@2']).toBeCloseTo(0.75, 12);
    // novelty: train users per item i0:1, i2:1, i3:1 of 2 users → 1 bit each
    expect(r.metrics['novelty@2']).toBeCloseTo(1, 12);
    // ILD: u0 pair (i2 {b}, i3 {c}) → 1; u1 has a single item → undefined, not averaged
    expect(r.metrics['ild@2']).toBeCloseTo(1, 12);
    expect(Number.isNaN(r.perUser.ild[1]!)).toBe(true);
  });

  it('per-user score rows drive per-user lists', async () => {
    const { train, test } = split();
    const model = new FixedScores({ rows: [[0, 0, 1, 2, 0], [9, 0, 0, 0, 0]] });
    await model.fit(train);
    const r = evaluateRanking(model, train, test, { k: 1 });
    // u0 → i3 (miss), u1 → i0 (hit)
    expect(Array.from(r.lists)).toEqual([3, 0]);
    expect(Array.from(r.perUser.hr)).toEqual([0, 1]);
    expect(r.metrics['precision@1']).toBeCloseTo(0.5, 12);
  });

  it('rejects a test set with different id maps', async () => {
    const { train } = split();
    const other = new Dataset({ name: 'x', users: IdMap.from(['a']), items: IdMap.from(['b']), interactions: interactionsFrom({ user: [0], item: [0] }) });
    const model = new FixedScores({ rows: [[1]] });
    await model.fit(train);
    expect(() => evaluateRanking(model, train, other)).toThrow(/same user and item id maps/);
  });
});

describe('evaluateRanking, sampled negatives', () => {
  it('is labelled, seeded, and ranks truth among the sampled negatives only', async () => {
    const { train, test } = split();
    const model = new FixedScores({ rows: [[5, 4, 3, 2, 10]] });
    await model.fit(train);
    const a = evaluateRanking(model, train, test, { k: 2, sampledNegatives: 1, seed: 5 });
    const b = evaluateRanking(model, train, test, { k: 2, sampledNegatives: 1, seed: 5 });
    expect(a.candidates).toEqual({ mode: 'sampled', negatives: 1, seed: 5, catalogueSize: 4 });
    expect(Array.from(a.lists)).toEqual(Array.from(b.lists));
    // u0: rankable truth {i2} + the one negative left (i3) → [2,3]; u1: truth {i0}, no negative left → [0]
    expect(Array.from(a.lists)).toEqual([2, 3, 0, -1]);
  });
});

describe('evaluateRanking on random data', () => {
  it('sampled negatives make hits easier than the full catalogue, and differ by seed', async () => {
    const rng = new Rng(3);
    const nU = 30;
    const nI = 300;
    const u: number[] = [];
    const i: number[] = [];
    const inTest: number[] = [];
    for (let a = 0; a < nU; a++) {
      const seen = new Set<number>();
      while (seen.size < 12) seen.add(rng.int(nI));
      let n = 0;
      for (const x of seen) {
        u.push(a);
        i.push(x);
        inTest.push(n++ < 3 ? 1 : 0);
      }
    }
    const ds = new Dataset({ name: 'rand', users: IdMap.from(Array.from({ length: nU }, (_, a) => `u${a}`)), items: IdMap.from(Array.from({ length: nI }, (_, a) => `i${a}`)), interactions: interactionsFrom({ user: u, item: i }) });
    const pos = (flag: number) => Int32Array.from(inTest.flatMap((t, p) => (t === flag ? [p] : [])));
    const train = ds.subset(pos(0));
    const test = ds.subset(pos(1));
    const rows = Array.from({ length: nU }, () => Array.from({ length: nI }, () => rng.next()));
    const model = new FixedScores({ rows });
    await model.fit(train);
    const full = evaluateRanking(model, train, test, { k: 5 });
    const s1 = evaluateRanking(model, train, test, { k: 5, sampledNegatives: 20, seed: 1 });
    const s2 = evaluateRanking(model, train, test, { k: 5, sampledNegatives: 20, seed: 2 });
    expect(s1.metrics['hr@5']).toBeGreaterThan(full.metrics['hr@5']!);
    expect(Array.from(s1.lists)).not.toEqual(Array.from(s2.lists));
    // No list ever holds one of the user's training items.
    const trainCsr = train.byUser();
    for (let j = 0; j < s1.users; j++) {
      const uu = s1.perUser.user[j]!;
      const seen = new Set(trainCsr.indices.subarray(trainCsr.indptr[uu]!, trainCsr.indptr[uu + 1]!));
      for (let r = 0; r < 5; r++) expect(seen.has(s1.lists[j * 5 + r]!)).toBe(false);
    }
  });
});

describe('evaluateRanking with a given catalogue', () => {
  it('ranks only the given items, still excluding training items', async () => {
    const { train, test } = split();
    const model = new FixedScores({ rows: [[5, 4, 3, 2, 10]] });
    await model.fit(train);
    // catalogue {i1, i4}: u0 has i1 in train → [4]; u1 has i1 in train → [4]
    const r = evaluateRanking(model, train, test, { k: 2, catalogue: Int32Array.from([1, 4]) });
    expect(r.candidates).toEqual({ mode: 'full', catalogueSize: 2 });
    expect(Array.from(r.lists)).toEqual([4, -1, 4, -1]);
    // u0's truth {i2, i4}: i4 is now rankable and hit at rank 1
    expect(Array.from(r.perUser.hits)).toEqual([1, 0]);
  });
});
