/**
 * The exact forward-mode J·v of an MLP's output w.r.t. its parameters equals central differences
 * of the same network evaluated in float64 (a reference forward written here), for each
 * activation the MLP offers.
 */
import { describe, expect, it } from 'vitest';
import { Mlp } from '../../src/nn/mlp.js';
import { ParameterTangent } from '../../src/nn/parameter-tangent.js';
import { Rng } from '../../src/util/rng.js';
import { forward64 } from './mlp64.js';

describe('ParameterTangent', () => {
  for (const hidden of ['relu', 'tanh', 'sigmoid'] as const) {
    it(`J·v matches float64 central differences (${hidden} hidden layers)`, () => {
      const rng = new Rng(11);
      const net = new Mlp({ sizes: [5, 7, 6, 2], hidden }, rng);
      const rows = 9;
      const x = Float32Array.from({ length: rows * 5 }, () => rng.normal());
      const v = Float32Array.from({ length: net.params.length }, () => rng.normal());
      const tangent = new ParameterTangent(net);
      tangent.linearise(x, rows);
      const jv = Float64Array.from(tangent.apply(v));

      const theta = Float64Array.from(net.params);
      const h = 1e-6;
      const plus = forward64(net, Float64Array.from(theta, (t, i) => t + h * v[i]!), x, rows);
      const minus = forward64(net, Float64Array.from(theta, (t, i) => t - h * v[i]!), x, rows);
      const fd = Float64Array.from(plus, (p, i) => (p - minus[i]!) / (2 * h));
      let err = 0;
      let scale = 0;
      for (let i = 0; i < fd.length; i++) {
        err = Math.max(err, Math.abs(fd[i]! - jv[i]!));
        scale = Math.max(scale, Math.abs(fd[i]!));
      }
      expect(scale).toBeGreaterThan(0.1);
      expect(err / scale).toBeLessThan(1e-4);
      // Applying leaves the parameters alone and is repeatable (buffers reused, not accumulated).
      expect(Array.from(tangent.apply(v))).toEqual(Array.from(jv, (z) => Math.fround(z)));
    });
  }

  it('refuses a direction of the wrong length', () => {
    const net = new Mlp({ sizes: [3, 2, 1] }, new Rng(1));
    const t = new ParameterTangent(net);
    t.linearise(new Float32Array(3), 1);
    expect(() => t.apply(new Float32Array(2))).toThrow(/direction/);
  });
});
