import { NotFoundError } from '../errors.js';
import type { DecisionRecord, FeedbackRecord, FeedbackType, Store } from '../store/types.js';
import { writeCheckpoint, type PolicyCheckpoint } from './checkpoint.js';
import type { Catalogue } from './catalogue.js';
import { ConflictError, RequestError } from './errors.js';
import type { UserHistories } from './histories.js';
import type { LearnJob, LearnLoop } from './learn-loop.js';
import type { RewardWindows } from './reward-window.js';
import type { ServingPolicy } from './serving-policy.js';
import type { ErasureMarks } from './erasure.js';
import type { RecentDecisions } from './recent-decisions.js';

export interface FeedbackRequest {
  eventId?: string;
  user?: string;
  item: string;
  type: Exclude<FeedbackType, 'reward'>;
  value?: number;
}

export interface FeedbackConfig {
  /** Rating → reward: (rating − ratingMid) / ratingHalfRange, clipped to [−1, 1]. */
  ratingMid: number;
  ratingHalfRange: number;
  /** Dwell seconds that count as reward 1 (less is proportional). */
  dwellFull: number;
  /** Refit after this many feedback events; 0 = never. */
  retrainEvery: number;
  defaultReward: number;
  /**
   * False on a cluster server (./cluster/roles.ts): feedback is logged and counted, never learned
   * or retrained on here (the learner does that from the log).
   */
  live: boolean;
  /**
   * Reward windows close this long after their deadline: a cluster learner reads feedback from
   * the log a moment after it was logged, and must not close a window before it has read it.
   */
  sweepLagMs: number;
  /**
   * A restart rescans decisions logged this much before the oldest open window too. A cluster
   * learner has not yet read the newest decisions the servers logged (and their clocks differ a
   * little from its own); rescanning earlier is always safe, since a window that closed before the
   * checkpoint is skipped as learned (./recover.ts).
   */
  rescanSlackMs: number;
}

/** The counters the feedback side keeps (part of EngineCounters). */
export interface FeedbackCounters {
  feedback: Record<string, number>;
  rewardSum: number;
  retrainErrors: number;
  defaultRewards: number;
}

export interface FeedbackDeps {
  store: Store;
  policy: ServingPolicy;
  catalogue: Catalogue;
  histories: UserHistories;
  learner: LearnLoop;
  windows: RewardWindows;
  counters: FeedbackCounters;
  /** Start a background retrain (activated); a retrain in progress is not started twice. */
  retrain: () => Promise<unknown>;
  retraining: () => boolean;
  /**
   * The engine's erasure marks: a request takes one before its first read, and after its commit
   * skips every in-memory update (history, learning, counters, retrain count) when its user was
   * erased meanwhile; the erasure already cleared that state and deleted (or refused) the row.
   */
  erasures: ErasureMarks;
  log: (msg: string) => void;
  /**
   * A cluster learner: every feedback seq at or below this has been read and learned, whatever
   * the order they committed in; a checkpoint replays from here (see ./cluster/seq-tail.ts).
   */
  checkpointSeq?: () => number;
  /**
   * Decisions kept in memory (./recent-decisions.ts): the ones this process logged. A decision
   * found there is not read again; the write still checks that it is stored for the same user
   * (`onDecision`), and a failure with a kept decision is answered again from the store.
   */
  recent?: RecentDecisions;
}

/** What the policy learns from feedback on a decision, when it learns anything (activated, shown, with a payload). */
export function learnJob(d: DecisionRecord | undefined, f: FeedbackRecord): LearnJob | undefined {
  if (!d || !d.activated || f.position === null || d.payload === null || typeof d.payload !== 'object') return undefined;
  return { payload: d.payload, position: f.position, reward: f.reward, seq: f.seq ?? 0, user: d.user };
}

/**
 * Feedback: what users did with shown items (/feedback, Personalizer Reward and Activate), each
 * committed to the log before its promise resolves. After the commit, the user's history takes
 * the liked item at once, and the policy's update is queued for the learning loop while the
 * decision's reward window is open (./reward-window.ts); windows that close without feedback
 * learn the default reward (`sweep`). Every `retrainEvery` feedback events start a retrain.
 */
export class Feedback {
  private readonly config: FeedbackConfig;
  private readonly d: FeedbackDeps;
  private sinceRetrain = 0;
  private sweeping = false;
  private closed = false;

  constructor(config: FeedbackConfig, deps: FeedbackDeps) {
    this.config = config;
    this.d = deps;
  }

  rewardOf(type: FeedbackRequest['type'], value: number | undefined): number {
    const clip = (v: number) => Math.max(-1, Math.min(1, v));
    switch (type) {
      case 'click':
      case 'purchase':
        return clip(value ?? 1);
      case 'rating':
        if (value === undefined) throw new RequestError('a rating needs a value', 'value');
        return clip((value - this.config.ratingMid) / this.config.ratingHalfRange);
      case 'dwell':
        if (value === undefined) throw new RequestError('a dwell needs a value (seconds)', 'value');
        if (value < 0) throw new RequestError('dwell seconds must be >= 0', 'value');
        return clip(value / this.config.dwellFull);
    }
  }

  async feedback(req: FeedbackRequest): Promise<{ seq: number; reward: number; eventId: string | null }> {
    return this.fromMemoryOrStore(req.eventId, (memory, stored) => this.feedbackOnce(req, memory, stored));
  }

  /**
   * Runs `attempt` with the decision kept in memory allowed; should it fail before anything was
   * stored while it used a kept decision, runs it again reading the store. A kept decision can be
   * stale (erased by another process whose notice has not arrived, its event id since used again),
   * and the store is the authority: the answer is then the one the store gives.
   */
  private async fromMemoryOrStore<T>(id: string | undefined, attempt: (memory: boolean, stored: { done: boolean; usedMemory: boolean }) => Promise<T>): Promise<T> {
    const stored = { done: false, usedMemory: false };
    try {
      return await attempt(true, stored);
    } catch (e) {
      if (id === undefined || !stored.usedMemory || stored.done) throw e;
      this.d.recent?.delete(id);
      return attempt(false, { done: false, usedMemory: false });
    }
  }

  private async feedbackOnce(req: FeedbackRequest, memory: boolean, st: { done: boolean; usedMemory: boolean }): Promise<{ seq: number; reward: number; eventId: string | null }> {
    const mark = this.d.erasures.mark();
    let decision: DecisionRecord | undefined;
    let position: number | null = null;
    let user = req.user ?? null;
    if (req.eventId !== undefined) {
      decision = await this.decision(req.eventId, memory, st);
      if (!decision) throw new NotFoundError(`unknown event "${req.eventId}"`, 'eventId');
      position = decision.items.indexOf(req.item);
      if (position < 0) throw new NotFoundError(`item "${req.item}" was not shown in event "${req.eventId}"`, 'item');
      if (user !== null && decision.user !== null && user !== decision.user) {
        throw new RequestError(`event "${req.eventId}" belongs to another user`, 'user');
      }
      user = decision.user;
    } else {
      if (user === null) throw new RequestError('give an eventId, or a user and an item', 'eventId');
      if (!this.d.catalogue.hasItem(req.item)) throw new NotFoundError(`unknown item "${req.item}"`, 'item');
    }
    const reward = this.rewardOf(req.type, req.value);
    const rec: FeedbackRecord = {
      eventId: req.eventId ?? null,
      ts: Date.now(),
      user,
      item: req.item,
      type: req.type,
      value: req.value ?? null,
      reward,
      position,
      propensity: decision && position !== null ? (decision.propensities[position] ?? null) : null,
    };
    // On a decision: stored only while the decision is (404 once an erasure deleted it).
    rec.seq = await this.d.store.events.appendFeedback(rec, { onDecision: decision !== undefined });
    st.done = true;
    if (!this.d.erasures.since(user, mark)) this.apply(rec, decision);
    return { seq: rec.seq, reward, eventId: rec.eventId };
  }

  /** Personalizer Reward: the reward of a Rank event's pick (position 0). */
  async reward(eventId: string, value: number): Promise<void> {
    return this.fromMemoryOrStore(eventId, (memory, st) => this.rewardOnce(eventId, value, memory, st));
  }

  private async rewardOnce(eventId: string, value: number, memory: boolean, st: { done: boolean; usedMemory: boolean }): Promise<void> {
    const mark = this.d.erasures.mark();
    const d = await this.decision(eventId, memory, st);
    if (!d) throw new NotFoundError(`unknown event "${eventId}"`, 'eventId');
    if (d.items.length === 0) throw new ConflictError(`event "${eventId}" ranked no action`, 'eventId');
    const rec: FeedbackRecord = {
      eventId,
      ts: Date.now(),
      user: d.user,
      item: d.items[0]!,
      type: 'reward',
      value,
      reward: value,
      position: 0,
      propensity: d.propensities[0] ?? null,
    };
    rec.seq = await this.d.store.events.appendFeedback(rec, { onDecision: true });
    st.done = true;
    if (!this.d.erasures.since(d.user, mark)) this.apply(rec, d);
  }

  /**
   * The decision that feedback answers: kept in memory (a decision this process logged), else
   * read. A read is not kept: it may race an erasure that has marked its user but not yet
   * committed (the row still reads), and a kept copy would then outlive the erasure.
   */
  private async decision(id: string, memory: boolean, st: { usedMemory: boolean }): Promise<DecisionRecord | undefined> {
    const kept = memory ? this.d.recent?.get(id) : undefined;
    if (kept) {
      st.usedMemory = true;
      return kept;
    }
    return this.d.store.events.getDecision(id);
  }

  /** Activate a deferred Rank event: its reward window opens now, and rewards sent before are learned. */
  async activateEvent(eventId: string): Promise<void> {
    const mark = this.d.erasures.mark();
    const before = await this.d.store.events.getDecision(eventId);
    if (!(await this.d.store.events.activateDecision(eventId))) throw new NotFoundError(`unknown event "${eventId}"`, 'eventId');
    if (!before || before.activated) return; // activating twice opens nothing new
    if (this.d.erasures.since(before.user, mark)) return; // erased meanwhile: nothing to learn
    if (!this.config.live) return; // a cluster server learns nothing (docs/cluster.md: deferred activation)
    const d: DecisionRecord = { ...before, activated: true };
    this.d.windows.opened(d, Date.now());
    for (const f of await this.d.store.events.feedbackFor([eventId])) this.learn(f, d);
  }

  /** A feedback record as the counters see it (live, and when the log is replayed at start). */
  count(f: FeedbackRecord): void {
    const c = this.d.counters;
    c.feedback[f.type] = (c.feedback[f.type] ?? 0) + 1;
    c.rewardSum += f.reward;
    if (f.reward > 0 && f.user !== null) this.d.histories.remember(f.user, f.item);
  }

  /**
   * After commit: counters and history at once, the policy update queued for the background loop.
   * A cluster learner calls it for the feedback the servers logged.
   */
  apply(f: FeedbackRecord, d: DecisionRecord | undefined): void {
    if (!this.config.live) {
      // A cluster server: the user's next request here sees the item at once; the counters (and
      // every other server's histories) come from the log follower, which counts each row once.
      if (f.reward > 0 && f.user !== null) this.d.histories.remember(f.user, f.item);
      return;
    }
    this.count(f);
    const learner = this.d.learner;
    if (!this.learn(f, d)) learner.lastLearnedSeq = Math.max(learner.lastLearnedSeq, f.seq!);
    this.sinceRetrain++;
    if (this.config.retrainEvery > 0 && this.sinceRetrain >= this.config.retrainEvery && !this.d.retraining()) {
      this.sinceRetrain = 0;
      void this.d.retrain().catch((e: unknown) => {
        this.d.counters.retrainErrors++;
        this.d.log(`retrain failed: ${(e as Error).message}`);
      });
    }
  }

  /** Feedback on a logged decision: learned while its reward window is open; the end of the window after it. */
  private learn(f: FeedbackRecord, d: DecisionRecord | undefined): boolean {
    const job = learnJob(d, f);
    if (!job || f.eventId === null) return false;
    // A cluster learner keeps windows open a little past their deadline (it reads the log late),
    // so it checks the deadline by the feedback's own time, as a single server's clock would.
    if (this.config.sweepLagMs > 0 && d && d.kind !== 'rank' && f.ts > d.ts + this.d.windows.config.waitMs) return false;
    const w = this.d.windows.feedback(f.eventId, job.position);
    if (w.learn) this.d.learner.enqueue(job);
    if (w.closed) this.d.learner.enqueue({ payload: job.payload, position: -1, reward: 0, seq: 0, end: true, user: job.user ?? null });
    return w.learn;
  }

  /**
   * Close the reward windows whose wait is over: each shown position without feedback learns the
   * default reward, then the policy hears that the decision is complete. Never throws (a failed
   * read is logged; its windows are lost to learning, not to the log).
   */
  async sweep(): Promise<void> {
    if (this.sweeping || this.closed) return;
    this.sweeping = true;
    try {
      for (;;) {
        const due = this.d.windows.expired(Date.now() - this.config.sweepLagMs, 1000);
        if (due.length === 0) break;
        for (const w of due) {
          const mark = this.d.erasures.mark();
          const d = await this.d.store.events.getDecision(w.id);
          if (!d || d.payload === null || typeof d.payload !== 'object') continue;
          // Read before an erasure committed, and its user erased since: learning it would bring them back.
          if (this.d.erasures.since(d.user, mark)) continue;
          for (const position of w.missing) {
            this.d.learner.enqueue({ payload: d.payload, position, reward: this.config.defaultReward, seq: 0, user: d.user });
            this.d.counters.defaultRewards++;
          }
          this.d.learner.enqueue({ payload: d.payload, position: -1, reward: 0, seq: 0, end: true, user: d.user });
        }
      }
    } catch (e) {
      this.d.log(`reward windows: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.sweeping = false;
    }
  }

  /** No more sweeps; resolves once the one running (if any) is done. */
  async stop(): Promise<void> {
    this.closed = true;
    while (this.sweeping) await new Promise((r) => setTimeout(r, 5));
  }

  /**
   * The checkpoint body: the policy state and the last learned seq (a restart replays the log after
   * it), `at` and `windowsFrom` (a restart learns the reward windows that closed after this
   * checkpoint, and rescans the decisions logged since the oldest window still open).
   */
  async saveCheckpoint(): Promise<PolicyCheckpoint> {
    const c = this.checkpoint();
    await writeCheckpoint(this.d.store, c);
    return c;
  }

  /** The checkpoint of now (`saveCheckpoint` stores it; an erasure stores it in its transaction). */
  checkpoint(): PolicyCheckpoint {
    const at = Date.now();
    const lastSeq = this.d.checkpointSeq ? this.d.checkpointSeq() : this.d.learner.lastLearnedSeq;
    return { state: this.d.policy.getState(), lastSeq, at, windowsFrom: this.d.windows.oldestOpen(at) - this.config.rescanSlackMs };
  }
}
