/**
 * How the processes of a cluster (./roles.ts) stay in step through the shared store:
 * - the learner follows the log the servers write (`LearnerTail`) and, after each change it makes,
 *   writes the store's small version key and announces the change on the bus (`Announcer`);
 * - each server polls the version key (and wakes at once on a bus notice) and pulls what changed:
 *   the policy checkpoint, the active snapshot, the catalogue; it also follows the feedback log
 *   for users' histories (`ServerFollower`).
 */
import type { DecisionRecord, FeedbackRecord, Store } from '../../store/types.js';
import { readCheckpoint, type PolicyCheckpoint } from '../checkpoint.js';
import { RecentDecisions } from '../recent-decisions.js';
import type { ServingPolicy } from '../serving-policy.js';
import { CLUSTER_VERSION_KEY, type ClusterVersion } from './roles.js';
import { SeqTail } from './seq-tail.js';
import type { UpdateBus, UpdateNotice } from './updates.js';

type Log = (msg: string) => void;

/** How long a hole in a log's seq is waited for (an insert still committing) before it is given up. */
export const DEFAULT_GAP_MS = 5000;

export async function readVersion(store: Store): Promise<ClusterVersion | null> {
  const raw = await store.state.getState(CLUSTER_VERSION_KEY);
  return raw ? (JSON.parse(raw.toString('utf8')) as ClusterVersion) : null;
}

/**
 * The learner's side: the version key and the bus notices, written one at a time in the order
 * the changes happened (a later write never carries an older version).
 */
export class Announcer {
  private v: ClusterVersion;
  private chain: Promise<void> = Promise.resolve();
  private readonly store: Store;
  private readonly bus: UpdateBus | null;
  private readonly log: Log;

  constructor(store: Store, bus: UpdateBus | null, start: ClusterVersion, log: Log) {
    this.store = store;
    this.bus = bus;
    this.v = { ...start };
    this.log = log;
  }

  get version(): ClusterVersion {
    return { ...this.v };
  }

  /** Record a change; resolves once the version key is stored (the notice follows, best effort). */
  announce(change: { checkpoint: PolicyCheckpoint } | { snapshot: string } | { catalogue: true } | { erasure: string; checkpoint?: PolicyCheckpoint }): Promise<void> {
    const notices: UpdateNotice[] = [];
    if ('snapshot' in change) {
      this.v.snapshot = change.snapshot;
      notices.push({ kind: 'snapshot', id: change.snapshot });
    }
    if ('catalogue' in change) {
      this.v.catalogue++;
      notices.push({ kind: 'catalogue', version: this.v.catalogue });
    }
    if ('erasure' in change) {
      this.v.erasures++;
      notices.push({ kind: 'erasure', user: change.erasure });
    }
    if ('checkpoint' in change && change.checkpoint) {
      this.v.checkpointAt = change.checkpoint.at ?? Date.now();
      notices.push({ kind: 'policy', at: this.v.checkpointAt, lastSeq: change.checkpoint.lastSeq });
    }
    const body = Buffer.from(JSON.stringify(this.v));
    const run = this.chain.then(async () => {
      await this.store.state.putState(CLUSTER_VERSION_KEY, body);
      for (const n of notices) await this.bus?.publish(n, this.log);
    });
    this.chain = run.catch(() => undefined);
    return run;
  }
}

/** Decisions the learner keeps after reading them from the log (it reads each one's feedback soon after). */
export const LEARNER_RECENT_DECISIONS = 50_000;

export interface LearnerTailDeps {
  store: Store;
  /**
   * An erasure mark (../erasure.ts ErasureMarks), taken before each read: a row read before an
   * erasure committed must not bring its user back into memory after it.
   */
  mark: () => number;
  /** Whether `user` was erased since `mark` (a decision read before is not kept in `recent`). */
  erasedSince?: (user: string | null, mark: number) => boolean;
  /** A decision another process logged: its reward window opens, its shown items count as exposed. */
  decision: (d: DecisionRecord, mark: number) => void;
  /** Feedback another process logged, with its decision: counted, learned while the window is open. */
  feedback: (f: FeedbackRecord, d: DecisionRecord | undefined, mark: number) => void;
  log: Log;
  /**
   * Where the decisions read are kept (the engine's, whose erasures drop their user's entries);
   * a map of LEARNER_RECENT_DECISIONS of its own when not given.
   */
  recent?: RecentDecisions;
}

/**
 * The learner follows the decision and feedback logs from where its recovery stopped, every
 * `pollMs`, decisions first (so that feedback finds its decision's window open).
 */
export class LearnerTail {
  private readonly decisions: SeqTail<DecisionRecord>;
  private readonly fb: SeqTail<FeedbackRecord>;
  private readonly recent: RecentDecisions;
  private readonly d: LearnerTailDeps;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private failures = 0;

  constructor(deps: LearnerTailDeps, from: { decisionSeq: number; feedbackSeq: number }, o: { gapMs?: number } = {}) {
    this.d = deps;
    this.recent = deps.recent ?? new RecentDecisions(LEARNER_RECENT_DECISIONS);
    const gapMs = o.gapMs ?? DEFAULT_GAP_MS;
    this.decisions = new SeqTail(from.decisionSeq, { read: (a, n) => deps.store.events.decisionsAfter(a, n), seqOf: (d) => d.seq!, gapMs });
    this.fb = new SeqTail(from.feedbackSeq, { read: (a, n) => deps.store.events.feedbackSince(a, n), seqOf: (f) => f.seq!, gapMs });
    this.applied = from.feedbackSeq;
  }

  /**
   * Every feedback seq at or below this has been read and handed to the learner (or given up as
   * a hole), by a pass that finished: a checkpoint's replay point (with the learn queue's own bound).
   */
  get feedbackPosition(): number {
    return this.applied;
  }
  private applied: number;

  start(pollMs: number): void {
    this.timer = setInterval(() => void this.step(), pollMs);
    this.timer.unref();
  }

  /** One pass over both logs (serialised: a pass still running is awaited, not doubled). */
  step(): Promise<void> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  /**
   * Feedback is read before decisions: the writers commit in one order, so every decision a
   * feedback row answers is visible by the second read, and its window opens before the
   * feedback is applied (read the other way round, a decision and its click committed between
   * the reads would find no open window). Everything is read before anything is applied, and
   * the rows are taken only after: a failed read leaves them to the next pass.
   */
  private async pass(): Promise<void> {
    try {
      const mark = this.d.mark();
      const fs = await this.fb.peek();
      const ds = await this.decisions.peek();
      // A deferred decision may be activated later (by a server): not kept, so its feedback reads
      // it again and sees the flag as it is then.
      for (const d of ds) if (d.activated && !this.d.erasedSince?.(d.user, mark)) this.recent.add(d);
      const answered = new Map<string, DecisionRecord | undefined>();
      for (const f of fs) {
        if (f.eventId === null || answered.has(f.eventId)) continue;
        answered.set(f.eventId, this.recent.get(f.eventId) ?? (await this.d.store.events.getDecision(f.eventId)));
      }
      for (const d of ds) this.d.decision(d, mark);
      for (const f of fs) this.d.feedback(f, f.eventId === null ? undefined : answered.get(f.eventId), mark);
      this.decisions.take(ds);
      this.fb.take(fs);
      this.applied = this.fb.position;
      this.failures = 0;
    } catch (e) {
      // The store is unreachable for a moment: the next pass reads from the same place.
      if (this.failures++ % 50 === 0) this.d.log(`learner: reading the log failed (retrying): ${(e as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}

export interface ServerFollowerDeps {
  store: Store;
  policy: ServingPolicy;
  activeSnapshot: () => string;
  /** Serve stored snapshot `id` (no activation is recorded: the learner did that). */
  followSnapshot: (id: string) => Promise<void>;
  reloadCatalogue: () => Promise<void>;
  /** An erasure mark (../erasure.ts), taken before each read of the feedback log. */
  mark: () => number;
  /** Whether `user` was erased since `mark` (a row read before must not bring them back). */
  erasedSince: (user: string | null, mark: number) => boolean;
  /** Feedback any server logged (this one's too): counted, and the user's history takes it. */
  count: (f: FeedbackRecord) => void;
  /** An erasure announced on the bus: the user leaves this process's memory at once. */
  forgetUser: (user: string) => void;
  /**
   * An erasure this server did not hear of (it does not know whose): every user's history again
   * from the log, the catalogue again from the store, memoised pools and sessions dropped.
   */
  rebuildUserMemory: () => Promise<void>;
  /** Keys issued or revoked elsewhere. */
  reloadKeys: () => Promise<void>;
  log: Log;
}

/** Re-read the API keys this often even when nothing was announced (revocation reaches every server within it). */
const KEYS_EVERY_MS = 5000;
/** A missed erasure notice is assumed only after the version has shown it this long (the notice may be on its way). */
const ERASURE_GRACE_MS = 3000;

/** A server's side: pull what the learner changed, and follow the feedback log for histories. */
export class ServerFollower {
  private readonly d: ServerFollowerDeps;
  private readonly fb: SeqTail<FeedbackRecord>;
  private applied: ClusterVersion;
  /** An erasure notice was heard: the active snapshot's body was rewritten, read it again (inside a pass). */
  private refollow = false;
  private heardErasures = 0;
  private missingSince = 0;
  private keysAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private failures = 0;
  /** Policy checkpoints applied (tests and /metrics read it). */
  policyUpdates = 0;

  constructor(deps: ServerFollowerDeps, from: { feedbackSeq: number; version: ClusterVersion }, o: { gapMs?: number } = {}) {
    this.d = deps;
    this.applied = { ...from.version };
    this.fb = new SeqTail(from.feedbackSeq, { read: (a, n) => deps.store.events.feedbackSince(a, n), seqOf: (f) => f.seq!, gapMs: o.gapMs ?? DEFAULT_GAP_MS });
  }

  /** The version this server serves. */
  get version(): ClusterVersion {
    return { ...this.applied };
  }

  start(syncMs: number): void {
    this.timer = setInterval(() => void this.sync(), syncMs);
    this.timer.unref();
  }

  /** A bus notice: erasures act at once; anything else makes the next sync run now. */
  notice(n: UpdateNotice): void {
    if (n.kind === 'erasure') {
      this.heardErasures++;
      this.d.forgetUser(n.user);
      this.refollow = true;
    }
    void this.sync();
  }

  /** Pull what changed (serialised; a call while one runs makes it run once more after). */
  sync(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again);
    })().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<void> {
    try {
      const v = await readVersion(this.d.store);
      if (v) await this.apply(v);
      // Counters and histories from every server's feedback, this one's included (its own
      // request already put the item in the user's history, which keeps an item once).
      const mark = this.d.mark();
      const fs = await this.fb.peek();
      for (const f of fs) if (!this.d.erasedSince(f.user, mark)) this.d.count(f);
      this.fb.take(fs);
      const now = Date.now();
      if (now - this.keysAt >= KEYS_EVERY_MS) {
        this.keysAt = now;
        await this.d.reloadKeys();
      }
      this.failures = 0;
    } catch (e) {
      if (this.failures++ % 50 === 0) this.d.log(`cluster: syncing with the store failed (retrying): ${(e as Error).message}`);
    }
  }

  private async apply(v: ClusterVersion): Promise<void> {
    const a = this.applied;
    if (this.refollow || (v.snapshot !== a.snapshot && v.snapshot !== this.d.activeSnapshot())) {
      this.refollow = false;
      await this.d.followSnapshot(v.snapshot);
      // A new model re-binds the policy: the checkpoint is applied again on top of it.
      a.checkpointAt = 0;
    }
    a.snapshot = v.snapshot;
    if (v.catalogue !== a.catalogue) {
      await this.d.reloadCatalogue();
      a.catalogue = v.catalogue;
    }
    // Different, not later: after a takeover the new learner's clock may run behind the old one's.
    if (v.checkpointAt !== a.checkpointAt) {
      const c = await readCheckpoint(this.d.store);
      if (c && this.d.policy.setState(c.state)) this.policyUpdates++;
      a.checkpointAt = c?.at ?? v.checkpointAt;
    }
    // Every notice heard so far belongs to an erasure the version already counted (the learner
    // writes the version before it announces), so nothing is left to match it against.
    if (v.erasures === a.erasures) this.heardErasures = 0;
    if (v.erasures > a.erasures) {
      const missed = v.erasures - a.erasures - this.heardErasures;
      const now = Date.now();
      if (missed <= 0) {
        this.heardErasures -= v.erasures - a.erasures;
        a.erasures = v.erasures;
        this.missingSince = 0;
      } else if (this.missingSince === 0) this.missingSince = now;
      else if (now - this.missingSince >= ERASURE_GRACE_MS) {
        this.d.log(`cluster: ${missed} erasure notice(s) did not reach this server; rebuilding users' histories from the log`);
        await this.d.rebuildUserMemory();
        await this.d.followSnapshot(v.snapshot);
        a.checkpointAt = 0;
        this.heardErasures = 0;
        a.erasures = v.erasures;
        this.missingSince = 0;
      }
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
