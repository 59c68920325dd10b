import { RidgeStats } from '../agents/ridge-stats.js';

/**
 * Shared-parameter LinUCB (Li et al. 2010, "LinUCB with hybrid..." reduced to its shared part):
 * one ridge regression θ = A⁻¹b over joint (item ⊗ context) features, score = θᵀx + α·√(xᵀA⁻¹x).
 * A⁻¹ is kept directly and updated by Sherman–Morrison, O(d²) per observation, no allocation.
 * A prior mean θ₀ enters as b₀ = λθ₀, so before any feedback θ = θ₀ (the recommender's score).
 *
 * Why not the agents layer's `LinUcbAgent`: that is a whole `Agent` over its own feature map
 * φ(state, item) of an `ItemSpace` (CF vectors, genres, popularity) and picks from the whole
 * catalogue. The serving re-ranker needs the bare estimator over arbitrary hashed
 * (item ⊗ context) rows: Personalizer actions need not be catalogue items, and the prior on the
 * recommender's score is what makes it a re-ranker. The agent is served as-is through
 * `AgentPolicy` (`--policy linucb`); the statistics (A⁻¹ by Sherman–Morrison, b, θ = A⁻¹b) are the
 * agents layer's `RidgeStats`, the same as the agents' LinUCB and Thompson sampling.
 */
export interface LinUcbConfig {
  /** Exploration strength α. */
  alpha: number;
  /** Ridge λ (A₀ = λI). */
  lambda: number;
}

export interface LinUcbState {
  d: number;
  n: number;
  ainv: Float64Array;
  b: Float64Array;
}

export const LINUCB_DEFAULTS: LinUcbConfig = { alpha: 0.1, lambda: 1 };

export class LinUcb {
  readonly d: number;
  readonly config: LinUcbConfig;
  private readonly stats: RidgeStats;
  /** Observations learned from. */
  n = 0;
  /** Scratch: indices of x's non-zero entries (evaluate). */
  private readonly nz: Int32Array;
  private thetaStale = false;

  constructor(d: number, config: Partial<LinUcbConfig> = {}, prior?: Float64Array) {
    this.d = d;
    this.config = { ...LINUCB_DEFAULTS, ...config };
    this.stats = new RidgeStats(d, this.config.lambda, prior);
    this.nz = new Int32Array(d);
  }

  /** A⁻¹, row-major d×d. */
  get ainv(): Float64Array {
    return this.stats.ainv;
  }

  get b(): Float64Array {
    return this.stats.b;
  }

  /** θ = A⁻¹b (as of the last observation once `evaluate` has run). */
  get theta(): Float64Array {
    return this.stats.theta;
  }

  /**
   * Mean θᵀx and bonus √(xᵀA⁻¹x) of one feature row x = xs[off .. off+d).
   * x is a Kronecker product of hashed item and context blocks, mostly zeros (without request
   * context only the item block's column is non-zero: ≈ 18 of 108), so the quadratic form runs
   * over the non-zero indices only: O(nnz²) instead of O(nnz·d). Terms are added in the same
   * ascending order as the dense loop and the skipped ones are exact zeros, so the result is the
   * same number.
   */
  evaluate(xs: Float32Array, off: number): { mean: number; bonus: number } {
    if (this.thetaStale) this.refreshTheta();
    const d = this.d;
    const A = this.ainv;
    const nz = this.nz;
    let mean = 0;
    let m = 0;
    for (let i = 0; i < d; i++) {
      const xi = xs[off + i]!;
      mean += this.theta[i]! * xi;
      if (xi !== 0) nz[m++] = i;
    }
    let q = 0;
    for (let a = 0; a < m; a++) {
      const i = nz[a]!;
      const r = i * d;
      let row = 0;
      for (let b = 0; b < m; b++) {
        const j = nz[b]!;
        row += A[r + j]! * xs[off + j]!;
      }
      q += xs[off + i]! * row;
    }
    return { mean, bonus: Math.sqrt(Math.max(0, q)) };
  }

  score(xs: Float32Array, off: number): number {
    const e = this.evaluate(xs, off);
    return e.mean + this.config.alpha * e.bonus;
  }

  /** Learn reward r for features x = xs[off .. off+d). */
  observe(xs: Float32Array, off: number, r: number): void {
    const d = this.d;
    const x = off === 0 && xs.length === d ? xs : xs.subarray(off, off + d);
    this.stats.add(x, r);
    this.n++;
    this.thetaStale = true;
  }

  refreshTheta(): void {
    this.stats.refresh();
    this.thetaStale = false;
  }

  getState(): LinUcbState {
    return { d: this.d, n: this.n, ainv: this.ainv, b: this.b };
  }

  setState(s: LinUcbState): void {
    if (s.d !== this.d) throw new RangeError(`LinUCB state has d=${s.d}, expected ${this.d}`);
    this.stats.load(Float64Array.from(s.ainv), Float64Array.from(s.b));
    this.n = s.n;
    this.thetaStale = false;
  }
}
