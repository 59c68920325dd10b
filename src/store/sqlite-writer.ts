/**
 * Commit worker of the SQLite store: a thread that owns the write connection, so that the fsync of
 * every commit (synchronous=FULL) and WAL checkpoints block this thread, not the server's event
 * loop. Group commit is kept: every batch that arrives while a commit is running is committed
 * together in the next one. A batch is answered only after its COMMIT has returned, and the main
 * thread resolves a write's promise only then, so "resolved" still means "on disk".
 *
 * Protocol (see WorkerWriter in ./sqlite.ts):
 *   in:  { t: 'batch', id, ops: WriteOp[] } … { t: 'close' }
 *   out: { t: 'done', ids: number[], results: WireResult[] } (results of all those batches, in order)
 *        { t: 'closed' } | { t: 'fatal', error }
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { configure, groupCommitter, type WriteOp, type WriteResult } from './sqlite-write.js';

export interface WriterData {
  path: string;
  synchronous: 'full' | 'normal';
}

/** A WriteResult as it crosses the thread boundary (errors as plain fields). */
export type WireResult = { ok: true; value: unknown } | { ok: false; error: WireError };
export interface WireError {
  name: string;
  message: string;
  code?: string;
}

export function toWire(r: WriteResult): WireResult {
  if (r.ok) return r;
  const e = r.error as { name?: string; message?: string; code?: unknown };
  return { ok: false, error: { name: e?.name ?? 'Error', message: e?.message ?? String(r.error), ...(typeof e?.code === 'string' ? { code: e.code } : {}) } };
}

function main(): void {
  const port = parentPort;
  if (!port) throw new Error('sqlite-writer must run in a worker thread');
  const { path, synchronous } = workerData as WriterData;
  let db: Database.Database;
  let commit: (batch: readonly WriteOp[]) => WriteResult[];
  try {
    db = new Database(path);
    configure(db, synchronous);
    commit = groupCommitter(db);
  } catch (e) {
    port.postMessage({ t: 'fatal', error: (toWire({ ok: false, error: e }) as { error: WireError }).error });
    return;
  }
  let ids: number[] = [];
  let ops: WriteOp[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (ids.length === 0) return;
    const batchIds = ids;
    const all = ops;
    ids = [];
    ops = [];
    let results: WireResult[];
    try {
      results = commit(all).map(toWire);
    } catch (e) {
      // The COMMIT itself failed (disk full, I/O error): every write in the group is undone.
      const err = toWire({ ok: false, error: e });
      results = all.map(() => err);
    }
    port.postMessage({ t: 'done', ids: batchIds, results });
  };
  port.on('message', (m: { t: 'batch'; id: number; ops: WriteOp[] } | { t: 'close' }) => {
    if (m.t === 'close') {
      flush();
      db.close();
      port.postMessage({ t: 'closed' });
      port.close();
      return;
    }
    ids.push(m.id);
    for (const o of m.ops) ops.push(o);
    // Messages that queued up during the last commit are all delivered before this runs.
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
}

main();
