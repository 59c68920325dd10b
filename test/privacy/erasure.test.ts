import { describe, expect, it } from 'vitest';
import { datasetFromTriples, type Dataset } from '../../src/data/dataset.js';
import { scrubSavedModel, tombstone, withoutUsers } from '../../src/privacy/erasure.js';
import { createRecommender, restoreRecommender } from '../../src/recommenders/registry.js';
import type { Recommender } from '../../src/recommenders/types.js';

/** 8 users × 10 items, each user with 4–6 items. */
function data(): Dataset {
  const t: [string, string, number, number][] = [];
  let ts = 1;
  for (let u = 0; u < 8; u++) for (let i = 0; i < 10; i++) if ((u * 3 + i * 7) % 5 < 3 || i === u) t.push([`user${u}`, `item${i}`, 1 + ((u + i) % 5), ts++]);
  return datasetFromTriples(t, 'erasure');
}

async function fitted(kind: string, config: Record<string, unknown>, ds: Dataset): Promise<Recommender> {
  const rec = createRecommender(kind, config);
  await rec.fit(ds);
  return rec;
}

describe('withoutUsers', () => {
  it('drops the users, their interactions and metadata, and renumbers the rest', () => {
    const ds = data();
    ds.userMeta[2] = { text: 'two' };
    ds.userMeta[3] = { text: 'three' };
    const before = ds.userCounts()[2]!;
    const r = withoutUsers(ds, (id) => id === 'user2');
    expect(r.users).toBe(1);
    expect(r.interactions).toBe(before);
    expect(r.dataset.users.has('user2')).toBe(false);
    expect(r.dataset.nUsers).toBe(7);
    expect(r.dataset.nInteractions).toBe(ds.nInteractions - before);
    // user3 moved to index 2 with its metadata and items.
    expect(r.dataset.users.toIndex('user3')).toBe(2);
    expect(r.dataset.userMeta[2]).toEqual({ text: 'three' });
    const items = (d: Dataset, id: string) => {
      const u = d.users.toIndex(id);
      const c = d.byUser();
      return Array.from(c.indices.subarray(c.indptr[u]!, c.indptr[u + 1]!)).map((i) => d.items.toExternal(i)).sort();
    };
    expect(items(r.dataset, 'user3')).toEqual(items(ds, 'user3'));
    expect(withoutUsers(ds, () => false).dataset).toBe(ds);
  });
});

describe('scrubSavedModel', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['als', { factors: 4, iterations: 3 }],
    ['bpr', { factors: 4, iterations: 5 }],
    ['mf', { factors: 4, epochs: 3 }],
    ['userknn', {}],
    ['itemknn', {}],
    ['ease', {}],
  ];
  for (const [kind, config] of cases) {
    it(`${kind}: the user's row is empty and every other user scores exactly as before`, async () => {
      const ds = data();
      const rec = await fitted(kind, config, ds);
      const saved = rec.toJSON();
      const u = 3;
      const scrubbed = restoreRecommender(scrubSavedModel(saved, u));
      const state = scrubbed.toJSON().state as Record<string, unknown>;
      const indptr = state.seenIndptr as Int32Array;
      expect(indptr[u + 1]! - indptr[u]!).toBe(0);
      expect((state.seenIndices as Int32Array).length).toBe(ds.nInteractions - ds.userCounts()[u]!);
      if (state.userFactors instanceof Float32Array) {
        const w = state.userFactors.length / ds.nUsers;
        expect(Array.from(state.userFactors.subarray(u * w, (u + 1) * w)).every((x) => x === 0)).toBe(true);
        // The original had a real row there: the scrub changed something.
        const orig = (saved.state as Record<string, unknown>).userFactors as Float32Array;
        expect(Array.from(orig.subarray(u * w, (u + 1) * w)).some((x) => x !== 0)).toBe(true);
      }
      if (state.itemUsers instanceof Int32Array) expect(Array.from(state.itemUsers)).not.toContain(u);
      // user-kNN scores other users by their neighbours, and the erased user was one: not the same
      // scores there, by design. Everyone else's scores of every other model are untouched.
      if (kind !== 'userknn') {
        for (let v = 0; v < ds.nUsers; v++) {
          if (v === u) continue;
          expect(Array.from(scrubbed.scoreAll(v))).toEqual(Array.from(rec.scoreAll(v)));
        }
      } else {
        expect(Array.from(scrubbed.scoreAll(0)).every(Number.isFinite)).toBe(true);
      }
    });
  }

  it('leaves a model that does not know the row unchanged', async () => {
    const rec = await fitted('popularity', {}, data());
    const saved = rec.toJSON();
    const s = scrubSavedModel(saved, 99).state as Record<string, unknown>;
    expect(s.seenIndices).toBe((saved.state as Record<string, unknown>).seenIndices);
  });
});

describe('tombstone', () => {
  it('is keyed by the salt and holds neither the id nor a fixed hash of it', () => {
    const a = tombstone(Buffer.alloc(32, 1), 'alice');
    expect(a).toBe(tombstone(Buffer.alloc(32, 1), 'alice'));
    expect(a).not.toBe(tombstone(Buffer.alloc(32, 2), 'alice'));
    expect(a).not.toBe(tombstone(Buffer.alloc(32, 1), 'bob'));
    expect(a).not.toContain('alice');
    expect(a).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});
