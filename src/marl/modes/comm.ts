/**
 * `comm`: the agents exchange learned messages about each item before they value it (messages.ts):
 * q_k = θ_kᵀφ_k + (U_kᵀφ_k)·mean_{j≠k} M_j·φ_j. The team value of an item is Σ_k q_k, and the team
 * TD error of each position trains everything: the agents' own values (one joint normalised LMS
 * step, as in VDN, or joint RLS on the target less the message part) and, back-propagated through
 * the messages, the encoders M and read-outs U (Adam, step `mixLr`). Until 2026-12-06 `comm` named
 * what is now `value-sharing` (a fixed message, the mean of the others' values, with a learned gain).
 */
import type { Observation } from '../../env/types.js';
import { ConfigError, ModelStateError } from '../../errors.js';
import { CommMessages } from '../messages.js';
import { vdnMix } from '../mixer.js';
import { JointRls } from '../rls.js';
import type { CoordinationMode, LearnStep, TeamCore } from './mode.js';
import { itemwiseNextValue } from './mode.js';

export class CommMode implements CoordinationMode {
  readonly name = 'comm';
  readonly rls: JointRls[];
  readonly messages: CommMessages;
  private readonly offs: Int32Array;
  private readonly part: Float64Array;
  private readonly dOut: Float64Array;

  constructor(private readonly core: TeamCore) {
    const { config, m } = core;
    if (!(Number.isInteger(config.commDim) && config.commDim >= 1)) throw new ConfigError(`commDim must be a positive integer, got ${config.commDim}`, 'commDim');
    this.rls = core.ridges ? [new JointRls(core.values, core.ridges, config.forget)] : [];
    this.messages = new CommMessages(
      core.views.map((v) => v.dim),
      config.commDim,
      config.mixLr,
      core.rng,
    );
    this.offs = new Int32Array(m);
    this.part = new Float64Array(m);
    this.dOut = new Float64Array(m);
  }

  mix(_obs: Observation, n: number): void {
    const sc = this.core.scores;
    const m = sc.m;
    for (let r = 0; r < n; r++) {
      for (let k = 0; k < m; k++) this.offs[k] = r * this.core.views[k]!.dim;
      this.messages.messageValues(sc.F, this.offs, sc.q, r * m);
      for (let k = 0; k < m; k++) sc.q[r * m + k]! += sc.q1[r * m + k]!;
    }
    sc.w.fill(1);
  }

  teamValue(r: number): number {
    const m = this.core.m;
    return vdnMix(this.core.scores.q, m, r * m);
  }

  nextValue(_n: number, idx: Int32Array, kk: number, vNext: Float64Array): void {
    itemwiseNextValue(this, this.core.scores, idx, kk, vNext);
  }

  learn({ y, K }: LearnStep): void {
    const { m, views, values } = this.core;
    const sc = this.core.scores;
    const joint = this.rls[0];
    const scale = new Float64Array(m);
    for (let p = 0; p < K; p++) {
      const err0 = y[p]! - this.teamValue(p);
      let msgPart = 0;
      for (let a = 0; a < m; a++) {
        this.offs[a] = p * views[a]!.dim;
        scale[a] = sc.posScale(a, p);
        msgPart += sc.q[p * m + a]! - sc.q1[p * m + a]!;
      }
      if (joint) joint.step(sc.F, this.offs, scale, y[p]! - msgPart);
      else {
        let norm = 1;
        for (let a = 0; a < m; a++) norm += scale[a]! ** 2 * values[a]!.sq(sc.F[a]!, this.offs[a]!);
        for (let a = 0; a < m; a++) values[a]!.accumulate(sc.F[a]!, this.offs[a]!, err0, scale[a]!, norm);
      }
      // Loss ½·err² (clipped as the agents' steps are); each agent's message part enters the team
      // value at its position's weight.
      const err = err0 > 2 ? 2 : err0 < -2 ? -2 : err0;
      for (let a = 0; a < m; a++) this.dOut[a] = -err * scale[a]!;
      this.messages.accumulate(sc.F, this.offs, this.dOut);
    }
    this.messages.step();
  }

  update(): void {}

  syncParts(): Float64Array[] {
    return [this.messages.params];
  }

  saveState(): Record<string, unknown> {
    return { messages: { params: this.messages.params, adam: this.messages.optimiserState() } };
  }

  loadState(s: Record<string, unknown>): void {
    const q = s.messages as { params: Float64Array; adam: { t: number; m: Float64Array; v: Float64Array } } | undefined;
    if (!q) throw new ModelStateError('this saved team has no learned messages: it was saved when "comm" named the value-sharing mode; restore it with coordination "value-sharing"', 'E_MODEL_STATE');
    if (q.params.length !== this.messages.params.length) throw new ModelStateError(`saved messages have ${q.params.length} parameters, this team ${this.messages.params.length} (members or commDim differ)`, 'E_MODEL_STATE');
    this.messages.params.set(q.params);
    this.messages.loadOptimiserState(q.adam);
  }
}
