import { describe, expect, it } from 'vitest';
import { datasetFromTriples, type Dataset } from '../../src/data/dataset.js';
import { Ease } from '../../src/recommenders/ease.js';
import { Gru4Rec } from '../../src/recommenders/gru4rec.js';
import { deserializeModel, serializeModel } from '../../src/recommenders/persist.js';
import { Popularity } from '../../src/recommenders/popularity.js';
import { SasRec } from '../../src/recommenders/sasrec.js';
import { buildWindows } from '../../src/recommenders/sequence-data.js';
import type { Recommender } from '../../src/recommenders/types.js';
import { Rng } from '../../src/util/rng.js';
import { describeRecommenderContract } from './contract.js';

const SMALL = { dim: 8, maxLen: 6, epochs: 3, batchSize: 4, negatives: 8 } as const;
describeRecommenderContract('sasrec', (seed) => new SasRec({ ...SMALL, blocks: 1, heads: 2, seed }));
describeRecommenderContract('gru4rec', (seed) => new Gru4Rec({ ...SMALL, seed }));

const N_ITEMS = 24;

/**
 * A fixed next-item rule: the items form one random cycle (next(i) = cycle[pos(i) + 1]) and every
 * user walks 10 steps of it from a random start, in timestamp order. Every item is about equally
 * popular and co-occurrence is symmetric, so only the order tells what comes next.
 */
function cycleData(seed: number): { data: Dataset; next: Int32Array } {
  const rng = new Rng(seed);
  const cycle = rng.shuffle(Array.from({ length: N_ITEMS }, (_, i) => i));
  const next = new Int32Array(N_ITEMS);
  for (let k = 0; k < N_ITEMS; k++) next[cycle[k]!] = cycle[(k + 1) % N_ITEMS]!;
  const triples: [string, string, number, number][] = [];
  // Item ids are interned in first-seen order; list them all first so id `i${k}` has index k.
  for (let k = 0; k < N_ITEMS; k++) triples.push(['seed-user', `i${k}`, 1, k]);
  let t = 1000;
  for (let u = 0; u < 120; u++) {
    let item = rng.int(N_ITEMS);
    for (let s = 0; s < 10; s++) {
      triples.push([`u${u}`, `i${item}`, 1, t++]);
      item = next[item]!;
    }
  }
  return { data: datasetFromTriples(triples, 'cycle'), next };
}

/** Share of users whose top-1 unseen recommendation is the true next item after their last one. */
function nextItemHitRate(model: Recommender, data: Dataset, next: Int32Array): number {
  const csr = data.byUser();
  let hits = 0;
  let n = 0;
  for (let u = 1; u < data.nUsers; u++) {
    const last = csr.indices[csr.indptr[u + 1]! - 1]!;
    const top = model.recommend(u, 1).items[0];
    if (top === next[last]) hits++;
    n++;
  }
  return hits / n;
}

describe('sequence models on a fixed next-item rule', () => {
  const { data, next } = cycleData(3);
  const cases: [string, () => Recommender, 'learns' | 'cannot'][] = [
    ['sasrec', () => new SasRec({ dim: 16, blocks: 1, heads: 1, maxLen: 8, dropout: 0, epochs: 40, batchSize: 16, negatives: 16, learningRate: 5e-3 }), 'learns'],
    ['gru4rec', () => new Gru4Rec({ dim: 16, maxLen: 8, dropout: 0, epochs: 40, batchSize: 16, negatives: 16, learningRate: 5e-3 }), 'learns'],
    ['popularity', () => new Popularity(), 'cannot'],
    ['ease', () => new Ease({ lambda: 1 }), 'cannot'],
  ];
  for (const [name, make, expected] of cases) {
    it(`${name} ${expected === 'learns' ? 'learns the rule' : 'cannot learn the rule'}`, async () => {
      const model = make();
      await model.fit(data);
      const hr = nextItemHitRate(model, data, next);
      if (expected === 'learns') expect(hr).toBeGreaterThan(0.9);
      else expect(hr).toBeLessThan(0.6);
    }, 60_000);
  }
});

describe('sequence model plumbing', () => {
  it('windows cover every target once and respect maxLen', () => {
    const indptr = Int32Array.from([0, 1, 4, 14]);
    const w = buildWindows(indptr, 3, 4);
    // user 0 has one item (no target); user 1: inputs 0..2; user 2: inputs 0..8 in windows [5,9), [1,5), [0,1).
    expect(Array.from(w.user)).toEqual([1, 2, 2, 2]);
    expect(Array.from(w.from)).toEqual([0, 5, 1, 0]);
    expect(Array.from(w.to)).toEqual([2, 9, 5, 1]);
  });

  for (const [name, make] of [
    ['sasrec', () => new SasRec({ dim: 8, blocks: 1, maxLen: 6, epochs: 2, negatives: 8 })],
    ['gru4rec', () => new Gru4Rec({ dim: 8, maxLen: 6, epochs: 2, negatives: 8 })],
  ] as const) {
    it(`${name}: a UserState equal to the user's training sequence scores like the user's index`, async () => {
      const { data } = cycleData(5);
      const model = make();
      await model.fit(data);
      const csr = data.byUser();
      for (const u of [1, 7, 30]) {
        const items = csr.indices.slice(csr.indptr[u]!, csr.indptr[u + 1]!);
        expect(Array.from(model.scoreAll({ items }))).toEqual(Array.from(model.scoreAll(u)));
        // A different history gives different scores (fold-in reads the items).
        const other = items.slice().reverse();
        expect(Array.from(model.scoreAll({ items: other }))).not.toEqual(Array.from(model.scoreAll(u)));
      }
    });

    it(`${name}: save/load round trip gives identical scores, also for a fold-in state`, async () => {
      const { data } = cycleData(6);
      const model = make();
      await model.fit(data);
      const loaded = deserializeModel(serializeModel(model));
      for (const u of [0, 3, 50]) expect(Array.from(loaded.scoreAll(u))).toEqual(Array.from(model.scoreAll(u)));
      const state = { items: Int32Array.from([4, 9, 2]) };
      expect(Array.from(loaded.scoreAll(state))).toEqual(Array.from(model.scoreAll(state)));
    });
  }

  it('items with no training interaction rank below every warm item', async () => {
    const triples: [string, string, number, number][] = [['u0', 'cold', 1, 0]];
    for (let u = 1; u < 10; u++) for (let s = 0; s < 5; s++) triples.push([`u${u}`, `i${(u + s) % 7}`, 1, u * 10 + s]);
    const all = datasetFromTriples(triples);
    // Drop the one interaction with "cold" so it is an item of the catalogue with no training data.
    const train = all.subset(Int32Array.from({ length: all.interactions.user.length - 1 }, (_, k) => k + 1));
    const model = new SasRec({ dim: 8, blocks: 1, maxLen: 4, epochs: 2, negatives: 4 });
    await model.fit(train); // no item text: cold items cannot be mapped and rank last
    const s = model.scoreAll(3);
    const cold = all.items.toIndex('cold');
    for (let i = 0; i < all.nItems; i++) if (i !== cold) expect(s[cold]!).toBeLessThan(s[i]!);
  });

  it('cold items get embeddings from their text: a cold item about what the user watches outranks one about something else', async () => {
    // Two worlds of 40 items each ("space …" and "cooking …" titles); users stay in one world.
    // Two more items, one per world, exist in the catalogue with text but without interactions.
    const rng = new Rng(5);
    const triples: [string, string, number, number][] = [];
    const words = { space: ['rocket', 'orbit', 'galaxy', 'astronaut', 'planet'], cooking: ['recipe', 'kitchen', 'bread', 'sauce', 'chef'] };
    const titles = new Map<string, string>();
    for (const world of ['space', 'cooking'] as const) {
      for (let k = 0; k < 40; k++) titles.set(`${world}${k}`, `${world} ${words[world][k % 5]} ${words[world][(k * 3 + 1) % 5]} story ${k}`);
      titles.set(`${world}-new`, `${world} ${words[world][0]} ${words[world][2]} new story`);
    }
    let t = 0;
    for (const id of titles.keys()) triples.push(['catalogue', id, 1, t++]); // dropped below: only registers the items
    for (let u = 0; u < 60; u++) {
      const world = u % 2 ? 'space' : 'cooking';
      for (let s = 0; s < 12; s++) triples.push([`u${u}`, `${world}${rng.int(40)}`, 1, 1000 + u * 100 + s]);
    }
    const all = datasetFromTriples(triples);
    all.items.ids().forEach((id, i) => (all.itemMeta[i] = { title: titles.get(id)! }));
    const nCatalogue = titles.size;
    const train = all.subset(Int32Array.from({ length: all.interactions.user.length - nCatalogue }, (_, k) => k + nCatalogue));
    const spaceNew = all.items.toIndex('space-new');
    const cookingNew = all.items.toIndex('cooking-new');
    const spaceFan = all.users.toIndex('u1');
    const cookingFan = all.users.toIndex('u0');
    const config = { dim: 16, blocks: 1, maxLen: 8, epochs: 15, negatives: 16, learningRate: 5e-3, seed: 2 };
    const model = new SasRec(config);
    await model.fit(train);
    const forSpace = model.scoreAll(spaceFan);
    const forCooking = model.scoreAll(cookingFan);
    expect(forSpace[spaceNew]!).toBeGreaterThan(forSpace[cookingNew]!);
    expect(forCooking[cookingNew]!).toBeGreaterThan(forCooking[spaceNew]!);
    // Saved and loaded, the mapped embeddings score the same.
    expect(Array.from(deserializeModel(serializeModel(model)).scoreAll(spaceFan))).toEqual(Array.from(forSpace));
    // With coldItems 'last' both new items sit at the floor, below every warm item.
    const last = new SasRec({ ...config, coldItems: 'last' });
    await last.fit(train);
    const s = last.scoreAll(spaceFan);
    expect(s[spaceNew]).toBe(s[cookingNew]);
  }, 60_000);

  it('early stopping on the validation split records its curve and trains the final model for the best epoch count', async () => {
    const { data } = cycleData(7);
    const model = new Gru4Rec({ dim: 8, maxLen: 6, epochs: 6, patience: 2, negatives: 8, learningRate: 5e-3 });
    const seen: string[] = [];
    await model.fit(data, { onProgress: (_d, _t, unit) => seen.push(unit) });
    expect(model.history.length).toBeGreaterThan(0);
    const best = model.history.reduce((a, b) => (b.validationNdcg > a.validationNdcg ? b : a));
    expect(model.trainedEpochs).toBe(best.epoch);
    expect(seen.filter((u) => u === 'epoch').length).toBe(best.epoch);
  });
});

describe('sequence encoders as agent state', () => {
  it('userStates, itemEmbeddings and stateFunction reproduce the scores', async () => {
    const { data } = cycleData(8);
    const model = new SasRec({ dim: 8, blocks: 1, maxLen: 6, epochs: 2, negatives: 8 });
    await model.fit(data);
    const states = model.userStates();
    const items = model.itemEmbeddings();
    const csr = data.byUser();
    const u = 12;
    const scores = model.scoreAll(u);
    for (const i of [0, 5, 17]) {
      let s = 0;
      for (let j = 0; j < 8; j++) s += states[u * 8 + j]! * items[i * 8 + j]!;
      expect(s).toBeCloseTo(scores[i]!, 4);
    }
    const f = model.stateFunction();
    const out = f(csr.indices.slice(csr.indptr[u]!, csr.indptr[u + 1]!), new Float32Array(8));
    expect(Array.from(out)).toEqual(Array.from(states.subarray(u * 8, u * 8 + 8)));
  });
});
