import { describe, expect, it } from 'vitest';
import { exploreSlate } from '../../src/agents/explore.js';
import { RidgeStats } from '../../src/agents/ridge-stats.js';
import { Rng } from '../../src/util/rng.js';

describe('exploreSlate', () => {
  it('swaps a position with probability ε for an item outside the slate, with exact propensities', () => {
    const rng = new Rng(3);
    const eps = 0.3;
    const n = 20;
    let swapped = 0;
    const positions = 4000 * 4;
    for (let r = 0; r < 4000; r++) {
      const items = Int32Array.of(0, 1, 2, 3);
      const prop = new Float32Array(4);
      exploreSlate(rng, eps, items, prop, n - 4, () => {
        let i: number;
        do i = rng.int(n);
        while (items.includes(i));
        return i;
      });
      expect(new Set(items).size).toBe(4);
      for (let p = 0; p < 4; p++) {
        if (items[p] === p) expect(prop[p]).toBeCloseTo(1 - eps, 6);
        else (swapped++, expect(prop[p]).toBeCloseTo(eps / (n - 4), 6));
      }
    }
    expect(swapped / positions).toBeGreaterThan(eps - 0.02);
    expect(swapped / positions).toBeLessThan(eps + 0.02);
  });

  it('with nothing spare keeps the slate, gives propensity 1 and draws no random number', () => {
    const rng = new Rng(5);
    const twin = new Rng(5);
    const items = Int32Array.of(4, 2);
    const prop = new Float32Array(2);
    exploreSlate(rng, 0.9, items, prop, 0, () => {
      throw new Error('nothing to draw');
    });
    expect([...items]).toEqual([4, 2]);
    expect([...prop]).toEqual([1, 1]);
    expect(rng.next()).toBe(twin.next());
  });
});

describe('RidgeStats', () => {
  it('starts at the prior mean and reaches the ridge solution (XᵀX + λI)⁻¹(Xᵀy + λθ₀)', () => {
    const prior = Float64Array.of(0.5, -1);
    const s = new RidgeStats(2, 2, prior);
    expect([...s.theta]).toEqual([0.5, -1]);
    const rows = [
      [1, 0],
      [1, 1],
      [0, 2],
    ];
    const ys = [1, 2, -1];
    rows.forEach((x, k) => s.add(x, ys[k]!));
    s.refresh();
    // A = XᵀX + 2I = [[4, 1], [1, 7]], b = Xᵀy + 2θ₀ = [4, -2]; θ = A⁻¹b.
    const det = 4 * 7 - 1;
    expect(s.theta[0]).toBeCloseTo((7 * 4 - 1 * -2) / det, 12);
    expect(s.theta[1]).toBeCloseTo((-1 * 4 + 4 * -2) / det, 12);
  });
});
