import { describe, expect, it } from 'vitest';
import { Dataset, IdMap, interactionsFrom, countingSort } from '../../src/data/index.js';
import { Rng } from '../../src/util/rng.js';

/** Reference CSR by a plain comparator sort: row, then timestamp (NaN first), then other index, then position. */
function reference(user: number[], item: number[], ts: number[], by: 'user' | 'item') {
  const key = by === 'user' ? user : item;
  const other = by === 'user' ? item : user;
  const pos = key.map((_, k) => k);
  const tkey = (t: number) => (Number.isNaN(t) ? -Infinity : t);
  pos.sort((a, b) => key[a]! - key[b]! || tkey(ts[a]!) - tkey(ts[b]!) || other[a]! - other[b]! || a - b);
  return pos;
}

function randomDataset(seed: number, n: number, nu: number, ni: number, makeTs: (rng: Rng) => number): Dataset {
  const rng = new Rng(seed);
  const u: number[] = [];
  const i: number[] = [];
  const v: number[] = [];
  const t: number[] = [];
  for (let k = 0; k < n; k++) {
    u.push(rng.int(nu));
    i.push(rng.int(ni));
    v.push(rng.int(10) / 2);
    t.push(makeTs(rng));
  }
  return new Dataset({
    name: 'random',
    users: IdMap.from(Array.from({ length: nu }, (_, k) => `u${k}`)),
    items: IdMap.from(Array.from({ length: ni }, (_, k) => `i${k}`)),
    interactions: interactionsFrom({ user: u, item: i, value: v, timestamp: t }),
  });
}

describe('CSR views', () => {
  const cases: [string, (rng: Rng) => number][] = [
    ['integer timestamps with ties and NaN', (rng) => (rng.next() < 0.1 ? NaN : 1_500_000_000 + rng.int(20))],
    ['fractional timestamps (comparator path)', (rng) => rng.int(30) + (rng.next() < 0.5 ? 0.25 : 0)],
    ['no timestamps', () => NaN],
  ];
  for (const [label, makeTs] of cases) {
    it(`matches a reference sort: ${label}`, () => {
      const ds = randomDataset(7, 3000, 40, 60, makeTs);
      const it = ds.interactions;
      for (const by of ['user', 'item'] as const) {
        const csr = by === 'user' ? ds.byUser() : ds.byItem();
        const ref = reference(Array.from(it.user), Array.from(it.item), Array.from(it.timestamp), by);
        expect(Array.from(csr.order)).toEqual(ref);
        const key = by === 'user' ? it.user : it.item;
        const other = by === 'user' ? it.item : it.user;
        expect(csr.rows).toBe(by === 'user' ? 40 : 60);
        expect(csr.indptr[csr.rows]).toBe(3000);
        const rowOf: number[] = [];
        for (let r = 0; r < csr.rows; r++) for (let k = csr.indptr[r]!; k < csr.indptr[r + 1]!; k++) rowOf.push(r);
        expect(rowOf).toEqual(ref.map((p) => key[p]));
        expect(Array.from(csr.indices)).toEqual(ref.map((p) => other[p]));
        expect(Array.from(csr.values)).toEqual(ref.map((p) => it.value[p]));
      }
    });
  }

  it('handles empty rows and an empty dataset', () => {
    const ds = new Dataset({
      name: 'e',
      users: IdMap.from(['a', 'b', 'c']),
      items: IdMap.from(['x', 'y']),
      interactions: interactionsFrom({ user: [2, 0], item: [1, 1], timestamp: [5, 4] }),
    });
    expect(Array.from(ds.byUser().indptr)).toEqual([0, 1, 1, 2]);
    expect(Array.from(ds.byItem().indptr)).toEqual([0, 0, 2]);
    expect(Array.from(ds.byItem().indices)).toEqual([0, 2]); // user a at t=4 before user c at t=5
    const empty = new Dataset({ name: 'z', users: new IdMap(), items: new IdMap(), interactions: interactionsFrom({ user: [], item: [] }) });
    expect(empty.byUser().indptr.length).toBe(1);
  });

  it('countingSort is stable and returns row pointers', () => {
    const keys = Int32Array.from([2, 0, 2, 1, 0]);
    const { perm, indptr } = countingSort(keys, 3);
    expect(Array.from(perm)).toEqual([1, 4, 3, 0, 2]);
    expect(Array.from(indptr)).toEqual([0, 2, 3, 5]);
  });
});
