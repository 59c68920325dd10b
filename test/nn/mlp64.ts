/** A float64 reference forward of an Mlp's architecture, for tests that difference it finely. */
import type { Activation, Mlp } from '../../src/nn/mlp.js';

/** Float64 forward of `net`'s architecture with parameters `theta` (same flat layout). */
export function forward64(net: Mlp, theta: Float64Array, x: Float32Array, rows: number): Float64Array {
  const { sizes, hidden, output } = net.config;
  const base = net.params.byteOffset;
  let a = Float64Array.from(x.subarray(0, rows * sizes[0]!));
  for (let l = 0; l < net.nLayers; l++) {
    const nIn = sizes[l]!;
    const nOut = sizes[l + 1]!;
    const w0 = (net.weight(l).byteOffset - base) / 4;
    const b0 = (net.bias(l).byteOffset - base) / 4;
    const act: Activation = l === net.nLayers - 1 ? output : hidden;
    const y = new Float64Array(rows * nOut);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < nOut; j++) {
        let s = theta[b0 + j]!;
        for (let i = 0; i < nIn; i++) s += a[r * nIn + i]! * theta[w0 + i * nOut + j]!;
        y[r * nOut + j] = act === 'relu' ? Math.max(0, s) : act === 'tanh' ? Math.tanh(s) : act === 'sigmoid' ? 1 / (1 + Math.exp(-s)) : s;
      }
    }
    a = y;
  }
  return a;
}
