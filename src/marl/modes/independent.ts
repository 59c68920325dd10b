/**
 * Independent learners: each agent learns its own stake of the team reward (user R, item λG,
 * content αA) with its own bootstrap; the fusion weights are learned by regressing the team's TD
 * target on the agents' values (normalised LMS, kept in [0, 2]).
 */
import type { Observation } from '../../env/types.js';
import { vdnMix } from '../mixer.js';
import { JointRls } from '../rls.js';
import type { CoordinationMode, LearnStep, TeamCore } from './mode.js';
import { itemwiseNextValue } from './mode.js';

export class IndependentMode implements CoordinationMode {
  readonly name = 'independent';
  readonly rls: JointRls[];
  /** Learned fusion weights, one per agent. */
  readonly fusionW: Float64Array;

  constructor(private readonly core: TeamCore) {
    const ridges = core.ridges;
    this.rls = ridges ? core.values.map((v, k) => new JointRls([v], ridges[k]!, core.config.forget)) : [];
    this.fusionW = new Float64Array(core.m).fill(1);
  }

  mix(_obs: Observation, n: number): void {
    const sc = this.core.scores;
    sc.q.set(sc.q1.subarray(0, n * sc.m));
    sc.w.set(this.fusionW);
  }

  teamValue(r: number): number {
    const m = this.core.m;
    return vdnMix(this.core.scores.q, m, r * m);
  }

  nextValue(_n: number, idx: Int32Array, kk: number, vNext: Float64Array): void {
    itemwiseNextValue(this, this.core.scores, idx, kk, vNext);
  }

  learn({ stakes, share, vNext, K, r, gamma }: LearnStep): void {
    const { m, views, values, memberNames } = this.core;
    const sc = this.core.scores;
    const x = new Float64Array(m);
    for (let a = 0; a < m; a++) {
      const stakeIdx = memberNames[a] === 'item' ? 1 : memberNames[a] === 'content' ? 2 : 0;
      for (let p = 0; p < K; p++) {
        const ya = stakes[p * 3 + stakeIdx]! + gamma * share[p]! * vNext[a]!;
        const err = ya - sc.q[p * m + a]!;
        if (this.rls[a]) this.rls[a]!.step([sc.F[a]!], [p * views[a]!.dim], [sc.posScale(a, p)], ya);
        else values[a]!.accumulate(sc.F[a]!, p * views[a]!.dim, err, sc.posScale(a, p));
        x[a]! += sc.q[p * m + a]!;
      }
    }
    // Learned fusion weights: the team's TD target r + γ·Σ_k w_k·V_k(s') ≈ Σ_k w_k·x_k
    // (normalised LMS, kept in [0, 2]). The agents' values hold discounted returns, so
    // regressing the one-step reward on them (as before) shrank every weight toward 1 − γ.
    let pred = 0;
    let xx = 1;
    let tgt = r;
    for (let a = 0; a < m; a++) (pred += this.fusionW[a]! * x[a]!), (xx += x[a]! * x[a]!), (tgt += gamma * this.fusionW[a]! * vNext[a]!);
    const e = tgt - pred;
    for (let a = 0; a < m; a++) this.fusionW[a] = Math.min(2, Math.max(0, this.fusionW[a]! + (this.core.config.mixLr * e * x[a]!) / xx));
  }

  update(): void {}

  syncParts(): Float64Array[] {
    return [this.fusionW];
  }

  saveState(): Record<string, unknown> {
    return { fusionW: this.fusionW };
  }

  loadState(s: Record<string, unknown>): void {
    this.fusionW.set(s.fusionW as Float64Array);
  }
}
