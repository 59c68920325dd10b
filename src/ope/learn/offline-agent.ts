/**
 * Shared plumbing of the agents that learn from a session log instead of from interaction (BC,
 * CQL): they are neural agents (src/agents/neural.ts: candidate source, (state, item) pair
 * features, one MLP scoring any item), trained once on a `SessionLog`, then frozen. They act
 * greedily — the k best candidates by the network's score, propensity 1 — and `observe` learns
 * nothing, so in the simulator they are measured on-policy exactly as they were learned offline.
 *
 * A served agent's decisions become the next log (`chorus ope --log`, `chorus train --log`), and a
 * greedy log covers nothing but the greedy slates. With `epsilon` > 0 and training mode on (how
 * the server runs agents) each position is explored as the ε-greedy bandit does
 * (../../agents/explore.ts), with exact propensities: the greedy slate is then taken over the
 * deterministic candidates only (the prior's best and the log's most shown, not the random extra
 * ones), so that it is a function of the observation and a kept position's 1 − ε is its exact
 * probability; a drawn one is uniform over every showable item outside the slate (ε / spare).
 *
 * The log is given in the library as `fit(log)`, or by the agent config `log` (a JSONL file,
 * ./session-log.ts), read and learned on the first `act` — not at construction, so restoring a
 * saved agent (create, then load) does not train it again.
 */
import type { Observation, Slate } from '../../env/types.js';
import { NEURAL_DEFAULTS, NeuralAgent, CandidateSource, grow, type NeuralConfig } from '../../agents/neural.js';
import { topPositions } from '../../agents/softmax-policy.js';
import type { AgentContext } from '../../agents/state.js';
import type { ActOptions } from '../../agents/types.js';
import { ConfigError } from '../../errors.js';
import type { Mlp } from '../../nn/index.js';
import { Rng } from '../../util/rng.js';
import { readSessionLog, type LoggedStep, type SessionLog } from './session-log.js';
import { dpSgdConfigSchema, parseDp, type DpSgdConfig, type PrivacyReport } from '../../privacy/config.js';
import { planDpSgd, trainDpSgdSync, type DpSgdPlan } from '../../privacy/dp-sgd.js';

/** `dp` of an offline agent: DP-SGD's options, the unit implied (users, or sessions: privacy-units.ts). */
export type OfflineDpConfig = Omit<DpSgdConfig, 'unit'> & { unit?: DpSgdConfig['unit'] };
import { privacyUnits } from './privacy-units.js';

export interface OfflineConfig extends NeuralConfig {
  /** Session log to learn from on the first act ('' = none: `fit` it in code). */
  log: string;
  /** Gradient steps over the log. */
  steps: number;
  /** Logged transitions per gradient step. */
  batchSize: number;
  /** Items besides the logged slate each training state is contrasted with: the best by the prior … */
  negatives: number;
  /** … and uniformly drawn unseen ones (the actions the policy could take but the log never shows). */
  randomNegatives: number;
  /**
   * The most often logged items join every acting candidate set (besides the neural agents' usual
   * prior-ranked ones): a policy learned from a log knows those items best, and the prior (the
   * user's CF scores) need not rank them high — a popularity-driven log would otherwise be out
   * of reach.
   */
  logCandidates: number;
  /**
   * Chance that a slate position shows a uniformly drawn showable item instead of the greedy one,
   * in training mode (the server's). 0: greedy, propensity 1.
   */
  epsilon: number;
  /**
   * Train with differential privacy (src/privacy/dp-sgd.ts, `chorus train --agent … --dp-epsilon`):
   * DP-SGD over privacy units — each user of the log, or each session where the log has no user —
   * in place of `steps` Adam steps: every step Poisson-samples units (`sampleRate`), takes each
   * sampled unit's gradient of its mean loss over at most `maxItemsPerUser` of its logged steps,
   * clips it to `clip`, and moves along the noisy sum; the network released is the moving average
   * of the iterates. Absent: the usual training.
   */
  dp?: OfflineDpConfig;
}

export const OFFLINE_DEFAULTS: Omit<OfflineConfig, 'seed'> = {
  ...NEURAL_DEFAULTS,
  log: '',
  steps: 5000,
  batchSize: 16,
  negatives: 20,
  randomNegatives: 10,
  logCandidates: 50,
  epsilon: 0,
  // Named (undefined) so that the registry knows the option: `{dp: {epsilon: 8}}` turns DP-SGD on.
  dp: undefined,
};

/**
 * The DP-SGD settings an offline agent takes where `dp` leaves them out (the others are the
 * shared defaults, src/privacy/config.ts). Chosen on bench/offline-rl.ts's validation seed 1000
 * only, at ε = 8 (300 evaluation sessions): 100 steps at learning rate 2 gave BC 3.78 and CQL 2.52
 * against 4.06 and 5.05 without DP; 200 steps at 0.5 gave 4.13 and 4.54.
 */
export const OFFLINE_DP_DEFAULTS = { steps: 200, learningRate: 0.5 } as const;

/** The candidate rows of one logged step: the logged slate first (positions 0..k-1), then negatives. */
export interface StepRows {
  items: Int32Array;
  /** How many of `items` are the logged slate. */
  logged: number;
}

export abstract class OfflineAgent<C extends OfflineConfig> extends NeuralAgent<C> {
  /** Trained on a log (or restored from a trained agent). */
  fitted = false;
  /** Training draws (batches, negatives), apart from acting draws. */
  protected readonly trainRng: Rng;
  private readonly negSource: CandidateSource;
  private scoreX: Float32Array = new Float32Array(0);
  private order = new Int32Array(0);
  /** The `logCandidates` items the log showed most, most shown first. */
  private logItems: Int32Array = new Int32Array(0);
  /** A training batch's (state, item) feature rows and the gradient of the loss per row. */
  protected x: Float32Array = new Float32Array(0);
  protected g: Float32Array = new Float32Array(0);

  constructor(ctx: AgentContext, config: C) {
    super(ctx, config);
    for (const f of ['steps', 'batchSize'] as const) {
      if (!Number.isInteger(config[f]) || config[f] < 1) throw new ConfigError(`${f} must be a positive integer, got ${config[f]}`, f);
    }
    for (const f of ['negatives', 'randomNegatives', 'logCandidates'] as const) {
      if (!Number.isInteger(config[f]) || config[f] < 0) throw new ConfigError(`${f} must be an integer >= 0, got ${config[f]}`, f);
    }
    if (typeof config.log !== 'string') throw new ConfigError('log must be a file path (or empty)', 'log');
    if (typeof config.epsilon !== 'number' || !(config.epsilon >= 0 && config.epsilon <= 1)) throw new ConfigError(`epsilon must be in [0, 1], got ${config.epsilon}`, 'epsilon');
    this.trainRng = new Rng((config.seed ^ 0x2545f491) >>> 0);
    this.negSource = new CandidateSource(ctx, Math.max(1, config.negatives), config.randomNegatives);
  }

  /** The network whose output ranks items when acting. */
  protected abstract scorer(): Mlp;

  /** Learn from the log (the subclass's algorithm). */
  protected abstract train(steps: LoggedStep[]): void;

  /**
   * Add the gradient of the loss on `batch`, each step's loss divided by `div`, into the scoring
   * network's `grads` (the caller zeroes them): one step of `train` is this over a batch and an
   * optimiser step; DP training calls it per privacy unit.
   */
  protected abstract batchGradient(batch: LoggedStep[], div: number): void;

  /** After each DP-SGD step (CQL moves its target network). */
  protected afterDpStep(): void {}

  /** The DP plan the last fit used (ε spent, δ, σ), when it trained with `dp`. */
  private dpPlan: DpSgdPlan | null = null;
  private dpUnit: 'user' | 'session' = 'user';

  /** Gradient steps the last fit took (DP-SGD steps under `dp`). */
  get trainedSteps(): number {
    return this.dpPlan?.steps ?? this.config.steps;
  }

  /** What a DP fit spent (the `privacy` field of reports), or undefined without `dp`. */
  get privacy(): PrivacyReport | undefined {
    const p = this.dpPlan;
    return p ? { epsilon: p.epsilon, delta: p.delta, unit: this.dpUnit, mechanism: 'dp-sgd', noiseMultiplier: p.noiseMultiplier } : undefined;
  }

  /**
   * DP-SGD over the log's privacy units, on the scoring network's parameters (Adam is not used:
   * its state would carry unclipped information across steps only through the noisy gradients, but
   * plain SGD keeps the analysis the standard one).
   */
  private trainDp(steps: LoggedStep[], dp: OfflineDpConfig): void {
    // Budgets add up over fits (and the same seed would replay the same noise): one DP fit per agent.
    if (this.dpPlan) throw new ConfigError(`${this.name}: this agent was already trained with dp; train a new one (a second fit would spend a second budget)`, 'dp');
    // The scoring network is all the agent learns (offline agents refuse a history encoder).
    // The units are the log's users or sessions (privacy-units.ts); a logged step is not a unit:
    // consecutive steps of a session share state, so one step's removal is not one gradient's.
    if (dp.unit === 'interaction') throw new ConfigError(`${this.name}: dp.unit "interaction" is for MF and BPR; offline agents protect a user (or a session)`, 'dp.unit');
    const { units, unit } = privacyUnits(steps);
    const plan = planDpSgd(parseDp(dpSgdConfigSchema, { ...OFFLINE_DP_DEFAULTS, ...dp }, this.name), units.length, this.name);
    const net = this.scorer();
    const width = net.params.length;
    trainDpSgdSync({
      plan,
      nUsers: units.length,
      params: net.params,
      nRows: 1,
      width,
      rng: new Rng(plan.seed),
      userGradient: (u, grad, rng) => {
        const mine = units[u]!;
        const take = Math.min(mine.length, plan.maxItemsPerUser);
        const batch: LoggedStep[] = [];
        if (take === mine.length) for (const i of mine) batch.push(steps[i]!);
        else for (let t = 0; t < take; t++) batch.push(steps[mine[rng.int(mine.length)]!]!);
        net.zeroGrad();
        this.batchGradient(batch, batch.length);
        const o = grad.at(0);
        for (let x = 0; x < width; x++) grad.g[o + x] = net.grads[x]!;
      },
      onStep: () => this.afterDpStep(),
    });
    this.dpPlan = plan;
    this.dpUnit = unit;
  }

  /**
   * Fill `x` with the feature rows of every step's items, one step after another, and zero `g` for
   * as many rows; returns the row count.
   */
  protected fillBatch(batch: readonly LoggedStep[], rows: readonly StepRows[]): number {
    let total = 0;
    for (const r of rows) total += r.items.length;
    this.x = grow(this.x, total * this.pairs.dim);
    this.g = grow(this.g, total).fill(0, 0, total);
    let o = 0;
    for (let b = 0; b < batch.length; b++) {
      this.pairs.fill(batch[b]!.obs, rows[b]!.items, this.x, o);
      o += rows[b]!.items.length;
    }
    return total;
  }

  /** Train on a session log. A second call trains further on top (it does not start over). */
  fit(log: SessionLog): this {
    if (log.steps.length === 0) throw new ConfigError('the session log has no steps', 'log');
    const shown = new Map<number, number>();
    for (const st of log.steps) for (const i of st.items) shown.set(i, (shown.get(i) ?? 0) + 1);
    const byCount = [...shown.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    // Under dp the list stays empty: show counts are a statistic of the log that DP-SGD does not cover.
    this.logItems = this.config.dp ? new Int32Array(0) : Int32Array.from(byCount.slice(0, this.config.logCandidates), ([i]) => i);
    if (this.config.dp) this.trainDp(log.steps, this.config.dp);
    else this.train(log.steps);
    this.fitted = true;
    return this;
  }

  /** The logged slate and the negatives of one step (seen items and duplicates left out). */
  protected stepRows(st: LoggedStep): StepRows {
    const negatives = this.config.negatives > 0 || this.config.randomNegatives > 0 ? this.negSource.get(st.obs, this.trainRng) : new Int32Array(0);
    const out: number[] = [...st.items];
    const inSlate = new Set(out);
    for (const i of negatives) if (!inSlate.has(i)) out.push(i);
    return { items: Int32Array.from(out), logged: st.items.length };
  }

  /** Scores of `items` at `obs` by the scoring network (a fresh array). */
  scores(obs: Observation, items: Int32Array): Float32Array {
    const D = this.pairs.dim;
    this.scoreX = grow(this.scoreX, items.length * D);
    this.pairs.fill(obs, items, this.scoreX);
    return Float32Array.from(this.scorer().forward(this.scoreX, items.length));
  }

  act(obs: Observation, k: number, options?: ActOptions): Slate {
    if (!this.fitted && this.config.log !== '') this.fit(readSessionLog(this.config.log));
    const eps = this.training ? this.config.epsilon : 0;
    const cands = this.candidates(obs, options, eps > 0);
    const n = cands.length;
    const m = Math.min(k, n);
    const q = this.scores(obs, cands);
    if (this.order.length < n) this.order = new Int32Array(n * 2);
    topPositions(q, n, m, this.order);
    const items = new Int32Array(m);
    const scores = new Float32Array(m);
    for (let s = 0; s < m; s++) {
      items[s] = cands[this.order[s]!]!;
      scores[s] = q[this.order[s]!]!;
    }
    const propensities = new Float32Array(m).fill(1);
    if (eps > 0) this.explore(obs, eps, items, scores, propensities, options);
    return { items, scores, propensities };
  }

  /**
   * ε-greedy exploration of the greedy slate, as the ε-greedy bandit does it: a drawn item is
   * uniform over the showable items (the caller's candidates when given, else the catalogue; minus
   * the history and `exclude`) outside the slate as it stands, so `spare` stays the same at every
   * position and the propensities `exploreSlate` writes are exact. Drawn positions get their own
   * network score.
   */
  private explore(obs: Observation, eps: number, items: Int32Array, scores: Float32Array, propensities: Float32Array, options?: ActOptions): void {
    const greedy = items.slice();
    this.exploreGreedy(obs, eps, items, propensities, options);
    // A drawn item is never its position's greedy one (draws skip the slate's items).
    let drawn = false;
    for (let p = 0; p < items.length; p++) drawn ||= items[p] !== greedy[p];
    if (!drawn) return;
    const q = this.scores(obs, items);
    for (let p = 0; p < items.length; p++) if (items[p] !== greedy[p]) scores[p] = q[p]!;
  }

  /**
   * The neural agents' candidates, plus the log's most shown items unless a caller restricts the
   * candidates. `deterministic`: without the source's uniformly drawn extras (exploration then
   * comes from ε, with exact propensities; see the module comment).
   */
  private candidates(obs: Observation, options: ActOptions | undefined, deterministic: boolean): Int32Array {
    let base = this.source.get(obs, this.rng, options);
    // The source lists the prior's best (at most `candidates`) first and its random extras after;
    // with a caller's candidate list it draws nothing.
    if (deterministic && !options?.candidates) base = base.subarray(0, Math.min(base.length, this.config.candidates));
    if (options?.candidates || this.logItems.length === 0) return base;
    const have = new Set(base);
    for (const i of obs.history) have.add(i);
    const extra: number[] = [];
    for (const i of this.logItems) if (!have.has(i) && !options?.exclude?.[i]) extra.push(i);
    if (extra.length === 0) return base;
    const out = new Int32Array(base.length + extra.length);
    out.set(base);
    out.set(extra, base.length);
    return out;
  }

  protected override extraState(): Record<string, unknown> {
    return { fitted: this.fitted, logItems: this.logItems, ...(this.dpPlan ? { dpPlan: this.dpPlan, dpUnit: this.dpUnit } : {}) };
  }

  protected override loadExtraState(s: Record<string, unknown>): void {
    this.fitted = s.fitted === true;
    this.logItems = s.logItems instanceof Int32Array ? s.logItems : new Int32Array(0);
    this.dpPlan = (s.dpPlan as DpSgdPlan | undefined) ?? null;
    this.dpUnit = s.dpUnit === 'session' ? 'session' : 'user';
  }
}
