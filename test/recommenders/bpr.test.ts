import { describe, expect, it } from 'vitest';
import { datasetFromTriples } from '../../src/data/dataset.js';
import { bprEpochKernel, jsKernels, kernels, nativeKernels, setKernels, type Kernels } from '../../src/nn/kernels.js';
import { Bpr, type BprConfig } from '../../src/recommenders/bpr.js';
import { deserializeModel, serializeModel } from '../../src/recommenders/persist.js';
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

/**
 * A random implicit dataset: 120 users, 80 items, each user with 5–24 items drawn with a
 * popularity skew (so that the negative check and both negative samplers have work to do).
 */
function randomImplicit(seed: number) {
  const rng = new Rng(seed);
  const triples: [string, string][] = [];
  for (let u = 0; u < 120; u++) {
    const n = 5 + rng.int(20);
    const mine = new Set<number>();
    while (mine.size < n) mine.add(Math.floor(80 * rng.next() * rng.next()));
    for (const i of mine) triples.push([`u${u}`, `i${i}`]);
  }
  return datasetFromTriples(triples);
}

async function factorsWith(k: Kernels, config: Partial<BprConfig>, ds = randomImplicit(5)): Promise<{ users: Float32Array; items: Float32Array; scores: Float32Array; auc: number }> {
  const before = kernels();
  setKernels(k);
  try {
    const m = new Bpr({ factors: 16, iterations: 30, learningRate: 0.05, ...config });
    await m.fit(ds);
    // Every user's scores too: they include the item biases, which the embeddings leave out.
    const scores = new Float32Array(ds.nUsers * ds.nItems);
    for (let u = 0; u < ds.nUsers; u++) m.scoreAll(u, scores.subarray(u * ds.nItems, (u + 1) * ds.nItems));
    return { users: m.userEmbeddings(), items: m.itemEmbeddings(), scores, auc: m.lastEpochAuc };
  } finally {
    setKernels(before);
  }
}

/**
 * Training AUC over every user's (interacted, not interacted) item pairs, from the fitted scores:
 * exact, unlike the sampled AUC of the last epoch, so two fits can be compared without the
 * sampling noise of the estimate itself.
 */
function fullTrainAuc(ds: ReturnType<typeof randomImplicit>, scores: Float32Array): number {
  const csr = ds.byUser();
  let right = 0;
  let pairs = 0;
  for (let u = 0; u < ds.nUsers; u++) {
    const mine = new Set(Array.from(csr.indices.subarray(csr.indptr[u]!, csr.indptr[u + 1]!)));
    const row = scores.subarray(u * ds.nItems, (u + 1) * ds.nItems);
    for (const p of mine) {
      for (let j = 0; j < ds.nItems; j++) {
        if (mine.has(j)) continue;
        pairs++;
        if (row[p]! > row[j]!) right++;
        else if (row[p] === row[j]) right += 0.5;
      }
    }
  }
  return right / pairs;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const native = nativeKernels();
/** Whether the built addon has the BPR kernel (a binary from before it does not). */
function hasNativeBpr(): boolean {
  if (!native) return false;
  const before = kernels();
  setKernels(native);
  const has = bprEpochKernel() !== null;
  setKernels(before);
  return has;
}
const nativeBpr = hasNativeBpr();

describe('Bpr SGD kernel', () => {
  // The native kernel and its JS twin do the same double-precision operations in the same order;
  // only a last-bit difference between libm's exp and V8's could reach a float32 factor, hence a
  // tolerance far below any effect on a ranking.
  it.skipIf(!nativeBpr)('native and JS kernels give the same factors for a seed (1 thread)', async () => {
    for (const config of [
      { seed: 3 },
      { seed: 4, negativeSampling: 'popularity' as const },
      { seed: 5, verifyNegatives: false },
      { seed: 6, factors: 13 }, // factors + 1 not a multiple of 8: the lane tail
    ]) {
      const n = await factorsWith(native!, config);
      const j = await factorsWith(jsKernels, config);
      expect(maxAbsDiff(n.users, j.users)).toBeLessThan(1e-6);
      expect(maxAbsDiff(n.items, j.items)).toBeLessThan(1e-6);
      expect(maxAbsDiff(n.scores, j.scores)).toBeLessThan(1e-5);
      expect(n.auc).toBeCloseTo(j.auc, 6);
    }
  });

  it('the same seed gives the same factors, with either kernel', async () => {
    for (const k of [jsKernels, ...(nativeBpr ? [native!] : [])]) {
      const a = await factorsWith(k, { seed: 9 });
      const b = await factorsWith(k, { seed: 9 });
      expect(Array.from(a.users)).toEqual(Array.from(b.users));
      expect(Array.from(a.items)).toEqual(Array.from(b.items));
      expect(Array.from(a.scores)).toEqual(Array.from(b.scores));
      const c = await factorsWith(k, { seed: 10 });
      expect(maxAbsDiff(a.items, c.items)).toBeGreaterThan(1e-3);
    }
  });

  it.skipIf(!nativeBpr)('the native kernel rejects an out-of-range index instead of reading past the factors', () => {
    const before = kernels();
    setKernels(native!);
    const k = bprEpochKernel()!;
    setKernels(before);
    const U = new Float32Array(2 * 3);
    const V = new Float32Array(2 * 3);
    const bad = Int32Array.from([0, 5]); // item 5 of 2
    expect(() =>
      k(U, V, 2, 0.1, 0, Int32Array.from([0, 1]), bad, bad, Int32Array.from([0, 1, 2]), Int32Array.from([0, 1]), 3, new Uint32Array(4), 10, new Float64Array(3)),
    ).toThrow(RangeError);
  });

  it('Hogwild (2 threads) reaches the single-thread quality on the planted blocks', async () => {
    const { ds, heldOut } = planted(3);
    const heldOutAuc = async (threads: number): Promise<number> => {
      const m = new Bpr({ factors: 8, iterations: 60, learningRate: 0.05, seed: 1, threads });
      const epochs: number[] = [];
      await m.fit(ds, { onProgress: (done) => epochs.push(done) });
      // Hogwild has no barrier between epochs, but still reports each one once, in order.
      expect(epochs).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      expect(m.threadCpuSeconds).toHaveLength(threads);
      // Every epoch's samples were run, once, between the threads (216 interactions).
      expect(m.threadSamples).toHaveLength(threads);
      expect(m.threadSamples.reduce((a, b) => a + b, 0)).toBe(60 * ds.interactions.length);
      let good = 0;
      let pairs = 0;
      for (let u = 0; u < 36; u++) {
        const s = m.scoreAll(ds.users.toIndex(`u${u}`));
        const g = Math.floor(u / 12);
        for (const p of heldOut[u]!.map((i) => ds.items.toIndex(`i${i}`)).filter((i) => i >= 0)) {
          for (let other = 0; other < 30; other++) {
            const j = ds.items.toIndex(`i${other}`);
            if (Math.floor(other / 10) === g || j < 0) continue;
            pairs++;
            if (s[p]! > s[j]!) good++;
          }
        }
      }
      return good / pairs;
    };
    const one = await heldOutAuc(1);
    const two = await heldOutAuc(2);
    expect(one).toBeGreaterThan(0.9);
    expect(two).toBeGreaterThan(0.9);
    expect(Math.abs(two - one)).toBeLessThan(0.05);
  });

  it('Hogwild: every worker thread runs a share of the fit, not the calling thread alone', async () => {
    // ~18k interactions: 48 chunks an epoch for 3 threads, 4,800 in all over 100 epochs, so a
    // worker that starts late (its module loading on a loaded CI machine took longer than 10
    // epochs once) still finds chunks left, and one that does nothing shows up as 0.
    const rng = new Rng(11);
    const triples: [string, string][] = [];
    for (let u = 0; u < 600; u++) {
      const mine = new Set<number>();
      while (mine.size < 30) mine.add(rng.int(400));
      for (const i of mine) triples.push([`u${u}`, `i${i}`]);
    }
    const ds = datasetFromTriples(triples);
    const m = new Bpr({ factors: 8, iterations: 100, seed: 3, threads: 3 });
    await m.fit(ds);
    expect(m.threadSamples).toHaveLength(3);
    expect(m.threadSamples.reduce((a, b) => a + b, 0)).toBe(100 * ds.interactions.length);
    for (const n of m.threadSamples) expect(n).toBeGreaterThan(0);
    // One thread's samples are the whole fit's.
    const single = new Bpr({ factors: 8, iterations: 10, seed: 3 });
    await single.fit(ds);
    expect(single.threadSamples).toEqual([10 * ds.interactions.length]);
  });

  it('Hogwild on a random dataset: training AUC within 0.02 of one thread', async () => {
    const ds = randomImplicit(5);
    const one = await factorsWith(kernels(), { seed: 2, iterations: 40 }, ds);
    const two = await factorsWith(kernels(), { seed: 2, iterations: 40, threads: 2 }, ds);
    // The exact AUC of the fitted scores: Hogwild's runs differ from run to run, and the last
    // epoch's sampled AUC adds its own sampling noise on top.
    const aucOne = fullTrainAuc(ds, one.scores);
    const aucTwo = fullTrainAuc(ds, two.scores);
    expect(aucOne).toBeGreaterThan(0.7);
    expect(Math.abs(aucTwo - aucOne)).toBeLessThan(0.02);
    for (const x of [...two.users, ...two.items]) expect(Number.isFinite(x)).toBe(true);
  });

  it('a model saved before `threads` existed loads with the default (1)', async () => {
    const m = new Bpr({ factors: 4, iterations: 5, seed: 1 });
    await m.fit(randomImplicit(1));
    const doc = JSON.parse(serializeModel(m)) as { config: Record<string, unknown> };
    delete doc.config.threads;
    const loaded = deserializeModel(JSON.stringify(doc), '<old bpr>', 'bpr');
    expect((loaded.config as BprConfig).threads).toBe(1);
    expect(Array.from(loaded.scoreAll(3))).toEqual(Array.from(m.scoreAll(3)));
  });
});
