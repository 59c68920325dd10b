import { describe, expect, it } from 'vitest';
import { datasetFromTriples } from '../../src/data/dataset.js';
import { ATTACK_TYPES, injectAttack, itemStats, pickTargets, dropInteractionsOf } from '../../src/robust/attacks.js';
import { ConfigError } from '../../src/errors.js';
import { ratedWorld } from './world.js';

const world = ratedWorld(3);

/** One fake profile's (item → value) map. */
function profile(ds: ReturnType<typeof ratedWorld>, u: number): Map<number, number> {
  const csr = ds.byUser();
  const m = new Map<number, number>();
  for (let e = csr.indptr[u]!; e < csr.indptr[u + 1]!; e++) m.set(csr.indices[e]!, csr.values[e]!);
  return m;
}

describe('injectAttack', () => {
  const targets = pickTargets(world, 3, 5);

  it.each(ATTACK_TYPES)('%s: the right number of profiles, targets at the top, filler of the asked size', (type) => {
    const atk = injectAttack(world, { type, targets, size: 0.05, filler: 0.05, seed: 1 });
    expect(atk.fake.length).toBe(Math.round(0.05 * world.nUsers));
    expect(atk.dataset.nUsers).toBe(world.nUsers + atk.fake.length);
    expect(atk.fillerCount).toBe(Math.round(0.05 * world.nItems));
    const nSelected = type === 'bandwagon' || type === 'segment' ? 5 : 0;
    expect(atk.selected.length).toBe(nSelected);
    for (const u of atk.fake) {
      expect(u).toBeGreaterThanOrEqual(atk.genuineUsers);
      const p = profile(atk.dataset, u);
      expect(p.size).toBe(targets.length + nSelected + atk.fillerCount);
      for (const t of targets) expect(p.get(t)).toBe(5);
      for (const s of atk.selected) expect(p.get(s)).toBe(5);
      for (const [i, v] of p) {
        expect(Number.isInteger(v) && v >= 1 && v <= 5).toBe(true);
        if (type === 'segment' && !targets.includes(i) && !atk.selected.includes(i)) expect(v).toBe(1);
      }
    }
    // The genuine rows are untouched and come first.
    expect(Array.from(atk.dataset.interactions.value.subarray(0, world.nInteractions))).toEqual(Array.from(world.interactions.value));
  });

  it('bandwagon selects the most popular items; segment the popular items of one category', () => {
    const counts = world.itemCounts();
    const top = Array.from(counts.keys()).filter((i) => !targets.includes(i)).sort((a, b) => counts[b]! - counts[a]! || a - b).slice(0, 5);
    expect(Array.from(injectAttack(world, { type: 'bandwagon', targets, size: 0.05, filler: 0.05, seed: 1 }).selected)).toEqual(top);
    const seg = injectAttack(world, { type: 'segment', targets, size: 0.05, filler: 0.05, seed: 1, segment: 'g2' });
    expect(seg.segment).toBe('g2');
    for (const s of seg.selected) expect(world.itemMeta[s]?.categories).toEqual(['g2']);
  });

  it('average filler follows the item means more closely than random filler', () => {
    const stats = itemStats(world);
    const gap = (type: 'average' | 'random'): number => {
      const atk = injectAttack(world, { type, targets, size: 0.1, filler: 0.1, seed: 2 });
      let s = 0;
      let n = 0;
      for (const u of atk.fake) {
        for (const [i, v] of profile(atk.dataset, u)) {
          if (targets.includes(i)) continue;
          s += Math.abs(v - stats.mean[i]!);
          n++;
        }
      }
      return s / n;
    };
    expect(gap('average')).toBeLessThan(0.85 * gap('random'));
  });

  it('is reproducible by seed and differs across seeds', () => {
    const a = injectAttack(world, { type: 'random', targets, size: 0.05, filler: 0.05, seed: 9 });
    const b = injectAttack(world, { type: 'random', targets, size: 0.05, filler: 0.05, seed: 9 });
    const c = injectAttack(world, { type: 'random', targets, size: 0.05, filler: 0.05, seed: 10 });
    expect(Array.from(a.dataset.interactions.item)).toEqual(Array.from(b.dataset.interactions.item));
    expect(Array.from(a.dataset.interactions.value)).toEqual(Array.from(b.dataset.interactions.value));
    expect(Array.from(a.dataset.interactions.item)).not.toEqual(Array.from(c.dataset.interactions.item));
  });

  it('on implicit data injects bare interactions (value 1)', () => {
    const triples: [number, number][] = [];
    for (let u = 0; u < 40; u++) for (let i = 0; i < 30; i++) if ((u * 7 + i * 3) % 5 === 0) triples.push([u, i]);
    const ds = datasetFromTriples(triples);
    const atk = injectAttack(ds, { type: 'average', targets: Int32Array.of(1, 2), size: 0.1, filler: 0.2, seed: 1 });
    expect(atk.scale.explicit).toBe(false);
    expect(atk.fake.length).toBe(4);
    const added = atk.dataset.interactions.value.subarray(ds.nInteractions);
    expect(added.length).toBe(4 * (2 + 6));
    expect(added.every((v) => v === 1)).toBe(true);
  });

  it('refuses sizes outside (0, 0.5] and unknown targets', () => {
    expect(() => injectAttack(world, { type: 'random', targets, size: 0, filler: 0.05, seed: 1 })).toThrow(ConfigError);
    expect(() => injectAttack(world, { type: 'random', targets, size: 0.05, filler: 0.9, seed: 1 })).toThrow(ConfigError);
    expect(() => injectAttack(world, { type: 'random', targets: Int32Array.of(world.nItems), size: 0.05, filler: 0.05, seed: 1 })).toThrow(ConfigError);
  });

  it('dropInteractionsOf drops exactly the flagged users rows, keeping the id maps', () => {
    const atk = injectAttack(world, { type: 'random', targets, size: 0.05, filler: 0.05, seed: 1 });
    const drop = new Uint8Array(atk.dataset.nUsers);
    for (const u of atk.fake) drop[u] = 1;
    const clean = dropInteractionsOf(atk.dataset, drop);
    expect(clean.nInteractions).toBe(world.nInteractions);
    expect(clean.nUsers).toBe(atk.dataset.nUsers);
  });
});
