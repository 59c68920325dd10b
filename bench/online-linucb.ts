/**
 * The reference learner of bench/online.ts (issue 15): textbook shared-parameter LinUCB (Li et al.
 * 2010), written here, independent of src/, so that the benchmark does not grade Chorus against
 * itself. One ridge regression θ = A⁻¹b over x = c ⊗ f, the outer product of a context vector c
 * and an action vector f; score θᵀx + α·√(xᵀA⁻¹x); A⁻¹ kept directly and updated by
 * Sherman–Morrison, θ updated with it (recursive least squares): with u = A⁻¹x,
 *   A⁻¹ ← A⁻¹ − u uᵀ / (1 + xᵀu),   θ ← θ + u (r − xᵀθ) / (1 + xᵀu).
 * c and f are sparse (one-hot blocks), so x is passed as index/value lists and scoring costs
 * O(nnz²); an update costs O(d²), halved by keeping only the upper triangle of the symmetric A⁻¹
 * (row i holds columns j ≥ i).
 */
import { Rng } from '../src/util/rng.js';

/** A sparse vector: the first `n` entries of `idx`/`val`. */
export class Sparse {
  idx: Int32Array;
  val: Float64Array;
  n = 0;
  constructor(capacity: number) {
    this.idx = new Int32Array(capacity);
    this.val = new Float64Array(capacity);
  }
  clear(): this {
    this.n = 0;
    return this;
  }
  push(i: number, v: number): this {
    if (v !== 0) {
      this.idx[this.n] = i;
      this.val[this.n] = v;
      this.n++;
    }
    return this;
  }
}

export class RefLinUcb {
  readonly dC: number;
  readonly dF: number;
  readonly d: number;
  readonly alpha: number;
  readonly ainv: Float64Array;
  readonly theta: Float64Array;
  updates = 0;
  private readonly x: Sparse;
  private readonly u: Float64Array;

  /** dC, dF: context and action vector lengths; λ: ridge (A₀ = λI). */
  constructor(dC: number, dF: number, alpha: number, lambda = 1, maxNnz = 4096) {
    this.dC = dC;
    this.dF = dF;
    this.d = dC * dF;
    this.alpha = alpha;
    this.ainv = new Float64Array(this.d * this.d);
    for (let i = 0; i < this.d; i++) this.ainv[i * this.d + i] = 1 / lambda;
    this.theta = new Float64Array(this.d);
    this.x = new Sparse(maxNnz);
    this.u = new Float64Array(this.d);
  }

  private outer(c: Sparse, f: Sparse): Sparse {
    const x = this.x.clear();
    for (let i = 0; i < c.n; i++) for (let j = 0; j < f.n; j++) x.push(c.idx[i]! * this.dF + f.idx[j]!, c.val[i]! * f.val[j]!);
    return x;
  }

  /** UCB score of action vector f in context c. */
  score(c: Sparse, f: Sparse): number {
    const x = this.outer(c, f);
    const A = this.ainv;
    const d = this.d;
    let mean = 0;
    let q = 0;
    for (let a = 0; a < x.n; a++) {
      const i = x.idx[a]!;
      mean += this.theta[i]! * x.val[a]!;
      let row = 0;
      for (let b = 0; b < x.n; b++) {
        const j = x.idx[b]!;
        row += A[i <= j ? i * d + j : j * d + i]! * x.val[b]!;
      }
      q += x.val[a]! * row;
    }
    return mean + this.alpha * Math.sqrt(Math.max(0, q));
  }

  /** Learn reward r for action vector f shown in context c. */
  update(c: Sparse, f: Sparse, r: number): void {
    const x = this.outer(c, f);
    const A = this.ainv;
    const d = this.d;
    const u = this.u;
    // u = A⁻¹x: row k of A⁻¹ is column k of the upper triangle (i < k) then row k (i ≥ k).
    u.fill(0);
    for (let b = 0; b < x.n; b++) {
      const k = x.idx[b]!;
      const v = x.val[b]!;
      for (let i = 0; i < k; i++) u[i] += A[i * d + k]! * v;
      const row = k * d;
      for (let i = k; i < d; i++) u[i] += A[row + i]! * v;
    }
    let xu = 0;
    let pred = 0;
    for (let b = 0; b < x.n; b++) {
      xu += x.val[b]! * u[x.idx[b]!]!;
      pred += x.val[b]! * this.theta[x.idx[b]!]!;
    }
    const inv = 1 / (1 + xu);
    const err = (r - pred) * inv;
    for (let i = 0; i < d; i++) {
      const ui = u[i]!;
      if (ui === 0) continue;
      this.theta[i] += ui * err;
      const s = ui * inv;
      const row = i * d;
      for (let j = i; j < d; j++) A[row + j] -= s * u[j]!;
    }
    this.updates++;
  }

  /**
   * The action with the highest score among `fs` (ties broken uniformly with `rng`, which matters
   * before the first update, when every score is equal).
   */
  choose(c: Sparse, fs: readonly Sparse[], rng: Rng): number {
    let best = -Infinity;
    let pick = 0;
    let ties = 0;
    for (let a = 0; a < fs.length; a++) {
      const s = this.score(c, fs[a]!);
      if (s > best + 1e-12) {
        best = s;
        pick = a;
        ties = 1;
      } else if (Math.abs(s - best) <= 1e-12 && rng.int(++ties) === 0) pick = a;
    }
    return pick;
  }
}
