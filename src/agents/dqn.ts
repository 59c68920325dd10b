/**
 * DQN for slates (Mnih et al. 2015; double DQN, van Hasselt et al. 2016), item-wise in the spirit
 * of SlateQ (Ie et al. 2019): one network Q(s, i) over (state, item) pair features scores every
 * candidate; the slate is the top-k by Q, each position replaced by a uniformly drawn candidate
 * with probability ε. Each shown item is a training sample with target
 *   y_i = r_i + γ (1 − done) Q_target(s', argmax_j Q(s', j)),
 * r_i being the step reward credited to position i (shared among clicked positions), and j
 * ranging over the `nextCandidates` best unseen items at s' by the prior. Replay buffer, Huber
 * loss, Polyak-averaged target network.
 *
 * With `encoder` gru or attention the state includes a learned encoder over the recent items
 * (./encoder-state.ts), trained by the same TD loss through Q's input gradient. There is no target
 * copy of the encoder: the bootstrap values read the next states through the online encoder (the
 * target network still lags in the head), which keeps one encoder to save and train.
 */
import type { Observation, Slate } from '../env/types.js';
import { Adam, huberLoss, Mlp } from '../nn/index.js';
import { ConfigError } from '../errors.js';
import { ENCODER_DEFAULTS } from './encoder-state.js';
import { NEURAL_DEFAULTS, NeuralAgent, ReplayBuffer, grow, packReplay, pushReplay, unpackReplay, type ReplayConfig, type ReplaySample } from './neural.js';
import type { AgentContext } from './state.js';
import type { ActOptions, Transition } from './types.js';
import { topPositions } from './softmax-policy.js';

export interface DqnConfig extends ReplayConfig {
  /** Exploration rate after the decay. */
  epsilon: number;
  /** Exploration rate at the first step, decayed linearly over epsilonDecaySteps acts. */
  epsilonStart: number;
  epsilonDecaySteps: number;
  /** Double DQN (online argmax, target value); false = plain max of the target net. */
  double: boolean;
  /**
   * Huber loss threshold. Clicks are rare and their rewards large, and beyond δ the Huber loss
   * regresses toward a median rather than the mean, which under-values items with a small chance
   * of a large reward; a large δ is the squared loss.
   */
  huberDelta: number;
  /**
   * Q(s, i) = the retrieval model's score of i (a ridge regression of the click reward on LinUCB's
   * features, solved exactly) + the network's output: the network learns only what the linear,
   * myopic estimate misses — the rest of the immediate reward and the discounted future (the
   * TD target minus the linear score). At initialisation the agent ranks as the linear model
   * does. Needs `retrieval: 'linear'`.
   */
  residual: boolean;
  /**
   * Which shown items the bootstrap γ·V(s′) is credited to. `slate`: every shown item (the slate
   * has one next state, so the future the clicked item caused is also credited to the items that
   * were not clicked). `clicked`: only the clicked items, as SlateQ's decomposition does (Ie et al.
   * 2019; the future follows from what the user consumed); the others learn their immediate
   * reward. Transitions without click information fall back to `slate`.
   */
  credit: 'slate' | 'clicked';
}

export const DQN_DEFAULTS: Omit<DqnConfig, 'seed'> = {
  ...NEURAL_DEFAULTS,
  ...ENCODER_DEFAULTS,
  epsilon: 0.05,
  epsilonStart: 0.5,
  epsilonDecaySteps: 5000,
  bufferSize: 20000,
  batchSize: 32,
  learningStarts: 200,
  trainEvery: 2,
  tau: 0.01,
  nextCandidates: 20,
  double: true,
  huberDelta: 1,
  residual: false,
  credit: 'slate',
};

type Sample = ReplaySample;

export class DqnAgent extends NeuralAgent<DqnConfig> {
  readonly name = 'dqn';
  readonly version = 1;
  private readonly q: Mlp;
  private readonly target: Mlp;
  private readonly opt: Adam;
  private readonly buffer: ReplayBuffer<Sample>;
  private acts = 0;
  /** Observed transitions not yet paid for with gradient steps. */
  private owed = 0;
  private x: Float32Array = new Float32Array(0);
  private y: Float32Array = new Float32Array(0);
  private g: Float32Array = new Float32Array(0);
  private order = new Int32Array(0);
  private nextVal: Float32Array = new Float32Array(0);
  private readonly batch: Sample[] = [];

  constructor(ctx: AgentContext, config: DqnConfig) {
    super(ctx, config);
    for (const f of ['epsilon', 'epsilonStart'] as const) {
      if (!(config[f] >= 0 && config[f] <= 1)) throw new ConfigError(`${f} must be in [0, 1], got ${config[f]}`, f);
    }
    if (config.residual && config.retrieval !== 'linear') throw new ConfigError("residual needs retrieval 'linear' (the linear score it adds to the network's)", 'residual');
    if (config.credit !== 'slate' && config.credit !== 'clicked') throw new ConfigError(`credit must be slate or clicked, got ${String(config.credit)}`, 'credit');
    if (!(config.huberDelta > 0)) throw new ConfigError(`huberDelta must be > 0, got ${config.huberDelta}`, 'huberDelta');
    for (const f of ['bufferSize', 'batchSize', 'nextCandidates', 'trainEvery'] as const) {
      if (!Number.isInteger(config[f]) || config[f] < 1) throw new ConfigError(`${f} must be a positive integer, got ${config[f]}`, f);
    }
    this.q = new Mlp({ sizes: [this.pairs.dim, ...config.hidden, 1] }, this.initRng);
    this.target = this.q.clone(this.initRng);
    this.opt = new Adam(this.q.params, this.q.grads, { lr: config.lr, maxGradNorm: 10 });
    this.buffer = new ReplayBuffer(config.bufferSize);
  }

  protected override trainsEncoder(): boolean {
    return true;
  }

  get epsilon(): number {
    const { epsilon, epsilonStart, epsilonDecaySteps } = this.config;
    const f = Math.min(1, this.acts / Math.max(1, epsilonDecaySteps));
    return epsilonStart + f * (epsilon - epsilonStart);
  }

  act(obs: Observation, k: number, options?: ActOptions): Slate {
    const cands = this.source.get(obs, this.rng, options);
    const n = cands.length;
    const m = Math.min(k, n);
    this.x = grow(this.x, n * this.pairs.dim);
    this.pairs.fill(obs, cands, this.x);
    const qv = this.q.forward(this.x, n);
    if (this.config.residual) this.addLinear(qv, this.x, n);
    if (this.order.length < n) this.order = new Int32Array(n * 2);
    topPositions(qv, n, n, this.order);
    const eps = this.training ? this.epsilon : 0;
    if (this.training) this.acts++;
    const items = new Int32Array(m);
    const scores = new Float32Array(m);
    const props = new Float32Array(m);
    // Position s takes the next best unused candidate, or with prob. ε a uniformly drawn unused
    // one (which may be that best one too): given the positions before it, the best unused
    // candidate has probability 1 − ε + ε/(n − s), any other ε/(n − s) — exact, given the step's
    // candidate set.
    const used = new Uint8Array(n);
    let next = 0;
    for (let s = 0; s < m; s++) {
      while (used[this.order[next]!]) next++;
      const best = this.order[next]!;
      let pos = best;
      if (eps > 0 && this.rng.next() < eps) {
        do pos = this.rng.int(n);
        while (used[pos]);
      }
      props[s] = (pos === best ? 1 - eps : 0) + eps / (n - s);
      used[pos] = 1;
      items[s] = cands[pos]!;
      scores[s] = qv[pos]!;
    }
    return { items, scores, propensities: props };
  }

  override observe(t: Transition): boolean {
    if (!this.training) return false;
    this.learnRetrieval(t);
    if (pushReplay(this.buffer, t, this.config.learningStarts, this.config.batchSize, this.config.credit === 'clicked')) this.owed++;
    return true;
  }

  override update(): void {
    if (!this.training || this.buffer.size < Math.max(this.config.learningStarts, this.config.batchSize)) return;
    for (; this.owed >= this.config.trainEvery; this.owed -= this.config.trainEvery) this.gradientStep();
  }

  private gradientStep(): void {
    const { batchSize, gamma, nextCandidates, tau, double } = this.config;
    const D = this.pairs.dim;
    const batch = this.buffer.sample(this.rng, batchSize, this.batch);
    // 1. Bootstrap values at the next states (before the online forward whose cache backward needs).
    this.nextVal = grow(this.nextVal, batch.length);
    const nextVal = this.nextVal.fill(0, 0, batch.length);
    const nextC: Int32Array[] = [];
    let rows = 0;
    for (const b of batch) {
      const c = b.done ? new Int32Array(0) : this.source.topCached(b.next, nextCandidates);
      nextC.push(c);
      rows += c.length;
    }
    const enc = this.pairs.encoder;
    if (rows > 0) {
      this.x = grow(this.x, rows * D);
      // One batched encoder pass over the next states (before the online one that training keeps).
      const nextEnc = enc ? this.pairs.encodeBatch(batch.map((b) => b.next)) : null;
      let r = 0;
      for (let t = 0; t < batch.length; t++) {
        this.pairs.fill(batch[t]!.next, nextC[t]!, this.x, r, nextEnc?.subarray(t * enc!.dim, (t + 1) * enc!.dim));
        r += nextC[t]!.length;
      }
      const tq = Float32Array.from(this.target.forward(this.x, rows));
      const oq = double ? this.q.forward(this.x, rows) : tq;
      if (this.config.residual) {
        this.addLinear(tq, this.x, rows);
        if (oq !== tq) this.addLinear(oq, this.x, rows);
      }
      r = 0;
      for (let t = 0; t < batch.length; t++) {
        const n = nextC[t]!.length;
        if (n > 0) {
          let best = 0;
          for (let q = 1; q < n; q++) if (oq[r + q]! > oq[r + best]!) best = q;
          nextVal[t] = tq[r + best]!;
        }
        r += n;
      }
    }
    // 2. Online Q of every shown item, Huber loss towards the targets.
    rows = 0;
    for (const b of batch) rows += b.items.length;
    this.x = grow(this.x, rows * D);
    this.y = grow(this.y, rows);
    this.g = grow(this.g, rows);
    const stateEnc = enc ? this.pairs.encodeBatch(batch.map((b) => b.obs)) : null;
    let r = 0;
    for (let t = 0; t < batch.length; t++) {
      const b = batch[t]!;
      this.pairs.fill(b.obs, b.items, this.x, r, stateEnc?.subarray(t * enc!.dim, (t + 1) * enc!.dim));
      const boot = b.done ? 0 : gamma * nextVal[t]!;
      // Residual: the network's target is what the linear score (the row's last column) leaves.
      const res = this.config.residual;
      const perClick = this.config.credit === 'clicked' && b.clicked !== undefined && b.clicked.length === b.items.length;
      for (let p = 0; p < b.items.length; p++) {
        const future = perClick && !b.clicked![p] ? 0 : boot;
        this.y[r + p] = b.rewards[p]! + future - (res ? this.x[(r + p + 1) * D - 1]! : 0);
      }
      r += b.items.length;
    }
    this.q.zeroGrad();
    const pred = this.q.forward(this.x, rows);
    huberLoss(pred, this.y, rows, this.g, this.config.huberDelta);
    if (enc) {
      // The same loss trains the encoder: Q's input gradient, per sample over its shown items.
      const dx = this.q.backward(this.g.subarray(0, rows), true)!;
      this.pairs.trainEncoder(
        dx,
        batch.map((b) => b.items.length),
      );
    } else this.q.backward(this.g.subarray(0, rows));
    this.opt.step();
    this.target.softUpdateFrom(this.q, tau);
  }

  /** Adds each row's linear retrieval score (the last column of the pair rows) to q. */
  private addLinear(q: Float32Array, x: Float32Array, rows: number): void {
    const D = this.pairs.dim;
    for (let r = 0; r < rows; r++) q[r]! += x[(r + 1) * D - 1]!;
  }

  protected networks(): Record<string, { net: Mlp; opt?: Adam }> {
    return { q: { net: this.q, opt: this.opt }, target: { net: this.target } };
  }

  protected override extraState(): Record<string, unknown> {
    return { acts: this.acts, owed: this.owed, replay: packReplay(this.buffer) };
  }

  protected override loadExtraState(s: Record<string, unknown>): void {
    this.acts = typeof s.acts === 'number' ? s.acts : 0;
    this.owed = typeof s.owed === 'number' ? s.owed : 0;
    unpackReplay(this.buffer, s.replay);
  }
}
