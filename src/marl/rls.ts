/**
 * Recursive least squares over one or more linear value models fitted jointly.
 *
 * The team's agents learn per-item TD targets with linear values. Normalised LMS takes one small
 * step per target and forgets the rest; RLS keeps P = (ridge·I + Σ β^(n−t)·φ_t φ_tᵀ)⁻¹ and makes
 * each step the exact ridge-regression update (Sherman–Morrison, O(D²) per target). LinUCB and
 * linear Thompson sampling learn the same way on the user agent's features and reached 6.16–6.18
 * against the LMS user agent's 5.2 on sim-ml-ls-v1 (docs/benchmarks.md), so the learner, not the
 * features, was the team's bottleneck.
 *
 * The targets are bootstrapped (r + γ·V(s')), so they move as the values improve; the forgetting
 * factor β < 1 lets old targets fade. β = 1 is plain ridge regression toward the models' starting
 * parameters.
 *
 * Joint fitting: VDN and the weighted VDN predict one team value Σ_k scale_k·θ_kᵀφ_k, so their
 * parameters form one regression over the concatenated, scaled features [scale_1·φ_1 | … |
 * scale_m·φ_m] — one P over all agents, which also keeps agents that see the same feature from
 * fitting it twice. QMIX uses it on its mixer's linearisation (scale_k = dQ_mix/dq_k) and comm on
 * the target less the message part.
 */
import { ConfigError } from '../errors.js';
import type { LinearValue } from './mixer.js';

export class JointRls {
  /** Total dimension Σ_k dim_k. */
  readonly D: number;
  /** P (D × D, symmetric): the inverse of the (forgetting-weighted) ridge Gram matrix. */
  P: Float64Array;
  private readonly phi: Float64Array;
  private readonly pphi: Float64Array;
  private readonly offsets: number[];

  constructor(
    readonly models: LinearValue[],
    /** Prior precision (P starts at I / ridge): how firmly θ is held at its starting value; one per model, or one for all. */
    readonly ridge: number | readonly number[],
    /** Forgetting factor β in (0, 1]. */
    readonly forget: number,
    /** Errors are clipped to ±clip (robust to rare huge bootstrap targets, as the LMS steps are). */
    readonly clip = 2,
  ) {
    const ridges = typeof ridge === 'number' ? models.map(() => ridge) : [...ridge];
    if (ridges.length !== models.length) throw new ConfigError(`ridge needs one value per model (${models.length}), got ${ridges.length}`, 'ridge');
    for (const r of ridges) if (!(r > 0)) throw new ConfigError(`ridge must be > 0, got ${r}`, 'ridge');
    if (!(forget > 0 && forget <= 1)) throw new ConfigError(`forget must be in (0, 1], got ${forget}`, 'forget');
    this.offsets = [];
    let D = 0;
    for (const v of models) (this.offsets.push(D), (D += v.dim));
    this.D = D;
    this.P = new Float64Array(D * D);
    models.forEach((v, k) => {
      for (let j = 0; j < v.dim; j++) this.P[(this.offsets[k]! + j) * (D + 1)] = 1 / ridges[k]!;
    });
    this.phi = new Float64Array(D);
    this.pphi = new Float64Array(D);
  }

  /**
   * One RLS step toward target y for the joint prediction Σ_k scale_k·θ_kᵀ(F_k row at off_k).
   * θ_k are updated in place (each step's error uses the parameters after the previous step, as
   * exact RLS does). Returns the error before the step.
   */
  step(F: readonly Float64Array[], offs: ArrayLike<number>, scales: ArrayLike<number>, y: number): number {
    const { D, P, phi, pphi } = this;
    let pred = 0;
    for (let k = 0; k < this.models.length; k++) {
      const v = this.models[k]!;
      const o = this.offsets[k]!;
      const s = scales[k]!;
      const x = F[k]!;
      const xo = offs[k]!;
      for (let j = 0; j < v.dim; j++) {
        const f = s * x[xo + j]!;
        phi[o + j] = f;
        pred += v.theta[j]! * f;
      }
    }
    const err0 = y - pred;
    const err = err0 > this.clip ? this.clip : err0 < -this.clip ? -this.clip : err0;
    // pφ = P·φ; denom = β + φᵀPφ; gain k = Pφ / denom.
    let denom = this.forget;
    for (let i = 0; i < D; i++) {
      let s = 0;
      const row = i * D;
      for (let j = 0; j < D; j++) s += P[row + j]! * phi[j]!;
      pphi[i] = s;
      denom += phi[i]! * s;
    }
    const g = err / denom;
    for (let k = 0; k < this.models.length; k++) {
      const v = this.models[k]!;
      const o = this.offsets[k]!;
      for (let j = 0; j < v.dim; j++) v.theta[j]! += g * pphi[o + j]!;
    }
    // P ← (P − Pφ·(Pφ)ᵀ / denom) / β, kept symmetric by construction.
    const inv = 1 / denom;
    const b = 1 / this.forget;
    for (let i = 0; i < D; i++) {
      const ti = pphi[i]! * inv;
      const row = i * D;
      for (let j = 0; j < D; j++) P[row + j] = (P[row + j]! - ti * pphi[j]!) * b;
    }
    return err0;
  }

  /** φᵀPφ of the joint row (the width of the value's confidence ellipsoid there, squared). */
  variance(F: readonly Float64Array[], offs: ArrayLike<number>, scales: ArrayLike<number>): number {
    const { D, P, phi } = this;
    for (let k = 0; k < this.models.length; k++) {
      const o = this.offsets[k]!;
      const s = scales[k]!;
      for (let j = 0; j < this.models[k]!.dim; j++) phi[o + j] = s * F[k]![offs[k]! + j]!;
    }
    let q = 0;
    for (let i = 0; i < D; i++) {
      let s = 0;
      const row = i * D;
      for (let j = 0; j < D; j++) s += P[row + j]! * phi[j]!;
      q += phi[i]! * s;
    }
    return q;
  }
}
