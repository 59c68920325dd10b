import type { DecisionRecord, EventStore, FeedbackRecord } from '../store/types.js';

/**
 * Reward per decision over time, read from the event log for the dashboard.
 *
 * A decision's reward is what the online learner learns from it (./reward-window.ts): the rewards
 * of the feedback that came within its reward window (for a Rank decision, only the first), plus
 * the default reward for every shown position that got none, once the window has closed. So a
 * decision without feedback counts, with the default reward, as soon as its wait is over. A
 * decision still inside its wait counts as soon as it has feedback, with what it has so far; one
 * with neither is not counted yet, since its reward is unknown. Late feedback is left out, as the
 * learner leaves it out. Decisions are bucketed by the time they were made.
 *
 * The same pass counts rewards learned per bucket of learning time: each in-window feedback at
 * its own time, each default reward at its window's deadline.
 *
 * As in a restart's replay, a window is taken to start at the decision's own time; a deferred
 * Rank event that was not yet activated when it was read is left out (the log does not say when
 * it is activated).
 *
 * The log is read incrementally (records after the last seq read), at most `readLimit` decisions
 * per `update`, so a long log is caught up over several calls instead of stalling one request.
 */
export interface DecisionRewardConfig {
  /** The engine's reward wait (rewardWaitSeconds × 1000). */
  waitMs: number;
  defaultReward: number;
  /** Finest bucket; coarser buckets must be multiples of it. */
  bucketMs: number;
  /** Most decisions (and feedback records) read per update. */
  readLimit: number;
}

export interface RewardBucket {
  /** Bucket start, unix ms. */
  t: number;
  /** Decisions counted (see above) made in this bucket. */
  decisions: number;
  rewardSum: number;
  /** rewardSum / decisions; null when none were counted. */
  perDecision: number | null;
  /** Rewards learned in this bucket (in-window feedback and default rewards). */
  learned: number;
}

interface Pending {
  ts: number;
  deadline: number;
  /** 1 where a position has had in-window feedback. */
  got: Uint8Array;
  single: boolean;
  rewardSum: number;
  /** Has in-window feedback: counted before its window closes. */
  heard: boolean;
}

interface Sums {
  decisions: number;
  rewardSum: number;
  learned: number;
}

const PAGE = 2000;
/**
 * Allowance for commit order: a record's ts is taken before it is committed, and concurrent
 * requests commit a little out of time order. While the decisions are not caught up, feedback is
 * applied only when it is this much older than the newest decision read; a window is closed only
 * when its deadline is this much older than the feedback known.
 */
const SKEW_MS = 5000;

/** The first seq whose record's ts is ≥ `ts` lies after the returned seq (records are in time order, give or take concurrency). */
async function seqBefore(first: (after: number) => Promise<{ seq?: number; ts: number } | undefined>, ts: number): Promise<number> {
  let hi = 1;
  for (;;) {
    const r = await first(hi);
    if (!r || r.ts >= ts) break;
    hi = Math.max(hi * 2, r.seq ?? 0);
  }
  let lo = 0;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const r = await first(mid);
    if (!r || r.ts >= ts) hi = mid;
    else lo = Math.max(mid + 1, r.seq ?? mid + 1);
  }
  return lo;
}

export class DecisionRewards {
  readonly config: DecisionRewardConfig;
  private readonly events: EventStore;
  /** Start of the tracked span, unix ms. */
  private since = Infinity;
  /** Widest span asked for, ms. */
  private span = 0;
  private decisionSeq = 0;
  private feedbackSeq = 0;
  private newestDecisionTs = 0;
  private caughtUp = false;
  private readonly pending = new Map<string, Pending>();
  /** Closed decisions by decision-time bucket. */
  private readonly closed = new Map<number, Sums>();
  /** Learned rewards by learning-time bucket. */
  private readonly learnedAt = new Map<number, number>();
  private updating: Promise<void> | null = null;

  constructor(events: EventStore, config: DecisionRewardConfig) {
    this.events = events;
    this.config = config;
  }

  /** Whether the last update read the log to its end. */
  get complete(): boolean {
    return this.caughtUp;
  }

  /**
   * Read what the log gained since the last call and close the windows due by `now` (less a few
   * seconds of allowance for commit order); tracks from `since` on.
   */
  update(now: number, since: number): Promise<void> {
    // Concurrent dashboard requests share one read instead of applying the same records twice.
    if (!this.updating) this.updating = this.read(now, since).finally(() => (this.updating = null));
    return this.updating;
  }

  private async read(now: number, since: number): Promise<void> {
    // Keep the widest span asked for: a narrower request must not prune what a wider one needs.
    this.span = Math.max(this.span, now - since);
    const from = now - this.span;
    if (from < this.since) await this.restart(from);
    // Feedback first, decisions second: a feedback record is committed after its decision, so
    // every decision of the feedback read here is among the decisions read after it.
    const { records: feedback, full } = await this.readFeedback();
    this.caughtUp = false;
    for (let n = 0; n < this.config.readLimit && !this.caughtUp; ) {
      const ask = Math.min(PAGE, this.config.readLimit - n);
      const ds = await this.events.decisionsAfter(this.decisionSeq, ask);
      for (const d of ds) this.addDecision(d);
      n += ds.length;
      if (ds.length > 0) this.decisionSeq = ds[ds.length - 1]!.seq!;
      this.caughtUp = ds.length < ask;
    }
    // Windows close only up to where the feedback is known: the time of the first feedback left
    // for the next call, else now (less the skew: a record's ts is taken before its commit).
    let horizon = now;
    for (const f of feedback) {
      if (!this.caughtUp && f.ts >= this.newestDecisionTs - SKEW_MS) {
        horizon = f.ts;
        break;
      }
      this.addFeedback(f);
      this.feedbackSeq = f.seq!;
    }
    if (full && feedback.length > 0) horizon = Math.min(horizon, feedback[feedback.length - 1]!.ts);
    this.caughtUp &&= !full;
    this.closeDue(horizon - SKEW_MS);
    this.prune(from);
  }

  private async readFeedback(): Promise<{ records: FeedbackRecord[]; full: boolean }> {
    const records: FeedbackRecord[] = [];
    let after = this.feedbackSeq;
    while (records.length < this.config.readLimit) {
      const ask = Math.min(PAGE, this.config.readLimit - records.length);
      const fs = await this.events.feedbackSince(after, ask);
      records.push(...fs);
      if (fs.length < ask) return { records, full: false };
      after = fs[fs.length - 1]!.seq!;
    }
    return { records, full: true };
  }

  /** Start over from `since`: find where in the log it begins. */
  private async restart(since: number): Promise<void> {
    this.since = since;
    this.pending.clear();
    this.closed.clear();
    this.learnedAt.clear();
    this.newestDecisionTs = 0;
    this.decisionSeq = await seqBefore(async (s) => (await this.events.decisionsAfter(s, 1))[0], since);
    // Feedback on a tracked decision comes after it, so feedback older than `since` is not needed.
    this.feedbackSeq = await seqBefore(async (s) => (await this.events.feedbackSince(s, 1))[0], since);
  }

  private bucket(ts: number): number {
    return Math.floor(ts / this.config.bucketMs) * this.config.bucketMs;
  }

  private addDecision(d: DecisionRecord): void {
    this.newestDecisionTs = Math.max(this.newestDecisionTs, d.ts);
    if (!d.activated || d.ts < this.since) return;
    const single = d.kind === 'rank';
    this.pending.set(d.id, {
      ts: d.ts,
      deadline: d.ts + this.config.waitMs,
      got: new Uint8Array(single ? Math.min(1, d.items.length) : d.items.length),
      single,
      rewardSum: 0,
      heard: false,
    });
  }

  private addFeedback(f: FeedbackRecord): void {
    if (f.eventId === null || f.position === null) return;
    const p = this.pending.get(f.eventId);
    if (!p || f.ts > p.deadline || f.position < 0 || f.position >= p.got.length) return;
    p.got[f.position] = 1;
    p.rewardSum += f.reward;
    p.heard = true;
    this.addLearned(f.ts, 1);
    // A Rank decision takes its earliest reward: that reward closes its window.
    if (p.single) this.finish(f.eventId, p, 0);
  }

  private closeDue(now: number): void {
    // Pending decisions are in reading order, which is (near enough) deadline order.
    for (const [id, p] of this.pending) {
      if (p.deadline > now) break;
      let missing = 0;
      for (let i = 0; i < p.got.length; i++) if (!p.got[i]) missing++;
      if (missing > 0) this.addLearned(p.deadline, missing);
      this.finish(id, p, missing);
    }
  }

  private finish(id: string, p: Pending, missing: number): void {
    this.pending.delete(id);
    const t = this.bucket(p.ts);
    const s = this.closed.get(t) ?? { decisions: 0, rewardSum: 0, learned: 0 };
    s.decisions++;
    s.rewardSum += p.rewardSum + missing * this.config.defaultReward;
    this.closed.set(t, s);
  }

  private addLearned(ts: number, n: number): void {
    const t = this.bucket(ts);
    this.learnedAt.set(t, (this.learnedAt.get(t) ?? 0) + n);
  }

  private prune(from: number): void {
    this.since = Math.max(this.since, from);
    const first = this.bucket(this.since);
    for (const t of this.closed.keys()) if (t < first) this.closed.delete(t);
    for (const t of this.learnedAt.keys()) if (t < first) this.learnedAt.delete(t);
  }

  /** Buckets of `bucketMs` (a multiple of the finest) from `since` on, oldest first; only buckets with something in them. */
  buckets(bucketMs: number, since: number): RewardBucket[] {
    const out = new Map<number, Sums>();
    const at = (t: number): Sums => {
      const b = Math.floor(t / bucketMs) * bucketMs;
      let s = out.get(b);
      if (!s) out.set(b, (s = { decisions: 0, rewardSum: 0, learned: 0 }));
      return s;
    };
    for (const [t, c] of this.closed) {
      if (t < since) continue;
      const s = at(t);
      s.decisions += c.decisions;
      s.rewardSum += c.rewardSum;
    }
    for (const p of this.pending.values()) {
      if (!p.heard || p.ts < since) continue;
      const s = at(p.ts);
      s.decisions++;
      s.rewardSum += p.rewardSum;
    }
    for (const [t, n] of this.learnedAt) if (t >= since) at(t).learned += n;
    return [...out]
      .sort((a, b) => a[0] - b[0])
      .map(([t, s]) => ({ t, decisions: s.decisions, rewardSum: s.rewardSum, perDecision: s.decisions > 0 ? s.rewardSum / s.decisions : null, learned: s.learned }));
  }
}
