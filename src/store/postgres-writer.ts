/**
 * Group commit for the PostgreSQL store. Writes issued in the same event-loop turn, and every
 * write issued while a commit is running, share the next transaction (a batch of appends only,
 * the server's usual one, is a single statement: its own transaction, in one round trip); each
 * write's promise settles only after that transaction's COMMIT has returned. The store's connections run with
 * synchronous_commit=on, so a returned COMMIT is flushed to the server's WAL on disk: a resolved
 * write is durable, as with the SQLite store.
 *
 * One transaction at a time, holding a transaction-level advisory lock that every Chorus writer
 * on the same tables takes (other processes included): a log row's seq is drawn while the lock is
 * held and the lock is released only after the COMMIT is visible, so seqs become visible in
 * increasing order and a reader paging by seq (`feedbackSince`, `decisionsAfter`) never steps
 * over a row that commits later with a smaller seq.
 */
import type { Pool, PoolClient } from 'pg';
import { ChorusError } from '../errors.js';
import { appendAll, applyBatch, applyEach, onlyAppends, type PgWrite, type WriteResult } from './postgres-write.js';

interface Pending {
  w: PgWrite;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** Lock class for the writers' advisory lock; the second key is the decisions table's oid (one lock per schema). */
const WRITE_LOCK_CLASS = 0x43485752; // "CHWR"

export class PgGroupWriter {
  private pending: Pending[] = [];
  private scheduled = false;
  private running = false;
  private closed = false;
  private drained: (() => void)[] = [];
  /** The writers' advisory lock: WRITE_LOCK_CLASS and the decisions table's oid, once known. */
  private lock: [number, number] | null = null;

  /** `ready` resolves once the schema exists (the writer's first batch waits for it). */
  constructor(
    private readonly pool: Pool,
    private readonly ready: Promise<void>,
  ) {}

  push(w: PgWrite): Promise<unknown> {
    if (this.closed) return Promise.reject(new ChorusError('E_STORE_CLOSED', 'the store is closed', { status: 503 }));
    return new Promise((resolve, reject) => {
      this.pending.push({ w, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.running || this.pending.length === 0) return;
    this.scheduled = true;
    // Let the rest of this turn's writes join the batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.running) return;
    const batch = this.pending;
    if (batch.length === 0) {
      for (const f of this.drained.splice(0)) f();
      return;
    }
    this.pending = [];
    this.running = true;
    try {
      const results = await this.commit(batch.map((b) => b.w));
      for (let i = 0; i < batch.length; i++) {
        const r = results[i]!;
        if (r.ok) batch[i]!.resolve(r.value);
        else batch[i]!.reject(r.error);
      }
    } catch (e) {
      // Nothing of the batch is known to be committed (if the connection died during COMMIT, it
      // may have been): every write in it fails; batches committed before are untouched.
      for (const b of batch) b.reject(e);
    } finally {
      this.running = false;
    }
    if (this.pending.length > 0) this.schedule();
    else for (const f of this.drained.splice(0)) f();
  }

  /**
   * One transaction for the whole batch: a single statement when the batch only appends (the usual
   * case: one round trip), else BEGIN … COMMIT. On a statement error, once more write by write.
   */
  private async commit(batch: readonly PgWrite[]): Promise<WriteResult[]> {
    await this.ready;
    const c = await this.pool.connect();
    let broken: unknown = undefined;
    // A connection lost mid-batch is also emitted as 'error' on the client, which must be
    // listened to while it is checked out (the pool listens only to idle ones); the failing
    // query rejects as well, and that rejection is what fails the batch.
    const onError = (e: Error): void => {
      broken ??= e;
    };
    c.on('error', onError);
    try {
      const lock = (this.lock ??= await lockKeys(c));
      const begin = `BEGIN; SELECT pg_advisory_xact_lock(${lock[0]}, ${lock[1]})`;
      if (onlyAppends(batch)) {
        try {
          return await appendAll(c, batch, lock);
        } catch (e) {
          // The statement committed nothing. A dead connection fails the retry's BEGIN below.
          if (batch.length === 1) return [{ ok: false, error: e }];
        }
        await c.query(begin);
        return await this.finish(c, await applyEach(c, batch));
      }
      await c.query(begin);
      let results: WriteResult[];
      try {
        results = await applyBatch(c, batch);
      } catch (e) {
        // An aborted transaction: start again with one savepoint per write. A ROLLBACK that
        // fails means the connection is gone, and the error fails the whole batch.
        await c.query('ROLLBACK');
        if (batch.length === 1) return [{ ok: false, error: e }];
        await c.query(begin);
        results = await applyEach(c, batch);
      }
      return await this.finish(c, results);
    } catch (e) {
      broken = e;
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.removeListener('error', onError);
      // A client whose batch failed outside a statement may be unusable: the pool drops it.
      c.release(broken instanceof Error ? broken : undefined);
    }
  }

  /** COMMIT the open transaction; resolves with the batch's results once it is committed. */
  private async finish(c: PoolClient, results: WriteResult[]): Promise<WriteResult[]> {
    // PostgreSQL answers COMMIT on a failed transaction with ROLLBACK, not an error: no path
    // here should get there, but a write must never be acknowledged on a rollback.
    const done = await c.query('COMMIT');
    if (done.command !== 'COMMIT') throw new ChorusError('E_STORE_WRITE', `the batch's COMMIT answered ${done.command}`, { status: 500 });
    return results;
  }

  /** Resolves once every write pushed so far has settled; later pushes are refused. */
  async close(): Promise<void> {
    this.closed = true;
    if (!this.running && this.pending.length === 0) return;
    await new Promise<void>((r) => {
      this.drained.push(r);
      this.schedule();
    });
  }
}

async function lockKeys(c: PoolClient): Promise<[number, number]> {
  const r = await c.query<{ oid: number }>("SELECT 'decisions'::regclass::oid::int8 AS oid");
  // pg_advisory_xact_lock(int4, int4): the oid folded into a signed 32-bit key.
  return [WRITE_LOCK_CLASS, r.rows[0]!.oid | 0];
}
