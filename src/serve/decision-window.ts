/**
 * The decisions a snapshot evaluation reads (./snapshot-evaluation.ts), with each decision's
 * reward as the online learner learns it (./reward-window.ts, the same rule as the dashboard's
 * ./decision-rewards.ts): the feedback that came within its reward window (for a Rank decision,
 * only the first), and the server's `defaultReward` on every shown position that got none. Late
 * feedback is left out, as the learner leaves it out.
 *
 * Only decisions whose window has closed are read (logged at or before `until` = now − the reward
 * wait): a decision still waiting has no final reward yet, and counting it as unrewarded would
 * pull down the value of the policy that served the newest decisions (the active one). They are
 * counted in `open`.
 *
 * As in a restart's replay, a window is taken to start at the decision's own time (a deferred Rank
 * event's live window started at its activation, which the log does not keep).
 */
import { loggedEvent, opeDatasetFromEvents, type LoggedEvent, type OpeDataset } from '../ope/logs.js';
import type { DecisionRecord, EventStore, FeedbackRecord } from '../store/types.js';
import { ConflictError } from './errors.js';
import { learnedRewards } from './reward-window.js';

export interface WindowQuery {
  /** Only decisions logged at or after this time (unix ms); null: no lower bound. */
  since: number | null;
  /** The most recent decisions read (among those whose reward window has closed). */
  limit: number;
  /** Only decisions logged at or before this time (now − the reward wait). */
  until: number;
  /** The engine's reward wait (ms) and default reward (./reward-window.ts). */
  waitMs: number;
  defaultReward: number;
}

export interface DecisionWindow {
  events: { event: LoggedEvent }[];
  snapshotOf: Map<string, string | null>;
  from: number | null;
  to: number | null;
  /** Recent decisions left out because their reward window was still open. */
  open: number;
}

/** Feedback is fetched in pages of event ids, so a query's parameter list stays small. */
const FEEDBACK_PAGE = 5000;

/** The most recent `limit` decisions logged at or before `until` (since `since`), newest first, and how many newer ones were skipped. */
async function closedDecisions(events: EventStore, q: WindowQuery): Promise<{ closed: DecisionRecord[]; open: number }> {
  // The log is in commit order; read deeper until `limit` closed decisions are found or the log ends.
  for (let want = q.limit; ; ) {
    const recent = await events.recentDecisions(want);
    const closed = recent.filter((d) => d.ts <= q.until);
    if (closed.length >= q.limit || recent.length < want) {
      const kept = closed.slice(0, q.limit);
      // Open decisions counted up to the oldest one read into the window (or all, when the log ended).
      const last = kept.length > 0 ? recent.indexOf(kept[kept.length - 1]!) : recent.length - 1;
      let open = 0;
      for (let k = 0; k <= last; k++) if (recent[k]!.ts > q.until) open++;
      return { closed: kept, open };
    }
    want += q.limit - closed.length;
  }
}

/** Feedback of a decision as the learner took it, plus the default reward where it took that. */
function learnedFeedback(d: DecisionRecord, feedback: readonly FeedbackRecord[], q: WindowQuery): LoggedEvent['feedback'] {
  return learnedRewards(d, feedback, q.waitMs, q.defaultReward).map(({ position, reward }) => ({ item: d.items[position]!, position, reward }));
}

/** The window's decisions with their learned rewards, oldest first. */
export async function readWindow(events: EventStore, q: WindowQuery): Promise<DecisionWindow> {
  const { closed, open } = await closedDecisions(events, q);
  const recent = closed.filter((d) => q.since === null || d.ts >= q.since);
  recent.reverse();
  const byEvent = new Map<string, FeedbackRecord[]>();
  for (let k = 0; k < recent.length; k += FEEDBACK_PAGE) {
    const fb = await events.feedbackFor(recent.slice(k, k + FEEDBACK_PAGE).map((d) => d.id));
    for (const f of fb) if (f.eventId !== null) (byEvent.get(f.eventId) ?? byEvent.set(f.eventId, []).get(f.eventId)!).push(f);
  }
  return {
    events: recent.map((d) => {
      const e = loggedEvent(d, []);
      e.feedback = learnedFeedback(d, byEvent.get(d.id) ?? [], q);
      return { event: e };
    }),
    snapshotOf: new Map(recent.map((d) => [d.id, d.snapshotId])),
    from: recent.length > 0 ? recent[0]!.ts : null,
    to: recent.length > 0 ? recent[recent.length - 1]!.ts : null,
    open,
  };
}

/** Whether `opeDatasetFromEvents` keeps a decision (the rule it applies, counted before it throws on none). */
function usable(e: LoggedEvent): boolean {
  return e.activated && e.items.length > 0 && e.propensities[0]! > 0 && e.propensities[0]! <= 1;
}

/**
 * Most (decision, candidate) pairs an evaluation builds. Every pair holds a few doubles (π, q̂, the
 * reward model's rows) and the work runs on the server's thread, so a window past this is refused
 * rather than left to exhaust memory: 20 M pairs are about 160 MB per array.
 */
const MAX_CANDIDATE_CELLS = 20_000_000;

/** (decision, candidate) pairs `opeDatasetFromEvents` would build: a Rank's actions, or every shown item for a recommend slate. */
function candidateCells(events: readonly { event: LoggedEvent }[]): number {
  const shown = new Set<string>();
  let rankCells = 0;
  let slates = 0;
  for (const { event: e } of events) {
    if (e.kind === 'recommend') for (const id of e.items) shown.add(id);
    if (!usable(e)) continue;
    if (e.kind === 'rank') rankCells += e.items.length;
    else slates++;
  }
  return rankCells + slates * shown.size;
}

/** The window as an OPE dataset, or a 409 that says why there is nothing to evaluate. */
export function windowDataset(w: DecisionWindow, o: { since: number | null; folds: number }): OpeDataset {
  const n = w.events.filter((e) => usable(e.event)).length;
  const where = o.since !== null ? ` since ${new Date(o.since).toISOString()}` : '';
  const waiting = w.open > 0 ? ` (${w.open} more ${w.open === 1 ? 'is' : 'are'} still inside the reward window)` : '';
  if (n === 0) {
    throw new ConflictError(
      w.events.length === 0
        ? `the decision log holds no decisions${where} whose reward window has closed to evaluate against${waiting}`
        : `none of the ${w.events.length} logged decisions${where} is usable (not activated, or no logging propensity)${waiting}`,
      o.since !== null ? 'since' : undefined,
    );
  }
  if (n < o.folds) throw new ConflictError(`only ${n} usable logged decisions${where}${waiting}: the reward model's cross-fitting needs at least ${o.folds} (folds)`, 'folds');
  const cells = candidateCells(w.events);
  if (cells > MAX_CANDIDATE_CELLS) {
    throw new ConflictError(
      `the window's ${n} decisions have ${cells} (decision, candidate) pairs (a recommend decision's candidates are every item the window's slates showed), more than ${MAX_CANDIDATE_CELLS}: give a smaller limit or a later since`,
      'limit',
    );
  }
  return opeDatasetFromEvents(w.events, 'store:decisions');
}
