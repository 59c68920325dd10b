/**
 * A critic network of the joint slate: Q(s, A) for a state s and a whole slate A = (i_1, …, i_K),
 * the slate term of the `central-critic` coordination mode (which also uses it over single items,
 * K = 1 and no state, for its per-item term).
 *
 * Input x(s, A) = [s | Σ_p e_p·φ(i_p) | (1/K)·Σ_p φ(i_p)], where φ(i) concatenates every agent's
 * features of item i and e_p = 1/log2(p + 2) weights position p (so the order matters); then one
 * ReLU hidden layer, Q = vᵀ·ReLU(W·x + b) + c. The slate enters through pooled features (a
 * DeepSets-style encoder), so the hidden layer sees all shown items together: it can value a slate
 * by what its items are jointly (redundancy, diversity, a relevant item next to a cold one), which a
 * sum of per-item values cannot.
 *
 * The pooling is linear, so replacing the item at position p by j changes the pre-activations by
 * (e_p·W_pos + W_mean/K)·(φ(j) − φ(i_p)): `counterfactuals` evaluates Q for every (position,
 * candidate) swap at O(H) each after one O(n·H·D) pass, which is what COMA's per-agent baselines need.
 */
import type { Rng } from '../util/rng.js';
import { Adam64 } from './adam64.js';

export class SlateCritic {
  readonly params: Float64Array;
  readonly grads: Float64Array;
  readonly nIn: number;
  private readonly opt: Adam64;
  private readonly oW: number;
  private readonly ob: number;
  private readonly ov: number;
  private readonly oc: number;
  private readonly z: Float64Array;

  constructor(
    /** State dimension. */
    readonly ds: number,
    /** Item feature dimension (all agents' features of one item). */
    readonly D: number,
    readonly hidden: number,
    lr: number,
    rng: Rng,
    /** Start with zero output weights (Q ≡ 0 until it learns), e.g. for a term added to another critic. */
    zeroOutput = false,
  ) {
    const H = hidden;
    this.nIn = ds + 2 * D;
    this.oW = 0;
    this.ob = H * this.nIn;
    this.ov = this.ob + H;
    this.oc = this.ov + H;
    this.params = new Float64Array(this.oc + 1);
    this.grads = new Float64Array(this.params.length);
    // He initialisation for the ReLU layer; small output weights (the draws are made either way, so
    // the generator's stream does not depend on zeroOutput).
    const sd = Math.sqrt(2 / this.nIn);
    for (let j = 0; j < H * this.nIn; j++) this.params[this.oW + j] = sd * rng.normal();
    for (let h = 0; h < H; h++) {
      const v = rng.normal() / Math.sqrt(H);
      this.params[this.ov + h] = zeroOutput ? 0 : v;
    }
    this.opt = new Adam64(this.params, this.grads, lr);
    this.z = new Float64Array(H);
  }

  /** Examination weight of position p. */
  static positionWeight(p: number): number {
    return 1 / Math.log2(p + 2);
  }

  /** x(s, A) into `out` for the slate whose items are rows `rows[0..K)` of X (n × D); rows < 0 are skipped. */
  input(s: ArrayLike<number>, X: Float64Array, rows: ArrayLike<number>, K: number, out: Float64Array): void {
    const { ds, D } = this;
    out.fill(0);
    for (let j = 0; j < ds; j++) out[j] = s[j]!;
    for (let p = 0; p < K; p++) {
      const r = rows[p]!;
      if (r < 0) continue;
      const e = SlateCritic.positionWeight(p);
      for (let j = 0; j < D; j++) {
        out[ds + j]! += e * X[r * D + j]!;
        out[ds + D + j]! += X[r * D + j]! / K;
      }
    }
  }

  /** Q(x). */
  forward(x: ArrayLike<number>): number {
    const { nIn, hidden: H, params: p } = this;
    let q = p[this.oc]!;
    for (let h = 0; h < H; h++) {
      let z = p[this.ob + h]!;
      const o = this.oW + h * nIn;
      for (let j = 0; j < nIn; j++) z += p[o + j]! * x[j]!;
      this.z[h] = z;
      if (z > 0) q += p[this.ov + h]! * z;
    }
    return q;
  }

  /** grads += dL/dparams of Q(x), given dOut = dL/dQ. */
  backward(x: ArrayLike<number>, dOut: number): void {
    const { nIn, hidden: H, params: p, grads: g } = this;
    this.forward(x);
    g[this.oc]! += dOut;
    for (let h = 0; h < H; h++) {
      const z = this.z[h]!;
      if (!(z > 0)) continue;
      g[this.ov + h]! += dOut * z;
      const dz = dOut * p[this.ov + h]!;
      g[this.ob + h]! += dz;
      const o = this.oW + h * nIn;
      for (let j = 0; j < nIn; j++) g[o + j]! += dz * x[j]!;
    }
  }

  /** One Adam step on the accumulated gradients, then clears them. */
  step(): void {
    this.opt.step();
  }

  /**
   * Q of the slate with position p's item replaced by candidate row j, for every p < K and j < n,
   * into out (K × n). `rows` are the slate's rows in X and x its input (`input`); a position whose
   * row is < 0 gets NaN. A swap to an item shown at another position is computed too; callers leave
   * those out.
   */
  counterfactuals(x: Float64Array, X: Float64Array, n: number, rows: ArrayLike<number>, K: number, out: Float64Array): void {
    const { nIn, ds, D, hidden: H, params: p } = this;
    // Base pre-activations and each candidate's projections through the pooled blocks of W.
    const z0 = new Float64Array(H);
    for (let h = 0; h < H; h++) {
      let z = p[this.ob + h]!;
      const o = this.oW + h * nIn;
      for (let j = 0; j < nIn; j++) z += p[o + j]! * x[j]!;
      z0[h] = z;
    }
    const Up = new Float64Array(n * H);
    const Um = new Float64Array(n * H);
    for (let r = 0; r < n; r++) {
      for (let h = 0; h < H; h++) {
        const o = this.oW + h * nIn + ds;
        let a = 0;
        let b = 0;
        for (let j = 0; j < D; j++) {
          const f = X[r * D + j]!;
          a += p[o + j]! * f;
          b += p[o + D + j]! * f;
        }
        Up[r * H + h] = a;
        Um[r * H + h] = b;
      }
    }
    const c = p[this.oc]!;
    for (let q = 0; q < K; q++) {
      const e = SlateCritic.positionWeight(q);
      const ri = rows[q]!;
      if (ri < 0) {
        out.fill(NaN, q * n, (q + 1) * n);
        continue;
      }
      for (let r = 0; r < n; r++) {
        let v = c;
        for (let h = 0; h < H; h++) {
          const z = z0[h]! + e * (Up[r * H + h]! - Up[ri * H + h]!) + (Um[r * H + h]! - Um[ri * H + h]!) / K;
          if (z > 0) v += p[this.ov + h]! * z;
        }
        out[q * n + r] = v;
      }
    }
  }

  optimiserState(): { t: number; m: Float64Array; v: Float64Array } {
    return this.opt.toJSON();
  }

  loadOptimiserState(s: { t: number; m: Float64Array; v: Float64Array }): void {
    this.opt.load(s);
  }
}
