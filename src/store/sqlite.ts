import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ChorusError } from '../errors.js';
import type {
  ApiKeyRecord,
  CatalogueEntry,
  CatalogueKind,
  CatalogueStore,
  DecisionRecord,
  EventStore,
  FeedbackRecord,
  KeyStore,
  SnapshotMeta,
  SnapshotStore,
  StateStore,
  Store,
  TimelineBucket,
} from './types.js';

export interface SqliteStoreOptions {
  /**
   * `full` (default) fsyncs the WAL at every commit, so an acknowledged write survives a power
   * cut; `normal` survives a process crash (kill -9) but not a power cut, and is faster.
   */
  synchronous?: 'full' | 'normal';
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS decisions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  ts REAL NOT NULL,
  user TEXT,
  kind TEXT NOT NULL,
  items TEXT NOT NULL,
  propensities TEXT NOT NULL,
  scores TEXT NOT NULL,
  snapshot_id TEXT,
  activated INTEGER NOT NULL,
  payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_ts ON decisions(ts);
CREATE TABLE IF NOT EXISTS feedback (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT,
  ts REAL NOT NULL,
  user TEXT,
  item TEXT NOT NULL,
  type TEXT NOT NULL,
  value REAL,
  reward REAL NOT NULL,
  position INTEGER,
  propensity REAL
);
CREATE INDEX IF NOT EXISTS feedback_ts ON feedback(ts);
CREATE INDEX IF NOT EXISTS feedback_item ON feedback(item);
CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, meta TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, meta TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (id TEXT PRIMARY KEY, created REAL NOT NULL, meta TEXT NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS activations (seq INTEGER PRIMARY KEY AUTOINCREMENT, snapshot_id TEXT NOT NULL, ts REAL NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value BLOB NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (id TEXT PRIMARY KEY, scope TEXT NOT NULL, salt BLOB NOT NULL, hash BLOB NOT NULL, created REAL NOT NULL, name TEXT NOT NULL);
`;

interface Pending {
  run: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit: writes issued in the same event-loop turn share one transaction (one WAL fsync),
 * each inside its own savepoint so one failing write does not undo its neighbours. Every promise
 * settles only after the shared COMMIT returns, so "resolved" means "on disk".
 */
class WriteQueue {
  private pending: Pending[] = [];
  private scheduled = false;
  private readonly outer: (batch: Pending[]) => { ok: boolean; value: unknown }[];

  constructor(db: Database.Database) {
    const one = db.transaction((p: Pending) => p.run());
    this.outer = db.transaction((batch: Pending[]) =>
      batch.map((p) => {
        try {
          return { ok: true, value: one(p) };
        } catch (e) {
          return { ok: false, value: e };
        }
      }),
    );
  }

  push<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    let results: { ok: boolean; value: unknown }[];
    try {
      results = this.outer(batch);
    } catch (e) {
      for (const p of batch) p.reject(e);
      return;
    }
    for (let i = 0; i < batch.length; i++) {
      const r = results[i]!;
      if (r.ok) batch[i]!.resolve(r.value);
      else batch[i]!.reject(r.value);
    }
  }
}

type Row = Record<string, unknown>;

function decisionFromRow(r: Row): DecisionRecord {
  return {
    seq: r.seq as number,
    id: r.id as string,
    ts: r.ts as number,
    user: (r.user as string | null) ?? null,
    kind: r.kind as DecisionRecord['kind'],
    items: JSON.parse(r.items as string) as string[],
    propensities: JSON.parse(r.propensities as string) as number[],
    scores: JSON.parse(r.scores as string) as number[],
    snapshotId: (r.snapshot_id as string | null) ?? null,
    activated: r.activated === 1,
    payload: JSON.parse(r.payload as string) as unknown,
  };
}

function feedbackFromRow(r: Row): FeedbackRecord {
  return {
    seq: r.seq as number,
    eventId: (r.event_id as string | null) ?? null,
    ts: r.ts as number,
    user: (r.user as string | null) ?? null,
    item: r.item as string,
    type: r.type as FeedbackRecord['type'],
    value: (r.value as number | null) ?? null,
    reward: r.reward as number,
    position: (r.position as number | null) ?? null,
    propensity: (r.propensity as number | null) ?? null,
  };
}

function entryFromRow(r: Row): CatalogueEntry {
  return { id: r.id as string, meta: JSON.parse(r.meta as string) as Record<string, unknown>, created: r.created as number, updated: r.updated as number };
}

/** SQLite (WAL) through better-sqlite3: the embedded default store. */
export class SqliteStore implements Store {
  readonly url: string;
  readonly events: EventStore;
  readonly snapshots: SnapshotStore;
  readonly catalogue: CatalogueStore;
  readonly state: StateStore;
  readonly keys: KeyStore;
  private readonly db: Database.Database;
  private readonly queue: WriteQueue;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.url = `sqlite:${path}`;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(SCHEMA);
    } catch (e) {
      throw new ChorusError('E_STORE_OPEN', `cannot open SQLite store at ${path}: ${(e as Error).message}`, { status: 500, cause: e });
    }
    const db = this.db;
    const q = (this.queue = new WriteQueue(db));

    const insDecision = db.prepare(
      'INSERT INTO decisions (id, ts, user, kind, items, propensities, scores, snapshot_id, activated, payload) VALUES (?,?,?,?,?,?,?,?,?,?)',
    );
    const getDecision = db.prepare('SELECT * FROM decisions WHERE id = ?');
    const activate = db.prepare('UPDATE decisions SET activated = 1 WHERE id = ?');
    const insFeedback = db.prepare(
      'INSERT INTO feedback (event_id, ts, user, item, type, value, reward, position, propensity) VALUES (?,?,?,?,?,?,?,?,?)',
    );
    const countDecisions = db.prepare('SELECT COUNT(*) AS n FROM decisions');
    const countFeedback = db.prepare('SELECT COUNT(*) AS n FROM feedback');
    const feedbackSince = db.prepare('SELECT * FROM feedback WHERE seq > ? ORDER BY seq LIMIT ?');
    const recent = db.prepare('SELECT * FROM decisions ORDER BY seq DESC LIMIT ?');
    const after = db.prepare('SELECT * FROM decisions WHERE seq > ? ORDER BY seq LIMIT ?');
    const forEvents = db.prepare('SELECT * FROM feedback WHERE event_id IN (SELECT value FROM json_each(?)) ORDER BY seq');
    const tlDecisions = db.prepare(
      'SELECT CAST(ts / @b AS INTEGER) * @b AS t, COUNT(*) AS n, SUM(json_array_length(items)) AS shown FROM decisions WHERE ts >= @since GROUP BY 1 ORDER BY 1',
    );
    const tlFeedback = db.prepare(
      "SELECT CAST(ts / @b AS INTEGER) * @b AS t, COUNT(*) AS n, SUM(CASE WHEN type IN ('click','purchase') OR (type = 'reward' AND reward > 0) THEN 1 ELSE 0 END) AS clicks, SUM(reward) AS r FROM feedback WHERE ts >= @since GROUP BY 1 ORDER BY 1",
    );
    const top = db.prepare('SELECT item, COUNT(*) AS n, SUM(reward) AS r FROM feedback GROUP BY item ORDER BY r DESC, n DESC, item LIMIT ?');

    this.events = {
      appendDecision: (d) =>
        q.push(() => {
          insDecision.run(
            d.id,
            d.ts,
            d.user,
            d.kind,
            JSON.stringify(d.items),
            JSON.stringify(d.propensities),
            JSON.stringify(d.scores),
            d.snapshotId,
            d.activated ? 1 : 0,
            JSON.stringify(d.payload ?? null),
          );
        }),
      appendFeedback: (f) =>
        q.push(() =>
          Number(
            insFeedback.run(f.eventId, f.ts, f.user, f.item, f.type, f.value, f.reward, f.position, f.propensity).lastInsertRowid,
          ),
        ),
      getDecision: async (id) => {
        const r = getDecision.get(id) as Row | undefined;
        return r ? decisionFromRow(r) : undefined;
      },
      activateDecision: (id) => q.push(() => activate.run(id).changes > 0),
      countDecisions: async () => (countDecisions.get() as { n: number }).n,
      countFeedback: async () => (countFeedback.get() as { n: number }).n,
      feedbackSince: async (after, limit) => (feedbackSince.all(after, limit) as Row[]).map(feedbackFromRow),
      recentDecisions: async (limit) => (recent.all(limit) as Row[]).map(decisionFromRow),
      decisionsAfter: async (afterSeq, limit) => (after.all(afterSeq, limit) as Row[]).map(decisionFromRow),
      feedbackFor: async (ids) => (ids.length === 0 ? [] : (forEvents.all(JSON.stringify(ids)) as Row[]).map(feedbackFromRow)),
      timeline: async (b, since) => {
        const buckets = new Map<number, TimelineBucket>();
        const at = (t: number): TimelineBucket => {
          let x = buckets.get(t);
          if (!x) buckets.set(t, (x = { t, decisions: 0, shown: 0, feedback: 0, clicks: 0, rewardSum: 0 }));
          return x;
        };
        for (const r of tlDecisions.all({ b, since }) as Row[]) {
          const x = at(r.t as number);
          x.decisions = r.n as number;
          x.shown = (r.shown as number | null) ?? 0;
        }
        for (const r of tlFeedback.all({ b, since }) as Row[]) {
          const x = at(r.t as number);
          x.feedback = r.n as number;
          x.clicks = (r.clicks as number | null) ?? 0;
          x.rewardSum = (r.r as number | null) ?? 0;
        }
        return [...buckets.values()].sort((a, c) => a.t - c.t);
      },
      topItems: async (limit) =>
        (top.all(limit) as Row[]).map((r) => ({ item: r.item as string, feedback: r.n as number, rewardSum: r.r as number })),
    };

    const insSnap = db.prepare('INSERT OR REPLACE INTO snapshots (id, created, meta, body) VALUES (?,?,?,?)');
    const listSnaps = db.prepare('SELECT meta FROM snapshots ORDER BY created, id');
    const getSnap = db.prepare('SELECT meta, body FROM snapshots WHERE id = ?');
    const insAct = db.prepare('INSERT INTO activations (snapshot_id, ts) VALUES (?, ?)');
    const listAct = db.prepare('SELECT snapshot_id, ts FROM activations ORDER BY seq DESC LIMIT ?');
    this.snapshots = {
      putSnapshot: (m, body) => q.push(() => void insSnap.run(m.id, m.created, JSON.stringify(m), body)),
      listSnapshots: async () => (listSnaps.all() as Row[]).map((r) => JSON.parse(r.meta as string) as SnapshotMeta),
      getSnapshot: async (id) => {
        const r = getSnap.get(id) as Row | undefined;
        return r ? { meta: JSON.parse(r.meta as string) as SnapshotMeta, body: r.body as Buffer } : undefined;
      },
      activateSnapshot: (id) => q.push(() => void insAct.run(id, Date.now())),
      activations: async (limit) => (listAct.all(limit) as Row[]).map((r) => ({ snapshotId: r.snapshot_id as string, ts: r.ts as number })),
    };

    const cat = (kind: CatalogueKind) => ({
      upsert: db.prepare(
        `INSERT INTO ${kind} (id, meta, created, updated) VALUES (@id, @meta, @created, @updated)
         ON CONFLICT(id) DO UPDATE SET meta = excluded.meta, updated = excluded.updated`,
      ),
      exists: db.prepare(`SELECT 1 FROM ${kind} WHERE id = ?`),
      get: db.prepare(`SELECT * FROM ${kind} WHERE id = ?`),
      del: db.prepare(`DELETE FROM ${kind} WHERE id = ?`),
      list: db.prepare(`SELECT * FROM ${kind} ORDER BY created, id LIMIT ? OFFSET ?`),
      count: db.prepare(`SELECT COUNT(*) AS n FROM ${kind}`),
      all: db.prepare(`SELECT * FROM ${kind} ORDER BY created, id`),
    });
    const stmts = { items: cat('items'), users: cat('users') };
    this.catalogue = {
      upsert: (kind, entries) =>
        q.push(() => {
          const s = stmts[kind];
          let added = 0;
          for (const e of entries) {
            if (!s.exists.get(e.id)) added++;
            s.upsert.run({ id: e.id, meta: JSON.stringify(e.meta), created: e.created, updated: e.updated });
          }
          return added;
        }),
      get: async (kind, id) => {
        const r = stmts[kind].get.get(id) as Row | undefined;
        return r ? entryFromRow(r) : undefined;
      },
      remove: (kind, id) => q.push(() => stmts[kind].del.run(id).changes > 0),
      list: async (kind, offset, limit) => (stmts[kind].list.all(limit, offset) as Row[]).map(entryFromRow),
      count: async (kind) => (stmts[kind].count.get() as { n: number }).n,
      all: async (kind) => (stmts[kind].all.all() as Row[]).map(entryFromRow),
    };

    const getState = db.prepare('SELECT value FROM state WHERE key = ?');
    const putState = db.prepare(
      'INSERT INTO state (key, value, updated) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated = excluded.updated',
    );
    this.state = {
      getState: async (key) => (getState.get(key) as { value: Buffer } | undefined)?.value,
      putState: (key, value) => q.push(() => void putState.run(key, value, Date.now())),
    };

    const putKey = db.prepare('INSERT OR REPLACE INTO api_keys (id, scope, salt, hash, created, name) VALUES (?,?,?,?,?,?)');
    const getKey = db.prepare('SELECT * FROM api_keys WHERE id = ?');
    const listKeys = db.prepare('SELECT * FROM api_keys ORDER BY created, id');
    const delKey = db.prepare('DELETE FROM api_keys WHERE id = ?');
    const keyFromRow = (r: Row): ApiKeyRecord => ({
      id: r.id as string,
      scope: r.scope as ApiKeyRecord['scope'],
      salt: r.salt as Buffer,
      hash: r.hash as Buffer,
      created: r.created as number,
      name: r.name as string,
    });
    this.keys = {
      putKey: (k) => q.push(() => void putKey.run(k.id, k.scope, k.salt, k.hash, k.created, k.name)),
      getKey: async (id) => {
        const r = getKey.get(id) as Row | undefined;
        return r ? keyFromRow(r) : undefined;
      },
      listKeys: async () => (listKeys.all() as Row[]).map(keyFromRow),
      deleteKey: (id) => q.push(() => delKey.run(id).changes > 0),
    };
  }

  async close(): Promise<void> {
    this.queue.flush();
    if (this.db.open) this.db.close();
  }
}
