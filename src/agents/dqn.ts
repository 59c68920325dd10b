/**
 * DQN for slates (Mnih et al. 2015; double DQN, van Hasselt et al. 2016), item-wise in the spirit
 * of SlateQ (Ie et al. 2019): one network Q(s, i) over (state, item) pair features scores every
 * candidate; the slate is the top-k by Q, each position replaced by a uniformly drawn candidate
 * with probability ε. Each shown item is a training sample with target
 *   y_i = r_i + γ (1 − done) Q_target(s', argmax_j Q(s', j)),
 * r_i being the step reward credited to position i (shared among clicked positions), and j
 * ranging over the `nextCandidates` best unseen items at s' by the prior. Replay buffer, Huber
 * loss, Polyak-averaged target network. Options change what the future is (`target: 'mc'`, the
 * return that actually followed), which items it is credited to (`credit`), and with
 * `credit: 'slateq'` what the network learns: Q̄(s, i), the value of the session once i is
 * clicked, scored as P̂(click i | s)·Q̄(s, i) (SlateQ's decomposition).
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
import { NEURAL_DEFAULTS, NeuralAgent, ReplayBuffer, SessionTracker, grow, packReplay, pushReplay, replaySample, setFutures, unpackReplay, type ReplayConfig, type ReplaySample } from './neural.js';
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
   * reward. `slateq`: SlateQ's decomposition in full, Q(s, i) = P(click i | s)·Q̄(s, i): the
   * network learns Q̄, the clicked item's reward plus what followed, from clicked items only, and
   * the click probability comes from a ridge regression of the click flags on the retrieval
   * model's rows (`CandidateSource.clickProbabilities`), so a rarely clicked item's long-term value
   * is not washed out by its many unclicked impressions. Needs `retrieval: 'linear'`, `target: 'mc'`
   * and no `residual`. Transitions without click information fall back to `slate`.
   */
  credit: 'slate' | 'clicked' | 'slateq';
  /**
   * What a sample's future is. `td`: the bootstrap γ·Q_target(s′, ·) above. `mc`: the session's
   * actual discounted return after the step (Monte Carlo; the samples enter the replay buffer when
   * their session ends), so the future the agent credits is what followed, not what its own
   * still-untrained network guesses: unbiased, with more variance, and no bootstrap cost per step.
   */
  target: 'td' | 'mc';
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
  target: 'td',
};

/** The samples of a session whose end is not yet seen (`target: 'mc'`), with its step rewards. */
interface OpenSession {
  samples: ReplaySample[];
  rewards: number[];
}

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
  private pClick: Float32Array = new Float32Array(0);
  private readonly batch: Sample[] = [];
  /** Sessions whose end is not yet seen (`target: 'mc'`). */
  private readonly sessions = new SessionTracker<OpenSession>();

  constructor(ctx: AgentContext, config: DqnConfig) {
    super(ctx, config);
    for (const f of ['epsilon', 'epsilonStart'] as const) {
      if (!(config[f] >= 0 && config[f] <= 1)) throw new ConfigError(`${f} must be in [0, 1], got ${config[f]}`, f);
    }
    if (config.residual && config.retrieval !== 'linear') throw new ConfigError("residual needs retrieval 'linear' (the linear score it adds to the network's)", 'residual');
    if (config.credit !== 'slate' && config.credit !== 'clicked' && config.credit !== 'slateq') throw new ConfigError(`credit must be slate, clicked or slateq, got ${String(config.credit)}`, 'credit');
    if (config.credit === 'slateq' && (config.retrieval !== 'linear' || config.target !== 'mc' || config.residual)) {
      throw new ConfigError("credit 'slateq' needs retrieval 'linear' (its click model), target 'mc' and no residual", 'credit');
    }
    if (config.target !== 'td' && config.target !== 'mc') throw new ConfigError(`target must be td or mc, got ${String(config.target)}`, 'target');
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
    if (this.config.credit === 'slateq') {
      // SlateQ's item value: P(click i | s) · Q̄(s, i), Q̄ the value of the session once i is clicked.
      this.pClick = grow(this.pClick, n);
      this.source.clickProbabilities(obs, cands, this.pClick);
      for (let r = 0; r < n; r++) qv[r] = this.pClick[r]! * qv[r]!;
    } else if (this.config.residual) this.addLinear(qv, this.x, n);
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
    const keepClicks = this.config.credit !== 'slate';
    if (this.config.target === 'td') {
      if (pushReplay(this.buffer, t, this.config.learningStarts, this.config.batchSize, keepClicks)) this.owed++;
      return true;
    }
    const open = this.sessions.session(t, () => ({ samples: [], rewards: [] }));
    open.samples.push(replaySample(t, keepClicks));
    open.rewards.push(t.reward);
    if (t.done) {
      setFutures(open.samples, open.rewards, this.config.gamma);
      for (const x of open.samples) {
        this.buffer.push(x);
        if (this.buffer.size >= Math.max(this.config.learningStarts, this.config.batchSize)) this.owed++;
      }
    }
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
      // Monte Carlo samples carry their future; only bootstrapped ones read the next state.
      const c = b.done || b.future !== undefined ? new Int32Array(0) : this.source.topCached(b.next, nextCandidates);
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
      const boot = b.future !== undefined ? gamma * b.future : b.done ? 0 : gamma * nextVal[t]!;
      // Residual: the network's target is what the linear score (the row's last column) leaves.
      const res = this.config.residual;
      const perClick = this.config.credit !== 'slate' && b.clicked !== undefined && b.clicked.length === b.items.length;
      const slateq = this.config.credit === 'slateq' && perClick;
      for (let p = 0; p < b.items.length; p++) {
        const future = perClick && !b.clicked![p] ? 0 : boot;
        // SlateQ: Q̄'s target is the clicked item's reward and what followed; NaN marks a row without loss.
        if (slateq) this.y[r + p] = b.clicked![p] ? b.rewards[p]! + future : NaN;
        else this.y[r + p] = b.rewards[p]! + future - (res ? this.x[(r + p + 1) * D - 1]! : 0);
      }
      r += b.items.length;
    }
    this.q.zeroGrad();
    const pred = this.q.forward(this.x, rows);
    // SlateQ learns Q̄ from clicked items only: the others' rows carry no loss.
    if (this.config.credit === 'slateq') for (let q = 0; q < rows; q++) if (Number.isNaN(this.y[q]!)) this.y[q] = pred[q]!;
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
    const state: Record<string, unknown> = { acts: this.acts, owed: this.owed, replay: packReplay(this.buffer) };
    // Sessions still open under `target: 'mc'` are saved with their samples, so a restored agent
    // finishes them as this one would.
    const open = this.sessions.openByUser();
    if (open.length > 0) {
      state.openSessions = open.map(([user, o]) => {
        const tmp = new ReplayBuffer<ReplaySample>(Math.max(1, o.samples.length));
        for (const x of o.samples) tmp.push(x);
        return { user, samples: packReplay(tmp), rewards: Float64Array.from(o.rewards) };
      });
    }
    return state;
  }

  protected override loadExtraState(s: Record<string, unknown>): void {
    this.acts = typeof s.acts === 'number' ? s.acts : 0;
    this.owed = typeof s.owed === 'number' ? s.owed : 0;
    unpackReplay(this.buffer, s.replay);
    const saved = Array.isArray(s.openSessions) ? (s.openSessions as { user: number; samples: unknown; rewards: ArrayLike<number> }[]) : [];
    this.sessions.restoreOpen(
      saved.map(({ user, samples, rewards }) => {
        const tmp = new ReplayBuffer<ReplaySample>(Math.max(1, rewards.length));
        unpackReplay(tmp, samples);
        return [user, { samples: tmp.contents().items, rewards: Array.from(rewards) }];
      }),
    );
  }
}
