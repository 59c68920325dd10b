/**
 * `value-sharing` (called `comm` until 2026-12-06): two rounds of scoring. In the second, agent k
 * adds the others' first-round values of the same item (their mean is the "message") times a
 * learned scalar gain g_k:
 * q_k = q1_k + g_k·mean_{j≠k} q1_j. Every agent learns the shared team value (team Q = mean of the
 * agents' second-round values) and the gains follow the same TD error. The message is a fixed
 * function (the mean of the others' values), not a learned message vector; only its gain is learned.
 */
import type { Observation } from '../../env/types.js';
import { vdnMix } from '../mixer.js';
import { JointRls } from '../rls.js';
import type { CoordinationMode, LearnStep, TeamCore } from './mode.js';
import { itemwiseNextValue } from './mode.js';

export class ValueSharingMode implements CoordinationMode {
  readonly name = 'value-sharing';
  readonly rls: JointRls[];
  /** Learned message gains g_k, one per agent. */
  readonly commGain: Float64Array;

  constructor(private readonly core: TeamCore) {
    const ridges = core.ridges;
    this.rls = ridges ? core.values.map((v, k) => new JointRls([v], ridges[k]!, core.config.forget)) : [];
    this.commGain = new Float64Array(core.m);
  }

  mix(_obs: Observation, n: number): void {
    const sc = this.core.scores;
    const m = sc.m;
    if (m > 1) {
      // Round 2: agent k adds the others' round-1 values (their message) with its learned gain.
      for (let r = 0; r < n; r++) {
        let tot = 0;
        for (let k = 0; k < m; k++) tot += sc.q1[r * m + k]!;
        for (let k = 0; k < m; k++) sc.q[r * m + k] = sc.q1[r * m + k]! + this.commGain[k]! * ((tot - sc.q1[r * m + k]!) / (m - 1));
      }
    } else sc.q.set(sc.q1.subarray(0, n * m));
    sc.w.fill(1 / m);
  }

  teamValue(r: number): number {
    const m = this.core.m;
    return vdnMix(this.core.scores.q, m, r * m) / m;
  }

  nextValue(_n: number, idx: Int32Array, kk: number, vNext: Float64Array): void {
    itemwiseNextValue(this, this.core.scores, idx, kk, vNext);
  }

  learn({ y, K }: LearnStep): void {
    const { m, views, values } = this.core;
    const sc = this.core.scores;
    for (let p = 0; p < K; p++) {
      let tot = 0;
      for (let a = 0; a < m; a++) tot += sc.q1[p * m + a]!;
      for (let a = 0; a < m; a++) {
        const err = y[p]! - sc.q[p * m + a]!;
        // RLS fits θ_a alone: the target less the message part (q − q1) of the prediction.
        if (this.rls[a]) this.rls[a]!.step([sc.F[a]!], [p * views[a]!.dim], [sc.posScale(a, p)], y[p]! - (sc.q[p * m + a]! - sc.q1[p * m + a]!));
        else values[a]!.accumulate(sc.F[a]!, p * views[a]!.dim, err, sc.posScale(a, p));
        if (m > 1) {
          const msg = (tot - sc.q1[p * m + a]!) / (m - 1);
          this.commGain[a]! += (this.core.config.auxLr * err * msg) / (1 + msg * msg);
        }
      }
    }
  }

  update(): void {}

  syncParts(): Float64Array[] {
    return [this.commGain];
  }

  saveState(): Record<string, unknown> {
    return { commGain: this.commGain };
  }

  loadState(s: Record<string, unknown>): void {
    this.commGain.set(s.commGain as Float64Array);
  }
}
