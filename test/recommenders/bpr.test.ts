import { describe, expect, it } from 'vitest';
import { datasetFromTriples } from '../../src/data/dataset.js';
import { Bpr } from '../../src/recommenders/bpr.js';
import { Rng } from '../../src/util/rng.js';
import { describeRecommenderContract } from './contract.js';

describeRecommenderContract('bpr', (seed) => new Bpr({ factors: 4, iterations: 20, seed }));

/**
 * Planted blocks: 3 groups of 12 users and 10 items; each user has 6 random items of their own
 * group. A ranking model must put the 4 held-back items of the user's group above the 20 items of
 * the other groups.
 */
function planted(seed: number) {
  const rng = new Rng(seed);
  const triples: [string, string][] = [];
  const heldOut: number[][] = [];
  for (let u = 0; u < 36; u++) {
    const g = Math.floor(u / 12);
    const items = rng.shuffle(Array.from({ length: 10 }, (_, j) => g * 10 + j));
    for (const i of items.slice(0, 6)) triples.push([`u${u}`, `i${i}`]);
    heldOut.push(items.slice(6));
  }
  // Make every item known to the id map even if no user drew it.
  return { ds: datasetFromTriples(triples), heldOut };
}

describe('Bpr', () => {
  it('ranks the held-back items of the user’s own block above other blocks (AUC > 0.9)', async () => {
    const { ds, heldOut } = planted(3);
    const m = new Bpr({ factors: 8, iterations: 60, learningRate: 0.05, seed: 1 });
    await m.fit(ds);
    let good = 0;
    let pairs = 0;
    for (let u = 0; u < 36; u++) {
      const user = ds.users.toIndex(`u${u}`);
      const s = m.scoreAll(user);
      const g = Math.floor(u / 12);
      const pos = heldOut[u]!.map((i) => ds.items.toIndex(`i${i}`)).filter((i) => i >= 0);
      for (let other = 0; other < 30; other++) {
        if (Math.floor(other / 10) === g) continue;
        const j = ds.items.toIndex(`i${other}`);
        if (j < 0) continue;
        for (const p of pos) {
          pairs++;
          if (s[p]! > s[j]!) good++;
        }
      }
    }
    expect(good / pairs).toBeGreaterThan(0.9);
    expect(m.lastEpochAuc).toBeGreaterThan(0.8);
  });

  it('folds in a new user from their items', async () => {
    const { ds } = planted(3);
    const m = new Bpr({ factors: 8, iterations: 60, learningRate: 0.05, seed: 1 });
    await m.fit(ds);
    // A session with three block-1 items should prefer the rest of block 1.
    const items = Int32Array.from([10, 11, 12].map((i) => ds.items.toIndex(`i${i}`)));
    const top = m.recommend({ items }, 5).items;
    const inBlock = Array.from(top).filter((i) => {
      const id = Number(ds.items.toExternal(i).slice(1));
      return id >= 10 && id < 20;
    }).length;
    expect(inBlock).toBeGreaterThanOrEqual(4);
  });

  it('reports progress once per epoch', async () => {
    const { ds } = planted(1);
    const seen: number[] = [];
    await new Bpr({ factors: 2, iterations: 5 }).fit(ds, { onProgress: (d, t, unit) => (expect(unit).toBe('epoch'), expect(t).toBe(5), seen.push(d)) });
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });

  it('popularity-proportional negatives (implicit’s sampler) also learn the blocks', async () => {
    const { ds } = planted(3);
    const m = new Bpr({ factors: 8, iterations: 60, learningRate: 0.05, negativeSampling: 'popularity', seed: 1 });
    await m.fit(ds);
    expect(m.lastEpochAuc).toBeGreaterThan(0.8);
  });
});
