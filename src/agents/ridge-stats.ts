import { matVecSmall, scaledIdentity, shermanMorrison } from '../util/linalg.js';

/**
 * The statistics of a ridge-regression bandit, shared by LinUCB and linear Thompson sampling (over
 * the agents' feature map) and by the server's LinUCB re-ranker (over hashed item ⊗ context rows):
 * A⁻¹ kept directly and updated by Sherman–Morrison (O(d²) per observation, no allocation),
 * b = λ·θ₀ + Σ r·x, and θ = A⁻¹b. A starts at λI, so before any observation θ is the prior mean θ₀.
 */
export class RidgeStats {
  readonly d: number;
  /** A⁻¹, row-major d×d. */
  ainv: Float64Array;
  b: Float64Array;
  /** θ = A⁻¹b as of the last `refresh`. */
  readonly theta: Float64Array;
  private readonly tmp: Float64Array;

  constructor(d: number, lambda: number, priorMean?: ArrayLike<number>) {
    this.d = d;
    this.ainv = scaledIdentity(d, 1 / lambda);
    this.b = new Float64Array(d);
    if (priorMean) for (let i = 0; i < d; i++) this.b[i] = lambda * priorMean[i]!;
    this.theta = new Float64Array(d);
    this.tmp = new Float64Array(d);
    this.refresh();
  }

  /** Learn reward r for the feature row x (length d); θ is left stale until `refresh`. */
  add(x: ArrayLike<number>, r: number): void {
    shermanMorrison(this.ainv, this.d, x, this.tmp);
    for (let i = 0; i < this.d; i++) this.b[i] += r * x[i]!;
  }

  /** θ = A⁻¹b. */
  refresh(): void {
    matVecSmall(this.ainv, this.d, this.b, this.theta);
  }

  /** Take saved A⁻¹ and b (kept, not copied) and recompute θ. */
  load(ainv: Float64Array, b: Float64Array): void {
    this.ainv = ainv;
    this.b = b;
    this.refresh();
  }
}
