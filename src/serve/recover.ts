import type { DecisionRecord, FeedbackRecord, Store } from '../store/types.js';
import { readCheckpoint } from './checkpoint.js';
import { learnJob, type Feedback } from './feedback.js';
import type { LearnLoop } from './learn-loop.js';
import { replayWindow, type RewardWindows } from './reward-window.js';
import type { ServingPolicy } from './serving-policy.js';

export interface RecoverDeps {
  store: Store;
  policy: ServingPolicy;
  learner: LearnLoop;
  windows: RewardWindows;
  /** Counts each logged feedback record and adds it to its user's history. */
  feedback: Feedback;
  counters: { learned: number; decisions: number };
  exposure: Map<string, number>;
  defaultReward: number;
  log: (msg: string) => void;
}

/** Decisions scanned at start for open reward windows and exposure counts. */
const RECENT_DECISIONS = 200_000;

/** All feedback on these events, by event id. */
async function feedbackByEvent(store: Store, ids: readonly string[]): Promise<Map<string, FeedbackRecord[]>> {
  const byEvent = new Map<string, FeedbackRecord[]>();
  for (const f of await store.events.feedbackFor(ids)) {
    let l = byEvent.get(f.eventId!);
    if (!l) byEvent.set(f.eventId!, (l = []));
    l.push(f);
  }
  return byEvent;
}

/**
 * Rebuild the engine's online state from the log at start: counters and histories from all
 * feedback; the policy from its checkpoint, then the feedback logged after it (what the live
 * reward windows learned: ./reward-window.ts), then the reward windows that closed after it
 * (default rewards, end of decision); windows still open are opened again.
 */
export async function recoverFromLog(x: RecoverDeps): Promise<{ feedbackSeq: number; decisionSeq: number }> {
  const { store, policy, learner, windows } = x;
  const o = await readCheckpoint(store);
  let fromSeq = 0;
  let checkpointAt = 0;
  let windowsFrom = 0;
  if (o) {
    if (policy.setState(o.state)) {
      fromSeq = o.lastSeq;
      checkpointAt = o.at ?? 0;
      windowsFrom = o.windowsFrom ?? 0;
    } else if ((o.state as { relearn?: string } | null)?.relearn === 'erasure') {
      x.log('relearning the policy from the log: an offline erasure (chorus forget) reset its checkpoint');
    } else x.log(`the policy checkpoint does not fit ${policy.name} (another policy, dimension or snapshot): relearning from the log`);
  }
  const waitMs = windows.config.waitMs;
  let after = 0;
  let replayed = 0;
  const decisions = new Map<string, DecisionRecord | undefined>();
  const pending: FeedbackRecord[] = [];
  const flushPending = async (): Promise<void> => {
    // Which of these were learned live depends on each decision's earlier feedback: ask per decision.
    const ids = [...new Set(pending.map((f) => f.eventId!))];
    for (const id of ids) if (!decisions.has(id)) decisions.set(id, await store.events.getDecision(id));
    const byEvent = await feedbackByEvent(store, ids);
    // Which feedback each decision's window learned, worked out once per decision.
    const learnedBy = new Map<string, Set<number>>();
    for (const f of pending) {
      const d = decisions.get(f.eventId!);
      const job = learnJob(d, f);
      if (!job) continue;
      let learned = learnedBy.get(f.eventId!);
      if (!learned) learnedBy.set(f.eventId!, (learned = replayWindow(d!, byEvent.get(f.eventId!) ?? [], waitMs).learned));
      if (!learned.has(f.seq!)) continue;
      try {
        if (policy.learn(job.payload, job.position, job.reward)) replayed++;
      } catch (e) {
        learner.failure('learn', e, `feedback seq ${f.seq} (replay)`);
      }
    }
    pending.length = 0;
  };
  for (;;) {
    const page = await store.events.feedbackSince(after, 5000);
    if (page.length === 0) break;
    for (const f of page) {
      after = f.seq!;
      x.feedback.count(f);
      if (f.seq! > fromSeq && f.eventId !== null) pending.push(f);
    }
    await flushPending();
  }
  // Without payloads: a window reopened here reads its decision's payload when it closes (the
  // sweep), and only the windows that closed since the checkpoint need theirs now.
  const recent = await store.events.recentDecisions(RECENT_DECISIONS, { payload: false });
  const now = Date.now();
  let closedSince = 0;
  const open = recent.filter((d) => d.ts >= windowsFrom && d.activated && d.payload !== null && typeof d.payload === 'object').reverse();
  // Windows that closed after the checkpoint, in log order: learned below, with their payloads.
  const closed: { d: DecisionRecord; missing: number[] }[] = [];
  for (let i = 0; i < open.length; i += 500) {
    const chunk = open.slice(i, i + 500);
    const byEvent = await feedbackByEvent(store, chunk.map((d) => d.id));
    for (const d of chunk) {
      const w = replayWindow(d, byEvent.get(d.id) ?? [], waitMs);
      if (w.closesAt <= checkpointAt) continue; // in the checkpoint already
      if (w.closesAt > now) windows.opened(d, d.ts, w.got);
      else closed.push({ d, missing: w.missing });
    }
  }
  // A few are read one by one; many (a restart long after the checkpoint) in one read of the log.
  let payloads: Map<string, unknown> | null = null;
  if (closed.length > 1000) payloads = new Map((await store.events.recentDecisions(RECENT_DECISIONS)).map((d) => [d.id, d.payload]));
  for (const { d, missing } of closed) {
    try {
      // (A decision the full read no longer reaches, the log having grown meanwhile, is read alone.)
      const payload = payloads?.has(d.id) ? payloads.get(d.id) : (await store.events.getDecision(d.id))?.payload;
      if (payload === null || typeof payload !== 'object') continue; // erased meanwhile
      for (const position of missing) policy.learn(payload, position, x.defaultReward);
      policy.endDecision?.(payload);
      closedSince++;
    } catch (e) {
      learner.failure('learn', e, `the reward window of ${d.id} (replay)`);
    }
  }
  try {
    policy.flush();
  } catch (e) {
    learner.failure('flush', e);
  }
  learner.lastLearnedSeq = after;
  x.counters.learned = policy.updates;
  x.counters.decisions = await store.events.countDecisions();
  countExposure(recent, x.exposure);
  if (replayed > 0 || closedSince > 0) x.log(`replayed ${replayed} rewards and ${closedSince} closed reward windows logged after the policy checkpoint`);
  // Where a cluster's learner goes on reading the logs (./cluster/cluster-sync.ts).
  return { feedbackSeq: after, decisionSeq: recent.reduce((m, d) => Math.max(m, d.seq ?? 0), 0) };
}

/**
 * A cluster server's start (./cluster/roles.ts): it learns nothing, so the policy is the
 * learner's checkpoint as it stands (no replay on top of it); counters, histories and exposure
 * come from the log as for a single server. Resolves with the last feedback seq read and the
 * checkpoint's time.
 */
export async function recoverFollower(x: Pick<RecoverDeps, 'store' | 'policy' | 'feedback' | 'counters' | 'exposure' | 'log'>): Promise<{ feedbackSeq: number; checkpointAt: number }> {
  const o = await readCheckpoint(x.store);
  let checkpointAt = 0;
  if (o) {
    if (x.policy.setState(o.state)) checkpointAt = o.at ?? 0;
    else x.log(`the learner's policy checkpoint does not fit ${x.policy.name} here (another policy, dimension or snapshot): serving the policy as bound until the next checkpoint`);
  }
  const after = await forEachFeedback(x.store, (f) => x.feedback.count(f));
  x.counters.decisions = await x.store.events.countDecisions();
  countExposure(await x.store.events.recentDecisions(RECENT_DECISIONS, { payload: false }), x.exposure);
  return { feedbackSeq: after, checkpointAt };
}

/** Every logged feedback record, oldest first, a page at a time; resolves with the last seq read. */
export async function forEachFeedback(store: Store, fn: (f: FeedbackRecord) => void): Promise<number> {
  let after = 0;
  for (;;) {
    const page = await store.events.feedbackSince(after, 5000);
    if (page.length === 0) return after;
    for (const f of page) {
      after = f.seq!;
      fn(f);
    }
  }
}

/** Exposure as counted live (decisions.ts `logged`): a slate's shown items, a Rank decision's pick only. */
function countExposure(decisions: readonly DecisionRecord[], exposure: Map<string, number>): void {
  for (const d of decisions) for (const id of d.kind === 'rank' ? d.items.slice(0, 1) : d.items) exposure.set(id, (exposure.get(id) ?? 0) + 1);
}
