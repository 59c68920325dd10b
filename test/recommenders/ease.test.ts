import { describe, expect, it } from 'vitest';
import { datasetFromTriples, type Dataset } from '../../src/data/dataset.js';
import { syntheticPowerLaw } from '../../src/data/synthetic.js';
import { Ease } from '../../src/recommenders/ease.js';
import { describeRecommenderContract } from './contract.js';

describeRecommenderContract('ease', () => new Ease({ lambda: 2 }), { seeded: false });

/**
 * Direct EASE in float64: X (users × kept items), G = XᵀX + λI, P = G⁻¹ by Gauss–Jordan,
 * B_ij = −P_ij / P_jj (i ≠ j), B_jj = 0, scores = X·B. Items outside `keep` score 0.
 */
function referenceScores(ds: Dataset, lambda: number, raw: boolean, keep: (item: number) => boolean): Float64Array[] {
  const items = Array.from({ length: ds.nItems }, (_, i) => i).filter(keep);
  const n = items.length;
  const col = new Map(items.map((i, s) => [i, s]));
  const X = Array.from({ length: ds.nUsers }, () => new Float64Array(n));
  const { user, item, value } = ds.interactions;
  for (let e = 0; e < user.length; e++) {
    const s = col.get(item[e]!);
    if (s === undefined) continue;
    X[user[e]!]![s] = raw ? X[user[e]!]![s]! + value[e]! : 1;
  }
  // [G | I] → [I | G⁻¹]
  const w = 2 * n;
  const a = new Float64Array(n * w);
  for (let i = 0; i < n; i++) {
    a[i * w + i] = lambda;
    a[i * w + n + i] = 1;
  }
  for (const x of X) {
    const nz = Array.from(x.keys()).filter((i) => x[i] !== 0);
    for (const i of nz) for (const j of nz) a[i * w + j] = a[i * w + j]! + x[i]! * x[j]!;
  }
  for (let c = 0; c < n; c++) {
    const piv = a[c * w + c]!;
    for (let j = 0; j < w; j++) a[c * w + j] = a[c * w + j]! / piv;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r * w + c]!;
      if (f !== 0) for (let j = 0; j < w; j++) a[r * w + j] = a[r * w + j]! - f * a[c * w + j]!;
    }
  }
  const P = (i: number, j: number): number => a[i * w + n + j]!;
  return X.map((x) => {
    const out = new Float64Array(ds.nItems);
    const nz = Array.from(x.keys()).filter((i) => x[i] !== 0);
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (const i of nz) if (i !== j) s += x[i]! * (-P(i, j) / P(j, j));
      out[items[j]!] = s;
    }
    return out;
  });
}

function expectClose(model: Ease, ref: Float64Array[], tol: number): void {
  let scale = 0;
  for (const r of ref) for (const v of r) scale = Math.max(scale, Math.abs(v));
  expect(scale).toBeGreaterThan(0);
  ref.forEach((r, u) => {
    const s = model.scoreAll(u);
    for (let j = 0; j < r.length; j++) expect(Math.abs(s[j]! - r[j]!)).toBeLessThan(tol * scale);
  });
}

describe('Ease', () => {
  const tiny = datasetFromTriples([
    ['a', 'x'],
    ['a', 'y'],
    ['b', 'y'],
    ['b', 'z'],
    ['c', 'x'],
    ['c', 'z'],
    ['c', 'w'],
    ['d', 'w'],
    ['d', 'x'],
  ]);

  it('equals a direct dense computation on a tiny matrix', async () => {
    const m = new Ease({ lambda: 0.5 });
    await m.fit(tiny);
    expectClose(m, referenceScores(tiny, 0.5, false, () => true), 1e-5);
  });

  it('equals the reference across several levels of the blocked inverse (250 items)', async () => {
    const ds = syntheticPowerLaw({ users: 200, items: 250, interactions: 5000, groups: 5, seed: 4 }).dataset;
    const m = new Ease({ lambda: 20 });
    await m.fit(ds);
    const counts = ds.itemCounts();
    expectClose(m, referenceScores(ds, 20, false, (i) => counts[i]! > 0), 1e-4);
  });

  it('binary scoring (eight rows per pass, no multiplications) gives the raw path\'s scores to the last bit', async () => {
    // Every value 1 and no repeats: raw X equals binary X, so both fit the same P, and raw scoring
    // (four rows per pass, x · p) is the scoring before the binary path was specialised.
    const triples: [string, string, number][] = [];
    for (let u = 0; u < 60; u++) {
      // 1 to 30 distinct items: every count of rows mod 8 and mod 4, in groups and remainders.
      const n = 1 + (u % 30);
      for (let k = 0; k < n; k++) triples.push([`u${u}`, `i${(u * 7 + k) % 45}`, 1]);
    }
    const ds = datasetFromTriples(triples);
    const binary = new Ease({ lambda: 3 });
    const raw = new Ease({ lambda: 3, values: 'raw' });
    await binary.fit(ds);
    await raw.fit(ds);
    for (let u = 0; u < ds.nUsers; u++) expect(Array.from(binary.scoreAll(u))).toEqual(Array.from(raw.scoreAll(u)));
  });

  it('raw values: repeats sum, and the weights follow the valued Gram matrix', async () => {
    const ds = datasetFromTriples([
      ['a', 'x', 2],
      ['a', 'y', 1],
      ['a', 'x', 1],
      ['b', 'y', 4],
      ['b', 'z', 0.5],
      ['c', 'z', 3],
      ['c', 'x', 1],
    ]);
    const m = new Ease({ lambda: 1, values: 'raw' });
    await m.fit(ds);
    expectClose(m, referenceScores(ds, 1, true, () => true), 1e-5);
  });

  it('minItemCount leaves rare items out: they score 0 and do not act as inputs', async () => {
    // y, z, w have ≥ 2 users; x too — make an item with one user.
    const ds = datasetFromTriples([
      ['a', 'x'],
      ['a', 'y'],
      ['b', 'y'],
      ['b', 'z'],
      ['c', 'x'],
      ['c', 'z'],
      ['c', 'rare'],
      ['d', 'y'],
      ['d', 'x'],
    ]);
    const m = new Ease({ lambda: 0.5, minItemCount: 2 });
    await m.fit(ds);
    const rare = ds.items.toIndex('rare');
    expectClose(m, referenceScores(ds, 0.5, false, (i) => i !== rare), 1e-5);
    expect(m.scoreAll(0)[rare]).toBe(0);
  });

  it('a user state scores like the training user with the same items', async () => {
    const m = new Ease({ lambda: 0.5 });
    await m.fit(tiny);
    const u = tiny.users.toIndex('c');
    expect(Array.from(m.scoreAll({ items: m.seenItems(u).slice() }))).toEqual(Array.from(m.scoreAll(u)));
  });
});
