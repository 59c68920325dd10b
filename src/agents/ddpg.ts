/**
 * DDPG (Lillicrap et al. 2016) in the Wolpertinger architecture (Dulac-Arnold et al. 2015,
 * "Deep Reinforcement Learning in Large Discrete Action Spaces").
 *
 * Action space: an item is embedded as [item vector | the user's prior score of it, z-scored over
 * the catalogue], so "more like these items" and "closer to what the myopic recommender would
 * show" are both directions the actor can take. The actor μ(s) outputs a proto-action in that
 * space (tanh, scaled per dimension to the embeddings' range; the prior output starts near the
 * top of its range, i.e. near the myopic recommender). The proto-action is mapped to its `knn`
 * nearest candidate items (Euclidean, among this step's candidates — the whole catalogue when it
 * is small); the critic Q(s, a_i), an MLP over [state | item embedding], refines the choice: the
 * slate is the k neighbours with the highest Q. Exploration: Gaussian noise on the proto-action;
 * the propensities of an explored slate are a Monte-Carlo estimate over `propensitySamples`
 * further noise draws (./propensity.ts), given the step's candidate set.
 *
 * Training on replayed shown items (reward credited per position as in DQN):
 *   critic: y = r_i + γ (1 − done) max_{j ∈ kNN(μ'(s'))} Q'(s', a_j)   (target networks μ', Q')
 *   actor:  ascend Q(s, μ(s)) through the critic's input gradient;
 * both target networks track by Polyak averaging.
 */
import type { Observation, Slate } from '../env/types.js';
import { Adam, huberLoss, Mlp } from '../nn/index.js';
import { ConfigError } from '../errors.js';
import { NEURAL_DEFAULTS, NeuralAgent, ReplayBuffer, grow, packReplay, pushReplay, unpackReplay, type ReplayConfig, type ReplaySample } from './neural.js';
import { topPositions } from './softmax-policy.js';
import type { AgentContext } from './state.js';
import type { Rng } from '../util/rng.js';
import { lazyPropensities, monteCarloPropensities, sideRng } from './propensity.js';
import type { ActOptions, Transition } from './types.js';

export interface DdpgConfig extends ReplayConfig {
  /** Nearest items the proto-action is mapped to (at least k are used). */
  knn: number;
  /** Std of the exploration noise, as a fraction of each dimension's range. */
  noise: number;
  actorLr: number;
  /**
   * Extra noise draws per slate for the Monte-Carlo propensity estimate (see ./propensity.ts);
   * 0 reports no propensities (the simulator does not read them).
   */
  propensitySamples: number;
}

export const DDPG_DEFAULTS: Omit<DdpgConfig, 'seed'> = {
  ...NEURAL_DEFAULTS,
  knn: 20,
  noise: 0.05,
  bufferSize: 20000,
  batchSize: 32,
  learningStarts: 200,
  tau: 0.01,
  actorLr: 1e-4,
  trainEvery: 2,
  nextCandidates: 50,
  propensitySamples: 64,
};

type Sample = ReplaySample;

export class DdpgAgent extends NeuralAgent<DdpgConfig> {
  readonly name = 'ddpg';
  readonly version = 1;
  private readonly actor: Mlp;
  private readonly actorTarget: Mlp;
  private readonly critic: Mlp;
  private readonly criticTarget: Mlp;
  private readonly actorOpt: Adam;
  private readonly criticOpt: Adam;
  private readonly buffer: ReplayBuffer<Sample>;
  /** Item-vector width; the action adds one prior dimension (d + 1 values). */
  private readonly d: number;
  private readonly ad: number;
  /** Mean item-vector scale: the prior dimension's distance is measured in these units. */
  private readonly vecScale: number;
  private readonly sd: number;
  /** Per-dimension half-range of the action embeddings (scales the tanh output and distances). */
  private scale: Float32Array;
  private readonly proto: Float32Array;
  /** The actor's (tanh) output for the current state, before scaling and noise. */
  private readonly mean: Float32Array;
  private readonly stateBuf: Float32Array;
  private x: Float32Array = new Float32Array(0);
  private y: Float32Array = new Float32Array(0);
  private g: Float32Array = new Float32Array(0);
  private dist: Float32Array = new Float32Array(0);
  private nn = new Int32Array(0);
  /** Scratch for gradient steps (grown, then reused). */
  private states: Float32Array = new Float32Array(0);
  private nextStates: Float32Array = new Float32Array(0);
  private nextVal: Float32Array = new Float32Array(0);
  private dA: Float32Array = new Float32Array(0);
  private readonly batch: Sample[] = [];
  /** Observed transitions not yet paid for with gradient steps. */
  private owed = 0;

  constructor(ctx: AgentContext, config: DdpgConfig) {
    super(ctx, config);
    for (const f of ['knn', 'bufferSize', 'batchSize', 'nextCandidates', 'trainEvery'] as const) {
      if (!Number.isInteger(config[f]) || config[f] < 1) throw new ConfigError(`${f} must be a positive integer, got ${config[f]}`, f);
    }
    if (!(config.noise >= 0)) throw new ConfigError(`noise must be ≥ 0, got ${config.noise}`, 'noise');
    if (!Number.isInteger(config.propensitySamples) || config.propensitySamples < 0) {
      throw new ConfigError(`propensitySamples must be an integer ≥ 0, got ${config.propensitySamples}`, 'propensitySamples');
    }
    this.d = ctx.items.dim;
    this.ad = this.d + 1;
    this.sd = this.pairs.stateDim;
    this.scale = new Float32Array(this.ad);
    const { vectors, nItems } = ctx.items;
    for (let i = 0; i < nItems; i++) for (let j = 0; j < this.d; j++) this.scale[j] = Math.max(this.scale[j]!, Math.abs(vectors[i * this.d + j]!));
    for (let j = 0; j < this.d; j++) if (this.scale[j] === 0) this.scale[j] = 1;
    // The prior dimension's range is learned from the candidates seen while training (see
    // act): until it has been seen to vary the actor cannot move along it, so the critic is never
    // asked about values it has not been trained on.
    this.scale[this.d] = 1e-3;
    let vs = 0;
    for (let j = 0; j < this.d; j++) vs += this.scale[j]!;
    this.vecScale = vs / Math.max(1, this.d);
    this.actor = new Mlp({ sizes: [this.sd, ...config.hidden, this.ad], output: 'tanh', outputInitScale: 0.1 }, this.initRng);
    this.critic = new Mlp({ sizes: [this.sd + this.ad, ...config.hidden, 1] }, this.initRng);
    // Start the actor near the myopic recommender: its prior output begins at tanh(1.1) ≈ 0.8 of
    // the prior range (the best-scored candidates), and learning moves it from there.
    this.actor.bias(this.actor.nLayers - 1)[this.d] = 1.1;
    this.actorTarget = this.actor.clone(this.initRng);
    this.criticTarget = this.critic.clone(this.initRng);
    this.actorOpt = new Adam(this.actor.params, this.actor.grads, { lr: config.actorLr, maxGradNorm: 5 });
    this.criticOpt = new Adam(this.critic.params, this.critic.grads, { lr: config.lr, maxGradNorm: 10 });
    this.buffer = new ReplayBuffer(config.bufferSize);
    this.proto = new Float32Array(this.ad);
    this.mean = new Float32Array(this.ad);
    this.stateBuf = new Float32Array(this.sd);
  }

  /** Rows [state | item embedding] for items into this.x starting at row r0. */
  private fillRows(state: Float32Array, user: number, items: ArrayLike<number>, r0: number): void {
    const { vectors } = this.ctx.items;
    const z = this.source.zPrior(user);
    const D = this.sd + this.ad;
    for (let q = 0; q < items.length; q++) {
      const o = (r0 + q) * D;
      this.x.set(state, o);
      const i = items[q]!;
      for (let j = 0; j < this.d; j++) this.x[o + this.sd + j] = vectors[i * this.d + j]!;
      this.x[o + this.sd + this.d] = z[i]!;
    }
  }

  /** Positions (into cands) of the m candidates nearest to proto (distances in scaled units), nearest first, into this.nn. */
  private nearest(proto: Float32Array, user: number, cands: Int32Array, m: number): number {
    const n = cands.length;
    const { vectors } = this.ctx.items;
    const z = this.source.zPrior(user);
    this.dist = grow(this.dist, n);
    for (let q = 0; q < n; q++) {
      const o = cands[q]! * this.d;
      let s = 0;
      for (let j = 0; j < this.d; j++) s += (vectors[o + j]! - proto[j]!) ** 2;
      s += (((z[cands[q]!]! - proto[this.d]!) / this.scale[this.d]!) * this.vecScale) ** 2;
      this.dist[q] = -s;
    }
    const mm = Math.min(m, n);
    if (this.nn.length < mm) this.nn = new Int32Array(mm * 2);
    topPositions(this.dist, n, mm, this.nn);
    return mm;
  }

  private protoAction(net: Mlp, state: Float32Array, out: Float32Array, noise: number): void {
    const a = net.forward(state, 1);
    for (let j = 0; j < this.ad; j++) this.mean[j] = a[j]!;
    this.perturb(out, noise);
  }

  /** out = mean (the actor's output) scaled per dimension, plus Gaussian noise of std noise × range. */
  private perturb(out: Float32Array, noise: number, mean: Float32Array = this.mean, scale: Float32Array = this.scale, rng: Rng = this.rng): void {
    for (let j = 0; j < this.ad; j++) {
      let v = mean[j]! * scale[j]!;
      if (noise > 0) v += noise * scale[j]! * rng.normal();
      out[j] = v;
    }
  }

  /** The slate a proto-action gives: its nearest candidates, the k with the highest Q (qAll: Q of every candidate). */
  private slateOf(proto: Float32Array, user: number, cands: Int32Array, qAll: Float32Array, k: number): Int32Array {
    const m = this.nearest(proto, user, cands, Math.max(k, this.config.knn));
    const near = this.nn.subarray(0, m);
    const qv = Float32Array.from(near, (q) => qAll[q]!);
    const order = new Int32Array(Math.min(k, m));
    topPositions(qv, m, order.length, order);
    return Int32Array.from(order, (p) => near[p]!);
  }

  act(obs: Observation, k: number, options?: ActOptions): Slate {
    const cands = this.source.get(obs, this.rng, options);
    const n = cands.length;
    this.pairs.encodeState(obs, this.stateBuf);
    const noise = this.training ? this.config.noise : 0;
    this.protoAction(this.actor, this.stateBuf, this.proto, noise);
    // The proto-action was scaled before this update: the estimate below draws with that scale.
    const protoScale = Float32Array.from(this.scale);
    if (this.training) {
      const z = this.source.zPrior(obs.user);
      for (let q = 0; q < n; q++) this.scale[this.d] = Math.max(this.scale[this.d]!, Math.abs(z[cands[q]!]!));
    }
    // Q(s, i) does not depend on the proto-action: score every candidate once, so the Monte-Carlo
    // draws below only redo the nearest-neighbour step.
    this.x = grow(this.x, n * (this.sd + this.ad));
    this.fillRows(this.stateBuf, obs.user, cands, 0);
    const qAll = Float32Array.from(this.critic.forward(this.x, n));
    const pos = this.slateOf(this.proto, obs.user, cands, qAll, k);
    const items = Int32Array.from(pos, (q) => cands[q]!);
    const slate: Slate = { items, scores: Float32Array.from(pos, (q) => qAll[q]!) };
    const M = this.config.propensitySamples;
    if (noise === 0) slate.propensities = new Float32Array(items.length).fill(1); // deterministic: exact
    else if (M > 0) {
      // The slate is a deterministic function of the Gaussian noise, but the probability that the
      // noise lands an item in the top k has no closed form: estimate it over M further draws,
      // when first read (with what this act saw, and a side generator that leaves the agent's own untouched).
      const mean = Float32Array.from(this.mean);
      const scale = Float32Array.from(this.scale);
      const rng = sideRng(this.rng);
      const user = obs.user;
      lazyPropensities(slate, () => {
        const saved = this.scale;
        const proto = new Float32Array(this.ad);
        const draws: Int32Array[] = [];
        this.scale = scale; // nearest() measures the prior dimension in this act's units
        try {
          for (let m = 0; m < M; m++) {
            this.perturb(proto, noise, mean, protoScale, rng);
            draws.push(Int32Array.from(this.slateOf(proto, user, cands, qAll, items.length), (q) => cands[q]!));
          }
        } finally {
          this.scale = saved;
        }
        return monteCarloPropensities(items, draws);
      });
    }
    return slate;
  }

  override observe(t: Transition): boolean {
    if (!this.training) return false;
    this.learnRetrieval(t);
    if (pushReplay(this.buffer, t, this.config.learningStarts, this.config.batchSize)) this.owed++;
    return true;
  }

  override update(): void {
    if (!this.training) return;
    for (; this.owed >= this.config.trainEvery; this.owed -= this.config.trainEvery) this.gradientStep();
  }

  private gradientStep(): void {
    const { batchSize, gamma, tau, knn, nextCandidates } = this.config;
    const D = this.sd + this.ad;
    const batch = this.buffer.sample(this.rng, batchSize, this.batch);
    const B = batch.length;
    this.states = grow(this.states, B * this.sd);
    this.nextStates = grow(this.nextStates, B * this.sd);
    const states = this.states;
    const nextStates = this.nextStates;
    for (let t = 0; t < B; t++) {
      this.pairs.encodeState(batch[t]!.obs, states.subarray(t * this.sd, (t + 1) * this.sd));
      this.pairs.encodeState(batch[t]!.next, nextStates.subarray(t * this.sd, (t + 1) * this.sd));
    }
    // Critic targets: max of Q' over the kNN of the target actor's proto-action at s'.
    this.nextVal = grow(this.nextVal, B);
    const nextVal = this.nextVal.fill(0, 0, B);
    for (let t = 0; t < B; t++) {
      if (batch[t]!.done) continue;
      const cands = this.source.topCached(batch[t]!.next, nextCandidates);
      if (cands.length === 0) continue;
      const s = nextStates.subarray(t * this.sd, (t + 1) * this.sd);
      this.protoAction(this.actorTarget, s, this.proto, 0);
      const user = batch[t]!.next.user;
      const m = this.nearest(this.proto, user, cands, knn);
      this.x = grow(this.x, m * D);
      this.fillRows(s, user, Array.from(this.nn.subarray(0, m), (q) => cands[q]!), 0);
      const qv = this.criticTarget.forward(this.x, m);
      let best = -Infinity;
      for (let q = 0; q < m; q++) best = Math.max(best, qv[q]!);
      nextVal[t] = best;
    }
    // Critic step on every shown item.
    let rows = 0;
    for (const b of batch) rows += b.items.length;
    this.x = grow(this.x, rows * D);
    this.y = grow(this.y, rows);
    this.g = grow(this.g, rows);
    let r = 0;
    for (let t = 0; t < B; t++) {
      const b = batch[t]!;
      this.fillRows(states.subarray(t * this.sd, (t + 1) * this.sd), b.obs.user, b.items, r);
      for (let p = 0; p < b.items.length; p++) this.y[r + p] = b.rewards[p]! + (b.done ? 0 : gamma * nextVal[t]!);
      r += b.items.length;
    }
    this.critic.zeroGrad();
    huberLoss(this.critic.forward(this.x, rows), this.y, rows, this.g);
    this.critic.backward(this.g.subarray(0, rows));
    this.criticOpt.step();
    // Actor step: dQ(s, μ(s))/dθ_μ through the critic's input gradient (critic grads discarded).
    const a = this.actor.forward(states.subarray(0, B * this.sd), B);
    this.x = grow(this.x, B * D);
    for (let t = 0; t < B; t++) {
      this.x.set(states.subarray(t * this.sd, (t + 1) * this.sd), t * D);
      for (let j = 0; j < this.ad; j++) this.x[t * D + this.sd + j] = a[t * this.ad + j]! * this.scale[j]!;
    }
    this.critic.forward(this.x, B);
    this.g = grow(this.g, B);
    this.g.fill(-1 / B, 0, B);
    const dIn = this.critic.backward(this.g.subarray(0, B), true)!;
    this.critic.zeroGrad();
    this.dA = grow(this.dA, B * this.ad);
    const dA = this.dA.subarray(0, B * this.ad);
    for (let t = 0; t < B; t++) for (let j = 0; j < this.ad; j++) dA[t * this.ad + j] = dIn[t * D + this.sd + j]! * this.scale[j]!;
    // The critic forward above replaced nothing in the actor's cache, so its backward is valid.
    this.actor.zeroGrad();
    this.actor.backward(dA);
    this.actorOpt.step();
    this.actorTarget.softUpdateFrom(this.actor, tau);
    this.criticTarget.softUpdateFrom(this.critic, tau);
  }

  protected override extraState(): Record<string, unknown> {
    return { owed: this.owed, priorScale: this.scale[this.d], replay: packReplay(this.buffer) };
  }

  protected override loadExtraState(s: Record<string, unknown>): void {
    this.owed = typeof s.owed === 'number' ? s.owed : 0;
    if (typeof s.priorScale === 'number') this.scale[this.d] = s.priorScale;
    unpackReplay(this.buffer, s.replay);
  }

  protected networks(): Record<string, { net: Mlp; opt?: Adam }> {
    return {
      actor: { net: this.actor, opt: this.actorOpt },
      critic: { net: this.critic, opt: this.criticOpt },
      actorTarget: { net: this.actorTarget },
      criticTarget: { net: this.criticTarget },
    };
  }
}
