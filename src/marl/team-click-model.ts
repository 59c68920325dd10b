/**
 * The team's click model for SlateQ credit (`clickModel: 'team'`): P̂(click i ∣ s) by a ridge
 * regression of the click flags on every member's feature rows side by side — the user agent's
 * LinUCB rows, the item agent's exposure state, the content agent's text profile — instead of the
 * user agent's rows alone (`clickModel: 'user'`, CandidateSource's model). What one agent sees
 * about a click (a content match the collaborative vectors miss) then reaches the probability
 * that multiplies the team's Q̄, which is how the agents share what they learn about clicks.
 */
import { RidgeStats } from '../agents/ridge-stats.js';
import { ModelStateError } from '../errors.js';

/** Row r of every member's rows (F[a] holds member a's, `dims[a]` wide) side by side, into `out`. */
export function joinedRow(F: Float64Array[], dims: readonly number[], r: number, out: Float64Array): Float64Array {
  let o = 0;
  for (let a = 0; a < dims.length; a++) {
    const w = dims[a]!;
    out.set(F[a]!.subarray(r * w, (r + 1) * w), o);
    o += w;
  }
  return out;
}

export class TeamClickModel {
  readonly d: number;
  private readonly stats: RidgeStats;
  private readonly row: Float64Array;
  private stale = false;

  /** `dims`: each member's row width, in member order; `ridge`: the prior precision λ (A starts at λI). */
  constructor(
    private readonly dims: number[],
    ridge = 1,
  ) {
    this.d = dims.reduce((a, b) => a + b, 0);
    this.stats = new RidgeStats(this.d, ridge);
    this.row = new Float64Array(this.d);
  }

  /** Learn the click flags of rows 0..n−1 of F (the shown items, in slate order). */
  learn(F: Float64Array[], n: number, clicks: ArrayLike<number> | undefined): void {
    for (let r = 0; r < n; r++) this.stats.add(joinedRow(F, this.dims, r, this.row), clicks?.[r] ? 1 : 0);
    this.stale = true;
  }

  /** P̂ of rows 0..n−1 of F into `out`, a linear probability clipped to [0.001, 1] as the user agent's. */
  probabilities(F: Float64Array[], n: number, out: Float32Array): void {
    if (this.stale) {
      this.stats.refresh();
      this.stale = false;
    }
    const th = this.stats.theta;
    for (let r = 0; r < n; r++) {
      const x = joinedRow(F, this.dims, r, this.row);
      let v = 0;
      for (let j = 0; j < this.d; j++) v += th[j]! * x[j]!;
      out[r] = v < 0.001 ? 0.001 : v > 1 ? 1 : v;
    }
  }

  save(): { ainv: Float64Array; b: Float64Array } {
    return { ainv: this.stats.ainv, b: this.stats.b };
  }

  load(s: unknown): void {
    const r = s as { ainv?: unknown; b?: unknown } | undefined;
    if (!r || !(r.ainv instanceof Float64Array) || !(r.b instanceof Float64Array) || r.b.length !== this.d || r.ainv.length !== this.d * this.d) {
      throw new ModelStateError("saved team click model is missing or has another shape (clickModel 'team')");
    }
    this.stats.load(r.ainv, r.b);
    this.stale = false;
  }
}
