/**
 * VDN (Sunehag et al. 2018): the team value of an item is the plain sum of the agents' values,
 * Q_team(s, i) = Σ_k Q_k(s, i), and every agent learns from the team TD error (one joint model).
 */
import { vdnMix } from '../mixer.js';
import { JointRls } from '../rls.js';
import type { CoordinationMode, LearnStep, TeamCore } from './mode.js';
import { itemwiseNextValue } from './mode.js';

/**
 * One joint step per position for a team value that is linear in the agents' values,
 * Σ_k scale_k·Q_k + bias: RLS on the concatenated scaled features, or one normalised LMS step whose
 * normalisation is the joint model's (1 + Σ_k scale_k²·|φ_k|²), so agents that see the same feature
 * do not drift against each other. `scale(a, p)` includes the position's examination weight;
 * `after(p, err)` sees each position's error (the weighted VDN's hypernetwork learns from it).
 */
export function learnJointLinear(
  core: TeamCore,
  joint: JointRls | undefined,
  step: LearnStep,
  scale: (a: number, p: number) => number,
  bias: number,
  teamValue: (r: number) => number,
  after?: (p: number, err: number) => void,
): void {
  const { m, views, values } = core;
  const { F } = core.scores;
  const { y, K } = step;
  // A NaN target marks a position with nothing to learn (SlateQ credit: an item not clicked).
  if (joint) {
    const offs = new Int32Array(m);
    const sc = new Float64Array(m);
    for (let p = 0; p < K; p++) {
      if (Number.isNaN(y[p]!)) continue;
      for (let a = 0; a < m; a++) (offs[a] = p * views[a]!.dim), (sc[a] = scale(a, p));
      const err = joint.step(F, offs, sc, y[p]! - bias);
      after?.(p, err);
    }
    return;
  }
  for (let p = 0; p < K; p++) {
    if (Number.isNaN(y[p]!)) continue;
    const err = y[p]! - teamValue(p);
    let norm = 1;
    for (let a = 0; a < m; a++) norm += scale(a, p) ** 2 * values[a]!.sq(F[a]!, p * views[a]!.dim);
    for (let a = 0; a < m; a++) values[a]!.accumulate(F[a]!, p * views[a]!.dim, err, scale(a, p), norm);
    after?.(p, err);
  }
}

export class VdnMode implements CoordinationMode {
  readonly name = 'vdn';
  readonly rls: JointRls[];
  constructor(private readonly core: TeamCore) {
    this.rls = core.ridges ? [new JointRls(core.values, core.ridges, core.config.forget)] : [];
  }

  mix(_obs: unknown, n: number): void {
    const sc = this.core.scores;
    sc.q.set(sc.q1.subarray(0, n * sc.m));
    sc.w.fill(1);
  }

  teamValue(r: number): number {
    const m = this.core.m;
    return vdnMix(this.core.scores.q, m, r * m);
  }

  nextValue(_n: number, idx: Int32Array, kk: number, vNext: Float64Array): void {
    itemwiseNextValue(this, this.core.scores, idx, kk, vNext);
  }

  learn(step: LearnStep): void {
    const sc = this.core.scores;
    learnJointLinear(this.core, this.rls[0], step, (a, p) => 1 * sc.posScale(a, p), 0, (r) => this.teamValue(r));
  }

  /**
   * One joint step of Σ_k θ_kᵀx_k toward y from stored feature rows x_k (one per agent), for
   * targets known only later (SlateQ credit with Monte Carlo returns). The LMS step is applied by
   * the team afterwards, as in `learn`.
   */
  learnRows(rows: readonly Float64Array[], y: number): void {
    const { m, values } = this.core;
    const joint = this.rls[0];
    if (joint) {
      joint.step(rows, new Int32Array(m), new Float64Array(m).fill(1), y);
      return;
    }
    let pred = 0;
    let norm = 1;
    for (let a = 0; a < m; a++) (pred += values[a]!.value(rows[a]!, 0)), (norm += values[a]!.sq(rows[a]!, 0));
    for (let a = 0; a < m; a++) values[a]!.accumulate(rows[a]!, 0, y - pred, 1, norm);
  }

  update(): void {}
  syncParts(): Float64Array[] {
    return [];
  }
  saveState(): Record<string, unknown> {
    return {};
  }
  loadState(): void {}
}
