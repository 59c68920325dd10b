/**
 * The `Recommender` conformance suite. Every model's test file calls
 *   describeRecommenderContract('als', (seed) => new Als({ factors: 8, seed }), { ... })
 * and gets the contract's checks: unfitted use fails, scores are finite and aligned, recommend
 * honours k / seen items / candidates / exclude, the same seed gives the same model, and a saved
 * model loads back with identical scores.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dataset, datasetFromTriples } from '../../src/data/dataset.js';
import { ModelStateError } from '../../src/errors.js';
import { deserializeModel, loadModel, saveModel, serializeModel } from '../../src/recommenders/persist.js';
import { listRecommenders } from '../../src/recommenders/registry.js';
import type { Recommender, UserState } from '../../src/recommenders/types.js';
import { Rng } from '../../src/util/rng.js';

export interface ContractOptions {
  /** The tiny dataset (default: `contractData()`, ratings 1–5 with timestamps). */
  data?: () => Dataset;
  /** The model scores a `UserState` (a new user given by items and values); default true. */
  foldIn?: boolean;
  /** The model is random: models fitted with different seeds should differ (default true). */
  seeded?: boolean;
}

/**
 * 16 users × 12 items in two taste groups (users 0–7 like items 0–5, users 8–15 items 6–11),
 * each user with 4–6 items of their group plus one from the other, ratings 1–5, timestamps.
 */
export function contractData(): Dataset {
  const rng = new Rng(11);
  const triples: [string, string, number, number][] = [];
  let t = 1_000_000;
  for (let u = 0; u < 16; u++) {
    const base = u < 8 ? 0 : 6;
    const own = rng.shuffle([0, 1, 2, 3, 4, 5]).slice(0, 4 + (u % 3));
    for (const j of own) triples.push([`u${u}`, `i${base + j}`, 3 + rng.int(3), t++]);
    triples.push([`u${u}`, `i${(base + 6 + rng.int(6)) % 12}`, 1 + rng.int(2), t++]);
  }
  return datasetFromTriples(triples, 'contract');
}

function allScores(model: Recommender, nUsers: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let u = 0; u < nUsers; u++) out.push(model.scoreAll(u).slice());
  return out;
}

export function describeRecommenderContract(name: string, makeModel: (seed: number) => Recommender, opts: ContractOptions = {}): void {
  const foldIn = opts.foldIn ?? true;
  const seeded = opts.seeded ?? true;

  describe(`Recommender contract: ${name}`, () => {
    let data: Dataset;
    let model: Recommender;
    let dir: string;
    const state: UserState = { items: Int32Array.from([0, 1, 2]), values: Float32Array.from([5, 4, 5]) };

    beforeAll(async () => {
      data = (opts.data ?? contractData)();
      model = makeModel(1);
      await model.fit(data);
      dir = mkdtempSync(path.join(tmpdir(), 'chorus-contract-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('is registered under its kind', () => {
      expect(listRecommenders().map((e) => e.name)).toContain(model.kind);
    });

    it('throws ModelStateError when used before fit', () => {
      const fresh = makeModel(1);
      expect(() => fresh.scoreAll(0)).toThrow(ModelStateError);
      expect(() => fresh.recommend(0, 3)).toThrow(ModelStateError);
      expect(() => fresh.toJSON()).toThrow(ModelStateError);
    });

    it('scoreAll gives one finite score per item; score() picks the same values', () => {
      for (let u = 0; u < data.nUsers; u++) {
        const s = model.scoreAll(u);
        expect(s.length).toBe(data.nItems);
        for (const x of s) expect(Number.isFinite(x)).toBe(true);
        const cand = Int32Array.from([11, 0, 5, 5]);
        expect(Array.from(model.score(u, cand))).toEqual([s[11], s[0], s[5], s[5]]);
      }
      const buf = new Float32Array(data.nItems);
      expect(model.scoreAll(3, buf)).toBe(buf);
      expect(Array.from(buf)).toEqual(Array.from(model.scoreAll(3)));
    });

    it('recommend returns k unseen items, best first, with their scores', () => {
      const csr = data.byUser();
      for (let u = 0; u < data.nUsers; u++) {
        const seen = new Set(csr.indices.subarray(csr.indptr[u]!, csr.indptr[u + 1]!));
        const r = model.recommend(u, 4);
        expect(r.items.length).toBe(4);
        expect(r.scores.length).toBe(4);
        const all = model.scoreAll(u);
        for (let t = 0; t < r.items.length; t++) {
          expect(seen.has(r.items[t]!)).toBe(false);
          expect(r.scores[t]).toBe(all[r.items[t]!]);
          if (t > 0) expect(r.scores[t]!).toBeLessThanOrEqual(r.scores[t - 1]!);
        }
        expect(new Set(r.items).size).toBe(r.items.length);
        // Asking for more than there is returns every unseen item once.
        const everything = model.recommend(u, 100);
        expect(everything.items.length).toBe(data.nItems - seen.size);
      }
    });

    it('recommend honours candidates, exclude and excludeSeen', () => {
      const candidates = Int32Array.from([1, 3, 7, 9, 10]);
      const exclude = Int32Array.from([3, 10]);
      const r = model.recommend(0, 10, { candidates, exclude, excludeSeen: false });
      expect(new Set(r.items)).toEqual(new Set([1, 7, 9]));
      const withSeen = model.recommend(0, data.nItems, { excludeSeen: false });
      expect(withSeen.items.length).toBe(data.nItems);
      expect(model.recommend(0, 0).items.length).toBe(0);
    });

    it('the same seed gives the same scores', async () => {
      const again = makeModel(1);
      await again.fit(data);
      expect(allScores(again, data.nUsers)).toEqual(allScores(model, data.nUsers));
    });

    if (seeded) {
      it('a different seed gives a different model', async () => {
        const other = makeModel(2);
        await other.fit(data);
        expect(allScores(other, data.nUsers)).not.toEqual(allScores(model, data.nUsers));
      });
    }

    it('saves and loads back with identical scores and config', async () => {
      const file = path.join(dir, `${name}.json`);
      await saveModel(model, file);
      const loaded = await loadModel(file, model.kind);
      expect(loaded.kind).toBe(model.kind);
      expect(loaded.config).toEqual(model.config);
      expect(allScores(loaded, data.nUsers)).toEqual(allScores(model, data.nUsers));
      expect(Array.from(loaded.recommend(2, 5).items)).toEqual(Array.from(model.recommend(2, 5).items));
      if (foldIn) expect(Array.from(loaded.scoreAll(state))).toEqual(Array.from(model.scoreAll(state)));
      // The in-memory form round-trips too.
      const text = serializeModel(model);
      expect(allScores(deserializeModel(text), data.nUsers)).toEqual(allScores(model, data.nUsers));
    });

    if (foldIn) {
      it('scores a new user given as a UserState and excludes their items', () => {
        const s = model.scoreAll(state);
        expect(s.length).toBe(data.nItems);
        for (const x of s) expect(Number.isFinite(x)).toBe(true);
        const r = model.recommend(state, 5);
        expect(r.items.length).toBe(5);
        for (const i of r.items) expect([0, 1, 2]).not.toContain(i);
        // Deterministic: the same state twice gives the same scores.
        expect(Array.from(model.scoreAll(state))).toEqual(Array.from(s));
      });
    }
  });
}
