import { describe, expect, it } from 'vitest';
import { Adam, jsKernels, kernels, Mlp, mseLoss, huberLoss, nativeKernels, setKernels, type Activation } from '../../src/nn/index.js';
import { Rng } from '../../src/util/rng.js';
import { parse, stringify } from '../../src/util/serialize.js';

/** Loss L = Σ w ⊙ net(x), in double precision, for finite differences. */
function lossOf(net: Mlp, x: Float32Array, batch: number, w: Float32Array): number {
  const y = net.forward(x, batch);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += w[i]! * y[i]!;
  return s;
}

describe('Mlp gradients against finite differences', () => {
  const acts: [Activation, Activation][] = [
    ['tanh', 'linear'],
    ['sigmoid', 'tanh'],
    ['relu', 'sigmoid'],
  ];
  for (const [hidden, output] of acts) {
    it(`hidden=${hidden} output=${output}: parameter and input gradients`, () => {
      const prev = kernels();
      setKernels(jsKernels);
      try {
        const rng = new Rng(11);
        const net = new Mlp({ sizes: [5, 7, 6, 3], hidden, output }, rng);
        const batch = 4;
        const x = Float32Array.from({ length: batch * 5 }, () => rng.normal());
        const w = Float32Array.from({ length: batch * 3 }, () => rng.normal());
        net.zeroGrad();
        net.forward(x, batch);
        const dx = Float32Array.from(net.backward(w, true)!);
        const eps = 1e-2;
        // Central differences in float32: agree to ~1e-3 where no ReLU kink lies within ±eps.
        let checked = 0;
        for (let i = 0; i < net.params.length; i += 3) {
          const old = net.params[i]!;
          net.params[i] = old + eps;
          const lp = lossOf(net, x, batch, w);
          net.params[i] = old - eps;
          const lm = lossOf(net, x, batch, w);
          net.params[i] = old;
          const fd = (lp - lm) / (2 * eps);
          expect(Math.abs(fd - net.grads[i]!)).toBeLessThan(2e-3 + 2e-2 * Math.abs(fd));
          checked++;
        }
        expect(checked).toBeGreaterThan(30);
        for (let i = 0; i < x.length; i++) {
          const old = x[i]!;
          x[i] = old + eps;
          const lp = lossOf(net, x, batch, w);
          x[i] = old - eps;
          const lm = lossOf(net, x, batch, w);
          x[i] = old;
          const fd = (lp - lm) / (2 * eps);
          expect(Math.abs(fd - dx[i]!)).toBeLessThan(2e-3 + 2e-2 * Math.abs(fd));
        }
      } finally {
        setKernels(prev);
      }
    });
  }

  it('gradients accumulate across backward calls until zeroGrad', () => {
    const rng = new Rng(2);
    const net = new Mlp({ sizes: [3, 4, 2] }, rng);
    const x = Float32Array.from({ length: 6 }, () => rng.normal());
    const d = Float32Array.from({ length: 4 }, () => rng.normal());
    net.zeroGrad();
    net.forward(x, 2);
    net.backward(d);
    const once = Float32Array.from(net.grads);
    net.forward(x, 2);
    net.backward(d);
    for (let i = 0; i < once.length; i++) expect(net.grads[i]).toBeCloseTo(2 * once[i]!, 5);
  });
});

describe('losses', () => {
  it('mse and huber gradients are the derivatives of their means', () => {
    const p = Float32Array.of(0.5, -2, 3);
    const t = Float32Array.of(0, 0, 0.5);
    const g = new Float32Array(3);
    expect(mseLoss(p, t, 3, g)).toBeCloseTo((0.25 + 4 + 6.25) / 3, 6);
    expect([...g].map((v) => +v.toFixed(5))).toEqual([+(1 / 3).toFixed(5), +(-4 / 3).toFixed(5), +(5 / 3).toFixed(5)]);
    expect(huberLoss(p, t, 3, g, 1)).toBeCloseTo((0.125 + 1.5 + 2) / 3, 6);
    expect([...g].map((v) => +v.toFixed(5))).toEqual([+(0.5 / 3).toFixed(5), +(-1 / 3).toFixed(5), +(1 / 3).toFixed(5)]);
  });
});

function trainRegression(seed: number, steps: number): { net: Mlp; loss: number; first: number } {
  const rng = new Rng(seed);
  const net = new Mlp({ sizes: [2, 32, 32, 1] }, rng);
  const opt = new Adam(net.params, net.grads, { lr: 1e-2 });
  const B = 64;
  const x = new Float32Array(B * 2);
  const y = new Float32Array(B);
  const g = new Float32Array(B);
  let loss = 0;
  let first = 0;
  for (let s = 0; s < steps; s++) {
    for (let i = 0; i < B; i++) {
      const a = rng.next() * 4 - 2;
      const b = rng.next() * 4 - 2;
      x[2 * i] = a;
      x[2 * i + 1] = b;
      y[i] = Math.sin(a) * b;
    }
    net.zeroGrad();
    loss = mseLoss(net.forward(x, B), y, B, g);
    if (s === 0) first = loss;
    net.backward(g);
    opt.step();
  }
  return { net, loss, first };
}

describe('training', () => {
  it('fits y = sin(a)·b with Adam (fresh samples each step, so this is held-out error)', () => {
    const { loss, first } = trainRegression(1, 600);
    expect(first).toBeGreaterThan(0.5);
    expect(loss).toBeLessThan(0.03);
  });

  it('same seed → bit-identical weights; different seed → different', () => {
    const a = trainRegression(7, 30).net.params;
    const b = trainRegression(7, 30).net.params;
    const c = trainRegression(8, 30).net.params;
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
  });

  it('native and JS backends train to the same numbers (within float rounding)', () => {
    const native = nativeKernels();
    if (!native) return expect(kernels().name).toBe('js');
    const prev = kernels();
    try {
      setKernels(jsKernels);
      const a = trainRegression(3, 20).net.params;
      setKernels(native);
      const b = trainRegression(3, 20).net.params;
      let maxDiff = 0;
      for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
      expect(maxDiff).toBeLessThan(1e-3);
    } finally {
      setKernels(prev);
    }
  });

  it('save/load through JSON keeps every weight and the outputs', () => {
    const { net } = trainRegression(4, 10);
    const back = Mlp.fromJSON(parse(stringify(net.toJSON())), new Rng(0));
    const x = Float32Array.of(0.3, -1.2, 1, 1);
    expect([...back.forward(x, 2)]).toEqual([...net.forward(x, 2)]);
    expect(() => Mlp.fromJSON({ kind: 'mlp', version: 1, config: { ...net.config, sizes: [2, 8, 1] }, params: net.params }, new Rng(0))).toThrow(/parameters/);
  });

  it('Adam state round-trips, so a resumed optimiser takes the same step', () => {
    const rng = new Rng(9);
    const p1 = Float32Array.from({ length: 10 }, () => rng.normal());
    const g = Float32Array.from({ length: 10 }, () => rng.normal());
    const p2 = Float32Array.from(p1);
    const o1 = new Adam(p1, g, { lr: 0.1 });
    o1.step();
    o1.step();
    p2.set(p1);
    const o2 = new Adam(p2, g, { lr: 0.1 });
    o2.load(parse(stringify(o1.toJSON())));
    o1.step();
    o2.step();
    expect([...p2]).toEqual([...p1]);
  });

  it('rejects bad shapes and options with the field named', () => {
    expect(() => new Mlp({ sizes: [3] }, new Rng(1))).toThrow(/sizes/);
    expect(() => new Mlp({ sizes: [3, 2], hidden: 'gelu' as Activation }, new Rng(1))).toThrow(/activation/);
    const net = new Mlp({ sizes: [3, 2] }, new Rng(1));
    expect(() => net.forward(new Float32Array(5), 2)).toThrow(/need 2×3/);
    expect(() => new Adam(net.params, net.grads, { lr: 0 })).toThrow(/lr/);
  });
});
