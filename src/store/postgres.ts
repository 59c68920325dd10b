import pg from 'pg';
import { ChorusError, ConfigError } from '../errors.js';
import type {
  CatalogueStore,
  ErasureRecord,
  ErasureStore,
  EventStore,
  KeyStore,
  SnapshotMeta,
  SnapshotStore,
  StateStore,
  Store,
} from './types.js';
import { migrate } from './postgres-schema.js';
import { decisionReader, entryReader, feedbackFromRow, keyFromRow, timelineFromRows, type Row, type RowCodec } from './rows.js';
import { PgGroupWriter } from './postgres-writer.js';
import { catalogueTable as table, type PgWrite } from './postgres-write.js';

export interface PostgresStoreOptions {
  /** A libpq-style URL, `postgres://user:password@host:port/db`, without Chorus's own parameters. */
  connectionString: string;
  /** Most connections the pool opens (reads share them; writes use one at a time). */
  pool?: number;
  /** A schema to keep the tables in (created on open); default: the connection's search_path. */
  schema?: string | null;
  /** The URL shown in `store.url` (no password). */
  displayUrl?: string;
  /** Where a connection error outside any request goes; default: one line on stderr. */
  onWarning?: (message: string) => void;
}

/** An unquoted PostgreSQL identifier, so the name needs no quoting anywhere it is used. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const MAX_POOL = 1000;

/**
 * Split a `postgres://…?pool=10&schema=x` URL (the part after `postgres:`) into the store's
 * options and the connection string handed to `pg` (its other parameters, e.g. sslmode, pass through).
 */
export function postgresOptions(rest: string, params: URLSearchParams): PostgresStoreOptions {
  if (!rest.startsWith('//')) throw new ConfigError(`postgres store URL must look like postgres://user@host:5432/db, got "postgres:${rest}"`, 'store');
  const own = new URLSearchParams(params);
  let pool = 10;
  const p = own.get('pool');
  if (p !== null) {
    pool = Number(p);
    if (!Number.isInteger(pool) || pool < 1 || pool > MAX_POOL) throw new ConfigError(`pool must be an integer from 1 to ${MAX_POOL}, got "${p}"`, 'store');
  }
  const schema = own.get('schema');
  if (schema !== null && !SCHEMA_NAME.test(schema)) {
    throw new ConfigError(`schema must be a lower-case identifier (a-z, 0-9, _; at most 63), got "${schema}"`, 'store');
  }
  own.delete('pool');
  own.delete('schema');
  const query = own.toString();
  const connectionString = `postgres:${rest}${query ? `?${query}` : ''}`;
  let display: URL;
  try {
    display = new URL(connectionString);
  } catch {
    throw new ConfigError(`cannot parse postgres store URL "postgres:${rest}"`, 'store');
  }
  display.password = '';
  display.searchParams.delete('password');
  if (p !== null) display.searchParams.set('pool', String(pool));
  if (schema !== null) display.searchParams.set('schema', schema);
  return { connectionString, pool, schema, displayUrl: display.toString() };
}

// pg returns int8 (seq, count(*)) as strings by default, to be exact beyond 2^53; a seq or a count
// stays far below that, so this pool parses them as numbers (for its own connections only).
const INT8_OID = 20;
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID && format !== 'binary') return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** pg parses jsonb columns and returns booleans as booleans. */
const PG_ROWS: RowCodec = { json: (v) => v, bool: (v) => v as boolean };
const decisionFromRow = decisionReader(PG_ROWS);
const entryFromRow = entryReader(PG_ROWS);

const DECISION_COLS = 'seq, id, ts, "user", kind, items, propensities, scores, snapshot_id, activated, payload';
/** The same without the payload itself: `{}` where it is an object (turning jsonb to text and parsing it is most of a large read). */
const BARE_DECISION_COLS = `seq, id, ts, "user", kind, items, propensities, scores, snapshot_id, activated, CASE jsonb_typeof(payload) WHEN 'object' THEN '{}'::jsonb ELSE NULL END AS payload`;

/**
 * PostgreSQL through a `pg` connection pool: the same contract, tables and ordering as the SQLite
 * store, for a database that outlives one machine. Opening is synchronous, as `openStore` is;
 * the migrations run in the background and every call waits for them, so a database that cannot
 * be reached fails the first call (E_STORE_OPEN), e.g. the server's start.
 */
export class PostgresStore implements Store {
  readonly url: string;
  readonly events: EventStore;
  readonly snapshots: SnapshotStore;
  readonly catalogue: CatalogueStore;
  readonly state: StateStore;
  readonly keys: KeyStore;
  readonly erasures: ErasureStore;
  /** Resolves with the schema version once migrations are done; rejects if the database cannot be opened. */
  readonly ready: Promise<number>;
  private readonly pool: pg.Pool;
  private readonly writer: PgGroupWriter;
  private closing: Promise<void> | null = null;

  constructor(options: PostgresStoreOptions) {
    this.url = options.displayUrl ?? 'postgres:';
    const warn = options.onWarning ?? ((m: string) => process.stderr.write(`chorus: WARNING E_STORE_CONNECTION: ${this.url}: ${m}\n`));
    const startup = ['-c synchronous_commit=on'];
    if (options.schema) startup.push(`-c search_path=${options.schema}`);
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.pool ?? 10,
      // synchronous_commit is forced on, whatever the server's or database's default: a returned
      // COMMIT must mean flushed to disk (see PgGroupWriter).
      options: startup.join(' '),
      types,
      // Fail a start against an unreachable host instead of hanging; also bounds the wait for a free connection.
      connectionTimeoutMillis: 30_000,
      // An idle pool does not keep the process alive (a CLI that reads the log exits when done).
      allowExitOnIdle: true,
    });
    // An idle connection that the server drops emits 'error' on the pool; unhandled, it would end the process.
    this.pool.on('error', (e) => warn(e.message));
    this.ready = this.open(options.schema ?? null);
    // Callers see a failed open through their first call; this keeps it from being an unhandled rejection meanwhile.
    this.ready.catch(() => {});
    const ready = this.ready.then(() => undefined);
    ready.catch(() => {});
    const w = (this.writer = new PgGroupWriter(this.pool, ready));
    const write = <T>(op: PgWrite): Promise<T> => w.push(op) as Promise<T>;
    const rows = async (name: string, text: string, values: unknown[] = []): Promise<Row[]> => {
      await ready;
      return (await this.pool.query<Row>({ name, text, values })).rows;
    };
    const one = async (name: string, text: string, values: unknown[] = []): Promise<Row | undefined> => (await rows(name, text, values))[0];
    const count = async (name: string, text: string): Promise<number> => (await one(name, text))!.n as number;

    this.events = {
      appendDecision: (d) =>
        write({
          op: 'decision',
          id: d.id,
          ts: d.ts,
          user: d.user,
          kind: d.kind,
          items: JSON.stringify(d.items),
          propensities: JSON.stringify(d.propensities),
          scores: JSON.stringify(d.scores),
          snapshotId: d.snapshotId,
          activated: d.activated,
          payload: JSON.stringify(d.payload ?? null),
        }),
      appendFeedback: (f, opts) =>
        write({
          op: 'feedback',
          onDecision: opts?.onDecision === true && f.eventId !== null,
          eventId: f.eventId,
          ts: f.ts,
          user: f.user,
          item: f.item,
          type: f.type,
          value: f.value,
          reward: f.reward,
          position: f.position,
          propensity: f.propensity,
        }),
      getDecision: async (id) => {
        const r = await one('chorus_get_decision', `SELECT ${DECISION_COLS} FROM decisions WHERE id = $1`, [id]);
        return r ? decisionFromRow(r) : undefined;
      },
      activateDecision: (id) => write({ op: 'activateDecision', id }),
      countDecisions: () => count('chorus_count_decisions', 'SELECT count(*) AS n FROM decisions'),
      countFeedback: () => count('chorus_count_feedback', 'SELECT count(*) AS n FROM feedback'),
      feedbackSince: async (after, limit) =>
        (await rows('chorus_feedback_since', 'SELECT * FROM feedback WHERE seq > $1 ORDER BY seq LIMIT $2', [after, limit])).map(feedbackFromRow),
      recentDecisions: async (limit, opts) =>
        opts?.payload === false
          ? (await rows('chorus_recent_decisions_bare', `SELECT ${BARE_DECISION_COLS} FROM decisions ORDER BY seq DESC LIMIT $1`, [limit])).map(decisionFromRow)
          : (await rows('chorus_recent_decisions', `SELECT ${DECISION_COLS} FROM decisions ORDER BY seq DESC LIMIT $1`, [limit])).map(decisionFromRow),
      decisionsAfter: async (afterSeq, limit) =>
        (await rows('chorus_decisions_after', `SELECT ${DECISION_COLS} FROM decisions WHERE seq > $1 ORDER BY seq LIMIT $2`, [afterSeq, limit])).map(
          decisionFromRow,
        ),
      feedbackFor: async (ids) =>
        ids.length === 0
          ? []
          : (await rows('chorus_feedback_for', 'SELECT * FROM feedback WHERE event_id = ANY($1::text[]) ORDER BY seq', [ids])).map(feedbackFromRow),
      timeline: async (b, since) =>
        timelineFromRows(
          // As SQLite's CAST(ts / b AS INTEGER): toward zero (trunc, not floor), and through an integer so
          // that the bucket just below zero starts at 0, not -0.
          await rows(
            'chorus_timeline_decisions',
            'SELECT trunc(ts / $1::float8)::int8 * $1::float8 AS t, count(*) AS n, sum(jsonb_array_length(items)) AS shown FROM decisions WHERE ts >= $2 GROUP BY 1 ORDER BY 1',
            [b, since],
          ),
          await rows(
            'chorus_timeline_feedback',
            `SELECT trunc(ts / $1::float8)::int8 * $1::float8 AS t, count(*) AS n,
             count(*) FILTER (WHERE type IN ('click', 'purchase') OR (type = 'reward' AND reward > 0)) AS clicks, sum(reward) AS r
           FROM feedback WHERE ts >= $2 GROUP BY 1 ORDER BY 1`,
            [b, since],
          ),
        ),
      topItems: async (limit) =>
        (await rows('chorus_top_items', 'SELECT item, n, reward FROM item_feedback ORDER BY reward DESC, n DESC, item LIMIT $1', [limit])).map((r) => ({
          item: r.item as string,
          feedback: r.n as number,
          rewardSum: r.reward as number,
        })),
    };

    this.snapshots = {
      putSnapshot: (m, body) => write({ op: 'putSnapshot', id: m.id, created: m.created, meta: JSON.stringify(m), body }),
      listSnapshots: async () => (await rows('chorus_list_snapshots', 'SELECT meta FROM snapshots ORDER BY created, id')).map((r) => r.meta as SnapshotMeta),
      getSnapshot: async (id) => {
        const r = await one('chorus_get_snapshot', 'SELECT meta, body FROM snapshots WHERE id = $1', [id]);
        return r ? { meta: r.meta as SnapshotMeta, body: r.body as Buffer } : undefined;
      },
      activateSnapshot: (id) => write({ op: 'activateSnapshot', id, ts: Date.now() }),
      deleteSnapshot: (id) => write({ op: 'deleteSnapshot', id }),
      activations: async (limit) =>
        (await rows('chorus_activations', 'SELECT snapshot_id, ts FROM activations ORDER BY seq DESC LIMIT $1', [limit])).map((r) => ({
          snapshotId: r.snapshot_id as string,
          ts: r.ts as number,
        })),
    };

    this.catalogue = {
      upsert: (kind, entries) =>
        write({ op: 'upsert', kind, entries: entries.map((e) => ({ id: e.id, meta: JSON.stringify(e.meta), created: e.created, updated: e.updated })) }),
      get: async (kind, id) => {
        const r = await one(`chorus_get_${kind}`, `SELECT * FROM ${table(kind)} WHERE id = $1`, [id]);
        return r ? entryFromRow(r) : undefined;
      },
      remove: (kind, id) => write({ op: 'remove', kind, id }),
      list: async (kind, offset, limit) =>
        (await rows(`chorus_list_${kind}`, `SELECT * FROM ${table(kind)} ORDER BY created, id LIMIT $1 OFFSET $2`, [limit, offset])).map(entryFromRow),
      count: async (kind) => count(`chorus_count_${kind}`, `SELECT count(*) AS n FROM ${table(kind)}`),
      all: async (kind) => (await rows(`chorus_all_${kind}`, `SELECT * FROM ${table(kind)} ORDER BY created, id`)).map(entryFromRow),
    };

    this.state = {
      getState: async (key) => (await one('chorus_get_state', 'SELECT value FROM state WHERE key = $1', [key]))?.value as Buffer | undefined,
      putState: (key, value) => write({ op: 'putState', key, value, ts: Date.now() }),
    };

    this.keys = {
      putKey: (k) => write({ op: 'putKey', id: k.id, scope: k.scope, salt: k.salt, hash: k.hash, created: k.created, name: k.name }),
      getKey: async (id) => {
        const r = await one('chorus_get_key', 'SELECT * FROM api_keys WHERE id = $1', [id]);
        return r ? keyFromRow(r) : undefined;
      },
      listKeys: async () => (await rows('chorus_list_keys', 'SELECT * FROM api_keys ORDER BY created, id')).map(keyFromRow),
      deleteKey: (id) => write({ op: 'deleteKey', id }),
    };

    this.erasures = {
      eraseUser: (r) => write<ErasureRecord | null>({ op: 'erase', user: r.user, id: r.id, ts: r.ts, snapshots: r.snapshots, state: r.state, counts: r.counts, found: r.found }),
      list: async (limit) =>
        (await rows('chorus_list_erasures', 'SELECT id, ts, counts FROM erasures ORDER BY ts DESC, id LIMIT $1', [limit])).map((r) => ({
          id: r.id as string,
          ts: r.ts as number,
          counts: r.counts as Record<string, number>,
        })),
    };
  }

  private async open(schema: string | null): Promise<number> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw new ChorusError('E_STORE_OPEN', `cannot open PostgreSQL store at ${this.url}: ${(e as Error).message}`, { status: 500, cause: e, location: { field: 'store' } });
    }
    // See PgGroupWriter.commit: a checked-out client's connection errors need a listener.
    let broken: Error | undefined;
    const onError = (e: Error): void => {
      broken ??= e;
    };
    client.on('error', onError);
    try {
      return await migrate(client, schema);
    } catch (e) {
      if (e instanceof ChorusError) throw e;
      throw new ChorusError('E_STORE_OPEN', `cannot migrate PostgreSQL store at ${this.url}: ${(e as Error).message}`, { status: 500, cause: e, location: { field: 'store' } });
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  close(): Promise<void> {
    return (this.closing ??= (async () => {
      // Writes already pushed are committed (or fail) before the pool's connections close.
      await this.writer.close();
      await this.ready.catch(() => {});
      await this.pool.end();
    })());
  }
}
