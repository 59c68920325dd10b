import Database from 'better-sqlite3';
import { closeSync, fdatasync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { ChorusError, NotFoundError } from '../errors.js';
import { spawnWorker, workerUrl } from '../util/workers.js';
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
import { decisionReader, entryReader, feedbackFromRow, keyFromRow, timelineFromRows, type Row, type RowCodec } from './rows.js';
import { checkDatabaseFile, checkIntegrity, checkWal, type StoreWarning } from './sqlite-check.js';
import { configure, groupCommitter, migrate, type WriteOp, type WriteResult } from './sqlite-write.js';
import type { WireError, WireResult, WriterData } from './sqlite-writer.js';

export interface SqliteStoreOptions {
  /**
   * `full` (default) fsyncs the WAL at every commit, so an acknowledged write survives a power
   * cut (the inline writer does the fsync on the thread pool, see InlineWriter); `normal`
   * survives a process crash (kill -9) but not a power cut, and is faster.
   */
  synchronous?: 'full' | 'normal';
  /**
   * Where commits run. `inline` (the default) commits on the calling thread, between requests.
   * `worker` gives the write connection to a worker thread, so that the commit's fsync and WAL
   * checkpoints do not stall the event loop (a file only: a second connection cannot open
   * `:memory:`). Both group-commit, and both resolve a write only once it is committed. On the
   * 2-core benchmark machine the worker did not pay: 30 % fewer /recommend req/s when the machine
   * was quiet, and under other load +0–19 % req/s but a worse p99 in 3 of 4 interleaved runs (each
   * hand-over between the two threads waits for a core), so it is opt-in: docs/benchmarks.md,
   * "Server: event-log growth".
   */
  writer?: 'worker' | 'inline';
  /**
   * `quick` (default) runs `PRAGMA quick_check` on open and refuses a damaged database; `none`
   * skips it (it reads every page: seconds on a multi-gigabyte store).
   */
  check?: 'quick' | 'none';
  /** Where a warning about the opened files goes (a damaged WAL); default: one line on stderr. */
  onWarning?: (w: StoreWarning) => void;
}

function warnOnStderr(w: StoreWarning): void {
  process.stderr.write(`chorus: WARNING ${w.code}: ${w.path}: ${w.message}\n`);
}

/** The write path: takes one write, resolves with its result once the write is committed. */
interface Writer {
  push(w: WriteOp): Promise<unknown>;
  /** Resolves once every write pushed so far has settled; then releases the writer. */
  close(): Promise<void>;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit on the calling thread: writes issued in the same event-loop turn share one
 * transaction, and one failing write does not undo its neighbours (groupCommitter). Every
 * promise settles only after the shared COMMIT is on disk.
 *
 * With `durableWal` (a file store with synchronous=FULL) the commit itself runs with
 * synchronous=NORMAL, which writes the WAL frames without fsync, and the WAL file is then
 * fdatasync'ed on libuv's thread pool; the batch's promises settle when that fsync returns. This
 * is the durability of synchronous=FULL, which SQLite defines as NORMAL plus a sync of the WAL
 * after each commit (https://www.sqlite.org/pragma.html#pragma_synchronous): an acknowledged write
 * is on disk. What changes is where the wait happens: FULL's fsync blocked the event loop inside
 * COMMIT (a third to a half of the server's time under a loaded disk, issue 22's profile), while
 * here requests keep being served during it. Writes that arrive while an fsync runs are held and
 * committed together, as one transaction, when it returns: they could not be acknowledged before
 * the next fsync anyway, and one COMMIT of many rows writes far fewer WAL pages than many COMMITs
 * of a few (each commit appends every page it touched: the table's last leaf and each index's).
 * So batches grow with the disk's latency instead of the loop stalling on each fsync.
 * One fsync at a time; a crash before it returns loses only unacknowledged writes, and the WAL's
 * checksummed frames recover as a prefix of the commits.
 */
class InlineWriter implements Writer {
  private pending: { w: WriteOp; p: Pending }[] = [];
  private scheduled = false;
  private readonly commit: (batch: readonly WriteOp[]) => WriteResult[];
  /** The WAL file to fsync after each commit (null: COMMIT itself is as durable as configured). */
  private readonly walPath: string | null;
  private walFd: number | null = null;
  /** Committed batches waiting for the next WAL fsync, and whether one is running. */
  private unsynced: { batch: { p: Pending }[]; results: WriteResult[] }[] = [];
  private syncing = false;
  private drained: (() => void)[] = [];

  constructor(db: Database.Database, durableWal: string | null = null) {
    this.commit = groupCommitter(db);
    this.walPath = durableWal;
    if (durableWal !== null) db.pragma('synchronous = NORMAL');
  }

  push(w: WriteOp): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.pending.push({ w, p: { resolve, reject } });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    // An fsync is running: hold the writes; synced() commits them all in one go when it returns.
    if (this.syncing) return;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    let results: WriteResult[];
    try {
      results = this.commit(batch.map((b) => b.w));
    } catch (e) {
      // The COMMIT failed: nothing of the batch was written, so nothing waits for the disk. sync()
      // still runs: it starts the fsync earlier batches wait for, or tells close() all is drained.
      for (const b of batch) b.p.reject(e);
      this.sync();
      return;
    }
    if (this.walPath === null) {
      settle(batch, results);
      return;
    }
    this.unsynced.push({ batch, results });
    this.sync();
  }

  /** Start the WAL fsync that covers every batch committed so far, unless one is running. */
  private sync(): void {
    if (this.syncing || this.unsynced.length === 0) {
      if (!this.syncing && this.unsynced.length === 0 && this.pending.length === 0) for (const f of this.drained.splice(0)) f();
      return;
    }
    const group = this.unsynced;
    this.unsynced = [];
    this.syncing = true;
    try {
      // Opened at the first commit (the WAL file exists from then on). SQLite deletes it only when
      // the last connection closes, and this connection stays open as long as the writer.
      this.walFd ??= openSync(this.walPath!, 'r');
    } catch (e) {
      this.synced(group, e);
      return;
    }
    fdatasync(this.walFd, (err) => this.synced(group, err));
  }

  private synced(group: { batch: { p: Pending }[]; results: WriteResult[] }[], err: unknown): void {
    this.syncing = false;
    for (const g of group) {
      // The batch is committed but its durability is unknown: every write in it fails, as a
      // COMMIT whose fsync fails does under synchronous=FULL.
      if (err) for (const b of g.batch) b.p.reject(err);
      else settle(g.batch, g.results);
    }
    // Writes held during the fsync: commit them as one batch (which starts the next fsync).
    if (this.pending.length > 0) this.flush();
    else this.sync();
  }

  async close(): Promise<void> {
    this.flush();
    if (this.syncing || this.unsynced.length > 0) await new Promise<void>((r) => this.drained.push(r));
    if (this.walFd !== null) {
      closeSync(this.walFd);
      this.walFd = null;
    }
  }
}

/** Settle a committed batch's promises with their results, in order. */
function settle(batch: readonly { p: Pending }[], results: readonly WriteResult[]): void {
  for (let i = 0; i < batch.length; i++) {
    const r = results[i]!;
    if (r.ok) batch[i]!.p.resolve(r.value);
    else batch[i]!.p.reject(r.error);
  }
}

function fromWire(e: WireError): Error {
  const err = new Error(e.message) as Error & { code?: string };
  err.name = e.name;
  if (e.code !== undefined) err.code = e.code;
  return err;
}

/**
 * Group commit in the commit worker (./sqlite-writer.ts). Writes issued in one event-loop turn
 * travel as one message; the worker commits together everything that reached it while its last
 * commit ran, and answers after the COMMIT. Promises settle in the order the writes were pushed,
 * each only once the worker has reported its batch committed.
 */
class WorkerWriter implements Writer {
  private readonly worker: Worker;
  private queued: { w: WriteOp; p: Pending }[] = [];
  private scheduled = false;
  private nextId = 1;
  private readonly inFlight = new Map<number, Pending[]>();
  private failure: Error | null = null;
  private closing: Promise<void> | null = null;
  private onClosed: (() => void) | null = null;

  constructor(data: WriterData) {
    this.worker = spawnWorker(workerUrl(import.meta.url, './sqlite-writer.js'), data);
    this.worker.on('message', (m: { t: 'done'; ids: number[]; results: WireResult[] } | { t: 'closed' } | { t: 'fatal'; error: WireError }) => {
      if (m.t === 'closed') {
        this.onClosed?.();
        return;
      }
      if (m.t === 'fatal') {
        this.fail(fromWire(m.error));
        return;
      }
      let k = 0;
      for (const id of m.ids) {
        const ps = this.inFlight.get(id) ?? [];
        this.inFlight.delete(id);
        for (const p of ps) {
          const r = m.results[k++]!;
          if (r.ok) p.resolve(r.value);
          else p.reject(fromWire(r.error));
        }
      }
      // Idle: nothing waits on the worker, so it must not keep the process alive.
      if (this.inFlight.size === 0 && this.queued.length === 0) this.worker.unref();
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => {
      this.fail(new ChorusError('E_STORE_WRITER', `the SQLite commit worker exited (code ${code})`, { status: 500 }));
      this.onClosed?.();
    });
    this.worker.unref();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const ps of this.inFlight.values()) for (const p of ps) p.reject(this.failure);
    this.inFlight.clear();
    for (const q of this.queued) q.p.reject(this.failure);
    this.queued = [];
  }

  push(w: WriteOp): Promise<unknown> {
    if (this.closing) return Promise.reject(new ChorusError('E_STORE_CLOSED', 'the store is closed', { status: 503 }));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.queued.push({ w, p: { resolve, reject } });
      if (!this.scheduled) {
        this.scheduled = true;
        this.worker.ref();
        setImmediate(() => this.post());
      }
    });
  }

  private post(): void {
    this.scheduled = false;
    const batch = this.queued;
    if (batch.length === 0 || this.failure) return;
    this.queued = [];
    const id = this.nextId++;
    this.inFlight.set(id, batch.map((b) => b.p));
    this.worker.postMessage({ t: 'batch', id, ops: batch.map((b) => b.w) });
  }

  close(): Promise<void> {
    return (this.closing ??= (async () => {
      this.post();
      if (this.failure) {
        await this.worker.terminate();
        return;
      }
      this.worker.ref();
      // The worker commits what it holds, closes its connection, then answers.
      await new Promise<void>((resolve) => {
        this.onClosed = resolve;
        this.worker.postMessage({ t: 'close' });
      });
      await this.worker.terminate();
    })());
  }
}

/** SQLite keeps JSON columns as text and booleans as 0/1. */
const SQLITE_ROWS: RowCodec = { json: (v) => JSON.parse(v as string) as unknown, bool: (v) => v === 1 };
const decisionFromRow = decisionReader(SQLITE_ROWS);
const entryFromRow = entryReader(SQLITE_ROWS);

/** How often an unfinished post-erasure WAL truncation is tried again. */
const WAL_RETRY_MS = 1000;

/** SQLite (WAL) through better-sqlite3: the embedded default store. */
export class SqliteStore implements Store {
  readonly url: string;
  readonly events: EventStore;
  readonly snapshots: SnapshotStore;
  readonly catalogue: CatalogueStore;
  readonly state: StateStore;
  readonly keys: KeyStore;
  readonly erasures: ErasureStore;
  private readonly db: Database.Database;
  private readonly writer: Writer;
  /** Where commits run (see SqliteStoreOptions.writer). */
  readonly writerKind: 'worker' | 'inline';
  /** What the checks on open found that did not stop it (also sent to `onWarning`). */
  readonly warnings: StoreWarning[] = [];

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.url = `sqlite:${path}`;
    const memory = path === ':memory:' || path === '';
    if (!memory) mkdirSync(dirname(path), { recursive: true });
    const synchronous = options.synchronous ?? 'full';
    if (!memory) {
      // Before SQLite touches the files: it would take an empty file for a new store and
      // recover (truncate) a damaged WAL without a word.
      checkDatabaseFile(path);
      const w = checkWal(path);
      if (w) {
        this.warnings.push(w);
        (options.onWarning ?? warnOnStderr)(w);
      }
    }
    try {
      this.db = new Database(path);
      configure(this.db, synchronous);
    } catch (e) {
      throw new ChorusError('E_STORE_OPEN', `cannot open SQLite store at ${path}: ${(e as Error).message}`, { status: 500, cause: e });
    }
    try {
      if (!memory && (options.check ?? 'quick') === 'quick') checkIntegrity(this.db, path);
      migrate(this.db);
    } catch (e) {
      this.db.close();
      if (e instanceof ChorusError) throw e;
      throw new ChorusError('E_STORE_OPEN', `cannot open SQLite store at ${path}: ${(e as Error).message}`, { status: 500, cause: e });
    }
    const db = this.db;
    this.writerKind = memory ? 'inline' : (options.writer ?? 'inline');
    // With a worker, this connection only reads: the worker has its own, and commits there.
    const w = (this.writer =
      this.writerKind === 'worker' ? new WorkerWriter({ path, synchronous }) : new InlineWriter(db, !memory && synchronous === 'full' ? `${path}-wal` : null));
    const write = <T>(op: WriteOp): Promise<T> => w.push(op) as Promise<T>;

    const getDecision = db.prepare('SELECT * FROM decisions WHERE id = ?');
    const countDecisions = db.prepare('SELECT COUNT(*) AS n FROM decisions');
    const countFeedback = db.prepare('SELECT COUNT(*) AS n FROM feedback');
    const feedbackSince = db.prepare('SELECT * FROM feedback WHERE seq > ? ORDER BY seq LIMIT ?');
    const recent = db.prepare('SELECT * FROM decisions ORDER BY seq DESC LIMIT ?');
    const recentBare = db.prepare(
      "SELECT seq, id, ts, user, kind, items, propensities, scores, snapshot_id, activated, CASE json_type(payload) WHEN 'object' THEN '{}' ELSE 'null' END AS payload FROM decisions ORDER BY seq DESC LIMIT ?",
    );
    const after = db.prepare('SELECT * FROM decisions WHERE seq > ? ORDER BY seq LIMIT ?');
    const forEvents = db.prepare('SELECT * FROM feedback WHERE event_id IN (SELECT value FROM json_each(?)) ORDER BY seq');
    const tlDecisions = db.prepare(
      'SELECT CAST(ts / @b AS INTEGER) * @b AS t, COUNT(*) AS n, SUM(json_array_length(items)) AS shown FROM decisions WHERE ts >= @since GROUP BY 1 ORDER BY 1',
    );
    const tlFeedback = db.prepare(
      "SELECT CAST(ts / @b AS INTEGER) * @b AS t, COUNT(*) AS n, SUM(CASE WHEN type IN ('click','purchase') OR (type = 'reward' AND reward > 0) THEN 1 ELSE 0 END) AS clicks, SUM(reward) AS r FROM feedback WHERE ts >= @since GROUP BY 1 ORDER BY 1",
    );
    const top = db.prepare('SELECT item, n, reward AS r FROM item_feedback ORDER BY reward DESC, n DESC, item LIMIT ?');

    this.events = {
      appendDecision: (d) =>
        write({
          op: 'decision',
          args: [
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
          ],
        }),
      appendFeedback: async (f, opts) => {
        if (!opts?.onDecision || f.eventId === null) return write({ op: 'feedback', args: [f.eventId, f.ts, f.user, f.item, f.type, f.value, f.reward, f.position, f.propensity] });
        const seq = await write<number | null>({ op: 'feedbackOnDecision', args: [f.eventId, f.ts, f.user, f.item, f.type, f.value, f.reward, f.position, f.propensity] });
        if (seq === null) throw new NotFoundError(`unknown event "${f.eventId}"`, 'eventId');
        return seq;
      },
      getDecision: async (id) => {
        const r = getDecision.get(id) as Row | undefined;
        return r ? decisionFromRow(r) : undefined;
      },
      activateDecision: (id) => write({ op: 'activateDecision', args: [id] }),
      countDecisions: async () => (countDecisions.get() as { n: number }).n,
      countFeedback: async () => (countFeedback.get() as { n: number }).n,
      feedbackSince: async (after, limit) => (feedbackSince.all(after, limit) as Row[]).map(feedbackFromRow),
      recentDecisions: async (limit, opts) => ((opts?.payload === false ? recentBare : recent).all(limit) as Row[]).map(decisionFromRow),
      decisionsAfter: async (afterSeq, limit) => (after.all(afterSeq, limit) as Row[]).map(decisionFromRow),
      feedbackFor: async (ids) => (ids.length === 0 ? [] : (forEvents.all(JSON.stringify(ids)) as Row[]).map(feedbackFromRow)),
      timeline: async (b, since) => timelineFromRows(tlDecisions.all({ b, since }) as Row[], tlFeedback.all({ b, since }) as Row[]),
      topItems: async (limit) =>
        (top.all(limit) as Row[]).map((r) => ({ item: r.item as string, feedback: r.n as number, rewardSum: r.r as number })),
    };

    const listSnaps = db.prepare('SELECT meta FROM snapshots ORDER BY created, id');
    const getSnap = db.prepare('SELECT meta, body FROM snapshots WHERE id = ?');
    const listAct = db.prepare('SELECT snapshot_id, ts FROM activations ORDER BY seq DESC LIMIT ?');
    this.snapshots = {
      putSnapshot: (m, body) => write({ op: 'putSnapshot', args: [m.id, m.created, JSON.stringify(m), body] }),
      listSnapshots: async () => (listSnaps.all() as Row[]).map((r) => JSON.parse(r.meta as string) as SnapshotMeta),
      getSnapshot: async (id) => {
        const r = getSnap.get(id) as Row | undefined;
        return r ? { meta: JSON.parse(r.meta as string) as SnapshotMeta, body: r.body as Buffer } : undefined;
      },
      activateSnapshot: (id) => write({ op: 'activateSnapshot', args: [id, Date.now()] }),
      deleteSnapshot: (id) => write({ op: 'deleteSnapshot', args: [id] }),
      activations: async (limit) => (listAct.all(limit) as Row[]).map((r) => ({ snapshotId: r.snapshot_id as string, ts: r.ts as number })),
    };

    const cat = (kind: 'items' | 'users') => ({
      get: db.prepare(`SELECT * FROM ${kind} WHERE id = ?`),
      list: db.prepare(`SELECT * FROM ${kind} ORDER BY created, id LIMIT ? OFFSET ?`),
      count: db.prepare(`SELECT COUNT(*) AS n FROM ${kind}`),
      all: db.prepare(`SELECT * FROM ${kind} ORDER BY created, id`),
    });
    const stmts = { items: cat('items'), users: cat('users') };
    this.catalogue = {
      upsert: (kind, entries) =>
        write({ op: 'upsert', args: [kind, entries.map((e) => ({ id: e.id, meta: JSON.stringify(e.meta), created: e.created, updated: e.updated }))] }),
      get: async (kind, id) => {
        const r = stmts[kind].get.get(id) as Row | undefined;
        return r ? entryFromRow(r) : undefined;
      },
      remove: (kind, id) => write({ op: 'remove', args: [kind, id] }),
      list: async (kind, offset, limit) => (stmts[kind].list.all(limit, offset) as Row[]).map(entryFromRow),
      count: async (kind) => (stmts[kind].count.get() as { n: number }).n,
      all: async (kind) => (stmts[kind].all.all() as Row[]).map(entryFromRow),
    };

    const getState = db.prepare('SELECT value FROM state WHERE key = ?');
    this.state = {
      getState: async (key) => (getState.get(key) as { value: Buffer } | undefined)?.value,
      putState: (key, value) => write({ op: 'putState', args: [key, value, Date.now()] }),
    };

    const getKey = db.prepare('SELECT * FROM api_keys WHERE id = ?');
    const listKeys = db.prepare('SELECT * FROM api_keys ORDER BY created, id');
    this.keys = {
      putKey: (k) => write({ op: 'putKey', args: [k.id, k.scope, k.salt, k.hash, k.created, k.name] }),
      getKey: async (id) => {
        const r = getKey.get(id) as Row | undefined;
        return r ? keyFromRow(r) : undefined;
      },
      listKeys: async () => (listKeys.all() as Row[]).map(keyFromRow),
      deleteKey: (id) => write({ op: 'deleteKey', args: [id] }),
    };

    const listErasures = db.prepare('SELECT id, ts, counts FROM erasures ORDER BY ts DESC, id LIMIT ?');
    this.erasures = {
      eraseUser: async (r) => {
        const rec = await write<ErasureRecord | null>({
          op: 'erase',
          args: [r.user, r.id, r.ts, r.snapshots, r.state.map((s) => ({ key: s.key, value: s.value })), JSON.stringify(r.counts), r.found ? 1 : 0],
        });
        if (!rec || memory) return rec;
        // The erased rows' pages were rewritten zeroed (secure_delete), but their older versions
        // are still frames in the WAL: a checkpoint copies the new pages into the database file and
        // TRUNCATE empties the WAL. It never waits here (a reader holding an old snapshot would hold
        // the event loop for the whole busy timeout): when it cannot finish now, the record says
        // `walWipePending` and it is retried on a timer until it does.
        if (!this.truncateWal()) {
          rec.counts = { ...rec.counts, walWipePending: 1 };
          this.retryWalWipe();
        }
        return rec;
      },
      list: async (limit) =>
        (listErasures.all(limit) as Row[]).map((r) => ({ id: r.id as string, ts: r.ts as number, counts: JSON.parse(r.counts as string) as Record<string, number> })),
    };
  }

  /** The timer retrying a WAL truncation an erasure could not finish (see `truncateWal`). */
  private walRetry: NodeJS.Timeout | null = null;

  /**
   * One non-blocking `wal_checkpoint(TRUNCATE)`: the busy timeout is 0 around it, so a reader or
   * writer holding the WAL makes it answer busy at once instead of waiting. True when the WAL was
   * emptied (no frame left that could hold an erased row's old page).
   */
  private truncateWal(): boolean {
    const db = this.db;
    const timeout = db.pragma('busy_timeout', { simple: true }) as number;
    db.pragma('busy_timeout = 0');
    try {
      const r = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
      return r[0]?.busy === 0;
    } catch {
      return false;
    } finally {
      db.pragma(`busy_timeout = ${timeout}`);
    }
  }

  /** Retry `truncateWal` every WAL_RETRY_MS until it succeeds or the store closes (one timer at most; it never keeps the process alive). */
  private retryWalWipe(): void {
    if (this.walRetry) return;
    const tick = (): void => {
      this.walRetry = null;
      if (!this.db.open) return;
      if (!this.truncateWal()) this.walRetry = setTimeout(tick, WAL_RETRY_MS).unref();
    };
    this.walRetry = setTimeout(tick, WAL_RETRY_MS).unref();
  }

  /** Whether an erasure's WAL truncation is still waiting for a reader to let go (`walWipePending`). */
  get walWipePending(): boolean {
    return this.walRetry !== null;
  }

  async close(): Promise<void> {
    if (this.walRetry) clearTimeout(this.walRetry);
    this.walRetry = null;
    // Writes already pushed are committed (or fail) before the connections close.
    await this.writer.close();
    if (this.db.open) this.db.close();
  }
}
