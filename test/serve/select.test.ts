import { describe, expect, it } from 'vitest';
import { LinUcb } from '../../src/serve/linucb.js';
import { selectPool } from '../../src/serve/select.js';
import { Rng } from '../../src/util/rng.js';
import { topK } from '../../src/util/topk.js';

describe('selectPool', () => {
  it('returns exactly what topK returns (order, ties, mask, -Infinity and NaN skipped)', () => {
    const rng = new Rng(11);
    for (const [n, k] of [[0, 5], [3, 5], [50, 1], [1000, 30], [1000, 30], [257, 0], [10_000, 30]] as const) {
      // Coarse scores so that ties happen; some masked, some -Infinity / NaN.
      const scores = Float32Array.from({ length: n }, () => Math.round(rng.normal() * 4) / 4);
      const mask = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const r = rng.next();
        if (r < 0.05) mask[i] = 1;
        else if (r < 0.07) scores[i] = -Infinity;
        else if (r < 0.09) scores[i] = NaN;
      }
      const want = topK(scores, k, mask);
      const got = selectPool(scores, k, mask);
      expect(Array.from(got.items)).toEqual(Array.from(want.items));
      expect(Array.from(got.scores)).toEqual(Array.from(want.scores));
    }
  });

  it('keeps fewer than k when fewer items are eligible', () => {
    const got = selectPool(Float32Array.of(1, NaN, 3, 2), 3, Uint8Array.of(0, 0, 0, 1));
    expect(Array.from(got.items)).toEqual([2, 0]);
  });
});

describe('LinUcb.evaluate (sparse quadratic form)', () => {
  it('equals the dense xᵀA⁻¹x and θᵀx after learning, for sparse and dense rows', () => {
    const rng = new Rng(4);
    const d = 24;
    const bandit = new LinUcb(d, { alpha: 0.3, lambda: 2 });
    const row = (density: number) => Float32Array.from({ length: d }, () => (rng.next() < density ? rng.normal() : 0));
    for (let t = 0; t < 40; t++) bandit.observe(row(0.3), 0, rng.normal());
    for (const density of [0, 0.1, 0.3, 1]) {
      const x = row(density);
      const buf = new Float32Array(d + 3);
      buf.set(x, 3);
      const e = bandit.evaluate(buf, 3);
      let mean = 0;
      let q = 0;
      for (let i = 0; i < d; i++) {
        mean += bandit.theta[i]! * x[i]!;
        let r = 0;
        for (let j = 0; j < d; j++) r += bandit.ainv[i * d + j]! * x[j]!;
        q += x[i]! * r;
      }
      expect(e.mean).toBeCloseTo(mean, 12);
      expect(e.bonus).toBeCloseTo(Math.sqrt(Math.max(0, q)), 12);
    }
  });
});
