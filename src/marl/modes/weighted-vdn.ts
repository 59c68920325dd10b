/**
 * Weighted VDN: Q_team(s, i) = Σ_k w_k(s)·Q_k(s, i) with w_k(s) = clip(|W_k·s + c_k|, wMin, 2) from
 * a linear hypernetwork of the global state s (mixer.ts `StateWeightedMixer`), no hidden layer and
 * no state bias. Monotone in every agent's value, but additive in them for a given state: a
 * state-weighted VDN. This mode was called `qmix` until the real QMIX mixer (modes/qmix.ts) came;
 * the figures published as `team qmix` up to 2026-12-06 are this mode's.
 */
import { StateFeaturiser } from '../../agents/state.js';
import type { Observation } from '../../env/types.js';
import { StateWeightedMixer } from '../mixer.js';
import { JointRls } from '../rls.js';
import type { CoordinationMode, LearnStep, TeamCore } from './mode.js';
import { itemwiseNextValue } from './mode.js';
import { learnJointLinear } from './vdn.js';

export class WeightedVdnMode implements CoordinationMode {
  readonly name = 'weighted-vdn';
  readonly rls: JointRls[];
  readonly mixer: StateWeightedMixer;
  private readonly stateF: StateFeaturiser;
  private readonly sVec: Float32Array;

  constructor(private readonly core: TeamCore) {
    this.rls = core.ridges ? [new JointRls(core.values, core.ridges, core.config.forget)] : [];
    this.stateF = new StateFeaturiser(core.ctx);
    this.sVec = new Float32Array(this.stateF.dim);
    // No state bias: the team's values are per item, and a bias shared by every item of a state
    // cannot be told apart from the agents' own bias features (see StateWeightedMixer.stateBias).
    this.mixer = new StateWeightedMixer(core.m, this.stateF.dim, core.config.mixLr, 2, core.config.mixWMin, false);
  }

  mix(obs: Observation, n: number): void {
    const sc = this.core.scores;
    sc.q.set(sc.q1.subarray(0, n * sc.m));
    this.stateF.encode(obs, this.sVec);
    sc.b = this.mixer.weights(this.sVec, sc.w);
  }

  teamValue(r: number): number {
    const sc = this.core.scores;
    return StateWeightedMixer.mix(sc.q, r * sc.m, sc.w, sc.m, sc.b);
  }

  nextValue(_n: number, idx: Int32Array, kk: number, vNext: Float64Array): void {
    itemwiseNextValue(this, this.core.scores, idx, kk, vNext);
  }

  learn(step: LearnStep): void {
    const sc = this.core.scores;
    // The hypernetwork's step uses the weights of the state the shown rows were evaluated in.
    learnJointLinear(this.core, this.rls[0], step, (a, p) => sc.w[a]! * sc.posScale(a, p), sc.b, (r) => this.teamValue(r), (p, err) => this.mixer.step(this.sVec, sc.q, p * sc.m, err));
  }

  update(): void {}

  syncParts(): Float64Array[] {
    return [this.mixer.W, this.mixer.c, this.mixer.v];
  }

  saveState(): Record<string, unknown> {
    return { mixer: { W: this.mixer.W, c: this.mixer.c, v: this.mixer.v } };
  }

  loadState(s: Record<string, unknown>): void {
    const mx = s.mixer as { W: Float64Array; c: Float64Array; v: Float64Array };
    this.mixer.W.set(mx.W);
    this.mixer.c.set(mx.c);
    this.mixer.v.set(mx.v);
  }
}
