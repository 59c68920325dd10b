import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashInto } from '../../src/serve/features.js';
import { LinUcb } from '../../src/serve/linucb.js';
import { Engine } from '../../src/serve/engine.js';
import { registryModels } from '../../src/serve/model.js';
import { SlatePolicy, type Candidate } from '../../src/serve/policy.js';
import { openStore } from '../../src/store/open.js';
import { KeyRing, lookupId } from '../../src/serve/auth.js';
import { tinyDataset } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'chorus-engine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('LinUcb', () => {
  it('keeps A⁻¹ equal to the inverse of λI + Σxxᵀ (Sherman–Morrison)', () => {
    const d = 4;
    const b = new LinUcb(d, { lambda: 2, alpha: 1 });
    const xs = [
      [1, 0.5, -1, 2],
      [0, 1, 1, 0],
      [3, -1, 0.5, 1],
      [1, 1, 1, 1],
    ];
    const A = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 2 : 0)));
    for (const x of xs) {
      b.observe(Float32Array.from(x), 0, 1);
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) A[i]![j] += x[i]! * x[j]!;
    }
    // A · A⁻¹ = I
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += A[i]![k]! * b.ainv[k * d + j]!;
        expect(s).toBeCloseTo(i === j ? 1 : 0, 9);
      }
    }
  });

  it('recovers a linear reward and shrinks the bonus along observed directions', () => {
    const b = new LinUcb(2, { lambda: 0.01, alpha: 1 });
    const x = Float32Array.from([1, 0]);
    const y = Float32Array.from([0, 1]);
    const before = b.evaluate(x, 0).bonus;
    for (let t = 0; t < 50; t++) {
      b.observe(x, 0, 0.8);
      b.observe(y, 0, -0.2);
    }
    expect(b.evaluate(x, 0).mean).toBeCloseTo(0.8, 3);
    expect(b.evaluate(y, 0).mean).toBeCloseTo(-0.2, 3);
    expect(b.evaluate(x, 0).bonus).toBeLessThan(before / 5);
  });

  it('starts from a prior mean', () => {
    const b = new LinUcb(3, { lambda: 1 }, Float64Array.from([0, 1, 0]));
    expect(b.evaluate(Float32Array.from([0, 0.7, 0]), 0).mean).toBeCloseTo(0.7, 6);
  });
});

describe('feature hashing', () => {
  it('is deterministic, unit-norm and order-insensitive for arrays of feature groups', () => {
    const a = new Float32Array(8);
    const b = new Float32Array(8);
    hashInto([{ device: 'phone' }, { hour: 3 }], a, 0, 8);
    hashInto([{ hour: 3 }, { device: 'phone' }], b, 0, 8);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Math.hypot(...a)).toBeCloseTo(1, 5);
    const c = new Float32Array(8);
    hashInto({ device: 'desktop' }, c, 0, 8);
    expect(Array.from(c)).not.toEqual(Array.from(a));
  });
});

describe('SlatePolicy', () => {
  const cands: Candidate[] = Array.from({ length: 8 }, (_, i) => ({ id: `c${i}`, index: -1, recScore: 8 - i, features: { g: i % 3 } }));

  it('follows the recommender before feedback and explores with the logged probability', () => {
    const p = new SlatePolicy({ epsilon: 0.2, seed: 1 });
    let firstIsTop = 0;
    const n = 2000;
    for (let t = 0; t < n; t++) {
      const r = p.rank(cands, { a: 1 }, 3, `e${t}`, 'slate', 'popularity');
      expect(r.order).toHaveLength(3);
      expect(new Set(r.order).size).toBe(3);
      if (!r.explored[0]) {
        expect(r.order[0]).toBe(0);
        expect(r.propensities[0]).toBeCloseTo(0.8 + 0.2 / 8, 12);
        firstIsTop++;
      } else expect(r.propensities[0]).toBeCloseTo(0.2 / 8, 12);
    }
    // Not explored at position 0 with probability 1 − ε = 0.8; 2000 draws: ±4σ ≈ ±0.036
    expect(firstIsTop / n).toBeGreaterThan(0.764);
    expect(firstIsTop / n).toBeLessThan(0.836);
  });

  it('is reproducible for the same event id and seed', () => {
    const a = new SlatePolicy({ epsilon: 0.5, seed: 3 }).rank(cands, null, 4, 'same', 'slate', 'x');
    const b = new SlatePolicy({ epsilon: 0.5, seed: 3 }).rank(cands, null, 4, 'same', 'slate', 'x');
    expect(a.order).toEqual(b.order);
    expect(a.propensities).toEqual(b.propensities);
  });

  it('gives single-pick probabilities that sum to one', () => {
    const r = new SlatePolicy({ epsilon: 0.3 }).rank(cands, null, 8, 'one', 'single', 'x');
    expect(r.order.slice().sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(r.propensities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });
});

describe('API keys', () => {
  it('stores only a salted digest and verifies in constant time', async () => {
    const store = openStore(`sqlite:${join(dir, 'keys.db')}`);
    const ring = new KeyRing(store);
    const { key, record } = await ring.issue('client', 'app');
    const stored = (await store.keys.getKey(record.id))!;
    expect(stored.hash.toString('hex')).not.toContain(Buffer.from(key).toString('hex'));
    expect(JSON.stringify(await store.keys.listKeys())).not.toContain(key);
    expect(record.id).toBe(lookupId(key));
    const fresh = new KeyRing(store);
    await fresh.load();
    expect(fresh.verify(key)?.scope).toBe('client');
    expect(fresh.verify(`${key}x`)).toBeUndefined();
    expect(() => fresh.authorize(key, 'admin')).toThrow(/admin scope/);
    await store.close();
  });
});

describe('candidate pool cache', () => {
  it('gives exactly the slates of the uncached path as state changes', async () => {
    const open = async (name: string, poolCache: number) =>
      Engine.open(openStore(`sqlite:${join(dir, `${name}.db`)}`), tinyDataset(), registryModels, { model: { kind: 'popularity', config: {} }, poolCache });
    const a = await open('cached', 10_000);
    const b = await open('uncached', 0);
    const same = () => {
      for (const u of ['u1', 'u2', 'u5', 'stranger']) expect(a.preview(u, 5)).toEqual(b.preview(u, 5));
    };
    same();
    same(); // second round hits the cache in `a`
    expect(a.poolStats.hits).toBeGreaterThan(0);
    for (const e of [a, b]) await e.feedback({ user: 'u1', item: e.preview('u1', 1)[0]!.id, type: 'click' });
    same();
    for (const e of [a, b]) await e.deleteEntry('items', 'm2');
    same();
    for (const e of [a, b]) await e.putEntries('items', [{ id: 'm2', meta: {} }, { id: 'brand-new', meta: { categories: ['Drama'] } }]);
    same();
    for (const e of [a, b]) {
      await e.close();
      await e.store.close();
    }
  });
});
