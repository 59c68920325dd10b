/**
 * The SQLite store's schema and writes, shared by the two places a write can run: the inline queue
 * on the event loop (the default) and the commit worker thread (src/store/sqlite-writer.ts,
 * `?writer=worker`). A write travels as a plain message `{ op, args }` so that it can cross a
 * thread boundary; `groupCommitter` runs a batch of them on a connection.
 */
import type Database from 'better-sqlite3';

export const SCHEMA = `
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
CREATE INDEX IF NOT EXISTS feedback_event ON feedback(event_id);
-- Per-item feedback totals, kept with every feedback insert, so the dashboard's top items read a
-- few rows instead of grouping the whole feedback log on the event loop.
CREATE TABLE IF NOT EXISTS item_feedback (item TEXT PRIMARY KEY, n INTEGER NOT NULL, reward REAL NOT NULL);
CREATE INDEX IF NOT EXISTS item_feedback_rank ON item_feedback(reward DESC, n DESC, item);
CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, meta TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, meta TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (id TEXT PRIMARY KEY, created REAL NOT NULL, meta TEXT NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS activations (seq INTEGER PRIMARY KEY AUTOINCREMENT, snapshot_id TEXT NOT NULL, ts REAL NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value BLOB NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (id TEXT PRIMARY KEY, scope TEXT NOT NULL, salt BLOB NOT NULL, hash BLOB NOT NULL, created REAL NOT NULL, name TEXT NOT NULL);
-- The audit of erasures (DELETE /users/:id, chorus forget): counts only, never a user id.
CREATE TABLE IF NOT EXISTS erasures (id TEXT PRIMARY KEY, ts REAL NOT NULL, counts TEXT NOT NULL);
`;

/** Schema version in `PRAGMA user_version`: 1 added item_feedback (backfilled from the log on open). */
export const SCHEMA_VERSION = 1;

/** Create what is missing and bring an older database up to SCHEMA_VERSION, in one transaction. */
export function migrate(db: Database.Database): void {
  db.exec(SCHEMA);
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version >= SCHEMA_VERSION) return;
  db.transaction(() => {
    if (version < 1) {
      db.exec('DELETE FROM item_feedback');
      db.exec('INSERT INTO item_feedback (item, n, reward) SELECT item, COUNT(*), SUM(reward) FROM feedback GROUP BY item');
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}

export type CatalogueKind = 'items' | 'users';
type Blob = Uint8Array;
type Sql = string | number | null;

/** Every write the store makes, with its arguments (plain values: they may be posted to a thread). */
export type WriteOp =
  | { op: 'decision'; args: [id: string, ts: number, user: string | null, kind: string, items: string, propensities: string, scores: string, snapshotId: string | null, activated: number, payload: string] }
  | { op: 'feedback'; args: [eventId: string | null, ts: number, user: string | null, item: string, type: string, value: number | null, reward: number, position: number | null, propensity: number | null] }
  /** A feedback row inserted only if its decision (`eventId`) is still stored; resolves null when not. */
  | { op: 'feedbackOnDecision'; args: [eventId: string, ts: number, user: string | null, item: string, type: string, value: number | null, reward: number, position: number | null, propensity: number | null] }
  | { op: 'activateDecision'; args: [id: string] }
  | { op: 'putSnapshot'; args: [id: string, created: number, meta: string, body: Blob] }
  | { op: 'activateSnapshot'; args: [id: string, ts: number] }
  | { op: 'deleteSnapshot'; args: [id: string] }
  | { op: 'upsert'; args: [kind: CatalogueKind, entries: { id: string; meta: string; created: number; updated: number }[]] }
  | { op: 'remove'; args: [kind: CatalogueKind, id: string] }
  | { op: 'putState'; args: [key: string, value: Blob, ts: number] }
  | { op: 'putKey'; args: [id: string, scope: string, salt: Blob, hash: Blob, created: number, name: string] }
  | { op: 'deleteKey'; args: [id: string] }
  | { op: 'erase'; args: [user: string, id: string, ts: number, snapshots: { id: string; body: Blob }[], state: { key: string; value: Blob }[], counts: string, found: number] };

/** One write's outcome inside a group commit: its value, or the error that undid it alone. */
export type WriteResult = { ok: true; value: unknown } | { ok: false; error: unknown };

/** better-sqlite3 binds only Buffers as BLOBs; a Buffer posted across threads arrives as a Uint8Array. */
function buf(b: Blob): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Largest zero-filled blob one wipe statement writes: SQLite refuses a blob over its length limit
 * (SQLITE_MAX_LENGTH, 1e9 bytes by default: SQLITE_TOOBIG), and a free list can be larger than
 * that, so the wipe takes the free pages over in chunks of at most this many bytes.
 */
export const WIPE_CHUNK_BYTES = 64 * 1024 * 1024;
const WIPE_KEY = 'privacy.wipe-free-pages';

/**
 * Overwrite every page on the free list with zeros, inside the caller's transaction with
 * `secure_delete` ON: zero-filled blobs (at most `chunkBytes` each) as large as the free list
 * together take its pages over, and are deleted at once, which under ON zeroes the pages they
 * held. Returns how many blobs it wrote (0: the free list was empty).
 */
export function wipeFreePages(db: Database.Database, chunkBytes = WIPE_CHUNK_BYTES): number {
  const free = (db.pragma('freelist_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
  if (free <= 0) return 0;
  const put = db.prepare('INSERT INTO state (key, value, updated) VALUES (?, zeroblob(?), 0)');
  const chunks = Math.ceil(free / chunkBytes);
  for (let i = 0; i < chunks; i++) put.run(`${WIPE_KEY}.${i}`, Math.min(chunkBytes, free - i * chunkBytes));
  // `key > 'x.' AND key < 'x/'`: every key with the prefix 'x.' ('/' follows '.' in ASCII).
  db.prepare('DELETE FROM state WHERE key > ? AND key < ?').run(`${WIPE_KEY}.`, `${WIPE_KEY}/`);
  return chunks;
}

/**
 * An erasure (src/store/types.ts, ErasureRequest) on a connection, inside the caller's
 * transaction. `secure_delete` is ON for its statements, so the deleted rows' bytes are
 * overwritten with zeros, the overflow pages they free included, instead of being left in free
 * space. Pages already on the free list (old snapshot bodies, old checkpoints deleted earlier,
 * when only FAST was on: see `configure`) are wiped too (`wipeFreePages`). The store checkpoints
 * the WAL after the commit (sqlite.ts) so that no older copy of any of these pages remains. An
 * erasure that finds nothing (no row, and `found` false) writes nothing and returns null.
 */
function eraser(db: Database.Database): (w: Extract<WriteOp, { op: 'erase' }>) => { id: string; ts: number; counts: Record<string, number> } | null {
  const theirs = 'user = @u OR event_id IN (SELECT id FROM decisions WHERE user = @u)';
  const totals = db.prepare(`SELECT item, COUNT(*) AS n, SUM(reward) AS r FROM feedback WHERE ${theirs} GROUP BY item`);
  const subTotal = db.prepare('UPDATE item_feedback SET n = n - ?, reward = reward - ? WHERE item = ?');
  const dropEmptyTotals = db.prepare('DELETE FROM item_feedback WHERE n <= 0');
  const delFeedback = db.prepare(`DELETE FROM feedback WHERE ${theirs}`);
  const delDecisions = db.prepare('DELETE FROM decisions WHERE user = ?');
  const delUser = db.prepare('DELETE FROM users WHERE id = ?');
  const setSnap = db.prepare('UPDATE snapshots SET body = ? WHERE id = ?');
  const putState = db.prepare(
    'INSERT INTO state (key, value, updated) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated = excluded.updated',
  );
  const audit = db.prepare('INSERT INTO erasures (id, ts, counts) VALUES (?, ?, ?)');
  return (w) => {
    const [user, id, ts, snapshots, state, extra, found] = w.args;
    const wasSecure = db.pragma('secure_delete', { simple: true }) as number;
    db.pragma('secure_delete = ON');
    try {
      for (const t of totals.all({ u: user }) as { item: string; n: number; r: number }[]) subTotal.run(t.n, t.r, t.item);
      dropEmptyTotals.run();
      const feedback = delFeedback.run({ u: user }).changes;
      const decisions = delDecisions.run(user).changes;
      const users = delUser.run(user).changes;
      // Nothing deleted and nothing found outside: the deletes above were no-ops, and no state or audit is written.
      if (!found && feedback + decisions + users === 0 && snapshots.length === 0) return null;
      let snaps = 0;
      for (const sn of snapshots) snaps += setSnap.run(buf(sn.body), sn.id).changes;
      for (const st of state) putState.run(st.key, buf(st.value), ts);
      const counts = { ...(JSON.parse(extra) as Record<string, number>), decisions, feedback, users, snapshots: snaps };
      audit.run(id, ts, JSON.stringify(counts));
      wipeFreePages(db);
      return { id, ts, counts };
    } finally {
      db.pragma(`secure_delete = ${['OFF', 'ON', 'FAST'][wasSecure] ?? 'OFF'}`);
    }
  };
}

/**
 * Prepared statements for every write, and a group commit over them: the writes in one batch share
 * one transaction (one WAL fsync), and one failing write does not undo its neighbours (see the
 * retry with savepoints below). Results come back in batch order.
 */
export function groupCommitter(db: Database.Database): (batch: readonly WriteOp[]) => WriteResult[] {
  const insDecision = db.prepare(
    'INSERT INTO decisions (id, ts, user, kind, items, propensities, scores, snapshot_id, activated, payload) VALUES (?,?,?,?,?,?,?,?,?,?)',
  );
  const activate = db.prepare('UPDATE decisions SET activated = 1 WHERE id = ?');
  const insFeedback = db.prepare(
    'INSERT INTO feedback (event_id, ts, user, item, type, value, reward, position, propensity) VALUES (?,?,?,?,?,?,?,?,?)',
  );
  // The same insert, only while the decision it answers is stored (the 10th parameter is its id)
  // and belongs to the feedback's user (the 11th): an event id used again after an erasure names
  // another decision, which a server's memory of the old one must not answer for.
  const insFeedbackOnDecision = db.prepare(
    'INSERT INTO feedback (event_id, ts, user, item, type, value, reward, position, propensity) SELECT ?,?,?,?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM decisions WHERE id = ? AND user IS ?)',
  );
  const addItemFeedback = db.prepare(
    'INSERT INTO item_feedback (item, n, reward) VALUES (?, 1, ?) ON CONFLICT(item) DO UPDATE SET n = n + 1, reward = reward + excluded.reward',
  );
  const insSnap = db.prepare('INSERT OR REPLACE INTO snapshots (id, created, meta, body) VALUES (?,?,?,?)');
  const insAct = db.prepare('INSERT INTO activations (snapshot_id, ts) VALUES (?, ?)');
  const delSnap = db.prepare('DELETE FROM snapshots WHERE id = ?');
  const cat = (kind: CatalogueKind) => ({
    upsert: db.prepare(
      `INSERT INTO ${kind} (id, meta, created, updated) VALUES (@id, @meta, @created, @updated)
       ON CONFLICT(id) DO UPDATE SET meta = excluded.meta, updated = excluded.updated`,
    ),
    exists: db.prepare(`SELECT 1 FROM ${kind} WHERE id = ?`),
    del: db.prepare(`DELETE FROM ${kind} WHERE id = ?`),
  });
  const stmts = { items: cat('items'), users: cat('users') };
  const putState = db.prepare(
    'INSERT INTO state (key, value, updated) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated = excluded.updated',
  );
  const putKey = db.prepare('INSERT OR REPLACE INTO api_keys (id, scope, salt, hash, created, name) VALUES (?,?,?,?,?,?)');
  const delKey = db.prepare('DELETE FROM api_keys WHERE id = ?');
  const erase = eraser(db);

  const apply = (w: WriteOp): unknown => {
    switch (w.op) {
      case 'decision':
        insDecision.run(...(w.args as Sql[]));
        return undefined;
      case 'feedback': {
        const seq = Number(insFeedback.run(...(w.args as Sql[])).lastInsertRowid);
        addItemFeedback.run(w.args[3], w.args[6]);
        return seq;
      }
      case 'feedbackOnDecision': {
        const r = insFeedbackOnDecision.run(...(w.args as Sql[]), w.args[0], w.args[2]);
        if (r.changes === 0) return null;
        addItemFeedback.run(w.args[3], w.args[6]);
        return Number(r.lastInsertRowid);
      }
      case 'activateDecision':
        return activate.run(w.args[0]).changes > 0;
      case 'putSnapshot': {
        const [id, created, meta, body] = w.args;
        insSnap.run(id, created, meta, buf(body));
        return undefined;
      }
      case 'activateSnapshot':
        insAct.run(w.args[0], w.args[1]);
        return undefined;
      case 'deleteSnapshot':
        // Its activations stay: they are the history; rollback skips snapshots that are gone.
        return delSnap.run(w.args[0]).changes > 0;
      case 'upsert': {
        const s = stmts[w.args[0]];
        let added = 0;
        for (const e of w.args[1]) {
          if (!s.exists.get(e.id)) added++;
          s.upsert.run(e);
        }
        return added;
      }
      case 'remove':
        return stmts[w.args[0]].del.run(w.args[1]).changes > 0;
      case 'putState': {
        const [key, value, ts] = w.args;
        putState.run(key, buf(value), ts);
        return undefined;
      }
      case 'putKey': {
        const [id, scope, salt, hash, created, name] = w.args;
        putKey.run(id, scope, buf(salt), buf(hash), created, name);
        return undefined;
      }
      case 'deleteKey':
        return delKey.run(w.args[0]).changes > 0;
      case 'erase':
        return erase(w);
    }
  };
  // A savepoint per write costs two statements (SAVEPOINT, RELEASE) beside a one-row INSERT, a
  // fifth of a logged decision's commit. Writes almost never fail, so a batch first runs without
  // them; if any write throws, that transaction is rolled back whole and the batch runs again with
  // a savepoint per write, which isolates the failure exactly as before. Results are the same
  // either way: the first attempt leaves nothing behind.
  const fast = db.transaction((batch: readonly WriteOp[]): WriteResult[] => batch.map((w) => ({ ok: true, value: apply(w) })));
  const one = db.transaction(apply);
  const careful = db.transaction((batch: readonly WriteOp[]): WriteResult[] =>
    batch.map((w) => {
      try {
        return { ok: true, value: one(w) };
      } catch (error) {
        return { ok: false, error };
      }
    }),
  );
  return (batch) => {
    try {
      return fast(batch);
    } catch {
      return careful(batch);
    }
  };
}

/** Connection settings both the reading and the writing connection use. */
export function configure(db: Database.Database, synchronous: 'full' | 'normal'): void {
  db.pragma('journal_mode = WAL');
  // FAST: a deleted or rewritten row's bytes inside a b-tree page are zeroed when that page is
  // written anyway (no extra I/O, SQLite's documented trade-off), so an update leaves no stale
  // copy of the old row in the page for an erasure to miss. Pages freed whole go to the free
  // list as they are; an erasure wipes those (eraser, above).
  db.pragma('secure_delete = FAST');
  db.pragma(`synchronous = ${synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  db.pragma('busy_timeout = 5000');
}
