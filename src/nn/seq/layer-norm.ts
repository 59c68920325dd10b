/**
 * Layer normalisation (Ba et al. 2016) over the last dimension of rows × dim values:
 * y = γ ⊙ (x − μ) / √(σ² + ε) + β. Forward keeps x̂ and 1/σ per row for the backward pass.
 */
import { grow, type ParamBlock, type ParamStore } from './params.js';

export class LayerNorm {
  readonly gamma: ParamBlock;
  readonly beta: ParamBlock;
  private y: Float32Array = new Float32Array(0);
  private xhat: Float32Array = new Float32Array(0);
  private rstd: Float32Array = new Float32Array(0);
  private dx: Float32Array = new Float32Array(0);
  private rows = 0;

  constructor(
    store: ParamStore,
    name: string,
    readonly dim: number,
    private readonly eps = 1e-5,
  ) {
    this.gamma = store.claim(`${name}.gamma`, dim, { kind: 'ones' });
    this.beta = store.claim(`${name}.beta`, dim, { kind: 'zeros' });
  }

  forward(x: Float32Array, rows: number): Float32Array {
    const d = this.dim;
    this.rows = rows;
    this.y = grow(this.y, rows * d);
    this.xhat = grow(this.xhat, rows * d);
    this.rstd = grow(this.rstd, rows);
    const { y, xhat, rstd } = this;
    const g = this.gamma.w;
    const b = this.beta.w;
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      let mean = 0;
      for (let j = 0; j < d; j++) mean += x[o + j]!;
      mean /= d;
      let v = 0;
      for (let j = 0; j < d; j++) {
        const c = x[o + j]! - mean;
        v += c * c;
      }
      const rs = 1 / Math.sqrt(v / d + this.eps);
      rstd[r] = rs;
      for (let j = 0; j < d; j++) {
        const h = (x[o + j]! - mean) * rs;
        xhat[o + j] = h;
        y[o + j] = h * g[j]! + b[j]!;
      }
    }
    return y;
  }

  /** dx = (1/σ)·(dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂)) with dx̂ = dy ⊙ γ; accumulates dγ, dβ. */
  backward(dy: Float32Array): Float32Array {
    const d = this.dim;
    const rows = this.rows;
    this.dx = grow(this.dx, rows * d);
    const { dx, xhat, rstd } = this;
    const g = this.gamma.w;
    const gg = this.gamma.g;
    const gb = this.beta.g;
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      let s1 = 0;
      let s2 = 0;
      for (let j = 0; j < d; j++) {
        const dyj = dy[o + j]!;
        const h = xhat[o + j]!;
        gg[j]! += dyj * h;
        gb[j]! += dyj;
        const dh = dyj * g[j]!;
        s1 += dh;
        s2 += dh * h;
      }
      s1 /= d;
      s2 /= d;
      const rs = rstd[r]!;
      for (let j = 0; j < d; j++) dx[o + j] = rs * (dy[o + j]! * g[j]! - s1 - xhat[o + j]! * s2);
    }
    return dx;
  }
}
