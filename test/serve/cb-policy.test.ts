import { describe, expect, it } from 'vitest';
import { CbPolicy, type CbConfig } from '../../src/serve/cb-policy.js';
import type { ServedModel } from '../../src/serve/model.js';
import type { SparseRow } from '../../src/serve/namespaces.js';
import type { Candidate, PolicyInput } from '../../src/serve/serving-policy.js';
import { quadFormsJs, rank1SubJs, SparseRegressor } from '../../src/serve/sparse-regressor.js';
import { loadChorusAddon } from '../../src/util/native-addon.js';
import { Rng } from '../../src/util/rng.js';

/** Dense ridge θ = (λI + XᵀX)⁻¹(λθ₀ + Xᵀy) by Gaussian elimination, over the features' distinct indices. */
function ridge(rows: SparseRow[], ys: number[], lambda: number, prior: Map<number, number>, mask: number): Map<number, number> {
  const keys = [...new Set([...prior.keys(), ...rows.flatMap((r) => r.idx.map((h) => h & mask))])];
  const d = keys.length;
  const at = new Map(keys.map((k, i) => [k, i]));
  const A = Array.from({ length: d }, (_, i) => Array.from({ length: d + 1 }, (_, j) => (i === j ? lambda : 0)));
  keys.forEach((k, i) => (A[i]![d] = lambda * (prior.get(k) ?? 0)));
  rows.forEach((r, n) => {
    const x = new Array<number>(d).fill(0);
    r.idx.forEach((h, a) => (x[at.get(h & mask)!] += r.val[a]!));
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) A[i]![j] += x[i]! * x[j]!;
      A[i]![d] += x[i]! * ys[n]!;
    }
  });
  for (let c = 0; c < d; c++) {
    let p = c;
    for (let r = c + 1; r < d; r++) if (Math.abs(A[r]![c]!) > Math.abs(A[p]![c]!)) p = r;
    [A[c], A[p]] = [A[p]!, A[c]!];
    for (let r = 0; r < d; r++) {
      if (r === c) continue;
      const f = A[r]![c]! / A[c]![c]!;
      for (let j = c; j <= d; j++) A[r]![j] -= f * A[c]![j]!;
    }
  }
  return new Map(keys.map((k, i) => [k, A[i]![d]! / A[i]![i]!]));
}

function randomRows(n: number, seed: number): { rows: SparseRow[]; ys: number[] } {
  const rng = new Rng(seed);
  const rows: SparseRow[] = [];
  const ys: number[] = [];
  for (let t = 0; t < n; t++) {
    const idx = [1, 100 + rng.int(6), 200 + rng.int(4), 300];
    const val = [1, 1, 1, rng.normal()];
    rows.push({ idx, val });
    ys.push(0.3 * val[3]! + (idx[1]! === 102 ? 1 : 0) - (idx[2]! === 201 ? 0.5 : 0) + 0.1 * rng.normal());
  }
  return { rows, ys };
}

describe('SparseRegressor', () => {
  it('ridge part: recursive least squares equals the closed-form ridge with a prior mean', () => {
    const { rows, ys } = randomRows(60, 3);
    const prior = new Map([[300, 1]]);
    const m = new SparseRegressor({ lambda: 2, bits: 12 }, prior);
    rows.forEach((r, t) => m.learn(r, ys[t]!));
    const exact = ridge(rows, ys, 2, prior, (1 << 12) - 1);
    for (const [k, w] of exact) expect(m.weightOf(k)).toBeCloseTo(w, 8);
    expect(m.dims).toBe(exact.size);
    // The width is √(xᵀA⁻¹x): it shrinks along observed directions and is 1/√λ·‖x‖ for unseen features.
    expect(m.predict({ idx: [9999], val: [2] }).width).toBeCloseTo(2 / Math.sqrt(2), 9);
    expect(m.predict(rows[0]!).width).toBeLessThan(0.5);
  });

  it('learns features beyond ridgeDims by adaptive SGD, and the SGD learner alone fits too', () => {
    const { rows, ys } = randomRows(3000, 4);
    for (const ridgeDims of [4, 0]) {
      const m = new SparseRegressor({ ridgeDims, bits: 12, learningRate: 0.1 });
      const before = rows.slice(0, 200).reduce((s, r, t) => s + (m.predict(r).mean - ys[t]!) ** 2, 0);
      rows.forEach((r, t) => m.learn(r, ys[t]!));
      expect(m.dims).toBe(ridgeDims);
      const after = rows.slice(0, 200).reduce((s, r, t) => s + (m.predict(r).mean - ys[t]!) ** 2, 0);
      expect(after).toBeLessThan(before / 4);
      expect(m.weightOf(102)).toBeGreaterThan(0.5);
    }
  });

  it('JS kernels (the fallback) and native kernels agree on the downdate and the quadratic forms', () => {
    const rng = new Rng(9);
    const lda = 7;
    const d = 5;
    const A = Float64Array.from({ length: lda * lda }, () => rng.normal());
    for (let i = 0; i < lda; i++) for (let j = 0; j < i; j++) A[i * lda + j] = A[j * lda + i]!; // symmetric
    const u = Float64Array.from({ length: lda }, () => rng.normal());
    const idx = Int32Array.from([0, 3, 4, 1, 6, 2]);
    const x = Float64Array.from(idx, () => rng.normal());
    const start = Int32Array.from([0, 3, 3, 6]);
    // The quadratic form against its definition, xᵀAx over the row's entries.
    const q = new Float64Array(3);
    quadFormsJs(A, lda, idx, x, start, 3, q);
    for (let r = 0; r < 3; r++) {
      let ref = 0;
      for (let a = start[r]!; a < start[r + 1]!; a++) for (let b = start[r]!; b < start[r + 1]!; b++) ref += x[a]! * A[idx[a]! * lda + idx[b]!]! * x[b]!;
      expect(q[r]).toBeCloseTo(ref, 10);
    }
    const js = Float64Array.from(A);
    rank1SubJs(js, lda, u, d, 0.3);
    for (let i = 0; i < lda; i++) for (let j = 0; j < lda; j++) expect(js[i * lda + j]).toBeCloseTo(A[i * lda + j]! - (i < d && j < d ? 0.3 * u[i]! * u[j]! : 0), 12);
    const addon = loadChorusAddon();
    if (!addon?.quadForms || !addon.rank1Sub) return; // no native build here: the JS kernels are what runs
    const qn = new Float64Array(3);
    addon.quadForms(A, lda, idx, x, start, 3, qn);
    qn.forEach((v, r) => expect(v).toBeCloseTo(q[r]!, 10));
    const nat = Float64Array.from(A);
    addon.rank1Sub(nat, lda, u, d, 0.3);
    nat.forEach((v, i) => expect(v).toBeCloseTo(js[i]!, 12));
  });

  it('saves and restores its state exactly', () => {
    const { rows, ys } = randomRows(200, 5);
    const a = new SparseRegressor({ ridgeDims: 6, bits: 10 });
    rows.forEach((r, t) => a.learn(r, ys[t]!));
    const b = new SparseRegressor({ ridgeDims: 6, bits: 10 });
    expect(b.setState(a.getState())).toBe(true);
    for (const r of rows.slice(0, 20)) expect(b.predict(r)).toEqual(a.predict(r));
    expect(new SparseRegressor({ ridgeDims: 6, bits: 11 }).setState(a.getState())).toBe(false);
  });
});

const model = { rec: { kind: 'popularity' } } as unknown as ServedModel;

function input(cands: Candidate[], eventId: string, mode: 'single' | 'slate', context: unknown = [{ user: { segment: 'a' } }], k = 3): PolicyInput {
  return { eventId, user: null, session: null, ts: 0, userIndex: -1, history: new Int32Array(0), context, k, mode, candidates: cands, mask: new Uint8Array(0), model };
}

const cands: Candidate[] = Array.from({ length: 5 }, (_, a) => ({ id: `a${a}`, index: -1, recScore: 5 - a, features: [{ item: { vec: [a / 4, 1 - a / 4] } }] }));

describe('CbPolicy', () => {
  it('follows the recommender before any feedback', () => {
    const p = new CbPolicy({ epsilon: 0, alpha: 0 });
    const c = p.choose(input(cands, 'e1', 'slate', null, 5));
    expect(c.items.map((x) => x.id)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    expect(c.propensities).toEqual([1, 1, 1, 1, 1]);
    expect(p.weights().recommender).toBe(1);
  });

  const kinds: [string, Partial<CbConfig>][] = [
    ['egreedy', { explore: 'egreedy', epsilon: 0.3 }],
    ['softmax', { explore: 'softmax', temperature: 0.4 }],
    ['squarecb', { explore: 'squarecb', gamma: 3 }],
  ];
  for (const [name, cfg] of kinds) {
    it(`logs exact propensities (${name}): they match the Monte-Carlo frequency of each draw`, () => {
      const p = new CbPolicy({ ...cfg, alpha: 0.5, seed: 11 });
      // Some learning first, so that scores differ by context and action.
      for (let t = 0; t < 40; t++) {
        const c = p.choose(input(cands, `warm${t}`, 'single'));
        p.learn(c.payload, 0, c.items[0]!.id === 'a3' ? 1 : 0);
      }
      const N = 20_000;
      const first = new Map<string, number>();
      const second = new Map<string, number>();
      let single: Map<string, number> | null = null;
      let secondProb: Map<string, number> | null = null;
      for (let t = 0; t < N; t++) {
        const s = p.choose(input(cands, `mc${t}`, 'single'));
        single ??= new Map(s.items.map((x, q) => [x.id, s.propensities[q]!]));
        // Every action's probability of being the pick is the same whatever was drawn.
        s.items.forEach((x, q) => expect(s.propensities[q]).toBeCloseTo(single!.get(x.id)!, 12));
        first.set(s.items[0]!.id, (first.get(s.items[0]!.id) ?? 0) + 1);
        const sl = p.choose(input(cands, `mc${t}`, 'slate'));
        // In a slate, position 2's propensity is conditional on position 1's draw: check it given a0 first.
        if (sl.items[0]!.id === 'a0') {
          second.set(sl.items[1]!.id, (second.get(sl.items[1]!.id) ?? 0) + 1);
          secondProb ??= new Map();
          secondProb.set(sl.items[1]!.id, sl.propensities[1]!);
        }
      }
      const sumP = [...single!.values()].reduce((a, b) => a + b, 0);
      expect(sumP).toBeCloseTo(1, 9);
      for (const [id, prob] of single!) {
        const f = (first.get(id) ?? 0) / N;
        expect(Math.abs(f - prob)).toBeLessThan(4 * Math.sqrt((prob * (1 - prob)) / N) + 1e-3);
      }
      const n2 = [...second.values()].reduce((a, b) => a + b, 0);
      expect(n2).toBeGreaterThan(500);
      for (const [id, prob] of secondProb!) {
        const f = second.get(id)! / n2;
        expect(Math.abs(f - prob)).toBeLessThan(4 * Math.sqrt((prob * (1 - prob)) / n2) + 2e-3);
      }
    });
  }

  it('learns which action each context rewards (context × action interactions)', () => {
    const p = new CbPolicy({ epsilon: 0.2, alpha: 0.1, seed: 5 });
    const best: Record<string, string> = { a: 'a4', b: 'a1' };
    const before = JSON.stringify(p.getState());
    const rng = new Rng(2);
    for (let t = 0; t < 600; t++) {
      const seg = rng.next() < 0.5 ? 'a' : 'b';
      const c = p.choose(input(cands, `t${t}`, 'single', [{ user: { segment: seg } }]));
      p.learn(c.payload, 0, c.items[0]!.id === best[seg] ? 1 : 0);
    }
    expect(JSON.stringify(p.getState())).not.toBe(before);
    expect(p.updates).toBe(600);
    const greedy = new CbPolicy({ epsilon: 0, alpha: 0 });
    expect(greedy.setState(p.getState())).toBe(true);
    expect(greedy.choose(input(cands, 'x', 'single', [{ user: { segment: 'a' } }])).items[0]!.id).toBe('a4');
    expect(greedy.choose(input(cands, 'y', 'single', [{ user: { segment: 'b' } }])).items[0]!.id).toBe('a1');
    // Only the drawn action of a Rank call is learnable.
    const c = p.choose(input(cands, 'z', 'single'));
    expect(p.learn(c.payload, 1, 1)).toBe(false);
    expect(p.learn(null, 0, 1)).toBe(false);
  });

  it('rejects a bad exploration setting by name', () => {
    expect(() => new CbPolicy({ explore: 'boltzmann' as 'softmax' })).toThrow(/explore/);
    expect(() => new CbPolicy({ epsilon: 2 })).toThrow(/epsilon/);
    expect(() => new CbPolicy({ bits: 40 })).toThrow(/bits/);
  });
});
