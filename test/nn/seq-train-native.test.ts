/**
 * The native sampled-softmax item head (src/nn/native/seqtrain.c) against the JS head it replaces
 * (ItemHead with `native` false): the same loss and the same float32 bits in dH and the item
 * table's gradient, over several steps that accumulate into both, with accidental hits, repeated
 * targets and logits spread wide enough that exp underflows. Bit-identity is the point: the
 * sequence models' published figures were measured with the JS head.
 */
import { execFileSync } from 'node:child_process';
import { arch } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { emaStepKernel, Embedding, Gru, ItemHead, kernels, nativeKernels, ParamStore, sampledSoftmaxHeadKernel, setKernels } from '../../src/nn/index.js';
import { emaStepJs } from '../../src/recommenders/sequence.js';
import { Rng } from '../../src/util/rng.js';
import { loadChorusAddon, nativeAddonPath } from '../../src/util/native-addon.js';

const native = nativeKernels();
const initial = kernels();
const hasHead = (() => {
  if (!native) return false;
  setKernels(native);
  const ok = sampledSoftmaxHeadKernel() !== null;
  setKernels(initial);
  return ok;
})();
// `npm ci` builds the addon, so in CI a missing kernel fails instead of skipping the comparison.
const required = Boolean(process.env.CI);

afterEach(() => setKernels(initial));

/** Distinct negatives from [1, nTokens), seeded. */
function negativesOf(rng: Rng, n: number, nTokens: number): Int32Array {
  const pool = Int32Array.from({ length: nTokens - 1 }, (_, i) => i + 1);
  rng.shuffle(pool);
  return pool.slice(0, n);
}

describe('native sequence-training kernels', () => {
  it('is built', () => {
    if (required) expect(hasHead).toBe(true);
  });

  it.runIf(hasHead)('gives the JS head’s loss and gradients to the last bit', () => {
    setKernels(native!);
    for (const [nTokens, d, N, scale] of [
      [40, 8, 12, 1],
      [600, 64, 256, 0.3],
      [2000, 64, 1024, 4],
    ] as const) {
      const rng = new Rng(nTokens);
      const make = (useNative: boolean): { store: ParamStore; head: ItemHead } => {
        const store = new ParamStore();
        const emb = new Embedding(store, 'items', nTokens, d, 0.5);
        store.seal(new Rng(7));
        return { store, head: new ItemHead(emb.table, d, 'softmax', 1, useNative) };
      };
      const a = make(true);
      const b = make(false);
      const T = 30;
      const B = 9;
      const dHa = new Float32Array(B * T * d);
      const dHb = new Float32Array(B * T * d);
      for (let step = 0; step < 4; step++) {
        const H = Float32Array.from({ length: B * T * d }, () => rng.normal() * scale);
        // Zero states: every logit of the row is the same (+0), so the max ties in every lane.
        if (step === 3) H.fill(0, 0, 6 * d);
        // Some padded positions are skipped; targets repeat, and some are among the negatives.
        const rows = Int32Array.from({ length: B * T }, (_, i) => i).filter((i) => i % 7 !== 3);
        const negatives = negativesOf(rng, N, nTokens);
        const targets = Int32Array.from(rows, (_, i) => (i % 5 === 0 ? negatives[i % N]! : 1 + rng.int(Math.min(nTokens - 1, 50))));
        const P = rows.length;
        const la = a.head.lossAndGrad(H, dHa, rows, targets, P, negatives, nTokens);
        const lb = b.head.lossAndGrad(H, dHb, rows, targets, P, negatives, nTokens);
        expect(la).toBe(lb);
        expect(Number.isFinite(la)).toBe(true);
        expect(Buffer.from(dHa.buffer).equals(Buffer.from(dHb.buffer))).toBe(true);
        expect(Buffer.from(a.store.grads.buffer).equals(Buffer.from(b.store.grads.buffer))).toBe(true);
      }
      // The comparison is not vacuous: gradients flowed.
      expect(a.store.grads.some((g) => g !== 0)).toBe(true);
      expect(dHa.some((g) => g !== 0)).toBe(true);
    }
  });

  it.runIf(hasHead)('sums exp(logit − max) with Math.exp’s exact values (fdlibm, as V8)', () => {
    // The float32 gradients hide a last-bit difference of exp; the per-row sums in `stats` do not
    // (glibc's exp differs from V8's in about 10 % of last bits: built with it, this test fails).
    setKernels(native!);
    const head = sampledSoftmaxHeadKernel()!;
    const rng = new Rng(3);
    const nTokens = 500;
    const d = 16;
    const P = 40;
    const E = Float32Array.from({ length: nTokens * d }, () => rng.normal());
    const H = Float32Array.from({ length: P * d }, () => rng.normal() * 0.7);
    const rows = Int32Array.from({ length: P }, (_, i) => i);
    const negatives = negativesOf(rng, 300, nTokens);
    const targets = Int32Array.from({ length: P }, () => 1 + rng.int(nTokens - 1));
    const stats = new Float64Array(3 * P);
    const N = negatives.length;
    head(H, new Float32Array(P * d), rows, targets, P, negatives, E, new Float32Array(E.length), d, nTokens, new Float32Array(2 * P * d + 2 * N * d + 2 * P * (N + 1)), new Int32Array(nTokens), stats);
    // The logits as the head computes them (the same GEMM), then the sums in JS.
    const negEmb = new Float32Array(N * d);
    for (let n = 0; n < N; n++) negEmb.set(E.subarray(negatives[n]! * d, negatives[n]! * d + d), n * d);
    const logits = new Float32Array(P * N);
    native!.sgemm(false, true, P, N, d, 1, H, d, negEmb, d, 0, logits, N);
    for (let p = 0; p < P; p++) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += H[p * d + j]! * E[targets[p]! * d + j]!;
      const row = [Math.fround(dot), ...Array.from(logits.subarray(p * N, p * N + N))];
      const hit = negatives.indexOf(targets[p]!);
      const kept = row.filter((_, c) => c !== hit + 1);
      const mx = Math.max(...kept);
      let sum = 0;
      for (const v of row) sum += Math.exp(v - mx);
      if (hit >= 0) sum -= Math.fround(Math.exp(row[hit + 1]! - mx));
      expect(stats[3 * p]).toBe(mx);
      expect(stats[3 * p + 1]).toBe(sum);
      expect(stats[3 * p + 2]).toBe(row[0]);
    }
  });

  it.runIf(hasHead)('rejects a target or row outside its arrays instead of reading past them', () => {
    setKernels(native!);
    const head = sampledSoftmaxHeadKernel()!;
    const d = 4;
    const E = new Float32Array(10 * d);
    const args = (rows: number[], targets: number[]): Parameters<typeof head> => [
      new Float32Array(3 * d),
      new Float32Array(3 * d),
      Int32Array.from(rows),
      Int32Array.from(targets),
      rows.length,
      Int32Array.from([1, 2]),
      E,
      new Float32Array(E.length),
      d,
      10,
      new Float32Array(1000),
      new Int32Array(10),
      new Float64Array(30),
    ];
    expect(() => head(...args([0, 1], [3, 4]))).not.toThrow();
    // A stray column in negCol at a target that is no negative is ignored, not used as an index.
    const clean = args([0, 1], [3, 4]);
    head(...clean);
    const dirty = args([0, 1], [3, 4]);
    dirty[11][3] = 50_000_000;
    dirty[11][4] = 2;
    head(...dirty);
    expect(Array.from(dirty[12])).toEqual(Array.from(clean[12]));
    expect(() => head(...args([0, 3], [3, 4]))).toThrow(/out of range/);
    expect(() => head(...args([0, 1], [3, 10]))).toThrow(/out of range/);
    // The integer arguments: P, d and nTokens must be whole numbers in range.
    for (const [at, v] of [[4, 1.5], [4, -1], [8, 0], [8, 2.5], [9, 0], [9, 2 ** 31]] as const) {
      const bad = args([0, 1], [3, 4]) as unknown[];
      bad[at] = v;
      expect(() => (head as (...a: unknown[]) => void)(...bad)).toThrow(/must be integers/);
    }
  });

  it.runIf(hasHead)('weight-average step: the JS loop’s bits', () => {
    setKernels(native!);
    const ema = emaStepKernel()!;
    const rng = new Rng(4);
    for (const n of [1, 7, 1003]) {
      const params = Float32Array.from({ length: n }, () => rng.normal());
      const a = Float32Array.from({ length: n }, () => rng.normal());
      const b = Float32Array.from(a);
      for (const beta of [0.1, 0.5, 0.998, 1 / 3]) {
        ema(a, params, beta);
        emaStepJs(b, params, beta);
        expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
      }
    }
    expect(() => ema(new Float32Array(3), new Float32Array(4), 0.5)).toThrow(/length/);
  });

  it.runIf(hasHead)('GRU forward and backward: the JS loops’ bits, padding and saturated gates included', () => {
    setKernels(native!);
    for (const [inDim, d, scale] of [
      [6, 10, 1],
      [64, 64, 0.5],
      [8, 12, 400],
    ] as const) {
      const make = (useNative: boolean): { store: ParamStore; gru: Gru } => {
        const store = new ParamStore();
        const gru = new Gru(store, 'g', inDim, d, useNative);
        store.seal(new Rng(11));
        return { store, gru };
      };
      const a = make(true);
      const b = make(false);
      const rng = new Rng(d);
      const B = 5;
      const T = 9;
      const start = Int32Array.from([0, 3, 8, 1, 0]);
      for (let rep = 0; rep < 2; rep++) {
        // Scale 400 drives pre-activations past ±709, where exp leaves the vector path.
        const x = Float32Array.from({ length: B * T * inDim }, () => rng.normal() * scale);
        const ha = a.gru.forward(x, B, T, start);
        const hb = b.gru.forward(x, B, T, start);
        expect(Buffer.from(ha.buffer, 0, B * T * d * 4).equals(Buffer.from(hb.buffer, 0, B * T * d * 4))).toBe(true);
        expect(ha.subarray(0, B * T * d).some((v) => v !== 0)).toBe(true);
        // Backward reads the saved gates: equal gradients mean equal gates and recurrent pre-activations.
        const r = Float32Array.from({ length: B * T * d }, () => rng.normal());
        a.store.zeroGrad();
        b.store.zeroGrad();
        const dxa = Float32Array.from(a.gru.backward(r).subarray(0, B * T * inDim));
        const dxb = Float32Array.from(b.gru.backward(r).subarray(0, B * T * inDim));
        expect(Buffer.from(dxa.buffer).equals(Buffer.from(dxb.buffer))).toBe(true);
        expect(Buffer.from(a.store.grads.buffer).equals(Buffer.from(b.store.grads.buffer))).toBe(true);
      }
    }
  });

  it.runIf(hasHead)('exp, tanh and expm1 equal V8’s Math functions bit for bit', () => {
    const addon = loadChorusAddon() as unknown as { fdlibmMath: (op: number, x: Float64Array, out: Float64Array) => void };
    const rng = new Rng(19);
    const n = 400_000;
    // Softmax's range, the gates' range, the edges of each branch, tiny and huge values.
    const spans = [30, 2, 1.5, 0.4, 1e-7, 1e-17, 60, 1500];
    const x = Float64Array.from({ length: n }, (_, i) => (rng.next() - 0.5) * 2 * spans[i % spans.length]!);
    x.set([0, -0, 1, -1, 709.78, -708.5, -745.2, Infinity, -Infinity, NaN, 22, -22, 56 * Math.LN2], 0);
    const out = new Float64Array(n);
    for (const [op, ref] of [
      [0, Math.exp],
      [1, Math.exp],
      [2, Math.tanh],
      [3, Math.expm1],
    ] as const) {
      addon.fdlibmMath(op, x, out);
      let bad = 0;
      for (let i = 0; i < n; i++) if (!Object.is(out[i], ref(x[i]!))) bad++;
      expect(bad, `op ${op}`).toBe(0);
    }
  });

  // The float32 outputs above round most last-bit differences away, so a fused multiply-add in the
  // gate arithmetic could slip past them; the build must contain none in these kernels (the
  // file's fp-contract pragma). Checked on the machine code itself, where objdump can read it.
  it.runIf(hasHead && arch() === 'x64')('the kernels contain no fused multiply-add (fp-contract off held)', () => {
    let dump: string;
    try {
      dump = execFileSync('objdump', ['-d', '--no-show-raw-insn', nativeAddonPath()!], { encoding: 'utf8', maxBuffer: 256 << 20 });
    } catch (e) {
      if (required) throw e;
      return;
    }
    const kernels = /^[0-9a-f]+ <(exp_shifted|softmax_row|gru_forward|gru_backward|ema_step|sampled_softmax_head|math_ops|fdlibm_\w+)[.>]/;
    const fused: string[] = [];
    let current: string | null = null;
    let seen = 0;
    for (const line of dump.split('\n')) {
      if (/^[0-9a-f]+ </.test(line)) {
        current = kernels.test(line) ? line : null;
        if (current) seen++;
      } else if (current && /\bvf(n)?m(add|sub)/.test(line)) fused.push(`${current}: ${line.trim()}`);
    }
    expect(seen).toBeGreaterThanOrEqual(8);
    expect(fused).toEqual([]);
  });
});
