import { describe, expect, it } from 'vitest';
import { Adam } from '../../src/nn/adam.js';
import { kernels } from '../../src/nn/kernels.js';
import { Rng } from '../../src/util/rng.js';

/** One clipped step as Adam first wrote it: the norm over every gradient value, then every value scaled. */
function referenceStep(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, t: number, lr: number, maxGradNorm: number): void {
  let s = 0;
  for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  const norm = Math.sqrt(s);
  if (norm > maxGradNorm) {
    const f = maxGradNorm / norm;
    for (let i = 0; i < g.length; i++) g[i]! *= f;
  }
  kernels().adam(p, g, m, v, lr, 0.9, 0.999, 1e-8, 1 - 0.9 ** t, 1 - 0.999 ** t);
}

describe('Adam with gradient clipping', () => {
  it('gives the parameters of the dense norm and scaling, bit for bit, on mostly-zero gradients', () => {
    const rng = new Rng(4);
    const n = 5000;
    const p = Float32Array.from({ length: n }, () => rng.normal());
    const q = Float32Array.from(p);
    const adam = new Adam(p, new Float32Array(n), { lr: 0.01, maxGradNorm: 0.5 });
    const m = new Float32Array(n);
    const v = new Float32Array(n);
    for (let t = 1; t <= 5; t++) {
      // Rows of 50 values, most untouched (0), a few −0, the rest large enough to be clipped.
      const g = new Float32Array(n);
      for (let r = 0; r < n / 50; r++) if (rng.next() < 0.1) for (let j = 0; j < 50; j++) g[r * 50 + j] = rng.next() < 0.1 ? -0 : rng.normal();
      const g2 = Float32Array.from(g);
      expect(Math.hypot(...g)).toBeGreaterThan(0.5); // the clip is active
      (adam as unknown as { grads: Float32Array }).grads.set(g);
      adam.step();
      referenceStep(q, g2, m, v, t, 0.01, 0.5);
      expect(Buffer.from(p.buffer).equals(Buffer.from(q.buffer))).toBe(true);
    }
  });

  it('with sparse rows reads only the marked rows of the block, and gives the dense result', () => {
    const rng = new Rng(6);
    const width = 8;
    const rows = 40;
    const offset = 24; // a dense block before the table, another after it
    const n = offset + rows * width + 16;
    const p = Float32Array.from({ length: n }, () => rng.normal());
    const q = Float32Array.from(p);
    const dense = new Adam(q, new Float32Array(n), { lr: 0.01, maxGradNorm: 1 });
    const sparse = new Adam(p, new Float32Array(n), { lr: 0.01, maxGradNorm: 1 });
    const touched = new Uint8Array(rows);
    for (let t = 0; t < 4; t++) {
      const g = Float32Array.from({ length: n }, () => rng.normal());
      touched.fill(0);
      for (let r = 0; r < rows; r++) {
        if (rng.next() < 0.2) touched[r] = 1;
        else g.fill(0, offset + r * width, offset + (r + 1) * width);
      }
      touched[rows - 1] = 1; // adjacent to the dense block after it
      (dense as unknown as { grads: Float32Array }).grads.set(g);
      (sparse as unknown as { grads: Float32Array }).grads.set(g);
      dense.step();
      sparse.step({ offset, width, rows, touched });
      expect(Buffer.from(p.buffer).equals(Buffer.from(q.buffer))).toBe(true);
    }
    // The hint is honoured: a gradient left in an unmarked row is not clipped (nor counted).
    const g = (sparse as unknown as { grads: Float32Array }).grads;
    g.fill(0);
    g[offset + 3 * width] = 100; // row 3, unmarked
    g[0] = 100;
    touched.fill(0);
    sparse.step({ offset, width, rows, touched });
    expect(g[offset + 3 * width]).toBe(100);
    expect(g[0]).toBeCloseTo(1, 6);
    expect(() => sparse.step({ offset, width, rows: rows + 3, touched })).toThrow(/sparse rows/);
  });
});
