import { describe, expect, it } from 'vitest';
import { contentPopularity } from '../../src/recommenders/coldstart.js';
import { Rng } from '../../src/util/rng.js';

/** The neighbour vote one warm item at a time, as contentPopularity first computed it. */
function reference(vectors: Float32Array, dim: number, pop: Float32Array, counts: Int32Array, k: number): Float32Array {
  const out = Float32Array.from(pop);
  const warm = Array.from(counts.keys()).filter((i) => counts[i]! > 0);
  const kk = Math.min(k, warm.length);
  for (let i = 0; i < counts.length; i++) {
    if (counts[i]! > 0) continue;
    let norm = 0;
    for (let m = 0; m < dim; m++) norm += vectors[i * dim + m]! ** 2;
    if (norm === 0) continue;
    const best: { s: number; p: number }[] = [];
    for (const j of warm) {
      let s = 0;
      for (let m = 0; m < dim; m++) s += vectors[i * dim + m]! * vectors[j * dim + m]!;
      // Stable: an equal similarity stays behind the ones already kept.
      let p = best.length;
      while (p > 0 && best[p - 1]!.s < s) p--;
      best.splice(p, 0, { s, p: pop[j]! });
      if (best.length > kk) best.pop();
    }
    let num = 0;
    let den = 0;
    for (const b of best) {
      const w = Math.max(0, b.s);
      num += w * b.p;
      den += w;
    }
    out[i] = den > 0 ? num / den : 0;
  }
  return out;
}

describe('contentPopularity', () => {
  it('matches the one-at-a-time neighbour vote bit for bit, ties included', () => {
    const rng = new Rng(8);
    const n = 203; // not a multiple of 4 warm items
    const dim = 3;
    // Coarse values: many equal similarities, so the order of equal neighbours matters.
    const vectors = Float32Array.from({ length: n * dim }, () => Math.round(rng.normal()));
    vectors.fill(0, 5 * dim, 6 * dim); // a cold item without text
    const counts = Int32Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 0 : 1 + (i % 3)));
    const pop = Float32Array.from({ length: n }, (_, i) => (i % 11) / 11);
    for (const k of [1, 3, 20, 500]) {
      const got = contentPopularity(vectors, dim, pop, counts, k);
      expect(Array.from(got)).toEqual(Array.from(reference(vectors, dim, pop, counts, k)));
    }
    // Cold items got a vote (not just their own popularity back).
    expect(contentPopularity(vectors, dim, pop, counts, 3)[10]).not.toBe(pop[10]);
  });
});
