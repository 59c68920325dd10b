/**
 * Log replay (Li, Chu, Langford & Wang 2011, "Unbiased offline evaluation of contextual-bandit-
 * based news article recommendation algorithms"). Logged events are streamed in order; for each
 * one the policy proposes a slate, and the event counts only if the logged item is among the
 * slate's first `matchTopN` positions. The replay value (sum of counted rewards / counted events)
 * is unbiased for the policy's per-step reward when the log was collected by a uniformly random
 * policy and `matchTopN` = 1; with other logging policies or top-N matching it is a biased but
 * common proxy — the report must say which.
 */
import type { Agent } from '../agents/types.js';
import { ChorusError, DataError } from '../errors.js';
import type { Env, Observation, Slate, StepResult } from './types.js';

export interface ReplayLog {
  user: Int32Array;
  item: Int32Array;
  reward: Float32Array;
}

export interface ReplayOptions {
  nItems: number;
  slateSize: number;
  /** A match is the logged item in the slate's first `matchTopN` positions (1 = the classic replay). */
  matchTopN?: number;
  /**
   * How many of the user's accepted items the observation's history keeps (agents never
   * re-recommend history items, so use 0 for classic bandit replays where arms repeat).
   */
  historyLength?: number;
}

export interface ReplayEstimate {
  /** Mean reward over counted events. */
  value: number;
  accepted: number;
  events: number;
}

export class LogReplayEnv implements Env {
  readonly nItems: number;
  readonly slateSize: number;
  private readonly log: ReplayLog;
  private readonly matchTopN: number;
  private readonly historyLength: number;
  private pos = 0;
  private accepted = 0;
  private total = 0;
  private t = 0;
  private sum = 0;
  private readonly histories = new Map<number, number[]>();

  constructor(log: ReplayLog, options: ReplayOptions) {
    const n = log.user.length;
    if (log.item.length !== n || log.reward.length !== n) throw new DataError('replay log columns differ in length', { field: 'log' });
    for (let k = 0; k < n; k++) {
      const i = log.item[k]!;
      if (i < 0 || i >= options.nItems) throw new DataError(`logged item ${i} is outside 0..${options.nItems - 1}`, { field: `log.item[${k}]` });
    }
    this.log = log;
    this.nItems = options.nItems;
    this.slateSize = options.slateSize;
    this.matchTopN = options.matchTopN ?? 1;
    this.historyLength = options.historyLength ?? 10;
  }

  /** Restart at the first event (replay is deterministic; the seed is accepted for the contract). */
  reset(_seed: number): Observation {
    this.pos = 0;
    this.accepted = 0;
    this.total = 0;
    this.sum = 0;
    this.t = 0;
    this.histories.clear();
    if (this.log.user.length === 0) throw new ChorusError('E_ENV_STATE', 'replay log is empty');
    return this.observation();
  }

  private observation(): Observation {
    const u = this.log.user[this.pos]!;
    return { user: u, history: Int32Array.from(this.histories.get(u) ?? []), t: this.t };
  }

  step(slate: Slate): StepResult {
    if (this.pos >= this.log.user.length) throw new ChorusError('E_ENV_STATE', 'replay log exhausted; call reset()');
    const u = this.log.user[this.pos]!;
    const item = this.log.item[this.pos]!;
    const r = this.log.reward[this.pos]!;
    const k = slate.items.length;
    const clicks = new Int32Array(k);
    const ratings = new Float32Array(k).fill(NaN);
    let matched = -1;
    for (let p = 0; p < Math.min(k, this.matchTopN); p++) if (slate.items[p] === item) matched = p;
    this.total++;
    let reward = 0;
    if (matched >= 0) {
      this.accepted++;
      this.t++;
      reward = r;
      this.sum += r;
      if (r > 0) clicks[matched] = 1;
      ratings[matched] = r;
      if (this.historyLength > 0) {
        const h = this.histories.get(u) ?? [];
        h.push(item);
        if (h.length > this.historyLength) h.shift();
        this.histories.set(u, h);
      }
    }
    this.pos++;
    const done = this.pos >= this.log.user.length;
    const observation = done ? { user: u, history: Int32Array.from(this.histories.get(u) ?? []), t: this.t } : this.observation();
    const info = { clicks, purchases: new Int32Array(k), ratings, propensities: slate.propensities, matched: matched >= 0 };
    return { observation, reward, parts: { R: reward, G: 0, A: 0 }, done, info };
  }

  estimate(): ReplayEstimate {
    return { value: this.accepted > 0 ? this.sum / this.accepted : NaN, accepted: this.accepted, events: this.total };
  }

  /**
   * Replay a policy over the whole log (Li et al. 2011, Algorithm 1): the agent observes and
   * updates only on counted events when `learn` is true.
   */
  static evaluate(env: LogReplayEnv, agent: Agent, options: { learn?: boolean; k?: number } = {}): ReplayEstimate {
    let obs = env.reset(0);
    const k = options.k ?? env.slateSize;
    for (;;) {
      const slate = agent.act(obs, k);
      const r = env.step(slate);
      if (options.learn && (r.info as { matched?: boolean }).matched) {
        agent.observe({ observation: obs, slate, reward: r.reward, parts: r.parts, clicks: r.info.clicks, next: r.observation, done: r.done });
        agent.update();
      }
      if (r.done) break;
      obs = r.observation;
    }
    return env.estimate();
  }
}
