/**
 * Dense layer over rows (batch × time flattened): Y = X·W + b with W stored in×out row-major, an
 * optional fused activation (the kernels' biasAct / actGrad), and its backward pass
 * dW += Xᵀ·dZ, db += Σ dZ, dX = dZ·Wᵀ, every product through the kernels' GEMM.
 */
import { ACT_CODES, kernels, type ActCode } from '../kernels.js';
import { grow, type ParamBlock, type ParamStore } from './params.js';

export class Linear {
  readonly w: ParamBlock;
  readonly b: ParamBlock;
  private readonly act: ActCode;
  private y: Float32Array = new Float32Array(0);
  private dz: Float32Array = new Float32Array(0);
  private dx: Float32Array = new Float32Array(0);
  private x: Float32Array = new Float32Array(0);
  private rows = 0;

  constructor(
    store: ParamStore,
    name: string,
    readonly inDim: number,
    readonly outDim: number,
    activation: 'linear' | 'relu' = 'linear',
  ) {
    // Glorot-uniform weights, zero bias (what PyTorch's transformer layers use for projections).
    this.w = store.claim(`${name}.w`, inDim * outDim, { kind: 'uniform', limit: Math.sqrt(6 / (inDim + outDim)) });
    this.b = store.claim(`${name}.b`, outDim, { kind: 'zeros' });
    this.act = ACT_CODES[activation];
  }

  /** Y (rows × out) for X (rows × in); the result is this layer's buffer, valid until the next forward. */
  forward(x: Float32Array, rows: number): Float32Array {
    const { inDim, outDim } = this;
    this.y = grow(this.y, rows * outDim);
    this.x = x;
    this.rows = rows;
    const k = kernels();
    k.sgemm(false, false, rows, outDim, inDim, 1, x, inDim, this.w.w, outDim, 0, this.y, outDim);
    k.biasAct(this.y, this.b.w, rows, outDim, this.act);
    return this.y;
  }

  /** Accumulate dW, db from dY (rows × out) and return dX (rows × in), this layer's buffer. */
  backward(dy: Float32Array): Float32Array {
    const { inDim, outDim, rows } = this;
    const k = kernels();
    this.dz = grow(this.dz, rows * outDim);
    k.actGrad(dy, this.y, this.dz, this.b.g, rows, outDim, this.act);
    k.sgemm(true, false, inDim, outDim, rows, 1, this.x, inDim, this.dz, outDim, 1, this.w.g, outDim);
    this.dx = grow(this.dx, rows * inDim);
    k.sgemm(false, true, rows, inDim, outDim, 1, this.dz, outDim, this.w.w, outDim, 0, this.dx, inDim);
    return this.dx;
  }
}
