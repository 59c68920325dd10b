import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  activeCounts,
  datasetFromTriples,
  filterByMinValue,
  leaveLastNSplit,
  randomSplit,
  readInteractions,
  splitDataset,
  temporalRatioSplit,
  timeCutSplit,
  validationSplit,
  P1_SPLIT,
  selectColdItems,
  splitByItems,
  type Dataset,
} from '../../src/data/index.js';
import { DataError } from '../../src/errors.js';
import { SHARED } from './helpers.js';

/** (user, item) pairs of a part, as "u:i" strings in stored order. */
const pairs = (ds: Dataset): string[] => {
  const out: string[] = [];
  for (let k = 0; k < ds.nInteractions; k++) {
    out.push(`${ds.users.toExternal(ds.interactions.user[k]!)}:${ds.items.toExternal(ds.interactions.item[k]!)}`);
  }
  return out;
};

// User a: 10 rows; two share t=5 (items 100 and 20: tie broken by numeric id, 20 < 100).
// User b: 4 rows → floor(0.8) = 0 test rows. User c: 5 rows → 1 test row.
const TINY = datasetFromTriples([
  ['a', 100, 1, 5],
  ['a', 20, 1, 5],
  ['a', 3, 1, 1],
  ['a', 4, 1, 2],
  ['a', 5, 1, 3],
  ['a', 6, 1, 4],
  ['a', 7, 1, 0],
  ['a', 8, 1, 0.5],
  ['a', 9, 1, 0.7],
  ['a', 10, 1, 0.9],
  ['b', 3, 1, 1],
  ['b', 4, 1, 2],
  ['b', 5, 1, 3],
  ['b', 6, 1, 4],
  ['c', 3, 5, 10],
  ['c', 4, 4, 9],
  ['c', 5, 3, 8],
  ['c', 6, 2, 7],
  ['c', 7, 1, 6],
]);

describe('splits on hand-made data', () => {
  it('temporal ratio (P1): last floor(0.2·n_u) by (timestamp, numeric item id)', () => {
    const { train, test } = temporalRatioSplit(TINY);
    expect(pairs(test)).toEqual(['a:100', 'a:20', 'c:3']);
    expect(train.nInteractions).toBe(16);
    expect(train.users).toBe(TINY.users);
    expect(test.items).toBe(TINY.items);
    // With 0.1 only a's single latest row goes: (5, 100) is after (5, 20).
    expect(pairs(temporalRatioSplit(TINY, 0.1).test)).toEqual(['a:100']);
  });

  it('leave-last-n keeps at least minTrain rows in train', () => {
    expect(pairs(leaveLastNSplit(TINY, 2).test)).toEqual(['a:100', 'a:20', 'b:5', 'b:6', 'c:3', 'c:4']);
    const two = datasetFromTriples([
      ['x', 1, 1, 1],
      ['x', 2, 1, 2],
      ['y', 1, 1, 1],
    ]);
    const s = leaveLastNSplit(two, 5);
    expect(pairs(s.test)).toEqual(['x:2']);
    expect(pairs(s.train)).toEqual(['x:1', 'y:1']);
  });

  it('global time cut, by time or by ratio', () => {
    expect(pairs(timeCutSplit(TINY, { cut: 8 }).test)).toEqual(['c:3', 'c:4', 'c:5']);
    const byRatio = timeCutSplit(TINY, { testRatio: 0.25 });
    // 19 rows, floor(4.75) = 4 latest: t = 10, 9, 8, 7
    expect(pairs(byRatio.test)).toEqual(['c:3', 'c:4', 'c:5', 'c:6']);
  });

  it('seeded random: same seed, same split; other seed, other split; per-user counts', () => {
    const a = randomSplit(TINY, { seed: 1, testRatio: 0.5 });
    const b = randomSplit(TINY, { seed: 1, testRatio: 0.5 });
    expect(pairs(a.test)).toEqual(pairs(b.test));
    expect(pairs(a.test).filter((p) => p.startsWith('a:'))).toHaveLength(5);
    expect(pairs(a.test).filter((p) => p.startsWith('b:'))).toHaveLength(2);
    expect(pairs(a.test).filter((p) => p.startsWith('c:'))).toHaveLength(2);
    const others = [2, 3, 4, 5].map((seed) => pairs(randomSplit(TINY, { seed, testRatio: 0.5 }).test).join());
    expect(others.some((o) => o !== pairs(a.test).join())).toBe(true);
    const global = randomSplit(TINY, { seed: 9, testRatio: 0.5, perUser: false });
    expect(global.test.nInteractions).toBe(9);
    expect(pairs(global.test)).toEqual(pairs(randomSplit(TINY, { seed: 9, testRatio: 0.5, perUser: false }).test));
  });

  it('validation split cuts from train by the same rule', () => {
    const { train } = splitDataset(TINY, P1_SPLIT);
    const v = validationSplit(train, P1_SPLIT);
    // a's train rows: 8 → floor(1.6) = 1 validation row, its latest: (4, item 6). c: 4 → 0.
    expect(pairs(v.validation)).toEqual(['a:6']);
    expect(v.train.nInteractions + v.validation.nInteractions).toBe(train.nInteractions);
    expect(pairs(v.train)).not.toContain('a:100');
  });

  it('temporal rules need timestamps; ratios are checked', () => {
    const noTs = datasetFromTriples([['a', 1]]);
    expect(() => temporalRatioSplit(noTs)).toThrow(DataError);
    expect(() => temporalRatioSplit(TINY, 1.5)).toThrow(/testRatio/);
  });

  it('filterByMinValue keeps id maps; activeCounts counts present ids', () => {
    const pos = filterByMinValue(TINY, 4);
    expect(pairs(pos)).toEqual(['c:3', 'c:4']);
    expect(pos.nUsers).toBe(3);
    expect(activeCounts(pos)).toEqual({ users: 1, items: 2 });
  });
});

describe('cold-start items', () => {
  it('selectColdItems is seeded, respects the minimum and the fraction; splitByItems moves all their rows', () => {
    // items 3..7 have >= 2 rows in TINY (3, 4, 5, 6: three users; 7: two); 100, 20, 8, 9, 10 have one
    const a = selectColdItems(TINY, { fraction: 0.5, minInteractions: 2, seed: 42 });
    expect(a.length).toBe(2); // floor(0.5 * 5)
    expect(Array.from(a)).toEqual(Array.from(selectColdItems(TINY, { fraction: 0.5, minInteractions: 2, seed: 42 })));
    for (const i of a) expect(['3', '4', '5', '6', '7']).toContain(TINY.items.toExternal(i));
    expect(Array.from(a)).toEqual([...a].sort((x, y) => x - y));
    const { train, test } = splitByItems(TINY, a);
    const cold = new Set(Array.from(a, (i) => TINY.items.toExternal(i)));
    expect(pairs(test).every((p) => cold.has(p.split(':')[1]!))).toBe(true);
    expect(pairs(train).some((p) => cold.has(p.split(':')[1]!))).toBe(false);
    expect(train.nInteractions + test.nInteractions).toBe(TINY.nInteractions);
  });
});

describe('P1 counts on ml-latest-small', () => {
  it('all and pos4 match PROTOCOLS.md exactly', async () => {
    const { dataset } = await readInteractions(resolve(SHARED, 'ml-latest-small/ratings.csv'));
    expect(dataset.source!.sha256).toBe('aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646');
    expect(activeCounts(dataset)).toEqual({ users: 610, items: 9724 });
    const all = temporalRatioSplit(dataset);
    expect([all.train.nInteractions, all.test.nInteractions]).toEqual([80896, 19940]);

    const pos4 = filterByMinValue(dataset, 4.0);
    expect(activeCounts(pos4)).toEqual({ users: 609, items: 6298 });
    const p = temporalRatioSplit(pos4);
    expect([p.train.nInteractions, p.test.nInteractions]).toEqual([39105, 9475]);

    // Every user's test rows are its latest: no train row is later than a test row.
    const maxTrain = new Float64Array(dataset.nUsers).fill(-Infinity);
    for (let k = 0; k < all.train.nInteractions; k++) {
      const u = all.train.interactions.user[k]!;
      maxTrain[u] = Math.max(maxTrain[u]!, all.train.interactions.timestamp[k]!);
    }
    let violations = 0;
    for (let k = 0; k < all.test.nInteractions; k++) {
      if (all.test.interactions.timestamp[k]! < maxTrain[all.test.interactions.user[k]!]!) violations++;
    }
    expect(violations).toBe(0);
  });
});
