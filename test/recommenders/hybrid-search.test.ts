import { describe, expect, it } from 'vitest';
import { simplexGrid } from '../../src/recommenders/hybrid.js';
import { WeightGridSearch } from '../../src/recommenders/hybrid-search.js';
import { listNdcg } from '../../src/recommenders/validation-ndcg.js';
import { Rng } from '../../src/util/rng.js';
import { topK } from '../../src/util/topk.js';

interface User {
  contrib: Float32Array[];
  seen: Int32Array;
  relevant: Int32Array;
}

/**
 * The weight search as the hybrid first wrote it: for every grid vector, for every user, fuse all
 * members over all items and rank the unmasked ones. The oracle the fast search must match bit for bit.
 */
function reference(users: User[], warm: Uint8Array, grid: Float64Array[], k: number): { sums: number[]; best: { weights: Float64Array; ndcg: number } } {
  const n = warm.length;
  const fused = new Float32Array(n);
  const mask = new Uint8Array(n);
  const truth = new Uint8Array(n);
  const sums: number[] = [];
  let best: { weights: Float64Array; ndcg: number } = { weights: new Float64Array(0), ndcg: -1 };
  for (const w of grid) {
    let sum = 0;
    for (const u of users) {
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let m = 0; m < w.length; m++) s += w[m]! * u.contrib[m]![i]!;
        fused[i] = s;
      }
      for (let i = 0; i < n; i++) mask[i] = warm[i] ? 0 : 1;
      for (const i of u.seen) mask[i] = 1;
      let nTruth = 0;
      for (const i of u.relevant) if (!truth[i]) ((truth[i] = 1), nTruth++);
      sum += listNdcg(topK(fused, k, mask).items, truth, nTruth, k);
      for (const i of u.relevant) truth[i] = 0;
    }
    sums.push(sum);
    const ndcg = users.length > 0 ? sum / users.length : 0;
    if (ndcg > best.ndcg) best = { weights: w, ndcg };
  }
  return { sums, best };
}

function fast(users: User[], warm: Uint8Array, grid: Float64Array[], k: number): { sums: number[]; best: { weights: Float64Array; ndcg: number } } {
  const n = warm.length;
  const search = new WeightGridSearch(grid, grid[0]!.length, n, k);
  for (const u of users) {
    const mask = new Uint8Array(n);
    for (let i = 0; i < n; i++) mask[i] = warm[i] ? 0 : 1;
    for (const i of u.seen) mask[i] = 1;
    const cand = Int32Array.from({ length: n }, (_, i) => i).filter((i) => !mask[i]);
    search.addUser(u.contrib, cand, u.relevant);
  }
  return { sums: Array.from(search.sums), best: search.best({ weights: new Float64Array(0), ndcg: -1 }) };
}

/** Users whose contributions are coarse (many exact ties), with some exact zeros and negative zeros. */
function randomUsers(rng: Rng, nUsers: number, M: number, n: number, special: (m: number, i: number) => number | null): User[] {
  return Array.from({ length: nUsers }, () => {
    const contrib = Array.from({ length: M }, (_, m) =>
      Float32Array.from({ length: n }, (_, i) => special(m, i) ?? (rng.next() < 0.2 ? (rng.next() < 0.5 ? 0 : -0) : Math.round(rng.normal() * 4) / 4 + rng.normal() * 1e-3 * m)),
    );
    const seen = Int32Array.from({ length: 1 + rng.int(8) }, () => rng.int(n));
    const relevant = Int32Array.from({ length: 1 + rng.int(6) }, () => rng.int(n));
    return { contrib, seen, relevant };
  });
}

describe('WeightGridSearch', () => {
  it('gives the NDCG sums and the choice of the full fusion, bit for bit', () => {
    const rng = new Rng(5);
    const n = 300;
    const warm = Uint8Array.from({ length: n }, () => (rng.next() < 0.9 ? 1 : 0));
    const grid = simplexGrid(5, 0.25);
    const users = randomUsers(rng, 40, 5, n, () => null);
    const want = reference(users, warm, grid, 10);
    const got = fast(users, warm, grid, 10);
    expect(got.sums).toEqual(want.sums);
    expect(got.best.ndcg).toBe(want.best.ndcg);
    expect(got.best.weights).toBe(want.best.weights);
    // Not a degenerate case: the vectors score differently.
    expect(new Set(want.sums).size).toBeGreaterThan(10);
  });

  it('fuses every member for a user with a non-finite contribution (0 · ∞ is NaN in the full fusion)', () => {
    const rng = new Rng(9);
    const n = 120;
    const warm = new Uint8Array(n).fill(1);
    const grid = simplexGrid(3, 0.5);
    // Member 2 scores item 7 +∞ and item 9 NaN: vectors with weight 0 on member 2 make those NaN too,
    // which drops them from the ranking. Both are relevant and the other members rank them first,
    // so a fusion that skipped the zero-weight member would rank them and score higher.
    const users = randomUsers(rng, 12, 3, n, (m, i) =>
      i === 7 || i === 9 ? (m !== 2 ? 10 : i === 7 ? Infinity : NaN) : null,
    ).map((u) => ({ ...u, seen: u.seen.filter((i) => i !== 7 && i !== 9), relevant: Int32Array.from([...u.relevant, 7, 9]) }));
    const want = reference(users, warm, grid, 5);
    const got = fast(users, warm, grid, 5);
    expect(got.sums).toEqual(want.sums);
    expect(got.best.weights).toBe(want.best.weights);
  });

  it('with no users keeps the first vector at NDCG 0', () => {
    const grid = simplexGrid(2, 0.5);
    const got = fast([], new Uint8Array(4).fill(1), grid, 3);
    expect(got.best.weights).toBe(grid[0]);
    expect(got.best.ndcg).toBe(0);
  });
});
