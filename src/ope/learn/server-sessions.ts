/**
 * The server's decision log as a session log (./session-log.ts), so that the agents that learn
 * from logs (BC, CQL) can learn from what `chorus serve` actually showed and what its users did.
 *
 * Sources: the store itself by URL (`sqlite:./chorus.db`; decisions paged oldest first with their
 * feedback, as ../logs.ts `readEventStore` pages them), or the `GET /events` export (JSONL: one
 * event per line, or one `{events:[…]}` page per line).
 *
 * Conversion rules, into the item space of a Dataset (the data the server was started with):
 * - Only decisions with a user count; Personalizer Rank decisions have none and are skipped
 *   (`skipped.noUser`), as are decisions never activated (`skipped.inactive`) and decisions whose
 *   propensities do not match their items (`skipped.badPropensities`).
 * - Per user, decisions are taken in time order (ties in log order). A session ends when the user's
 *   next decision comes more than `sessionIdleSeconds` (default 1800, the server's) after the
 *   previous one, or at the user's last decision. A session id the client sent is not in the
 *   decision log, so it plays no part.
 * - State: the user's items in the dataset (most recent last), then the items they rewarded
 *   positively (a feedback record with reward > 0) in their earlier logged decisions, each once, in
 *   the order first rewarded — the online history the server folds in — whenever that feedback
 *   arrived; the last `historyLength` (default 50) of them. A user the dataset lacks is user -1
 *   with only the rewarded items.
 * - t: the step's index in its session (0, 1, …), counting the steps kept.
 * - Context: the hashed context an agent policy logged with the decision (`payload.ctx`), else
 *   `contextOf(payload.context)` when given (the CLI passes the server's hashing), else none.
 *   The `GET /events` export carries no payload, so its steps have `contextOf(undefined)`.
 * - Shown items become the dataset's item indices; a position whose item the dataset lacks, or
 *   whose propensity is not in (0, 1], is dropped (`droppedPositions`); a decision left with no
 *   position is skipped (`skipped.noKnownItems`), though it still keeps its session alive.
 * - Per-position propensity: the logged one. Per-position reward: the sum of the feedback rewards
 *   at that position; the step reward is the sum over the kept positions.
 * - next: the state of the session's next step; at the session's end, the state after this step
 *   (its rewarded items added, t + 1) with done = true.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Dataset } from '../../data/dataset.js';
import type { Observation } from '../../env/types.js';
import { ConfigError, DataError } from '../../errors.js';
import { readStoreAt } from '../../store/open.js';
import type { EventStore, FeedbackRecord } from '../../store/types.js';
import type { LoggedStep, SessionLog } from './session-log.js';

/** One logged decision with its feedback, as the conversion needs it. */
export interface ServerDecision {
  id: string;
  /** Unix milliseconds. */
  ts: number;
  user: string | null;
  kind: string;
  activated: boolean;
  /** External item ids, slate order. */
  items: string[];
  propensities: number[];
  feedback: { position: number | null; reward: number }[];
  /** The decision's payload (absent in the `GET /events` export). */
  payload?: unknown;
}

/** Decisions read, and from where. */
export interface ServerDecisionLog {
  source: string;
  /** sha256 of the file read (hex), when the source is a file. */
  sha256?: string;
  decisions: ServerDecision[];
}

export interface ServerSessionOptions {
  /** A user's decision more than this long after their previous one starts a new session (default 1800). */
  sessionIdleSeconds?: number;
  /** Items kept in a state, the most recent ones (default 50). */
  historyLength?: number;
  /** The observation context of a decision's logged request context, when no agent logged its own. */
  contextOf?: (requestContext: unknown) => Float32Array;
}

export interface ServerSessionCounts {
  decisions: number;
  used: number;
  skipped: { noUser: number; inactive: number; badPropensities: number; noKnownItems: number };
  droppedPositions: number;
  users: number;
  sessions: number;
  steps: number;
}

/** Every decision of an event store with its feedback, paged oldest first. */
export async function readServerDecisions(events: EventStore, pageSize = 5000): Promise<ServerDecision[]> {
  const out: ServerDecision[] = [];
  let after = 0;
  for (;;) {
    const page = await events.decisionsAfter(after, pageSize);
    if (page.length === 0) break;
    const byEvent = new Map<string, FeedbackRecord[]>();
    for (const f of await events.feedbackFor(page.map((d) => d.id))) {
      if (f.eventId !== null) (byEvent.get(f.eventId) ?? byEvent.set(f.eventId, []).get(f.eventId)!).push(f);
    }
    for (const d of page) {
      const fb = (byEvent.get(d.id) ?? []).map((f) => ({ position: f.position, reward: f.reward }));
      out.push({ id: d.id, ts: d.ts, user: d.user, kind: d.kind, activated: d.activated, items: d.items, propensities: d.propensities, feedback: fb, payload: d.payload });
    }
    after = page[page.length - 1]!.seq!;
    if (page.length < pageSize) break;
  }
  return out;
}

/** Open a store by URL, read its decisions and close it; a SQLite file that does not exist is refused, not created. */
export function readStoreDecisions(url: string): Promise<ServerDecisionLog> {
  return readStoreAt(url, async (store) => ({ source: store.url, decisions: await readServerDecisions(store.events) }));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function parseExportEvent(v: unknown, file: string, line: number): ServerDecision {
  const bad = (field: string, what: string): DataError => new DataError(`expected ${what}, got ${JSON.stringify(v && isObject(v) ? v[field] : v)}`, { file, line, field });
  if (!isObject(v)) throw bad('', 'an event object');
  if (typeof v.eventId !== 'string') throw bad('eventId', 'a string');
  if (typeof v.ts !== 'number' || !Number.isFinite(v.ts)) throw bad('ts', 'a time in unix ms');
  if (typeof v.kind !== 'string') throw bad('kind', 'a string');
  if (!Array.isArray(v.items) || v.items.some((x) => typeof x !== 'string')) throw bad('items', 'an array of item ids');
  if (!Array.isArray(v.propensities) || v.propensities.some((x) => typeof x !== 'number')) throw bad('propensities', 'an array of numbers');
  const fb = v.feedback ?? [];
  if (!Array.isArray(fb)) throw bad('feedback', 'an array');
  return {
    id: v.eventId,
    ts: v.ts,
    user: typeof v.user === 'string' ? v.user : null,
    kind: v.kind,
    activated: v.activated !== false,
    items: v.items as string[],
    propensities: v.propensities as number[],
    feedback: fb.map((f: unknown, k) => {
      if (!isObject(f) || typeof f.reward !== 'number' || !Number.isFinite(f.reward)) throw new DataError('expected {position, reward} with a numeric reward', { file, line, field: `feedback[${k}]` });
      return { position: typeof f.position === 'number' ? f.position : null, reward: f.reward };
    }),
  };
}

/** Read a `GET /events` export (one event, or one `{events:[…]}` page, per line); errors name the file, line and field. */
export function readEventsExport(path: string): ServerDecisionLog {
  if (!existsSync(path)) throw new DataError('file not found', { file: path }, 'E_NOT_FOUND');
  const text = readFileSync(path, 'utf8');
  const decisions: ServerDecision[] = [];
  const lines = text.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const s = lines[k]!.trim();
    if (s === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch (e) {
      throw new DataError(`not valid JSON (${(e as Error).message})`, { file: path, line: k + 1 });
    }
    if (isObject(v) && Array.isArray(v.events)) for (const e of v.events) decisions.push(parseExportEvent(e, path, k + 1));
    else decisions.push(parseExportEvent(v, path, k + 1));
  }
  return { source: path, sha256: createHash('sha256').update(text).digest('hex'), decisions };
}

/** The hashed context an agent policy logged with its decision (src/serve/agent-policy.ts `ctx`). */
function loggedAgentContext(payload: unknown): Float32Array | undefined {
  if (!isObject(payload) || !Array.isArray(payload.ctx) || payload.ctx.some((x) => typeof x !== 'number')) return undefined;
  return Float32Array.from(payload.ctx as number[]);
}

/** One kept decision in the dataset's indices. */
interface Kept {
  items: Int32Array;
  propensities: Float32Array;
  rewards: Float32Array;
  /** The sum of the kept positions' rewards (in doubles, not from the float32 `rewards`). */
  reward: number;
  /** Dataset indices of the items rewarded positively, in the order of their first positive feedback. */
  liked: number[];
  context: Float32Array | undefined;
}

/** Convert the server's decisions into a session log in `dataset`'s item space (rules above). */
export function serverSessionLog(decisions: readonly ServerDecision[], dataset: Dataset, o: ServerSessionOptions = {}): { log: SessionLog; counts: ServerSessionCounts } {
  const idle = o.sessionIdleSeconds ?? 1800;
  const keep = o.historyLength ?? 50;
  if (!(idle >= 0)) throw new ConfigError(`sessionIdleSeconds must be >= 0, got ${idle}`, 'sessionIdleSeconds');
  if (!Number.isInteger(keep) || keep < 1) throw new ConfigError(`historyLength must be a positive integer, got ${keep}`, 'historyLength');
  const idleMs = idle * 1000;
  const counts: ServerSessionCounts = { decisions: decisions.length, used: 0, skipped: { noUser: 0, inactive: 0, badPropensities: 0, noKnownItems: 0 }, droppedPositions: 0, users: 0, sessions: 0, steps: 0 };
  const byUser = new Map<string, { d: ServerDecision; order: number }[]>();
  decisions.forEach((d, order) => {
    if (d.user === null) counts.skipped.noUser++;
    else if (!d.activated) counts.skipped.inactive++;
    else if (d.propensities.length !== d.items.length) counts.skipped.badPropensities++;
    else (byUser.get(d.user) ?? byUser.set(d.user, []).get(d.user)!).push({ d, order });
  });
  const csr = dataset.byUser();
  const steps: LoggedStep[] = [];
  for (const [userId, list] of byUser) {
    list.sort((a, b) => a.d.ts - b.d.ts || a.order - b.order);
    const user = dataset.users.toIndex(userId);
    const trained = user >= 0 ? Array.from(csr.indices.subarray(csr.indptr[user]!, csr.indptr[user + 1]!)) : [];
    const liked: number[] = [];
    const likedSet = new Set<number>();
    const state = (t: number, context: Float32Array | undefined): Observation => ({ user, history: Int32Array.from([...trained, ...liked].slice(-keep)), t, context });
    let session: { kept: Kept; obs: Observation }[] = [];
    // A session's steps become logged steps once its end is known (its last one is done).
    const close = (): void => {
      session.forEach(({ kept, obs }, s) => {
        const last = s === session.length - 1;
        const next = last ? state(s + 1, obs.context) : session[s + 1]!.obs;
        steps.push({ obs, items: kept.items, propensities: kept.propensities, rewards: kept.rewards, reward: kept.reward, next, done: last });
      });
      if (session.length > 0) counts.sessions++;
      session = [];
    };
    const usedBefore = counts.used;
    let lastTs = -Infinity;
    for (const { d } of list) {
      // A skipped decision still marks the user active, as on the server.
      if (d.ts - lastTs > idleMs) close();
      lastTs = d.ts;
      const kept = keptPositions(d, dataset, counts);
      if (!kept) continue;
      // The state is read before this step's own rewards join the history.
      session.push({ kept, obs: state(session.length, kept.context ?? contextFor(d, o)) });
      for (const i of kept.liked) if (!likedSet.has(i)) (likedSet.add(i), liked.push(i));
      counts.used++;
    }
    close();
    if (counts.used > usedBefore) counts.users++;
  }
  counts.steps = steps.length;
  return { log: { behaviour: 'server decision log', steps }, counts };
}

function contextFor(d: ServerDecision, o: ServerSessionOptions): Float32Array | undefined {
  return o.contextOf?.(isObject(d.payload) ? d.payload.context : undefined);
}

/** The decision's positions the dataset knows, with their propensities and rewards (null: none). */
function keptPositions(d: ServerDecision, dataset: Dataset, counts: ServerSessionCounts): Kept | null {
  const n = d.items.length;
  const rewardAt = new Float64Array(n);
  // Positions in the order of their first positive feedback: the order the server's history takes them.
  const likedPositions: number[] = [];
  for (const f of d.feedback) {
    if (f.position === null || f.position < 0 || f.position >= n) continue;
    rewardAt[f.position] += f.reward;
    if (f.reward > 0 && !likedPositions.includes(f.position)) likedPositions.push(f.position);
  }
  const index = new Int32Array(n).fill(-1);
  const items: number[] = [];
  const props: number[] = [];
  const rewards: number[] = [];
  let reward = 0;
  for (let p = 0; p < n; p++) {
    const i = dataset.items.toIndex(d.items[p]!);
    const q = d.propensities[p]!;
    if (i < 0 || !(q > 0 && q <= 1)) {
      counts.droppedPositions++;
      continue;
    }
    index[p] = i;
    items.push(i);
    props.push(q);
    rewards.push(rewardAt[p]!);
    reward += rewardAt[p]!;
  }
  if (items.length === 0) {
    counts.skipped.noKnownItems++;
    return null;
  }
  const liked = likedPositions.filter((p) => index[p]! >= 0).map((p) => index[p]!);
  return { items: Int32Array.from(items), propensities: Float32Array.from(props), rewards: Float32Array.from(rewards), reward, liked, context: loggedAgentContext(d.payload) };
}
