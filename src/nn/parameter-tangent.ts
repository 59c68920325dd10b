/**
 * Forward-mode differentiation of an MLP's output with respect to its parameters: for a fixed
 * input batch X and any direction v in parameter space, J·v = d/dε f_{θ+εv}(X) at ε = 0.
 *
 * Exact, not a finite difference: the tangent is pushed through each layer alongside the
 * activations recorded at θ (Y = A·W + b gives dY = dA·W + A·dW + db, then dA' = act'(Y) ⊙ dY),
 * with the same GEMM and activation-gradient kernels as `Mlp.backward`. Natural-gradient methods
 * use it for Fisher-vector products Jᵀ M J v with one tangent pass and one backward pass.
 *
 * `linearise` records the activations at the network's current parameters; `apply` then reads
 * the weights live, so the parameters must not change between the two (re-linearise if they do).
 */
import { DataError } from '../errors.js';
import { ACT_CODES, kernels } from './kernels.js';
import type { Mlp } from './mlp.js';

export class ParameterTangent {
  /** acts[l] = output of layer l at the linearisation point (rows × sizes[l + 1]). */
  private acts: Float32Array[] = [];
  private tangents: Float32Array[] = [];
  private pre: Float32Array = new Float32Array(0);
  private biasSink: Float32Array = new Float32Array(0);
  private x: Float32Array = new Float32Array(0);
  private rows = 0;
  private capacity = 0;
  /** Offsets of each layer's W and b inside `params` (and so inside any direction v). */
  private readonly wOff: number[] = [];
  private readonly bOff: number[] = [];

  constructor(readonly net: Mlp) {
    const base = net.params.byteOffset;
    for (let l = 0; l < net.nLayers; l++) {
      this.wOff.push((net.weight(l).byteOffset - base) / Float32Array.BYTES_PER_ELEMENT);
      this.bOff.push((net.bias(l).byteOffset - base) / Float32Array.BYTES_PER_ELEMENT);
    }
  }

  private ensure(rows: number): void {
    if (rows <= this.capacity) return;
    const cap = Math.max(rows, this.capacity * 2);
    const { sizes } = this.net.config;
    this.acts = [];
    this.tangents = [];
    let widest = 0;
    for (let l = 0; l < this.net.nLayers; l++) {
      this.acts.push(new Float32Array(cap * sizes[l + 1]!));
      this.tangents.push(new Float32Array(cap * sizes[l + 1]!));
      widest = Math.max(widest, sizes[l + 1]!);
    }
    this.pre = new Float32Array(cap * widest);
    this.biasSink = new Float32Array(widest);
    this.capacity = cap;
  }

  /** Record the activations for `rows` rows of x at the current parameters; x must stay unchanged until the last `apply`. */
  linearise(x: Float32Array, rows: number): void {
    const net = this.net;
    if (x.length < rows * net.inDim) throw new DataError(`tangent input has ${x.length} values, need ${rows}×${net.inDim}`, { field: 'x' });
    this.ensure(rows);
    this.x = x;
    this.rows = rows;
    const { sizes, hidden, output } = net.config;
    const k = kernels();
    for (let l = 0; l < net.nLayers; l++) {
      const nIn = sizes[l]!;
      const nOut = sizes[l + 1]!;
      const prev = l === 0 ? x : this.acts[l - 1]!;
      k.sgemm(false, false, rows, nOut, nIn, 1, prev, nIn, net.weight(l), nOut, 0, this.acts[l]!, nOut);
      k.biasAct(this.acts[l]!, net.bias(l), rows, nOut, ACT_CODES[l === net.nLayers - 1 ? output : hidden]);
    }
  }

  /** J·v for the linearised batch: rows × outDim values (a view valid until the next call). */
  apply(v: Float32Array): Float32Array {
    const net = this.net;
    if (v.length !== net.params.length) throw new DataError(`tangent direction has ${v.length} values, the network ${net.params.length}`, { field: 'v' });
    const { sizes, hidden, output } = net.config;
    const k = kernels();
    const rows = this.rows;
    for (let l = 0; l < net.nLayers; l++) {
      const nIn = sizes[l]!;
      const nOut = sizes[l + 1]!;
      const prev = l === 0 ? this.x : this.acts[l - 1]!;
      const vW = v.subarray(this.wOff[l]!, this.wOff[l]! + nIn * nOut);
      const vb = v.subarray(this.bOff[l]!, this.bOff[l]! + nOut);
      // dY = A_prev·dW (+ dA_prev·W past the first layer, whose input does not move) + db.
      k.sgemm(false, false, rows, nOut, nIn, 1, prev, nIn, vW, nOut, 0, this.pre, nOut);
      if (l > 0) k.sgemm(false, false, rows, nOut, nIn, 1, this.tangents[l - 1]!, nIn, net.weight(l), nOut, 1, this.pre, nOut);
      k.biasAct(this.pre, vb, rows, nOut, ACT_CODES.linear);
      // actGrad also sums columns into its bias-gradient argument; that sum is not needed here.
      this.biasSink.fill(0);
      k.actGrad(this.pre, this.acts[l]!, this.tangents[l]!, this.biasSink, rows, nOut, ACT_CODES[l === net.nLayers - 1 ? output : hidden]);
    }
    return this.tangents[net.nLayers - 1]!.subarray(0, rows * net.outDim);
  }
}
