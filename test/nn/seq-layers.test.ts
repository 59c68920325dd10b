import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  binaryCrossEntropy,
  bprMax,
  CausalSelfAttention,
  Dropout,
  Embedding,
  encodeHistory,
  Gru,
  GruEncoder,
  ItemHead,
  jsKernels,
  kernels,
  LayerNorm,
  Linear,
  ParamStore,
  PositionalEmbedding,
  SasRecEncoder,
  setKernels,
  softmaxCrossEntropy,
  type Kernels,
  type SequenceEncoder,
} from '../../src/nn/index.js';
import { Rng } from '../../src/util/rng.js';

// Finite differences in float32 need the deterministic JS kernels; the native GEMM is compared
// against them in test/nn/kernels.test.ts.
let prev: Kernels;
beforeAll(() => {
  prev = kernels();
  setKernels(jsKernels);
});
afterAll(() => setKernels(prev));

const EPS = 3e-3;

function randn(rng: Rng, n: number, s = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * s);
}

function dot(a: Float32Array, b: Float32Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * Compare the analytic gradient `ana` of `loss` with respect to `x` against central differences
 * at `count` indices spread over x (all of them when x is small). Returns how many were checked.
 */
function expectGradient(label: string, x: Float32Array, ana: Float32Array, loss: () => number, rng: Rng, count = 24): number {
  const idx = x.length <= count ? [...x.keys()] : Array.from({ length: count }, () => rng.int(x.length));
  let worst = 0;
  for (const i of idx) {
    const old = x[i]!;
    x[i] = old + EPS;
    const lp = loss();
    x[i] = old - EPS;
    const lm = loss();
    x[i] = old;
    const num = (lp - lm) / (2 * EPS);
    const err = Math.abs(num - ana[i]!) / Math.max(1, Math.abs(num), Math.abs(ana[i]!));
    worst = Math.max(worst, err);
    if (err > 2e-2) throw new Error(`${label}[${i}]: numeric ${num}, analytic ${ana[i]}`);
  }
  expect(worst, label).toBeLessThan(2e-2);
  return idx.length;
}

describe('sequence layers: gradients against finite differences', () => {
  it('Linear (linear and ReLU)', () => {
    for (const act of ['linear', 'relu'] as const) {
      const rng = new Rng(1);
      const store = new ParamStore();
      const lin = new Linear(store, 'l', 5, 4, act);
      store.seal(rng);
      const rows = 6;
      const x = randn(rng, rows * 5);
      const r = randn(rng, rows * 4);
      const loss = (): number => dot(lin.forward(x, rows), r, rows * 4);
      loss();
      store.zeroGrad();
      const dx = Float32Array.from(lin.backward(r).subarray(0, rows * 5));
      expectGradient(`${act} dx`, x, dx, loss, rng);
      expectGradient(`${act} params`, store.params, Float32Array.from(store.grads), loss, rng, 48);
    }
  });

  it('LayerNorm', () => {
    const rng = new Rng(2);
    const store = new ParamStore();
    const ln = new LayerNorm(store, 'ln', 6);
    store.seal(rng);
    for (let i = 0; i < store.params.length; i++) store.params[i]! += rng.normal() * 0.3;
    const rows = 5;
    const x = randn(rng, rows * 6, 2);
    const r = randn(rng, rows * 6);
    const loss = (): number => dot(ln.forward(x, rows), r, rows * 6);
    loss();
    store.zeroGrad();
    const dx = Float32Array.from(ln.backward(r).subarray(0, rows * 6));
    expectGradient('dx', x, dx, loss, rng);
    expectGradient('gamma/beta', store.params, Float32Array.from(store.grads), loss, rng);
  });

  it('Dropout (a fixed seed fixes the mask)', () => {
    const rng = new Rng(3);
    const n = 40;
    const x = randn(rng, n);
    const r = randn(rng, n);
    const loss = (): number => dot(new Dropout(0.3, new Rng(99)).forward(x, n, true), r, n);
    const d = new Dropout(0.3, new Rng(99));
    d.forward(x, n, true);
    const dx = Float32Array.from(d.backward(r).subarray(0, n));
    expectGradient('dx', x, dx, loss, rng, n);
  });

  it('Embedding with padding, and positional embedding', () => {
    const rng = new Rng(4);
    const store = new ParamStore();
    const emb = new Embedding(store, 'e', 6, 3, 0.5);
    const pos = new PositionalEmbedding(store, 'p', 4, 3);
    store.seal(rng);
    emb.clearPadding();
    const B = 2;
    const T = 4;
    const tokens = Int32Array.from([0, 0, 3, 5, 1, 2, 2, 4]);
    const start = Int32Array.from([2, 0]);
    const r = randn(rng, B * T * 3);
    const loss = (): number => {
      const y = emb.forward(tokens, B * T, 1.7);
      pos.addTo(y, B, T, start);
      return dot(y, r, B * T * 3);
    };
    loss();
    store.zeroGrad();
    emb.backward(r, 1.7);
    pos.backward(r, B, T, start);
    // The padding row gets no gradient, and padded positions get no positional vector.
    expect(Array.from(emb.table.g.subarray(0, 3))).toEqual([0, 0, 0]);
    const y = emb.forward(tokens, B * T, 1.7);
    pos.addTo(y, B, T, start);
    expect(Array.from(y.subarray(0, 6))).toEqual([0, 0, 0, 0, 0, 0]);
    expectGradient('params', store.params.subarray(3), Float32Array.from(store.grads.subarray(3)), loss, rng, 60);
  });

  it('CausalSelfAttention (2 heads, left padding)', () => {
    const rng = new Rng(5);
    const store = new ParamStore();
    const att = new CausalSelfAttention(store, 'a', 8, 2, 0, rng);
    store.seal(rng);
    const B = 2;
    const T = 5;
    const start = Int32Array.from([2, 0]);
    const x = randn(rng, B * T * 8);
    const r = randn(rng, B * T * 8);
    // Padding rows' outputs are never used; leave them out of the loss as the models do.
    for (let t = 0; t < start[0]!; t++) r.fill(0, t * 8, t * 8 + 8);
    const loss = (): number => dot(att.forward(x, B, T, start, false), r, B * T * 8);
    loss();
    store.zeroGrad();
    const dx = Float32Array.from(att.backward(r).subarray(0, B * T * 8));
    expectGradient('dx', x, dx, loss, rng, 40);
    expectGradient('params', store.params, Float32Array.from(store.grads), loss, rng, 60);
  });

  it('GRU (left padding)', () => {
    const rng = new Rng(6);
    const store = new ParamStore();
    const gru = new Gru(store, 'g', 4, 5);
    store.seal(rng);
    const B = 3;
    const T = 4;
    const start = Int32Array.from([0, 1, 3]);
    const x = randn(rng, B * T * 4);
    const r = randn(rng, B * T * 5);
    const loss = (): number => dot(gru.forward(x, B, T, start), r, B * T * 5);
    loss();
    store.zeroGrad();
    const dx = Float32Array.from(gru.backward(r).subarray(0, B * T * 4));
    expectGradient('dx', x, dx, loss, rng, 48);
    expectGradient('params', store.params, Float32Array.from(store.grads), loss, rng, 80);
    // Padding steps hold the zero state.
    const h = gru.forward(x, B, T, start);
    expect(Array.from(h.subarray((1 * T + 0) * 5, (1 * T + 1) * 5)).every((v) => v === 0)).toBe(true);
  });

  it('losses: sampled softmax (with an accidental hit), full softmax, BCE, BPR-max', () => {
    const rng = new Rng(7);
    const P = 3;
    const C = 5;
    const logits = randn(rng, P * C, 1.5);
    const skip = Int32Array.from([-1, 3, -1]);
    const target = Int32Array.from([2, 0, 4]);
    const grad = new Float32Array(P * C);
    const cases: [string, () => number][] = [
      ['softmax', () => softmaxCrossEntropy(logits, P, C, null, skip, grad)],
      ['full softmax', () => softmaxCrossEntropy(logits, P, C, target, null, grad)],
      ['bce', () => binaryCrossEntropy(logits, P, C, skip, grad)],
      ['bpr-max', () => bprMax(logits, P, C, skip, 0.5, grad)],
    ];
    for (const [label, f] of cases) {
      f();
      const ana = Float32Array.from(grad);
      expectGradient(label, logits, ana, f, rng, P * C);
      // The skipped column gets no gradient.
      if (label !== 'full softmax') expect(ana[1 * C + 3]).toBe(0);
    }
  });

  it('ItemHead: sampled and full-catalogue, into hidden states and the item table', () => {
    for (const negatives of [Int32Array.from([3, 1, 6, 2]), null]) {
      for (const loss of negatives ? (['softmax', 'bce', 'bpr-max'] as const) : (['softmax'] as const)) {
        const rng = new Rng(8);
        const store = new ParamStore();
        const emb = new Embedding(store, 'items', 7, 4, 0.5);
        store.seal(rng);
        const head = new ItemHead(emb.table, 4, loss, 0.5);
        const H = randn(rng, 5 * 4);
        const rows = Int32Array.from([0, 2, 4]);
        const targets = Int32Array.from([3, 5, 1]);
        const dH = new Float32Array(5 * 4);
        const f = (): number => head.lossAndGrad(H, new Float32Array(5 * 4), rows, targets, 3, negatives, 7);
        store.zeroGrad();
        head.lossAndGrad(H, dH, rows, targets, 3, negatives, 7);
        // Copied now: the finite differences below call the head again, which adds to the gradients.
        const dTable = Float32Array.from(store.grads.subarray(4));
        expectGradient(`${loss} dH`, H, dH, f, rng);
        expectGradient(`${loss} table`, store.params.subarray(4), dTable, f, rng, 40);
      }
    }
  });

  const encoders: [string, () => SequenceEncoder][] = [
    ['SASRec', () => new SasRecEncoder({ nItems: 9, dim: 8, blocks: 2, heads: 2, maxLen: 6, dropout: 0 }, new Rng(9))],
    ['GRU4Rec', () => new GruEncoder({ nItems: 9, dim: 8, layers: 2, maxLen: 6, dropout: 0 }, new Rng(9))],
  ];
  for (const [name, make] of encoders) {
    it(`${name} encoder end to end`, () => {
      const rng = new Rng(10);
      const enc = make();
      const B = 2;
      const T = 5;
      const tokens = Int32Array.from([0, 0, 4, 7, 2, 1, 9, 3, 3, 5]);
      const start = Int32Array.from([2, 0]);
      const r = randn(rng, B * T * 8);
      for (let t = 0; t < 2; t++) r.fill(0, t * 8, t * 8 + 8);
      const loss = (): number => dot(enc.forward(tokens, B, T, start, false), r, B * T * 8);
      loss();
      enc.store.zeroGrad();
      enc.backward(r);
      expectGradient(`${name} params`, enc.store.params, Float32Array.from(enc.store.grads), loss, rng, 120);
    });
  }
});

describe('causality and determinism', () => {
  it('attention never lets a position see a later item', () => {
    const rng = new Rng(12);
    const store = new ParamStore();
    const att = new CausalSelfAttention(store, 'a', 8, 2, 0, rng);
    store.seal(rng);
    const T = 7;
    const x = randn(rng, T * 8);
    const start = Int32Array.from([0]);
    const before = Float32Array.from(att.forward(x, 1, T, start, false).subarray(0, T * 8));
    for (let later = 1; later < T; later++) {
      const y = Float32Array.from(x);
      for (let j = 0; j < 8; j++) y[later * 8 + j]! += 5 * rng.normal();
      const after = att.forward(y, 1, T, start, false);
      for (let t = 0; t < later; t++) {
        for (let j = 0; j < 8; j++) expect(after[t * 8 + j]).toBe(before[t * 8 + j]);
      }
      // …while the perturbed position itself does change (the check has teeth).
      let moved = 0;
      for (let j = 0; j < 8; j++) moved += Math.abs(after[later * 8 + j]! - before[later * 8 + j]!);
      expect(moved).toBeGreaterThan(1e-3);
    }
  });

  it('SASRec encoder: changing a later item never changes an earlier state', () => {
    const enc = new SasRecEncoder({ nItems: 20, dim: 8, blocks: 2, heads: 2, maxLen: 8, dropout: 0 }, new Rng(13));
    const T = 6;
    const start = Int32Array.from([0]);
    const tokens = Int32Array.from([3, 8, 1, 15, 9, 4]);
    const before = Float32Array.from(enc.forward(tokens, 1, T, start, false).subarray(0, T * 8));
    const changed = Int32Array.from(tokens);
    changed[4] = 17;
    const after = enc.forward(changed, 1, T, start, false);
    // Positions are counted from the end, so keep T fixed: the first four states must be unchanged.
    expect(Array.from(after.subarray(0, 4 * 8))).toEqual(Array.from(before.subarray(0, 4 * 8)));
    expect(Array.from(after.subarray(4 * 8, 5 * 8))).not.toEqual(Array.from(before.subarray(4 * 8, 5 * 8)));
  });

  it('dropout: the same seed gives the same mask, another seed another mask', () => {
    const x = new Float32Array(200).fill(1);
    const a = Float32Array.from(new Dropout(0.5, new Rng(1)).forward(x, 200, true));
    const b = Float32Array.from(new Dropout(0.5, new Rng(1)).forward(x, 200, true));
    const c = Float32Array.from(new Dropout(0.5, new Rng(2)).forward(x, 200, true));
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    const kept = a.filter((v) => v !== 0);
    expect(kept.length).toBeGreaterThan(60);
    expect(kept.length).toBeLessThan(140);
    expect(kept.every((v) => v === 2)).toBe(true);
    // At inference it is the identity.
    expect(new Dropout(0.5, new Rng(1)).forward(x, 200, false)).toBe(x);
  });

  it('dropout: the mask is byte b of the (i / 4)-th draw, and the draws continue where it stopped', () => {
    // n not a multiple of 4: the last word is drawn whole and its unused bytes are dropped.
    const n = 4 * 37 + 3;
    const x = Float32Array.from({ length: n }, (_, i) => 1 + i);
    const rng = new Rng(77);
    const d = new Dropout(0.4, rng);
    const y1 = Float32Array.from(d.forward(x, n, true));
    const y2 = Float32Array.from(d.forward(x, 9, true));
    const oracle = new Rng(77);
    const cut = Math.round(256 * 0.4);
    const expectMask = (len: number, y: Float32Array): void => {
      let bits = 0;
      for (let i = 0; i < len; i++) {
        if ((i & 3) === 0) bits = oracle.nextUint32();
        const keep = (bits & 255) >= cut;
        bits >>>= 8;
        expect(y[i]).toBe(keep ? Math.fround(x[i]! * (256 / (256 - cut))) : 0);
      }
    };
    expectMask(n, y1);
    expectMask(9, y2);
    // The layer's generator is left where one draw per word would leave it.
    expect(rng.nextUint32()).toBe(oracle.nextUint32());
  });

  it('Rng.fillUint32 gives the words nextUint32 would, one by one', () => {
    const a = new Rng(5);
    const b = new Rng(5);
    a.next();
    b.next();
    const words = new Uint32Array(1001);
    a.fillUint32(words, 1000);
    expect(Array.from(words.subarray(0, 1000))).toEqual(Array.from({ length: 1000 }, () => b.nextUint32()));
    expect(words[1000]).toBe(0);
    expect(a.next()).toBe(b.next());
    expect(() => a.fillUint32(words, 1002)).toThrow(/out\.length/);
  });

  it('encodeHistory reads only the last maxLen items and is deterministic', () => {
    const enc = new GruEncoder({ nItems: 30, dim: 6, layers: 1, maxLen: 4, dropout: 0.3 }, new Rng(14));
    const a = encodeHistory(enc, Int32Array.from([1, 2, 3, 4, 5, 6]), 30, new Float32Array(6));
    const b = encodeHistory(enc, Int32Array.from([9, 9, 3, 4, 5, 6]), 30, new Float32Array(6));
    const c = encodeHistory(enc, Int32Array.from([3, 4, 5, 7]), 30, new Float32Array(6));
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    expect(() => encodeHistory(enc, Int32Array.from([31]), 30, new Float32Array(6))).toThrow(/out of range/);
  });
});
