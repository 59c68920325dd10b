/**
 * The PostgreSQL store's writes, and how a group of them is committed (./postgres-writer.ts queues
 * them). Appends of decisions and of feedback are the hot path: the ones between two other writes
 * of a batch become one multi-row INSERT per table (arrays bound to `unnest`, so the statement
 * text, and its prepared plan, is the same whatever the batch size), and a batch of appends only
 * is one statement for the tables it writes to (appendAll). Every other write is one statement of its own.
 * All of them run inside the writer's transaction, which commits only after they have returned.
 */
import pg, { type PoolClient, type QueryConfig, type QueryResult, type Submittable } from 'pg';
import { ChorusError, NotFoundError } from '../errors.js';
import type { CatalogueKind } from './types.js';

/** Every write the store makes, with its arguments as they go to the database. */
export type PgWrite =
  | { op: 'decision'; id: string; ts: number; user: string | null; kind: string; items: string; propensities: string; scores: string; snapshotId: string | null; activated: boolean; payload: string }
  /** `onDecision`: inserted only while the decision `eventId` is stored (else the write fails with NotFoundError). */
  | { op: 'feedback'; eventId: string | null; ts: number; user: string | null; item: string; type: string; value: number | null; reward: number; position: number | null; propensity: number | null; onDecision?: boolean }
  | { op: 'activateDecision'; id: string }
  | { op: 'putSnapshot'; id: string; created: number; meta: string; body: Buffer }
  | { op: 'activateSnapshot'; id: string; ts: number }
  | { op: 'deleteSnapshot'; id: string }
  | { op: 'upsert'; kind: CatalogueKind; entries: { id: string; meta: string; created: number; updated: number }[] }
  | { op: 'remove'; kind: CatalogueKind; id: string }
  | { op: 'putState'; key: string; value: Buffer; ts: number }
  | { op: 'putKey'; id: string; scope: string; salt: Buffer; hash: Buffer; created: number; name: string }
  | { op: 'deleteKey'; id: string }
  | { op: 'erase'; user: string; id: string; ts: number; snapshots: { id: string; body: Buffer }[]; state: { key: string; value: Buffer }[]; counts: Record<string, number>; found: boolean };

type DecisionWrite = Extract<PgWrite, { op: 'decision' }>;
type FeedbackWrite = Extract<PgWrite, { op: 'feedback' }>;

/** One write's outcome inside a group commit: its value, or the error that undid it alone. */
export type WriteResult = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * A decision whose event id is already stored. Its code is PostgreSQL's SQLSTATE for a unique
 * violation, the code `isDuplicateKeyError` (./duplicate.ts) recognises from every backend: the
 * multi-row insert skips duplicates (ON CONFLICT DO NOTHING) instead of failing the whole batch,
 * so the error the database would have raised is made here.
 */
export class DuplicateKeyError extends ChorusError {
  constructor(table: string, field: string, value: string) {
    super('23505', `duplicate key value violates unique constraint: ${table}.${field} "${value}" already exists`, {
      status: 409,
      location: { field },
    });
  }
}

/**
 * The database answered a statement with something that cannot be (fewer rows than it was given,
 * e.g. a trigger dropped some). The writer rolls the batch back and fails it whole, without the
 * write-by-write retry: that would meet the same answer, and nothing says which write is to blame.
 */
export class StoreInvariantError extends ChorusError {
  constructor(message: string) {
    super('E_STORE_INVARIANT', message, { status: 500, location: { field: 'store' } });
  }
}

const q = (name: string, text: string, values: unknown[]): QueryConfig => ({ name, text, values });

/** A write's fields in the order of its statement's unnest parameters, each with its PostgreSQL type. */
type Params<T> = readonly (readonly [keyof T, string])[];

const DECISION_PARAMS: Params<DecisionWrite> = [
  ['id', 'text'],
  ['ts', 'float8'],
  ['user', 'text'],
  ['kind', 'text'],
  ['items', 'text'],
  ['propensities', 'text'],
  ['scores', 'text'],
  ['snapshotId', 'text'],
  ['activated', 'bool'],
  ['payload', 'text'],
];

const FEEDBACK_PARAMS: Params<FeedbackWrite> = [
  ['eventId', 'text'],
  ['ts', 'float8'],
  ['user', 'text'],
  ['item', 'text'],
  ['type', 'text'],
  ['value', 'float8'],
  ['reward', 'float8'],
  ['position', 'int4'],
  ['propensity', 'float8'],
  ['onDecision', 'bool'],
];

/** `$first::t0[], $first+1::t1[], …`: one array parameter per field, for unnest. */
const arrayParams = <T>(first: number, params: Params<T>): string => params.map(([, t], k) => `$${first + k}::${t}[]`).join(', ');

/** The batch as one array per field, in parameter order. */
const columns = <T>(rows: readonly T[], params: Params<T>): unknown[] => params.map(([f]) => rows.map((r) => r[f]));
const decisionColumns = (ds: readonly DecisionWrite[]): unknown[] => columns(ds, DECISION_PARAMS);
const feedbackColumns = (fs: readonly FeedbackWrite[]): unknown[] => columns(fs, FEEDBACK_PARAMS);

/**
 * The rows of a batch of decisions inserted in batch order from ten array parameters starting at
 * $first; `join` joins each row to another CTE (the append-all statement's lock).
 */
const decisionInsertSql = (first: number, join = ''): string => `INSERT INTO decisions (id, ts, "user", kind, items, propensities, scores, snapshot_id, activated, payload)
  SELECT id, ts, u, kind, items::jsonb, props::jsonb, scores::jsonb, snap, act, payload::jsonb
  FROM unnest(${arrayParams(first, DECISION_PARAMS)})
    WITH ORDINALITY AS t(id, ts, u, kind, items, props, scores, snap, act, payload, ord)${join}
  ORDER BY ord
  ON CONFLICT (id) DO NOTHING
  RETURNING id`;

/**
 * A batch of feedback inserted in batch order from ten array parameters starting at $first
 * (`join` as above), then the per-item totals updated from the rows the CTE `ins` inserted. A row
 * whose `onDecision` is set goes in only while its decision is stored, for the same user (an event
 * id used again after an erasure names another decision): the writer's transactions
 * are serial, so an erasure that deleted the decision is either wholly before this statement
 * (the row is skipped) or wholly after it (the erasure deletes the row).
 */
const feedbackInsertSql = (first: number, join = ''): string => `INSERT INTO feedback (event_id, ts, "user", item, type, value, reward, position, propensity)
  SELECT ev, ts, u, item, type, value, reward, pos, prop
  FROM unnest(${arrayParams(first, FEEDBACK_PARAMS)})
    WITH ORDINALITY AS t(ev, ts, u, item, type, value, reward, pos, prop, need, ord)${join}
  WHERE need IS NOT TRUE OR ev IS NULL OR EXISTS (SELECT 1 FROM decisions WHERE id = ev AND "user" IS NOT DISTINCT FROM u)
  ORDER BY ord
  RETURNING seq, item, reward, event_id`;

const itemTotalsSql = (ins: string): string => `INSERT INTO item_feedback (item, n, reward)
  SELECT item, count(*), sum(reward) FROM ${ins} GROUP BY item
  ON CONFLICT (item) DO UPDATE SET n = item_feedback.n + excluded.n, reward = item_feedback.reward + excluded.reward`;

const INSERT_DECISIONS = decisionInsertSql(1);

// The per-item totals are updated by the same statement, from the rows it inserted.
const INSERT_FEEDBACK = `WITH ins AS (
  ${feedbackInsertSql(1)}
), totals AS (
  ${itemTotalsSql('ins')}
)
SELECT seq, event_id FROM ins ORDER BY seq`;

/** The writers' lock as the first CTE of an append statement, from parameters $a and $a+1. */
const lockCte = (a: number): string => `WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock($${a}, $${a + 1}) AS held)`;
const JOIN_LOCK = '\n    CROSS JOIN lock';

/**
 * A batch of appends only (the server's usual batch) as one statement: for both tables, or for the
 * one table the batch writes to (a batch of feedback alone costs the database less without the
 * empty insert into decisions). Every row to insert joins the lock's one-row CTE, so the writers'
 * lock (see PgGroupWriter) is taken just before the first seq is drawn, and held until the
 * writer's transaction ends. Each returns the transaction's id too (the writer needs it before it
 * sends COMMIT: ./postgres-outcome.ts).
 */
const APPENDS = {
  all: {
    name: 'chorus_append_all',
    text: `${lockCte(21)},
d AS (
  ${decisionInsertSql(1, JOIN_LOCK)}
), f AS (
  ${feedbackInsertSql(11, JOIN_LOCK)}
), totals AS (
  ${itemTotalsSql('f')}
)
SELECT (SELECT array_agg(id) FROM d) AS ids, (SELECT array_agg(seq ORDER BY seq) FROM f) AS seqs,
  (SELECT array_agg(DISTINCT event_id) FROM f WHERE event_id IS NOT NULL) AS evs, txid_current()::text AS xid`,
  },
  feedback: {
    name: 'chorus_append_feedback',
    text: `${lockCte(11)},
f AS (
  ${feedbackInsertSql(1, JOIN_LOCK)}
), totals AS (
  ${itemTotalsSql('f')}
)
SELECT NULL::text[] AS ids, (SELECT array_agg(seq ORDER BY seq) FROM f) AS seqs,
  (SELECT array_agg(DISTINCT event_id) FROM f WHERE event_id IS NOT NULL) AS evs, txid_current()::text AS xid`,
  },
  decisions: {
    name: 'chorus_append_decisions',
    text: `${lockCte(11)},
d AS (
  ${decisionInsertSql(1, JOIN_LOCK)}
)
SELECT (SELECT array_agg(id) FROM d) AS ids, NULL::int8[] AS seqs, NULL::text[] AS evs, txid_current()::text AS xid`,
  },
} as const;

/**
 * Each feedback write's result from the seqs the statement returned (ascending) and the event ids
 * of the rows it inserted: a write whose `onDecision` row was skipped (its decision is gone)
 * fails alone with NotFoundError; the others take the seqs in order (identity values are drawn
 * row by row in insertion = batch order).
 */
function feedbackResults(fs: readonly FeedbackWrite[], seqs: readonly number[], events: readonly (string | null)[]): WriteResult[] {
  const stored = new Set(events);
  const kept = fs.map((f) => !f.onDecision || f.eventId === null || stored.has(f.eventId));
  const n = kept.filter(Boolean).length;
  if (seqs.length !== n) throw new StoreInvariantError(`feedback insert stored ${seqs.length} of ${n} rows`);
  let k = 0;
  return fs.map((f, i) => (kept[i] ? { ok: true, value: seqs[k++]! } : { ok: false, error: new NotFoundError(`unknown event "${f.eventId}"`, 'eventId') }));
}

/** Of two writes with one id in a batch, the first is the one stored: rows go in in batch order. */
function decisionResults(ds: readonly DecisionWrite[], insertedIds: readonly string[]): WriteResult[] {
  const inserted = new Set(insertedIds);
  return ds.map((d) => {
    if (inserted.delete(d.id)) return { ok: true, value: undefined };
    return { ok: false, error: new DuplicateKeyError('decisions', 'id', d.id) };
  });
}

/** True when every write of the batch is an append (appendAll can take it). */
export function onlyAppends(batch: readonly PgWrite[]): boolean {
  return batch.every((w) => w.op === 'decision' || w.op === 'feedback');
}

/** What pg's Query does that `BeginFirst` changes (pg 8, lib/query.js: not in its typings). */
interface QueryInternals extends Submittable {
  prepare(connection: WireConnection): void;
  handleCommandComplete(msg: unknown, connection: WireConnection): void;
}

/** The protocol messages of pg's Connection that `BeginFirst` sends (the ones pg's own Query sends). */
interface WireConnection {
  parse(o: { text: string; name?: string; types?: unknown[] }): void;
  bind(o: { portal?: string; statement?: string; values?: unknown[] }): void;
  execute(o: { portal?: string; rows?: number }): void;
}

type QueryCallback = (err: Error | null, res: QueryResult) => void;
const PgQuery = pg.Query as unknown as new (config: QueryConfig, callback: QueryCallback) => QueryInternals;

/** Whether this pg has the Query internals `BeginFirst` overrides (else appends take the round trip for BEGIN). */
const queryProto = pg.Query?.prototype as Partial<QueryInternals> | undefined;
const CAN_BEGIN_FIRST = typeof queryProto?.prepare === 'function' && typeof queryProto.handleCommandComplete === 'function';

/**
 * A prepared statement with a BEGIN sent ahead of it in the same pipeline, before the one Sync
 * that ends both (extended protocol: Parse/Bind/Execute of BEGIN, then the statement's own
 * messages): the transaction opens and the statement runs in it for one round trip instead of
 * two. Should BEGIN fail, the server skips the statement too (it discards everything up to the
 * Sync); should the statement fail, the transaction is open and aborted, as after a BEGIN sent on
 * its own. BEGIN's CommandComplete is not the statement's result, and is passed over.
 *
 * Only for a statement already parsed on this connection: pg counts the first ParseComplete of a
 * pipeline (here BEGIN's) as the statement's, so a statement parsed in the same pipeline would be
 * taken as prepared even where its own Parse failed.
 */
class BeginFirst extends PgQuery {
  private begun = false;

  override prepare(connection: WireConnection): void {
    connection.parse({ text: 'BEGIN' });
    connection.bind({});
    connection.execute({});
    super.prepare(connection);
  }

  override handleCommandComplete(msg: unknown, connection: WireConnection): void {
    if (!this.begun) {
      this.begun = true;
      return;
    }
    super.handleCommandComplete(msg, connection);
  }
}

/** `config` run on `c` with a BEGIN ahead of it in the same round trip (see BeginFirst). */
function queryAfterBegin<R extends pg.QueryResultRow>(c: PoolClient, config: QueryConfig): Promise<QueryResult<R>> {
  return new Promise((resolve, reject) => {
    c.query(new BeginFirst(config, (err, res) => (err ? reject(err) : resolve(res as QueryResult<R>))));
  });
}

/**
 * Write a batch of appends (onlyAppends) as one statement under the writers' advisory lock `lock`,
 * in a transaction this opens; the caller commits. `parsed`: the statements already parsed on `c`
 * (this adds the one it runs). For one of those, BEGIN goes in the statement's round trip
 * (BeginFirst); else in one of its own before. Resolves with each write's result and the
 * transaction's id, read by the statement itself: known before the caller sends COMMIT, so the
 * outcome of a COMMIT left unanswered can be asked (./postgres-outcome.ts).
 */
export async function appendAll(c: PoolClient, batch: readonly PgWrite[], lock: readonly [number, number], parsed: Set<string>): Promise<{ results: WriteResult[]; xid: string }> {
  const ds: DecisionWrite[] = [];
  const fs: FeedbackWrite[] = [];
  for (const w of batch) {
    if (w.op === 'decision') ds.push(w);
    else if (w.op === 'feedback') fs.push(w);
    else throw new ChorusError('E_STORE_WRITE', `appendAll got a ${w.op} write`, { status: 500 });
  }
  const st = ds.length === 0 ? APPENDS.feedback : fs.length === 0 ? APPENDS.decisions : APPENDS.all;
  const values = [...(ds.length > 0 ? decisionColumns(ds) : []), ...(fs.length > 0 ? feedbackColumns(fs) : []), lock[0], lock[1]];
  type AppendRow = { ids: string[] | null; seqs: (string | number)[] | null; evs: string[] | null; xid: string };
  const query = q(st.name, st.text, values);
  let r: QueryResult<AppendRow>;
  if (CAN_BEGIN_FIRST && parsed.has(st.name)) r = await queryAfterBegin<AppendRow>(c, query);
  else {
    await c.query('BEGIN');
    r = await c.query<AppendRow>(query);
    parsed.add(st.name);
  }
  const row = r.rows[0]!;
  const fr = feedbackResults(fs, (row.seqs ?? []).map(Number), row.evs ?? []);
  const dr = decisionResults(ds, row.ids ?? []);
  let di = 0;
  let fi = 0;
  return { results: batch.map((w) => (w.op === 'decision' ? dr[di++]! : fr[fi++]!)), xid: row.xid };
}

/** Insert decisions in one statement; a duplicate id fails only its own write. */
async function insertDecisions(c: PoolClient, ds: readonly DecisionWrite[]): Promise<WriteResult[]> {
  const r = await c.query<{ id: string }>(q('chorus_insert_decisions', INSERT_DECISIONS, decisionColumns(ds)));
  return decisionResults(
    ds,
    r.rows.map((x) => x.id),
  );
}

/** Insert feedback in one statement; resolves each write with its seq. */
async function insertFeedback(c: PoolClient, fs: readonly FeedbackWrite[]): Promise<WriteResult[]> {
  const r = await c.query<{ seq: number; event_id: string | null }>(q('chorus_insert_feedback', INSERT_FEEDBACK, feedbackColumns(fs)));
  return feedbackResults(
    fs,
    r.rows.map((row) => Number(row.seq)),
    r.rows.map((row) => row.event_id),
  );
}

/** The table of a catalogue kind, checked at run time too: the name goes into SQL text. */
export function catalogueTable(kind: string): CatalogueKind {
  if (kind !== 'items' && kind !== 'users') {
    throw new ChorusError('E_STORE_KIND', `unknown catalogue kind "${kind}"; expected items or users`, { status: 400, location: { field: 'kind' } });
  }
  return kind;
}

async function upsertCatalogue(c: PoolClient, w: Extract<PgWrite, { op: 'upsert' }>): Promise<number> {
  // One row per id, as the sequential upserts SQLite makes would leave it: the first entry's
  // `created`, the last one's meta and `updated` (one INSERT … ON CONFLICT cannot touch a row twice).
  const byId = new Map<string, { id: string; meta: string; created: number; updated: number }>();
  for (const e of w.entries) {
    const prev = byId.get(e.id);
    byId.set(e.id, prev ? { ...e, created: prev.created } : e);
  }
  if (byId.size === 0) return 0;
  const t = catalogueTable(w.kind);
  const rows = [...byId.values()];
  const ids = rows.map((e) => e.id);
  const old = await c.query<{ n: number }>(q(`chorus_existing_${t}`, `SELECT count(*) AS n FROM ${t} WHERE id = ANY($1::text[])`, [ids]));
  await c.query(
    q(
      `chorus_upsert_${t}`,
      `INSERT INTO ${t} (id, meta, created, updated)
       SELECT id, meta::jsonb, created, updated FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[]) AS t(id, meta, created, updated)
       ON CONFLICT (id) DO UPDATE SET meta = excluded.meta, updated = excluded.updated`,
      [ids, rows.map((e) => e.meta), rows.map((e) => e.created), rows.map((e) => e.updated)],
    ),
  );
  return rows.length - old.rows[0]!.n;
}

/** The feedback rows an erasure removes: the user's own, and any on the user's decisions. */
const THEIR_FEEDBACK = '"user" = $1 OR event_id IN (SELECT id FROM decisions WHERE "user" = $1)';

/**
 * An erasure (./types.ts, ErasureRequest) inside the writer's transaction. Deleted rows stay in
 * the table files as dead tuples until VACUUM reuses their space (docs/privacy.md).
 */
async function erase(c: PoolClient, w: Extract<PgWrite, { op: 'erase' }>): Promise<{ id: string; ts: number; counts: Record<string, number> } | null> {
  await c.query(
    q(
      'chorus_erase_totals',
      `UPDATE item_feedback t SET n = t.n - g.n, reward = t.reward - g.r
       FROM (SELECT item, count(*) AS n, sum(reward) AS r FROM feedback WHERE ${THEIR_FEEDBACK} GROUP BY item) g WHERE t.item = g.item`,
      [w.user],
    ),
  );
  await c.query('DELETE FROM item_feedback WHERE n <= 0');
  const feedback = (await c.query(q('chorus_erase_feedback', `DELETE FROM feedback WHERE ${THEIR_FEEDBACK}`, [w.user]))).rowCount ?? 0;
  const decisions = (await c.query(q('chorus_erase_decisions', 'DELETE FROM decisions WHERE "user" = $1', [w.user]))).rowCount ?? 0;
  const users = (await c.query(q('chorus_erase_user', 'DELETE FROM users WHERE id = $1', [w.user]))).rowCount ?? 0;
  // Nothing deleted and nothing found outside: the statements above changed nothing; no state or audit is written.
  if (!w.found && feedback + decisions + users === 0 && w.snapshots.length === 0) return null;
  let snapshots = 0;
  for (const sn of w.snapshots) snapshots += (await c.query(q('chorus_erase_snapshot', 'UPDATE snapshots SET body = $2 WHERE id = $1', [sn.id, sn.body]))).rowCount ?? 0;
  for (const st of w.state) {
    await c.query(
      q(
        'chorus_put_state',
        'INSERT INTO state (key, value, updated) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated = excluded.updated',
        [st.key, st.value, w.ts],
      ),
    );
  }
  const counts = { ...w.counts, decisions, feedback, users, snapshots };
  await c.query(q('chorus_erase_audit', 'INSERT INTO erasures (id, ts, counts) VALUES ($1, $2, $3::jsonb)', [w.id, w.ts, JSON.stringify(counts)]));
  return { id: w.id, ts: w.ts, counts };
}

/** One write that is not an append, as its own statement; resolves with the write's value. */
async function applyOne(c: PoolClient, w: Exclude<PgWrite, DecisionWrite | FeedbackWrite>): Promise<unknown> {
  switch (w.op) {
    case 'activateDecision':
      return ((await c.query(q('chorus_activate_decision', 'UPDATE decisions SET activated = true WHERE id = $1', [w.id]))).rowCount ?? 0) > 0;
    case 'putSnapshot':
      await c.query(
        q(
          'chorus_put_snapshot',
          `INSERT INTO snapshots (id, created, meta, body) VALUES ($1, $2, $3::jsonb, $4)
           ON CONFLICT (id) DO UPDATE SET created = excluded.created, meta = excluded.meta, body = excluded.body`,
          [w.id, w.created, w.meta, w.body],
        ),
      );
      return undefined;
    case 'activateSnapshot':
      await c.query(q('chorus_activate_snapshot', 'INSERT INTO activations (snapshot_id, ts) VALUES ($1, $2)', [w.id, w.ts]));
      return undefined;
    case 'deleteSnapshot':
      // Its activations stay: they are the history; rollback skips snapshots that are gone.
      return ((await c.query(q('chorus_delete_snapshot', 'DELETE FROM snapshots WHERE id = $1', [w.id]))).rowCount ?? 0) > 0;
    case 'upsert':
      return upsertCatalogue(c, w);
    case 'remove': {
      const t = catalogueTable(w.kind);
      return ((await c.query(q(`chorus_remove_${t}`, `DELETE FROM ${t} WHERE id = $1`, [w.id]))).rowCount ?? 0) > 0;
    }
    case 'putState':
      await c.query(
        q(
          'chorus_put_state',
          'INSERT INTO state (key, value, updated) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated = excluded.updated',
          [w.key, w.value, w.ts],
        ),
      );
      return undefined;
    case 'putKey':
      await c.query(
        q(
          'chorus_put_key',
          `INSERT INTO api_keys (id, scope, salt, hash, created, name) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, salt = excluded.salt, hash = excluded.hash, created = excluded.created, name = excluded.name`,
          [w.id, w.scope, w.salt, w.hash, w.created, w.name],
        ),
      );
      return undefined;
    case 'deleteKey':
      return ((await c.query(q('chorus_delete_key', 'DELETE FROM api_keys WHERE id = $1', [w.id]))).rowCount ?? 0) > 0;
    case 'erase':
      return erase(c, w);
  }
}

/**
 * Run a batch inside the caller's open transaction, results in batch order. Appends are gathered
 * into one INSERT per table until a write of another kind comes; that write runs after them, so
 * every table sees its writes in batch order (an activation after the insert of its decision).
 * Any statement error propagates: the transaction is then aborted and the caller retries the
 * batch write by write (applyEach), except after a StoreInvariantError.
 */
export async function applyBatch(c: PoolClient, batch: readonly PgWrite[]): Promise<WriteResult[]> {
  const results: WriteResult[] = new Array<WriteResult>(batch.length);
  let dIdx: number[] = [];
  let fIdx: number[] = [];
  const flushAppends = async (): Promise<void> => {
    if (dIdx.length > 0) {
      const r = await insertDecisions(c, dIdx.map((i) => batch[i] as DecisionWrite));
      dIdx.forEach((i, k) => (results[i] = r[k]!));
      dIdx = [];
    }
    if (fIdx.length > 0) {
      const r = await insertFeedback(c, fIdx.map((i) => batch[i] as FeedbackWrite));
      fIdx.forEach((i, k) => (results[i] = r[k]!));
      fIdx = [];
    }
  };
  for (let i = 0; i < batch.length; i++) {
    const w = batch[i]!;
    if (w.op === 'decision') dIdx.push(i);
    else if (w.op === 'feedback') fIdx.push(i);
    else {
      await flushAppends();
      results[i] = { ok: true, value: await applyOne(c, w) };
    }
  }
  await flushAppends();
  return results;
}

/**
 * The slow path, after a batch statement failed: the same writes inside the caller's (fresh)
 * transaction, each in its own savepoint, so the one that fails is undone alone and its
 * neighbours still commit, as with the SQLite store. A failure outside a write's own statement
 * (the connection lost) propagates and fails the whole batch.
 */
export async function applyEach(c: PoolClient, batch: readonly PgWrite[]): Promise<WriteResult[]> {
  const results: WriteResult[] = [];
  for (const w of batch) {
    await c.query('SAVEPOINT chorus_write');
    try {
      results.push((await applyBatch(c, [w]))[0]!);
      await c.query('RELEASE SAVEPOINT chorus_write');
    } catch (error) {
      await c.query('ROLLBACK TO SAVEPOINT chorus_write');
      results.push({ ok: false, error });
    }
  }
  return results;
}
