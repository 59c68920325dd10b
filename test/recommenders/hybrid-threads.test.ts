import { describe, expect, it } from 'vitest';
import { Dataset, datasetFromTriples, type ItemMeta } from '../../src/data/dataset.js';
import { HybridRecommender, type HybridConfig } from '../../src/recommenders/hybrid.js';
import { createRecommender, restoreRecommender } from '../../src/recommenders/registry.js';
import { Rng } from '../../src/util/rng.js';

/** 150 users walking a noisy cycle of 40 titled items (sequence members have an order to learn). */
function walkData(): Dataset {
  const rng = new Rng(11);
  const nItems = 40;
  const triples: [string, string, number, number][] = [];
  let t = 1000;
  for (let u = 0; u < 150; u++) {
    let item = rng.int(nItems);
    const steps = 8 + rng.int(10);
    for (let s = 0; s < steps; s++) {
      triples.push([`u${u}`, `i${item}`, 1 + rng.int(5), t++]);
      item = rng.next() < 0.8 ? (item + 1) % nItems : rng.int(nItems);
    }
  }
  const ds = datasetFromTriples(triples, 'walk');
  const words = ['space', 'love', 'war', 'crime', 'ghost', 'robot', 'horse', 'music'];
  const meta: ItemMeta[] = [];
  for (let i = 0; i < ds.nItems; i++) meta[i] = { title: `Film ${words[i % 8]} ${words[(i * 5) % 8]}` };
  return new Dataset({ name: ds.name, users: ds.users, items: ds.items, interactions: ds.interactions, itemMeta: meta });
}

const SEQ = { dim: 8, maxLen: 6, epochs: 2, batchSize: 8, negatives: 8 };
const CONFIG: Partial<HybridConfig> = {
  members: [
    { kind: 'popularity' },
    { kind: 'itemknn' }, // has its own `threads` (automatic): fitted with 1 inside a worker
    { kind: 'bpr', config: { factors: 8, iterations: 5 } },
    { kind: 'content', config: { dim: 4 } },
    { kind: 'sasrec', config: { ...SEQ, blocks: 1 } },
    { kind: 'gru4rec', config: SEQ },
  ],
  tuneStep: 0.5,
  tuneUsers: 100,
};
const registry = { create: createRecommender, restore: restoreRecommender };

async function fitted(threads: number, factory = registry, progress?: [number, number][]): Promise<HybridRecommender> {
  const h = new HybridRecommender({ ...CONFIG, threads }, factory);
  await h.fit(walkData(), { onProgress: progress ? (done, total) => void progress.push([done, total]) : undefined });
  return h;
}

function scores(h: HybridRecommender, users: number[]): Float32Array[] {
  return users.map((u) => h.scoreAll(u).slice());
}

describe('hybrid members fitted in worker threads', () => {
  it('gives the weights, member states and scores of the one-thread path, and reports every member fit', async () => {
    const one = await fitted(1);
    const progress: [number, number][] = [];
    const two = await fitted(2, registry, progress);
    expect(two.weights).toEqual(one.weights);
    expect(two.tunedNdcg).toBe(one.tunedNdcg);
    expect(one.weights.filter((w) => w > 0).length).toBeGreaterThan(1); // a fusion, not one member
    const users = [0, 3, 17, 42, 99, 149];
    const s1 = scores(one, users);
    const s2 = scores(two, users);
    for (let k = 0; k < users.length; k++) expect(s2[k]).toEqual(s1[k]);
    // Every member's saved state (factors, similarities, encoder weights) and config, bit for bit.
    expect(two.toJSON().state).toEqual(one.toJSON().state);
    // One report per member fit (6 tuning fits + 6 refits), counting up to the total.
    expect(progress.map(([d]) => d)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(progress.every(([, t]) => t === 12)).toBe(true);
  }, 60_000);

  it('keeps the fits in this thread when the member factory is not the registry', async () => {
    const made: string[] = [];
    const own = { create: (kind: string, config?: Record<string, unknown>) => (made.push(kind), createRecommender(kind, config)), restore: restoreRecommender };
    const here = await fitted(2, own);
    // Every member was built by the injected factory (tuning fits and refits), none by a worker.
    expect(made.length).toBe(12);
    const one = await fitted(1);
    expect(here.weights).toEqual(one.weights);
    expect(scores(here, [5, 60])).toEqual(scores(one, [5, 60]));
  }, 60_000);
});
