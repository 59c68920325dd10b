/**
 * Conservative Q-learning (Kumar et al. 2020) with discrete actions, item-wise as the DQN agent
 * (src/agents/dqn.ts): Q(s, i) is one MLP over (state, item) pair features. Per logged step with
 * slate a_1..a_K, per-position rewards r_p and candidate rows C (the slate plus negatives,
 * ./offline-agent.ts), the loss is
 *
 *   (1/K) Σ_p ½ (Q(s, a_p) − y_p)²  +  α · ( log Σ_{j∈C} exp Q(s, j)  −  (1/K) Σ_p Q(s, a_p) ),
 *   y_p = r_p + γ (1 − done) Q_target(s', argmax_j Q(s', j)),  j over the `nextCandidates` best
 *   unseen items at s' by the prior (double DQN's target, a Polyak-averaged copy of Q).
 *
 * The second term pushes Q down on the actions the log does not support and up on the logged
 * ones, so the greedy policy does not chase the over-estimates of actions it has no data on —
 * the failure of plain off-policy Q-learning on a fixed log. α = 0 is that plain Q-learning.
 */
import { Adam, Mlp, softmax } from '../../nn/index.js';
import type { AgentContext } from '../../agents/state.js';
import { grow } from '../../agents/neural.js';
import { ConfigError } from '../../errors.js';
import { OFFLINE_DEFAULTS, OfflineAgent, type OfflineConfig } from './offline-agent.js';
import type { LoggedStep } from './session-log.js';

export interface CqlConfig extends OfflineConfig {
  /** Weight α of the conservative term. */
  alpha: number;
  /** Target network Polyak rate per gradient step. */
  tau: number;
  /** Candidates at the next state for the bootstrap value. */
  nextCandidates: number;
}

// α: bench/offline-rl.ts on the validation seed 1000 only (never a reported seed), 5,000 steps:
// α = 0 (plain offline Q-learning) 4.13, 0.03 5.06, 0.1 5.00, 0.3 4.32, 1 4.16 (2,000 steps).
export const CQL_DEFAULTS: Omit<CqlConfig, 'seed'> = { ...OFFLINE_DEFAULTS, alpha: 0.1, tau: 0.01, nextCandidates: 20 };

export class CqlAgent extends OfflineAgent<CqlConfig> {
  readonly name = 'cql';
  readonly version = 1;
  readonly q: Mlp;
  private readonly target: Mlp;
  private readonly opt: Adam;
  private p: Float32Array = new Float32Array(0);

  constructor(ctx: AgentContext, config: CqlConfig) {
    super(ctx, config);
    if (!(config.alpha >= 0)) throw new ConfigError(`alpha must be >= 0, got ${config.alpha}`, 'alpha');
    if (!(config.tau > 0 && config.tau <= 1)) throw new ConfigError(`tau must be in (0, 1], got ${config.tau}`, 'tau');
    if (!Number.isInteger(config.nextCandidates) || config.nextCandidates < 1) throw new ConfigError(`nextCandidates must be a positive integer, got ${config.nextCandidates}`, 'nextCandidates');
    this.q = new Mlp({ sizes: [this.pairs.dim, ...config.hidden, 1] }, this.initRng);
    this.target = this.q.clone(this.initRng);
    this.opt = new Adam(this.q.params, this.q.grads, { lr: config.lr, maxGradNorm: 10 });
  }

  protected scorer(): Mlp {
    return this.q;
  }

  protected networks(): Record<string, { net: Mlp; opt?: Adam }> {
    return { q: { net: this.q, opt: this.opt }, target: { net: this.target } };
  }

  /** Bootstrap value at each step's next state (0 at the end of a session). */
  private nextValues(batch: LoggedStep[]): Float64Array {
    const D = this.pairs.dim;
    const out = new Float64Array(batch.length);
    const cands = batch.map((b) => (b.done ? new Int32Array(0) : this.source.top(b.next, this.config.nextCandidates)));
    let rows = 0;
    for (const c of cands) rows += c.length;
    if (rows === 0) return out;
    this.x = grow(this.x, rows * D);
    let r = 0;
    for (let t = 0; t < batch.length; t++) {
      this.pairs.fill(batch[t]!.next, cands[t]!, this.x, r);
      r += cands[t]!.length;
    }
    const tq = Float32Array.from(this.target.forward(this.x, rows));
    const oq = this.q.forward(this.x, rows);
    r = 0;
    for (let t = 0; t < batch.length; t++) {
      const n = cands[t]!.length;
      if (n > 0) {
        let best = 0;
        for (let j = 1; j < n; j++) if (oq[r + j]! > oq[r + best]!) best = j;
        out[t] = tq[r + best]!;
      }
      r += n;
    }
    return out;
  }

  protected train(steps: LoggedStep[]): void {
    const { batchSize, tau } = this.config;
    for (let it = 0; it < this.config.steps; it++) {
      const batch = Array.from({ length: batchSize }, () => steps[this.trainRng.int(steps.length)]!);
      this.q.zeroGrad();
      this.batchGradient(batch, batchSize);
      this.opt.step();
      this.target.softUpdateFrom(this.q, tau);
    }
  }

  protected override afterDpStep(): void {
    this.target.softUpdateFrom(this.q, this.config.tau);
  }

  protected batchGradient(batch: LoggedStep[], div: number): void {
    const { gamma, alpha } = this.config;
    const rows = batch.map((st) => this.stepRows(st));
    const boot = this.nextValues(batch);
    const total = this.fillBatch(batch, rows);
    const qv = this.q.forward(this.x, total);
    let o = 0;
    for (let b = 0; b < batch.length; b++) {
      const st = batch[b]!;
      const { items, logged } = rows[b]!;
      const n = items.length;
      const y0 = st.done ? 0 : gamma * boot[b]!;
      for (let p = 0; p < logged; p++) this.g[o + p] += ((qv[o + p]! - (st.rewards[p]! + y0)) / logged - alpha / logged) / div;
      if (alpha > 0) {
        this.p = grow(this.p, o + n);
        softmax(qv, o, n, this.p);
        for (let j = 0; j < n; j++) this.g[o + j] += (alpha * this.p[o + j]!) / div;
      }
      o += n;
    }
    this.q.backward(this.g.subarray(0, total));
  }
}
