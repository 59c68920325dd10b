/**
 * QMIX (Rashid et al. 2018) over the team's per-item values.
 *
 * Each agent k values an item i in state s as Q_k(s, i) (its linear value). The mixing network
 * (qmix-network.ts: hypernetworks of the global state, non-negative weights, one ELU hidden
 * layer) turns them into the item's team value Q_mix(q(s, i), s), monotone in every Q_k. The team
 * value of a slate is Σ_p Q_mix(q(s, i_p), s) + V(s).
 *
 * The state value V(s) enters once per slate, not per item. Per item it would add the same number
 * to every candidate of a state, as the agents' own always-on features do, and the fits could move
 * value between the two without changing the ranking or the slate's prediction (in the weighted
 * VDN, where the trade is exact, that drift went into the item agent's always-positive features and
 * cost half the return; docs/benchmarks.md). Once per slate it is the slate-level baseline: in the per-position TD steps each position predicts Q_mix(q_p) + V(s)/K, so
 * V(s) receives the slate's mean error and the agents receive each position's own. V(s) does not
 * change which items are chosen (it is the same for every candidate); it makes the bootstrap
 * r + γ·Q_tot(s') carry the state's baseline without the agents' values having to.
 *
 * Learning: the team TD error of each position is back-propagated through the mixer into the
 * agents' values (dQ_mix/dq_k·φ_k, one normalised LMS step for all agents jointly, as in VDN) and
 * into the mixer (Adam on the hypernetworks, step `mixLr`). With the RLS learner the agents take an
 * exact ridge step on the mixer's linearisation at the current values (Gauss–Newton).
 *
 * Scores and explanations: the fused score of an item is Q_mix(q) − Q_mix(0) (the same ranking as
 * Q_mix: Q_mix(0) is one number per state), split exactly over the agents by Shapley values with
 * baseline 0 (an agent's contribution is its average marginal effect on Q_mix), so contributions
 * still add up to the score. The mixer is the fusion: only `fusion: weighted` applies (rank fusions
 * and the meta-policy's weight multipliers would bypass it). Under `dcg` slotting an item's value at
 * a position is Q_mix with the click-driven agents' values scaled by the position's weight.
 */
import { StateFeaturiser } from '../../agents/state.js';
import type { Observation } from '../../env/types.js';
import { ConfigError, ModelStateError } from '../../errors.js';
import { QmixNetwork } from '../qmix-network.js';
import { JointRls } from '../rls.js';
import { itemwiseNextValue, type CoordinationMode, type LearnStep, type TeamCore } from './mode.js';

/** Shapley values of 2^m masked evaluations are exact up to here; more agents would be slow to explain. */
const MAX_AGENTS = 10;

export class QmixMode implements CoordinationMode {
  readonly name = 'qmix';
  readonly fusesItself = true;
  readonly rls: JointRls[];
  readonly net: QmixNetwork;
  private readonly stateF: StateFeaturiser;
  private readonly sVec: Float32Array;
  /** Shapley weight |S|!·(m − |S| − 1)!/m! by coalition size. */
  private readonly shapW: Float64Array;
  private readonly gMask: Float64Array;
  private readonly dq: Float64Array;
  private readonly qPos: Float64Array;

  constructor(private readonly core: TeamCore) {
    const { config, m } = core;
    if (config.fusion !== 'weighted') throw new ConfigError(`coordination qmix mixes the agents' values with its own network; fusion must be weighted, got "${config.fusion}"`, 'fusion');
    if (m > MAX_AGENTS) throw new ConfigError(`coordination qmix explains at most ${MAX_AGENTS} agents, the team has ${m}`, 'members');
    if (!(Number.isInteger(config.mixHidden) && config.mixHidden >= 1)) throw new ConfigError(`mixHidden must be a positive integer, got ${config.mixHidden}`, 'mixHidden');
    this.rls = core.ridges ? [new JointRls(core.values, core.ridges, config.forget)] : [];
    this.stateF = new StateFeaturiser(core.ctx);
    this.sVec = new Float32Array(this.stateF.dim);
    this.net = new QmixNetwork(m, this.stateF.dim, config.mixHidden, config.mixLr, core.rng);
    const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));
    this.shapW = Float64Array.from({ length: m }, (_, s) => (fact(s) * fact(m - s - 1)) / fact(m));
    this.gMask = new Float64Array(1 << m);
    this.dq = new Float64Array(m);
    this.qPos = new Float64Array(m);
  }

  mix(obs: Observation, n: number): void {
    const sc = this.core.scores;
    const m = sc.m;
    sc.q.set(sc.q1.subarray(0, n * m));
    this.stateF.encode(obs, this.sVec);
    this.net.setState(this.sVec);
    // The summaries' "weight" of an agent: the mixer's slope for it in this state.
    this.net.slopes(sc.w);
    for (let r = 0; r < n; r++) this.rescore(r);
  }

  /** Shapley contributions (baseline 0) of row r's agents to Q_mix, and their sum as the fused score. */
  rescore(r: number): void {
    const sc = this.core.scores;
    const m = sc.m;
    const full = (1 << m) - 1;
    for (let mask = 0; mask <= full; mask++) this.gMask[mask] = this.net.masked(sc.q, r * m, mask);
    let s = 0;
    for (let k = 0; k < m; k++) {
      const bit = 1 << k;
      let phi = 0;
      for (let mask = 0; mask <= full; mask++) {
        if (mask & bit) continue;
        phi += this.shapW[popcount(mask)]! * (this.gMask[mask | bit]! - this.gMask[mask]!);
      }
      sc.c[r * m + k] = phi;
      s += phi;
    }
    sc.s[r] = s;
  }

  /** Q_mix of row r at a position of examination weight e (`dcg` slotting: click-driven agents' values × e). */
  positionValue(r: number, e: number): number {
    const sc = this.core.scores;
    const m = sc.m;
    for (let a = 0; a < m; a++) this.qPos[a] = sc.q[r * m + a]! * (sc.clickDriven[a] ? e : 1);
    return this.net.forward(this.qPos, 0);
  }

  /** Q_mix of evaluated row r (the item's part of the team value; V(s) is added once per slate). */
  teamValue(r: number): number {
    return this.net.forward(this.core.scores.q, r * this.core.m);
  }

  nextValue(_n: number, idx: Int32Array, kk: number, vNext: Float64Array): void {
    itemwiseNextValue(this, this.core.scores, idx, kk, vNext);
    // The next state's value once for its slate (the network's state is s' here).
    if (kk > 0) vNext[this.core.m]! += this.net.V;
  }

  learn({ y, K }: LearnStep): void {
    const { m, views, values } = this.core;
    const sc = this.core.scores;
    const net = this.net;
    const dq = this.dq;
    const joint = this.rls[0];
    const offs = new Int32Array(m);
    const scale = new Float64Array(m);
    for (let p = 0; p < K; p++) {
      const g = net.forward(sc.q, p * m, dq);
      const pred = g + net.V / K;
      const err0 = y[p]! - pred;
      for (let a = 0; a < m; a++) (offs[a] = p * views[a]!.dim), (scale[a] = dq[a]! * sc.posScale(a, p));
      if (joint) {
        // RLS predicts Σ_k scale_k·θ_kᵀφ_k = Σ_k dQ_mix/dq_k·q_k (q at its position); shift the
        // target so that its error is QMIX's own.
        let lin = 0;
        for (let a = 0; a < m; a++) lin += dq[a]! * sc.q[p * m + a]!;
        joint.step(sc.F, offs, scale, err0 + lin);
      } else {
        let norm = 1;
        for (let a = 0; a < m; a++) norm += scale[a]! ** 2 * values[a]!.sq(sc.F[a]!, offs[a]!);
        for (let a = 0; a < m; a++) values[a]!.accumulate(sc.F[a]!, offs[a]!, err0, scale[a]!, norm);
      }
      // Loss ½·err² (err clipped as the agents' steps are): dL/dQ_mix = −err, dL/dV = −err/K.
      const err = err0 > 2 ? 2 : err0 < -2 ? -2 : err0;
      net.accumulateItem(sc.q, p * m, -err);
      net.accumulateBias(-err / K);
    }
    net.step();
  }

  update(): void {}

  syncParts(): Float64Array[] {
    return [this.net.params];
  }

  saveState(): Record<string, unknown> {
    return { qmix: { params: this.net.params, adam: this.net.optimiserState() } };
  }

  loadState(s: Record<string, unknown>): void {
    const q = s.qmix as { params: Float64Array; adam: { t: number; m: Float64Array; v: Float64Array } } | undefined;
    if (!q) throw new ModelStateError('this saved team has no QMIX mixing network: it was saved when "qmix" named the state-weighted VDN; restore it with coordination "weighted-vdn"', 'E_MODEL_STATE');
    if (q.params.length !== this.net.params.length) throw new ModelStateError(`saved QMIX mixer has ${q.params.length} parameters, this one ${this.net.params.length} (members or mixHidden differ)`, 'E_MODEL_STATE');
    this.net.params.set(q.params);
    this.net.loadOptimiserState(q.adam);
  }
}

function popcount(x: number): number {
  let c = 0;
  for (let v = x; v; v &= v - 1) c++;
  return c;
}
