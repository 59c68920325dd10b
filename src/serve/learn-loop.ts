import type { ServingPolicy } from './serving-policy.js';

/** One thing for the policy to learn: a reward for a shown position, or the end of a decision. */
export interface LearnJob {
  /** The decision's payload as the policy logged it. */
  payload: unknown;
  position: number;
  reward: number;
  /** The feedback's seq in the log (0 for a default reward or an end of decision). */
  seq: number;
  /** The decision's reward window closed: `endDecision` instead of `learn`. */
  end?: boolean;
  /** The decision's user (stored id), so that an erasure can drop the user's queued jobs. */
  user?: string | null;
}

export type LearnStage = 'learn' | 'flush' | 'checkpoint';

export interface LearnLoopConfig {
  /** Most jobs waiting; when full, the call that adds one learns a batch first. */
  maxQueue: number;
  /** Checkpoint after this many jobs, and at most once per `checkpointSeconds`. */
  checkpointEvery: number;
  checkpointSeconds: number;
}

/** The counters of the engine's that the loop keeps. */
export interface LearnCounters {
  learned: number;
  learnErrors: Record<LearnStage, number>;
  learnQueueFull: number;
}

/** Jobs the background loop learns per step (between requests). */
const LEARN_BATCH = 512;
/** At most one log line per learning stage per this many ms; the rest are counted. */
const LEARN_ERROR_LOG_MS = 10_000;

/**
 * The server's online learning loop: jobs are queued after their feedback is committed and learned
 * in batches between requests (setImmediate), so a request never waits for learning, and the
 * policy's state is checkpointed now and then. The loop never throws and never stops: a job whose
 * `learn` throws is skipped (its feedback stays in the log), a failing flush or checkpoint is
 * counted, logged and tried again later, and `settle()` always returns.
 */
export class LearnLoop {
  /** Highest feedback seq learned: a restart replays the log after the checkpointed one. */
  lastLearnedSeq = 0;
  /** No automatic checkpoints after this is set (the engine's last one is its own). */
  closed = false;
  private readonly policy: ServingPolicy;
  private readonly counters: LearnCounters;
  private readonly config: LearnLoopConfig;
  private readonly save: () => Promise<void>;
  private readonly log: (msg: string) => void;
  private queue: LearnJob[] = [];
  /** A drain step is scheduled or running. */
  private draining = false;
  /** The checkpoint the loop started, while it runs. */
  private checkpointing: Promise<boolean> | null = null;
  private sinceCheckpoint = 0;
  private lastCheckpointAt = 0;
  private readonly errorLog: Record<LearnStage, { at: number; quiet: number }> = {
    learn: { at: 0, quiet: 0 },
    flush: { at: 0, quiet: 0 },
    checkpoint: { at: 0, quiet: 0 },
  };

  /** `save` writes a checkpoint (the engine knows what goes in it). */
  constructor(policy: ServingPolicy, counters: LearnCounters, config: LearnLoopConfig, save: () => Promise<void>, log: (msg: string) => void) {
    this.policy = policy;
    this.counters = counters;
    this.config = config;
    this.save = save;
    this.log = log;
  }

  get length(): number {
    return this.queue.length;
  }

  /**
   * Queue a job. The queue holds at most `maxQueue` jobs: when it is full, this call learns one
   * batch synchronously first (back-pressure on the request that adds the reward, instead of
   * dropping rewards or growing without bound).
   */
  enqueue(job: LearnJob): void {
    if (this.queue.length >= this.config.maxQueue) {
      this.counters.learnQueueFull++;
      this.learnBatch();
    }
    this.queue.push(job);
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => this.drain());
    }
  }

  /** The lowest feedback seq still waiting in the queue (Infinity when none is). */
  lowestQueuedSeq(): number {
    let low = Infinity;
    for (const j of this.queue) if (j.seq > 0 && j.seq < low) low = j.seq;
    return low;
  }

  /**
   * Erasure: drop the user's queued jobs, so that no later `learn`/`endDecision` rebuilds a step
   * naming them (an agent policy's per-user state) after the erasure cleared it. Returns how many.
   */
  dropUser(user: string): number {
    const before = this.queue.length;
    this.queue = this.queue.filter((j) => j.user !== user);
    return before - this.queue.length;
  }

  /**
   * One step of the background loop: a batch, then the next step, or (queue empty) a checkpoint
   * now and then. Never throws, and always either schedules the next step or clears `draining`.
   */
  private drain(): void {
    try {
      this.learnBatch();
    } finally {
      if (this.queue.length > 0) setImmediate(() => this.drain());
      else {
        this.draining = false;
        const due = this.sinceCheckpoint >= this.config.checkpointEvery && Date.now() - this.lastCheckpointAt >= this.config.checkpointSeconds * 1000;
        if (due && !this.closed && !this.checkpointing) {
          this.checkpointing = this.checkpoint().finally(() => (this.checkpointing = null));
        }
      }
    }
  }

  /**
   * Learn up to one batch from the queue, then flush. Never throws: a job whose `learn` throws is
   * skipped (counted and logged; the loop goes on with the next), and a failing `flush` is
   * counted and logged, and flushing is tried again after the next batch.
   */
  private learnBatch(): void {
    const batch = this.queue.splice(0, LEARN_BATCH);
    if (batch.length === 0) return;
    for (const j of batch) {
      try {
        if (j.end) this.counters.learned += this.policy.endDecision?.(j.payload) ?? 0;
        else if (this.policy.learn(j.payload, j.position, j.reward)) this.counters.learned++;
      } catch (e) {
        this.failure('learn', e, j.end ? 'an end of decision' : j.seq > 0 ? `feedback seq ${j.seq}` : 'a default reward');
      }
      this.sinceCheckpoint++;
      if (j.seq > this.lastLearnedSeq) this.lastLearnedSeq = j.seq;
    }
    try {
      this.policy.flush();
    } catch (e) {
      this.failure('flush', e);
    }
  }

  /** Count a learning error; log it, at most once per 10 s per stage (with how many were not logged). */
  failure(stage: LearnStage, e: unknown, what?: string): void {
    this.counters.learnErrors[stage]++;
    const r = this.errorLog[stage];
    const now = Date.now();
    if (r.at > 0 && now - r.at < LEARN_ERROR_LOG_MS) {
      r.quiet++;
      return;
    }
    const more = r.quiet > 0 ? ` (${r.quiet} more ${stage} errors since the last report)` : '';
    r.at = now;
    r.quiet = 0;
    const then = { learn: 'the reward is skipped', flush: 'flushing again after the next batch', checkpoint: 'trying again at the next checkpoint' }[stage];
    this.log(`learning: ${stage}${what ? ` of ${what}` : ''} failed: ${e instanceof Error ? e.message : String(e)}; ${then}${more}`);
  }

  /** Learn everything queued now (tests, shutdown); waits for a checkpoint in progress. */
  async settle(): Promise<void> {
    while (this.queue.length > 0 || this.draining) {
      if (!this.draining) {
        this.draining = true;
        this.drain();
      } else await new Promise((r) => setImmediate(r));
    }
    if (this.checkpointing) await this.checkpointing;
  }

  /**
   * Save a checkpoint. Never throws: a failure is counted and logged, and the next checkpoint
   * (interval or close) tries again. Resolves true when saved.
   */
  async checkpoint(): Promise<boolean> {
    this.sinceCheckpoint = 0;
    this.lastCheckpointAt = Date.now();
    try {
      await this.save();
      return true;
    } catch (e) {
      this.failure('checkpoint', e);
      return false;
    }
  }
}
