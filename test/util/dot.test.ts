import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scoreAllFactors, scoreAllFactorsJs, scoreAllFactorsNaive, scoreBackend, scoreRows, setScoreBackend } from '../../src/util/dot.js';
import { loadChorusAddon } from '../../src/util/native-addon.js';
import { Rng } from '../../src/util/rng.js';

function data(nItems: number, dim: number, seed: number) {
  const rng = new Rng(seed);
  const items = Float32Array.from({ length: nItems * dim }, () => rng.normal());
  const user = Float32Array.from({ length: dim }, () => rng.normal());
  const bias = Float32Array.from({ length: nItems }, () => rng.normal());
  return { items, user, bias };
}

// Every test below runs once per available backend: the JS kernel always, the addon when built.
const built = typeof loadChorusAddon()?.scoreRows === 'function';
// CHORUS_NN_BACKEND=js keeps 'auto' on the JS kernel even when the addon is built.
const hasNative = process.env.CHORUS_NN_BACKEND !== 'js' && built;
const backends: ('js' | 'native')[] = hasNative ? ['js', 'native'] : ['js'];
// `npm ci` builds the addon, so in CI (CI set) the native comparison runs whatever was found, and
// a missing addon fails it (setScoreBackend('native') throws) instead of skipping it.
const nativeRequired = Boolean(process.env.CI);
afterAll(() => void setScoreBackend('auto'));

describe('score backend selection', () => {
  it('uses the native scorer by default exactly when the addon is built (and not turned off)', () => {
    expect(setScoreBackend('auto')).toBe(hasNative ? 'native' : 'js');
    expect(setScoreBackend('js')).toBe('js');
    if (built) expect(setScoreBackend('native')).toBe('native');
    else expect(() => setScoreBackend('native')).toThrow(/not built/);
    setScoreBackend('auto');
  });

  it.runIf(hasNative || nativeRequired)('native scores equal the JS oracle within float32 tolerance on a serving-sized matrix', () => {
    const { items, user, bias } = data(10_000, 65, 77);
    const want = scoreAllFactorsJs(user, items, 10_000, 65, new Float32Array(10_000), 0.1, bias);
    setScoreBackend('native');
    const got = scoreAllFactors(user, items, 10_000, 65, new Float32Array(10_000), 0.1, bias);
    setScoreBackend('auto');
    let worst = 0;
    for (let i = 0; i < 10_000; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
    // Sums of 65 unit-normal products (|s| ~ 8): float32 rounding gives ~1e-6 relative.
    expect(worst).toBeLessThan(1e-5);
  });
});

describe.each(backends)('scoreAllFactors (%s)', (backend) => {
  beforeAll(() => void setScoreBackend(backend));
  it('runs on the requested backend', () => expect(scoreBackend()).toBe(backend));

  // Item counts around the 4-item block (tails of 0..3) and dims that are not multiples of 4.
  for (const [nItems, dim] of [[0, 3], [1, 1], [3, 5], [4, 4], [7, 65], [130, 17], [1001, 64]] as const) {
    it(`matches the plain loop for ${nItems} items × ${dim} dims`, () => {
      const { items, user, bias } = data(nItems, dim, nItems * 31 + dim);
      const want = scoreAllFactorsNaive(user, items, nItems, dim, new Float32Array(nItems));
      const got = scoreAllFactors(user, items, nItems, dim, new Float32Array(nItems).fill(NaN));
      for (let i = 0; i < nItems; i++) expect(got[i]).toBeCloseTo(want[i]!, 4);
      const wantB = scoreAllFactorsNaive(user, items, nItems, dim, new Float32Array(nItems), 0.5, bias);
      const gotB = scoreAllFactors(user, items, nItems, dim, new Float32Array(nItems), 0.5, bias);
      for (let i = 0; i < nItems; i++) expect(gotB[i]).toBeCloseTo(wantB[i]!, 4);
    });
  }

  it('accepts a Float64Array user and a larger dim than before (scratch grows), and writes only nItems', () => {
    const { items, user } = data(9, 200, 5);
    const u64 = Float64Array.from(user);
    const out = new Float32Array(10).fill(-7);
    scoreAllFactors(u64, items, 9, 200, out);
    const want = scoreAllFactorsNaive(user, items, 9, 200, new Float32Array(9));
    for (let i = 0; i < 9; i++) expect(out[i]).toBeCloseTo(want[i]!, 3);
    expect(out[9]).toBe(-7);
  });

  it('scoreRows scores a subset of rows in the given order', () => {
    const { items, user, bias } = data(50, 13, 9);
    const all = scoreAllFactorsNaive(user, items, 50, 13, new Float32Array(50), 1, bias);
    const rows = Int32Array.from([49, 0, 17, 17, 3]);
    const got = scoreRows(user, items, rows, 13, new Float32Array(rows.length), 1, bias);
    rows.forEach((r, c) => expect(got[c]).toBeCloseTo(all[r]!, 4));
  });
});
