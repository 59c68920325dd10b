import { describe, expect, it } from 'vitest';
import { datasetFromTriples, type Dataset } from '../../src/data/dataset.js';
import { ConfigError } from '../../src/errors.js';
import { dpSgdConfigSchema, INTERACTION_DP_DEFAULTS } from '../../src/privacy/config.js';
import { clipUserGradient, planDpSgd, trainDpSgd, UserGradient } from '../../src/privacy/dp-sgd.js';
import { dpSgdEpsilon } from '../../src/privacy/accountant.js';
import { Bpr } from '../../src/recommenders/bpr.js';
import { Ease } from '../../src/recommenders/ease.js';
import { ItemKnn } from '../../src/recommenders/knn.js';
import { BiasedMf } from '../../src/recommenders/mf.js';
import { Popularity } from '../../src/recommenders/popularity.js';
import { deserializeModel, serializeModel } from '../../src/recommenders/persist.js';
import { createRecommender } from '../../src/recommenders/registry.js';
import type { Recommender } from '../../src/recommenders/types.js';
import { Rng } from '../../src/util/rng.js';

/** 120 users × 40 items in two taste groups, 5–14 items each, ratings 1–5. */
function data(): Dataset {
  const rng = new Rng(4);
  const t: [string, string, number][] = [];
  for (let u = 0; u < 120; u++) {
    const base = u % 2 === 0 ? 0 : 20;
    const n = 5 + rng.int(10);
    const seen = new Set<number>();
    while (seen.size < n) seen.add(base + Math.floor(20 * rng.next() ** 2));
    for (const i of seen) t.push([`u${u}`, `i${i}`, 1 + rng.int(5)]);
  }
  return datasetFromTriples(t, 'dp-test');
}

function allScores(m: Recommender, nUsers: number): Float32Array[] {
  return Array.from({ length: nUsers }, (_, u) => m.scoreAll(u).slice());
}

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let d = 0;
  a.forEach((row, u) => row.forEach((v, i) => (d = Math.max(d, Math.abs(v - b[u]![i]!)))));
  return d;
}

describe('DP-SGD clipping', () => {
  it('clipUserGradient scales a gradient to norm ≤ C and leaves a small one alone', () => {
    const g = new UserGradient(5, 3);
    g.g.set([3, 4, 0], g.at(1));
    g.g.set([0, 0, 12], g.at(4));
    expect(clipUserGradient(g, 1)).toBeCloseTo(13, 12);
    const norm = Math.hypot(...g.g);
    expect(norm).toBeCloseTo(1, 12);
    expect(clipUserGradient(g, 2)).toBeCloseTo(1, 12);
    expect(Math.hypot(...g.g)).toBeCloseTo(1, 12);
  });

  it('bounds every sampled user\'s gradient in the trainer on real batches, and samples about q·n users per step', async () => {
    const d = data();
    const csr = d.byUser();
    const plan = planDpSgd(dpSgdConfigSchema.parse({ epsilon: 4, clip: 0.5, sampleRate: 0.25, steps: 20, learningRate: 1 }), d.nUsers, 'test');
    const params = new Float32Array(d.nItems * 3);
    const init = new Rng(1);
    for (let x = 0; x < params.length; x++) params[x] = init.normal();
    let users = 0;
    let clipped = 0;
    await trainDpSgd({
      plan,
      nUsers: d.nUsers,
      params,
      nRows: d.nItems,
      width: 3,
      rng: new Rng(2),
      // A squared-error gradient on the user's own items, large enough that clipping bites.
      userGradient: (u, grad) => {
        for (let e = csr.indptr[u]!; e < csr.indptr[u + 1]!; e++) {
          const o = grad.at(csr.indices[e]!);
          for (let f = 0; f < 3; f++) grad.g[o + f] += 10 * (params[o + f]! - csr.values[e]!);
        }
      },
      onClipped: (_u, grad, before) => {
        users++;
        let ss = 0;
        for (let t = 0; t < grad.count; t++) for (let f = 0; f < 3; f++) ss += grad.g[grad.rows[t]! * 3 + f]! ** 2;
        expect(Math.sqrt(ss)).toBeLessThanOrEqual(plan.clip * (1 + 1e-12));
        if (before > plan.clip) clipped++;
      },
    });
    expect(clipped).toBeGreaterThan(0);
    const expected = 0.25 * d.nUsers * 20;
    expect(Math.abs(users - expected)).toBeLessThan(4 * Math.sqrt(expected));
  });

  it('at interaction level clips every sampled interaction on its own and samples about q·N interactions per step', async () => {
    const d = data();
    const csr = d.byUser();
    const nnz = csr.indptr[d.nUsers]!;
    const plan = planDpSgd(dpSgdConfigSchema.parse({ epsilon: 4, unit: 'interaction', clip: 0.5, sampleRate: 0.1, steps: 20, learningRate: 1 }), nnz, 'test');
    const params = new Float32Array(d.nItems * 3);
    let units = 0;
    let clipped = 0;
    const seen = new Set<number>();
    await trainDpSgd({
      plan,
      nUsers: d.nUsers,
      params,
      nRows: d.nItems,
      width: 3,
      rng: new Rng(2),
      interactions: {
        indptr: csr.indptr,
        // Each sampled interaction writes a gradient far above the clip on its own item's row.
        gradients: (u, sampled, k, grad, emit) => {
          for (let s = 0; s < k; s++) {
            const o = grad.at(csr.indices[csr.indptr[u]! + sampled[s]!]!);
            for (let f = 0; f < 3; f++) grad.g[o + f] += 10 + csr.values[csr.indptr[u]! + sampled[s]!]!;
            emit();
          }
        },
      },
      onClipped: (unit, grad, before) => {
        units++;
        seen.add(unit);
        // One interaction touches one row: the user's other sampled interactions were cleared.
        expect(grad.count).toBe(1);
        let ss = 0;
        for (let f = 0; f < 3; f++) ss += grad.g[grad.rows[0]! * 3 + f]! ** 2;
        expect(Math.sqrt(ss)).toBeLessThanOrEqual(plan.clip * (1 + 1e-12));
        if (before > plan.clip) clipped++;
      },
    });
    expect(clipped).toBe(units);
    const expected = 0.1 * nnz * 20;
    expect(Math.abs(units - expected)).toBeLessThan(4 * Math.sqrt(expected));
    // Units are interaction indices, and the sampling reaches nearly all of them over 20 steps.
    expect(Math.max(...seen)).toBeLessThan(nnz);
    expect(seen.size).toBeGreaterThan(0.8 * nnz);
    expect(plan.delta).toBe(1 / nnz);
  });

  it('fills the interaction-level schedule defaults only when the unit is interaction, and explicit values win', () => {
    const user = dpSgdConfigSchema.parse({ epsilon: 1 });
    const inter = dpSgdConfigSchema.parse({ epsilon: 1, unit: 'interaction' });
    const given = dpSgdConfigSchema.parse({ epsilon: 1, unit: 'interaction', steps: 7 });
    expect(user).toMatchObject({ unit: 'user', sampleRate: 0.6, steps: 100, learningRate: 2 });
    expect(inter).toMatchObject({ unit: 'interaction', ...INTERACTION_DP_DEFAULTS });
    expect(given.steps).toBe(7);
    expect(() => dpSgdConfigSchema.parse({ epsilon: 1, unit: 'item' })).toThrow();
  });

  it('plans σ for a target ε (spent ≤ target), δ = 1/n by default, and refuses a noise multiplier that overspends', () => {
    const plan = planDpSgd(dpSgdConfigSchema.parse({ epsilon: 2, steps: 50, sampleRate: 0.1 }), 200, 'bpr');
    expect(plan.delta).toBe(1 / 200);
    expect(plan.epsilon).toBeLessThanOrEqual(2);
    expect(plan.epsilon).toBeCloseTo(dpSgdEpsilon(plan.noiseMultiplier, { sampleRate: 0.1, steps: 50, delta: 1 / 200 }), 12);
    expect(() => planDpSgd(dpSgdConfigSchema.parse({ epsilon: 0.1, noiseMultiplier: 0.5 }), 200, 'bpr')).toThrow(ConfigError);
  });
});

describe('DP models', () => {
  const d = data();

  it('count models at a huge ε match the non-private model; at a small ε they are measurably noisier', async () => {
    const m = 20; // ≥ every user's item count here, so bounding drops nothing
    const cases: [string, (dp?: object) => Recommender][] = [
      ['popularity', (dp) => new Popularity(dp ? { dp: dp as never } : {})],
      ['itemknn', (dp) => new ItemKnn(dp ? { k: 40, dp: dp as never } : { k: 40 })],
      ['ease', (dp) => new Ease(dp ? { lambda: 10, dp: dp as never } : { lambda: 10 })],
    ];
    for (const [name, make] of cases) {
      const plain = make();
      const huge = make({ epsilon: 1e7, maxItemsPerUser: m });
      const small = make({ epsilon: 0.5, maxItemsPerUser: m });
      await plain.fit(d);
      await huge.fit(d);
      await small.fit(d);
      const p = allScores(plain, d.nUsers);
      const scale = Math.max(...p.map((r) => Math.max(...r.map(Math.abs))));
      const near = maxAbsDiff(allScores(huge, d.nUsers), p) / scale;
      const far = maxAbsDiff(allScores(small, d.nUsers), p) / scale;
      expect(near, name).toBeLessThan(0.02);
      expect(far, name).toBeGreaterThan(10 * near);
      expect(far, name).toBeGreaterThan(0.05);
    }
  });

  it('BPR and MF: at a huge ε the released item parameters match a noise-free DP-SGD run; at a small ε they do not', async () => {
    const base = { steps: 30, sampleRate: 0.5, maxItemsPerUser: 20 };
    for (const [name, make] of [
      ['bpr', (dp: object) => new Bpr({ factors: 4, dp: dp as never })],
      ['mf', (dp: object) => new BiasedMf({ factors: 4, dp: dp as never })],
    ] as const) {
      // σ = 1e-9: the same sampling, clipping and steps with (practically) no noise.
      const clean = make({ ...base, noiseMultiplier: 1e-9 });
      const huge = make({ ...base, epsilon: 1e6 });
      const small = make({ ...base, epsilon: 0.5 });
      for (const x of [clean, huge, small]) await x.fit(d);
      const near = maxAbsDiff(allScores(huge, d.nUsers), allScores(clean, d.nUsers));
      const far = maxAbsDiff(allScores(small, d.nUsers), allScores(clean, d.nUsers));
      expect(far, name).toBeGreaterThan(20 * near);
      const privacy = (small as unknown as { privacy: { epsilon: number; delta: number; unit: string; mechanism: string } }).privacy;
      expect(privacy.epsilon, name).toBeLessThanOrEqual(0.5);
      expect(privacy.epsilon, name).toBeGreaterThan(0.49);
      expect(privacy).toMatchObject({ delta: 1 / d.nUsers, unit: 'user', mechanism: 'dp-sgd' });
    }
  });

  it('BPR and MF at interaction level: δ = 1/N interactions, the report names the unit, noise-free runs match a huge ε, and it differs from user level', async () => {
    const nnz = d.byUser().indptr[d.nUsers]!;
    const base = { unit: 'interaction', steps: 30, sampleRate: 0.2 };
    for (const [name, make] of [
      ['bpr', (dp: object) => new Bpr({ factors: 4, dp: dp as never })],
      ['mf', (dp: object) => new BiasedMf({ factors: 4, dp: dp as never })],
    ] as const) {
      const clean = make({ ...base, noiseMultiplier: 1e-9 });
      const huge = make({ ...base, epsilon: 1e6 });
      const small = make({ ...base, epsilon: 0.5 });
      const userLevel = make({ steps: 30, sampleRate: 0.2, epsilon: 1e6 });
      for (const x of [clean, huge, small, userLevel]) await x.fit(d);
      const near = maxAbsDiff(allScores(huge, d.nUsers), allScores(clean, d.nUsers));
      const far = maxAbsDiff(allScores(small, d.nUsers), allScores(clean, d.nUsers));
      expect(far, name).toBeGreaterThan(20 * near);
      expect(maxAbsDiff(allScores(userLevel, d.nUsers), allScores(huge, d.nUsers)), name).toBeGreaterThan(10 * near);
      const privacy = (small as unknown as { privacy: { epsilon: number; delta: number; unit: string } }).privacy;
      expect(privacy, name).toMatchObject({ delta: 1 / nnz, unit: 'interaction' });
      expect(privacy.epsilon, name).toBeLessThanOrEqual(0.5);
      const again = make({ ...base, epsilon: 0.5 });
      await again.fit(d);
      expect(maxAbsDiff(allScores(again, d.nUsers), allScores(small, d.nUsers)), name).toBe(0);
    }
  });

  it('records the budget spent in the config, and a saved DP model loads back with the same scores', async () => {
    for (const name of ['popularity', 'itemknn', 'ease', 'bpr', 'mf']) {
      const model = createRecommender(name, { dp: { epsilon: 3, ...(name === 'bpr' || name === 'mf' ? { steps: 10 } : {}) } });
      await model.fit(d);
      const dp = model.config.dp as Record<string, number>;
      expect(dp.epsilon, name).toBeLessThanOrEqual(3);
      expect(dp.delta, name).toBe(1 / d.nUsers);
      expect(dp.noiseMultiplier, name).toBeGreaterThan(0);
      const back = deserializeModel(serializeModel(model));
      expect(maxAbsDiff(allScores(back, d.nUsers), allScores(model, d.nUsers)), name).toBe(0);
      expect(back.config.dp, name).toEqual(model.config.dp);
    }
  });

  it('refuses options whose DP release would need another analysis', async () => {
    await expect(new Popularity({ useValues: true, dp: { epsilon: 1, seed: 0, maxItemsPerUser: 10 } }).fit(d)).rejects.toThrow(/useValues = true is not supported together with dp/);
    expect(() => createRecommender('bpr', { dp: { clip: 1 } })).toThrow(/epsilon \(a target budget\) or noiseMultiplier/);
  });
});
