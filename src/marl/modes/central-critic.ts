/**
 * `central-critic`: decentralised actors and a centralised critic of the joint slate, with COMA's
 * counterfactual baseline per agent (Foerster et al. 2018).
 *
 * Actors: each agent's linear value is its logit; while training the slate is a Plackett–Luce
 * sample from softmax(Σ_k logit_k / T), in evaluation the top K.
 *
 * Critic: Q(s, A) = Σ_p Q_item(s, i_p) + Q_slate(s, A). Both terms are one-hidden-layer ReLU
 * networks (slate-critic.ts) over every agent's features: Q_item over one item's, trained on each
 * position's own TD target (its share of the reward, so a click is credited to the clicked item);
 * Q_slate over the state and the whole shown slate (position-weighted and mean pooled item
 * features), starting at 0 and trained on what the per-item terms leave of the slate's target
 * r + γ·Q(s', A'), A' the slate the actors would show at s'. Q_slate is what makes the critic joint:
 * it can value what the items are together.
 *
 * COMA: for agent k and position p the baseline is the critic's expected value when agent k alone
 * re-chooses that position by its own policy, the rest of the slate fixed,
 *   b_kp = Σ_j π_k(j | not shown elsewhere)·Q(s, A with i_p → j),
 * and agent k follows the advantage Q(s, A) − b_kp along ∇ log π_k(i_p | not shown elsewhere). The
 * actors wait `criticWarmup` transitions for the critic. Until 2026-12-06 `central-critic` named
 * what is now `item-critic` (the per-item term alone, trained in batches).
 */
import { StateFeaturiser } from '../../agents/state.js';
import type { Transition } from '../../agents/types.js';
import type { Observation } from '../../env/types.js';
import { ConfigError, ModelStateError } from '../../errors.js';
import { vdnMix } from '../mixer.js';
import type { JointRls } from '../rls.js';
import { SlateCritic } from '../slate-critic.js';
import type { ActRecord } from '../slate-assembly.js';
import type { CoordinationMode, LearnStep, TeamCore } from './mode.js';

/** Hidden ReLU units of the slate critic. */
const CRITIC_HIDDEN = 32;

export class CentralCriticMode implements CoordinationMode {
  readonly name = 'central-critic';
  readonly rls: JointRls[] = [];
  readonly samplesSlates = true;
  /** The slate term Q_slate(s, A) of the critic (slate-critic.ts). */
  readonly critic: SlateCritic;
  /** The per-item term Q_item(s, i) of the critic (the same network shape over one item's features). */
  readonly itemCritic: SlateCritic;
  private readonly none = new Float64Array(0);
  private readonly xi: Float64Array;
  private qItem = new Float64Array(0);
  private readonly stateF: StateFeaturiser;
  private readonly sVec: Float32Array;
  private readonly D: number;
  private readonly X: Float64Array;
  private readonly x: Float64Array;
  private readonly xA: Float64Array;
  /** Transitions learned from so far (the actors wait `criticWarmup` of them). */
  private seen = 0;

  constructor(private readonly core: TeamCore) {
    this.stateF = new StateFeaturiser(core.ctx);
    this.sVec = new Float32Array(this.stateF.dim);
    this.D = core.views.reduce((a, v) => a + v.dim, 0);
    this.itemCritic = new SlateCritic(0, this.D, CRITIC_HIDDEN, core.config.criticLr, core.rng);
    // The slate term starts at 0: the critic starts as a sum of per-item values and learns what the
    // slate adds (an untrained term would put noise into every bootstrap target).
    this.critic = new SlateCritic(this.stateF.dim, this.D, CRITIC_HIDDEN, core.config.criticLr, core.rng, true);
    this.xi = new Float64Array(this.itemCritic.nIn);
    this.X = new Float64Array(core.scores.maxN * this.D);
    this.x = new Float64Array(this.critic.nIn);
    this.xA = new Float64Array(this.critic.nIn);
    const { criticWarmup } = core.config;
    if (!(Number.isInteger(criticWarmup) && criticWarmup >= 0)) throw new ConfigError(`criticWarmup must be a non-negative integer, got ${criticWarmup}`, 'criticWarmup');
  }

  mix(obs: Observation, n: number): void {
    const sc = this.core.scores;
    sc.q.set(sc.q1.subarray(0, n * sc.m));
    sc.w.fill(1);
    this.stateF.encode(obs, this.sVec);
  }

  /** The fused logit (the critic holds the team's value). */
  teamValue(r: number): number {
    const m = this.core.m;
    return vdnMix(this.core.scores.q, m, r * m);
  }

  /** Every agent's features of evaluated rows 0..n-1, concatenated per row, into X. */
  private fillRows(n: number): void {
    const { views, scores } = this.core;
    const D = this.D;
    for (let r = 0; r < n; r++) {
      let o = r * D;
      for (let k = 0; k < views.length; k++) {
        const d = views[k]!.dim;
        const F = scores.F[k]!;
        for (let j = 0; j < d; j++) this.X[o++] = F[r * d + j]!;
      }
    }
  }

  /** Q_item of row r of X. */
  private itemValue(r: number): number {
    this.itemCritic.input(this.none, this.X, [r], 1, this.xi);
    return this.itemCritic.forward(this.xi);
  }

  nextValue(n: number, idx: Int32Array, kk: number, vNext: Float64Array): void {
    this.fillRows(n);
    this.critic.input(this.sVec, this.X, idx, kk, this.x);
    let v = this.critic.forward(this.x);
    for (let p = 0; p < kk; p++) v += this.itemValue(idx[p]!);
    vNext[this.core.m]! += v;
  }

  learn({ t, rec, y, K }: LearnStep): void {
    // The team evaluated the shown items at s, row p = position p.
    this.fillRows(K);
    const shown = Int32Array.from({ length: K }, (_, p) => p);
    this.critic.input(this.sVec, this.X, shown, K, this.xA);
    // Σ_p y_p = r + γ·Q(s', A'): the slate's TD target. The per-item term fits each position's
    // own target (its share of the reward: the clicks are credited to the items clicked); the slate
    // term fits what the per-item terms leave of the slate's target.
    let target = 0;
    const qi = new Float64Array(K);
    for (let p = 0; p < K; p++) (target += y[p]!), (qi[p] = this.itemValue(p));
    let residual = target;
    for (let p = 0; p < K; p++) residual -= qi[p]!;
    // The per-item term's gradients, while rows 0..K−1 still hold the shown items (the actor step
    // below re-evaluates every candidate into the same rows); applied after it, so the actors
    // follow the critic the slate was scored with.
    for (let p = 0; p < K; p++) {
      this.itemCritic.input(this.none, this.X, [p], 1, this.xi);
      const err0 = y[p]! - this.itemCritic.forward(this.xi);
      const err = err0 > 5 ? 5 : err0 < -5 ? -5 : err0;
      this.itemCritic.backward(this.xi, -err / K);
    }
    // The actors follow the critic only once it has seen some slates: a fresh critic's
    // counterfactual differences are noise, and the normalised actor steps would follow it anyway.
    if (this.seen++ >= this.core.config.criticWarmup) this.actorStep(t, rec);
    this.itemCritic.step();
    this.criticStep(residual);
  }

  /** One Adam step of the slate term toward the residual target. */
  private criticStep(residual: number): void {
    const err0 = residual - this.critic.forward(this.xA);
    const err = err0 > 5 ? 5 : err0 < -5 ? -5 : err0;
    this.critic.backward(this.xA, -err);
    this.critic.step();
  }

  /** COMA actor update of every agent (see the module comment). */
  private actorStep(t: Transition, rec: ActRecord | undefined): void {
    const sc = this.core.scores;
    const cands = rec?.cands ?? t.slate.items;
    const n = sc.evaluate(t.observation, cands, rec?.arm ?? 0, rec?.candRows ?? null);
    const m = this.core.m;
    const K = t.slate.items.length;
    const rows = new Int32Array(K).fill(-1);
    for (let r = 0; r < n; r++) for (let p = 0; p < K; p++) if (cands[r] === t.slate.items[p]) rows[p] = r;
    this.fillRows(n);
    this.critic.input(this.sVec, this.X, rows, K, this.x);
    const slateA = this.critic.forward(this.x);
    const Qcf = new Float64Array(K * n);
    this.critic.counterfactuals(this.x, this.X, n, rows, K, Qcf);
    if (this.qItem.length < n) this.qItem = new Float64Array(n);
    const qItem = this.qItem;
    for (let r = 0; r < n; r++) qItem[r] = this.itemValue(r);
    let QA = slateA;
    for (let p = 0; p < K; p++) if (rows[p]! >= 0) QA += qItem[rows[p]!]!;
    // Q(s, A with i_p → j) = Q(s, A) − Q_item(i_p) + Q_item(j) + (Q_slate after the swap − Q_slate(s, A)).
    for (let p = 0; p < K; p++) {
      const ri = rows[p]!;
      if (ri < 0) continue;
      for (let j = 0; j < n; j++) Qcf[p * n + j] = QA - qItem[ri]! + qItem[j]! + Qcf[p * n + j]! - slateA;
    }
    const T = this.core.config.temperature;
    for (let a = 0; a < m; a++) {
      const d = this.core.views[a]!.dim;
      const F = sc.F[a]!;
      let mx = -Infinity;
      for (let r = 0; r < n; r++) mx = Math.max(mx, sc.q[r * m + a]!);
      const e = new Float64Array(n);
      let z = 0;
      const eF = new Float64Array(d);
      for (let r = 0; r < n; r++) {
        e[r] = Math.exp((sc.q[r * m + a]! - mx) / T);
        z += e[r]!;
        for (let j = 0; j < d; j++) eF[j]! += e[r]! * F[r * d + j]!;
      }
      const g = new Float64Array(d);
      for (let p = 0; p < K; p++) {
        const r = rows[p]!;
        if (r < 0) continue;
        // Agent a's choice set at position p: the candidates not shown at another position.
        let zp = z;
        let eq = 0;
        for (let j = 0; j < n; j++) eq += e[j]! * Qcf[p * n + j]!;
        const mean = new Float64Array(eF);
        for (let o = 0; o < K; o++) {
          const ro = rows[o]!;
          if (o === p || ro < 0) continue;
          zp -= e[ro]!;
          eq -= e[ro]! * Qcf[p * n + ro]!;
          for (let j = 0; j < d; j++) mean[j]! -= e[ro]! * F[ro * d + j]!;
        }
        if (!(zp > 0)) continue;
        const adv = QA - eq / zp;
        for (let j = 0; j < d; j++) g[j]! += (adv * (F[r * d + j]! - mean[j]! / zp)) / T;
      }
      let gg = 1;
      for (let j = 0; j < d; j++) gg += g[j]! * g[j]!;
      const f = this.core.config.actorLr / Math.sqrt(gg);
      for (let j = 0; j < d; j++) this.core.values[a]!.grad[j]! += f * g[j]!;
    }
  }

  update(): void {}

  /** Distributed learners do not support this mode (distributed.ts). */
  syncParts(): Float64Array[] {
    return [];
  }

  saveState(): Record<string, unknown> {
    return { slateCritic: { params: this.critic.params, adam: this.critic.optimiserState(), item: this.itemCritic.params, itemAdam: this.itemCritic.optimiserState() } };
  }

  loadState(s: Record<string, unknown>): void {
    type AdamState = { t: number; m: Float64Array; v: Float64Array };
    const c = s.slateCritic as { params: Float64Array; adam: AdamState; item: Float64Array; itemAdam: AdamState } | undefined;
    if (!c) throw new ModelStateError('this saved team has no slate critic: it was saved when "central-critic" named the per-item critic; restore it with coordination "item-critic"', 'E_MODEL_STATE');
    if (c.params.length !== this.critic.params.length) throw new ModelStateError(`saved slate critic has ${c.params.length} parameters, this one ${this.critic.params.length} (members differ)`, 'E_MODEL_STATE');
    this.critic.params.set(c.params);
    this.critic.loadOptimiserState(c.adam);
    this.itemCritic.params.set(c.item);
    this.itemCritic.loadOptimiserState(c.itemAdam);
  }
}
