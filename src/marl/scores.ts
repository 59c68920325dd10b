/**
 * The team's per-step scores: every agent's feature rows and values for a candidate list, the
 * coordination mode's weights, and the fused per-item scores with each agent's contribution.
 *
 * One `TeamScores` is reused every step (buffers sized for the largest candidate set). `evaluate`
 * fills, for rows r < n:
 *  - F[k]: agent k's features (row-major n × dim_k), q1: the agents' own values θ_kᵀφ_k;
 *  - q: the values the mode mixes (q1, or q1 plus what the others tell: `comm`, `value-sharing`);
 *  - w, b: the mode's per-agent weights for this state (times the meta arm's multipliers) and the
 *    state term its team value adds (the weighted VDN's b(s), 0 in the team);
 *  - c, s: each agent's contribution to the fused score and the fused score (fusion.ts);
 *  - p: the click model's P̂(click ∣ s) per row under SlateQ credit (c and s are then P̂ times the
 *    agents' values of a click, while q stays the values Q̄ the agents learn); all 1 otherwise.
 */
import type { Observation } from '../env/types.js';
import type { LinearValue } from './mixer.js';
import { fuse, type MetaFusion } from './fusion.js';
import type { TeamConfig } from './team-config.js';
import type { View } from './views.js';

/** What a coordination mode does between the agents' own values and fusion (modes/mode.ts). */
export interface ScoreMixer {
  /**
   * After q1 holds the agents' values of n rows: write q, the weights w and the state term b (and,
   * when `fusesItself`, the contributions c and fused scores s).
   */
  mix(obs: Observation, n: number): void;
  /** True for a mode whose team value is not a weighted sum (QMIX): it writes c and s itself. */
  readonly fusesItself?: boolean;
  /** (fusesItself) Recompute row r's contributions and fused score from its (position-scaled) q. */
  rescore?(r: number): void;
  /** (fusesItself) Row r's value at a position of examination weight e (click-driven agents' q scaled by e). */
  positionValue?(r: number, e: number): number;
}

export class TeamScores {
  readonly m: number;
  readonly maxN: number;
  readonly F: Float64Array[];
  readonly q: Float64Array;
  readonly q1: Float64Array;
  readonly c: Float64Array;
  readonly s: Float64Array;
  readonly w: Float64Array;
  readonly rank: Int32Array;
  readonly order: Int32Array;
  /** The mode's state term of the last evaluation (0 unless its mixer has one). */
  b = 0;
  /** Per member: 1 when its value is earned through clicks (scaled by position under `dcg` slotting). */
  readonly clickDriven: Uint8Array;
  /** Examination weight per slate position (all 1 unless `dcg` slotting applies). */
  readonly examine: Float64Array;
  /** Set once the coordination mode exists (it needs these buffers to be built). */
  mixer: ScoreMixer | null = null;
  /** P̂ per row (SlateQ credit), else all 1. */
  readonly p: Float64Array;
  private readonly pBuf: Float32Array;

  constructor(
    readonly views: View[],
    readonly values: LinearValue[],
    private readonly itemView: View | null,
    private readonly meta: MetaFusion,
    private readonly config: TeamConfig,
    memberNames: string[],
    maxN: number,
    slateSize: number,
    positional: boolean,
    /** The user agent's click model (SlateQ credit): P̂(click ∣ obs) of each item into `out`. */
    private readonly clickModel: ((obs: Observation, items: Int32Array, out: Float32Array) => void) | null = null,
  ) {
    this.m = views.length;
    this.maxN = maxN;
    this.clickDriven = Uint8Array.from(memberNames, (n) => (n === 'item' || n === 'content' ? 0 : 1));
    this.examine = new Float64Array(Math.max(1, slateSize)).fill(1);
    if (positional) for (let p = 0; p < this.examine.length; p++) this.examine[p] = 1 / Math.log2(p + 2);
    this.F = views.map((v) => new Float64Array(maxN * v.dim));
    this.q = new Float64Array(maxN * this.m);
    this.q1 = new Float64Array(maxN * this.m);
    this.c = new Float64Array(maxN * this.m);
    this.s = new Float64Array(maxN);
    this.w = new Float64Array(this.m);
    this.rank = new Int32Array(maxN * this.m);
    this.order = new Int32Array(maxN);
    this.p = new Float64Array(maxN).fill(1);
    this.pBuf = new Float32Array(clickModel ? maxN : 0);
  }

  /** Examination weight of slate position p (the last one's beyond the slate). */
  examineAt(p: number): number {
    return this.examine[p] ?? this.examine[this.examine.length - 1]!;
  }

  /** Scale of d(value at position p)/dθ_a: the position's weight for click-driven agents. */
  posScale(a: number, p: number): number {
    return this.clickDriven[a] ? this.examineAt(p) : 1;
  }

  /**
   * Every agent's features and values for `n` items, the mode's weights (times the meta arm's
   * multipliers), contributions `c` and fused scores `s`. Returns n (clipped to the scratch size).
   */
  evaluate(obs: Observation, items: Int32Array, arm: number, itemRows: Float64Array | null = null): number {
    const n = Math.min(items.length, this.maxN);
    const m = this.m;
    for (let k = 0; k < m; k++) {
      const d = this.views[k]!.dim;
      // The item agent's rows from acting time when given (see ActRecord), else as of now.
      if (itemRows && this.views[k] === this.itemView && itemRows.length >= n * d) this.F[k]!.set(itemRows.subarray(0, n * d));
      else this.views[k]!.features(obs, items, n, this.F[k]!);
      const val = this.values[k]!;
      for (let r = 0; r < n; r++) this.q1[r * m + k] = val.value(this.F[k]!, r * d);
    }
    this.b = 0;
    this.mixer!.mix(obs, n);
    if (this.mixer!.fusesItself) return n;
    const arms = this.config.fusion === 'meta' ? this.meta.arms[arm]! : null;
    if (arms) for (let k = 0; k < m; k++) this.w[k]! *= arms[k]!;
    const kind = this.config.fusion === 'meta' ? 'weighted' : this.config.fusion;
    fuse(kind, this.q, n, m, this.w, this.c, this.s, this.rank, this.order, this.config.rrfK);
    if (this.clickModel) {
      const pb = this.pBuf.subarray(0, n);
      this.clickModel(obs, n === items.length ? items : items.subarray(0, n), pb);
      for (let r = 0; r < n; r++) {
        const pr = pb[r]!;
        this.p[r] = pr;
        this.s[r]! *= pr;
        for (let a = 0; a < m; a++) this.c[r * m + a]! *= pr;
      }
    }
    return n;
  }

  /** Scale row r's click-driven values and contributions to position p (no-op at weight 1). */
  placeRow(r: number, p: number): void {
    const e = this.examineAt(p);
    if (e === 1) return;
    const m = this.m;
    let t = 0;
    for (let a = 0; a < m; a++) {
      if (this.clickDriven[a]) {
        this.q[r * m + a]! *= e;
        this.q1[r * m + a]! *= e;
        this.c[r * m + a]! *= e;
      }
      t += this.c[r * m + a]!;
    }
    if (this.mixer?.fusesItself) this.mixer.rescore!(r);
    else this.s[r] = t;
  }
}
