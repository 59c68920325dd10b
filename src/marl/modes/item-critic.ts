/**
 * `item-critic` (called `central-critic` until 2026-12-06): a centralised per-item critic with
 * decentralised actors. Each agent's linear value is an actor's logit: while
 * training the slate is a Plackett–Luce sample from softmax(fused score / T) (the fused score is the
 * sum of the agents' logits). The critic is an MLP over all agents' features of ONE item,
 * Q(s, i) = MLP([φ_1(s, i) | … | φ_m(s, i)]), trained by TD on the per-position targets; the slate's
 * value is Σ_p Q(s, i_p). So it is a per-item critic that sees every agent's observation, not a
 * critic of the joint slate. Each actor follows a COMA-style counterfactual advantage per position:
 * Q(s, i_p) − Σ_j π_k(j | not shown elsewhere)·Q(s, j), agent k alone re-choosing that position.
 */
import type { Transition } from '../../agents/types.js';
import type { Observation } from '../../env/types.js';
import { Adam } from '../../nn/adam.js';
import { Mlp } from '../../nn/mlp.js';
import { vdnMix } from '../mixer.js';
import type { JointRls } from '../rls.js';
import type { ActRecord } from '../slate-assembly.js';
import type { CoordinationMode, LearnStep, TeamCore } from './mode.js';

export class ItemCriticMode implements CoordinationMode {
  readonly name = 'item-critic';
  readonly rls: JointRls[] = [];
  readonly samplesSlates = true;
  readonly critic: Mlp;
  private readonly criticOpt: Adam;
  private readonly criticDim: number;
  private criticX: number[] = [];
  private criticY: number[] = [];

  constructor(private readonly core: TeamCore) {
    this.criticDim = core.views.reduce((a, v) => a + v.dim, 0);
    this.critic = new Mlp({ sizes: [this.criticDim, 32, 1] }, core.rng);
    this.criticOpt = new Adam(this.critic.params, this.critic.grads, { lr: core.config.criticLr, maxGradNorm: 5 });
  }

  mix(_obs: Observation, n: number): void {
    const sc = this.core.scores;
    sc.q.set(sc.q1.subarray(0, n * sc.m));
    sc.w.fill(1);
  }

  /** The fused logit (not used for learning: the critic holds the team's value). */
  teamValue(r: number): number {
    const m = this.core.m;
    return vdnMix(this.core.scores.q, m, r * m);
  }

  nextValue(n: number, idx: Int32Array, kk: number, vNext: Float64Array): void {
    const cv = new Float64Array(n);
    this.criticValues(n, cv);
    for (let p = 0; p < kk; p++) vNext[this.core.m]! += cv[idx[p]!]!;
  }

  private criticInput(r: number, out: Float32Array, off: number): void {
    let o = off;
    const { F } = this.core.scores;
    for (let k = 0; k < this.core.m; k++) {
      const d = this.core.views[k]!.dim;
      const Fk = F[k]!;
      for (let j = 0; j < d; j++) out[o++] = Fk[r * d + j]!;
    }
  }

  /** Critic values of evaluated rows 0..n-1 into `out`. */
  private criticValues(n: number, out: Float64Array): void {
    const x = new Float32Array(n * this.criticDim);
    for (let r = 0; r < n; r++) this.criticInput(r, x, r * this.criticDim);
    const y = this.critic.forward(x, n);
    for (let r = 0; r < n; r++) out[r] = y[r]!;
  }

  learn({ t, rec, y, K }: LearnStep): void {
    for (let p = 0; p < K; p++) {
      const off = this.criticX.length;
      this.criticX.length = off + this.criticDim;
      const tmp = new Float32Array(this.criticDim);
      this.criticInput(p, tmp, 0);
      for (let j = 0; j < this.criticDim; j++) this.criticX[off + j] = tmp[j]!;
      this.criticY.push(y[p]!);
    }
    this.actorStep(t, rec);
  }

  /**
   * COMA-style actor update of every agent. For slate position p the counterfactual baseline is
   * agent k's expected critic value when it alone re-chooses that position from the candidates
   * (the other shown items fixed): b_p = Σ_j π_k(j | not shown elsewhere)·Q(s, j).
   */
  private actorStep(t: Transition, rec: ActRecord | undefined): void {
    const sc = this.core.scores;
    const cands = rec?.cands ?? t.slate.items;
    const n = sc.evaluate(t.observation, cands, rec?.arm ?? 0, rec?.candRows ?? null);
    const m = this.core.m;
    const Q = new Float64Array(n);
    this.criticValues(n, Q);
    const T = this.core.config.temperature;
    const K = t.slate.items.length;
    const rows = new Int32Array(K).fill(-1);
    for (let r = 0; r < n; r++) for (let p = 0; p < K; p++) if (cands[r] === t.slate.items[p]) rows[p] = r;
    for (let a = 0; a < m; a++) {
      const d = this.core.views[a]!.dim;
      const F = sc.F[a]!;
      let mx = -Infinity;
      for (let r = 0; r < n; r++) mx = Math.max(mx, sc.q[r * m + a]!);
      const e = new Float64Array(n);
      let z = 0;
      let eq = 0;
      const eF = new Float64Array(d);
      for (let r = 0; r < n; r++) {
        e[r] = Math.exp((sc.q[r * m + a]! - mx) / T);
        z += e[r]!;
        eq += e[r]! * Q[r]!;
        for (let j = 0; j < d; j++) eF[j]! += e[r]! * F[r * d + j]!;
      }
      const g = new Float64Array(d);
      for (let p = 0; p < K; p++) {
        const r = rows[p]!;
        if (r < 0) continue;
        // Remove the other shown items from the agent's choice set.
        let zp = z;
        let eqp = eq;
        const mean = new Float64Array(eF);
        for (let o = 0; o < K; o++) {
          const ro = rows[o]!;
          if (o === p || ro < 0) continue;
          zp -= e[ro]!;
          eqp -= e[ro]! * Q[ro]!;
          for (let j = 0; j < d; j++) mean[j]! -= e[ro]! * F[ro * d + j]!;
        }
        if (!(zp > 0)) continue;
        const adv = Q[r]! - eqp / zp;
        for (let j = 0; j < d; j++) g[j]! += (adv * (F[r * d + j]! - mean[j]! / zp)) / T;
      }
      let gg = 1;
      for (let j = 0; j < d; j++) gg += g[j]! * g[j]!;
      const f = this.core.config.actorLr / Math.sqrt(gg);
      for (let j = 0; j < d; j++) this.core.values[a]!.grad[j]! += f * g[j]!;
    }
  }

  update(): void {
    if (this.criticY.length === 0) return;
    const n = this.criticY.length;
    const x = Float32Array.from(this.criticX);
    const out = this.critic.forward(x, n);
    const grad = new Float32Array(n);
    for (let r = 0; r < n; r++) grad[r] = (2 * (out[r]! - this.criticY[r]!)) / n;
    this.critic.zeroGrad();
    this.critic.backward(grad);
    this.criticOpt.step();
    this.criticX = [];
    this.criticY = [];
  }

  /** Distributed learners do not support this mode (distributed.ts). */
  syncParts(): Float64Array[] {
    return [];
  }

  saveState(): Record<string, unknown> {
    return { critic: this.critic.params, criticOpt: this.criticOpt.toJSON() };
  }

  loadState(s: Record<string, unknown>): void {
    if (s.critic) this.critic.params.set(s.critic as Float32Array);
    if (s.criticOpt) this.criticOpt.load(s.criticOpt);
  }
}
