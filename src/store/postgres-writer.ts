/**
 * Group commit for the PostgreSQL store. Writes issued in the same event-loop turn, and every
 * write issued while a commit is running, share the next transaction (a batch of appends only,
 * the server's usual one, is a single statement inside it); each write's promise settles only
 * after that transaction's COMMIT has returned. The store's connections run with
 * synchronous_commit=on, so a returned COMMIT is flushed to the server's WAL on disk: a resolved
 * write is durable, as with the SQLite store.
 *
 * Every batch runs in an explicit transaction whose id is read before COMMIT is sent, so that when
 * the connection dies while COMMIT is in flight, the batch's fate can be asked of another
 * connection (./postgres-outcome.ts): committed, its writes resolve; aborted, they fail;
 * unknowable, they fail with E_STORE_OUTCOME_UNKNOWN. A batch of appends reads the id in its own
 * statement, and sends BEGIN in that statement's round trip once the statement is parsed on the
 * connection (./postgres-write.ts, appendAll): one round trip more than a statement committing on
 * its own would take (COMMIT's). Other batches read it at BEGIN (BEGIN; txid_current()), a round
 * trip of its own. It saves a client's retry from storing a batch twice.
 *
 * One transaction at a time, holding a transaction-level advisory lock that every Chorus writer
 * on the same tables takes (other processes included): a log row's seq is drawn while the lock is
 * held and the lock is released only after the COMMIT is visible, so seqs become visible in
 * increasing order and a reader paging by seq (`feedbackSince`, `decisionsAfter`) never steps
 * over a row that commits later with a smaller seq.
 */
import type { Pool, PoolClient, QueryResult } from 'pg';
import { ChorusError, StoreOutcomeUnknownError } from '../errors.js';
import { commitOutcome } from './postgres-outcome.js';
import { appendAll, applyBatch, applyEach, onlyAppends, StoreInvariantError, type PgWrite, type WriteResult } from './postgres-write.js';

interface Pending {
  w: PgWrite;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** COMMIT was sent and no answer came: transaction `xid` may have committed `results`, or not. */
class CommitUnanswered extends Error {
  constructor(
    readonly xid: string,
    readonly results: WriteResult[],
    override readonly cause: unknown,
  ) {
    super(`no answer to COMMIT of transaction ${xid}: ${(cause as Error)?.message ?? String(cause)}`);
  }
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
  /**
   * The append statements each connection has parsed: a batch of appends that runs one of them
   * sends BEGIN in the statement's round trip (./postgres-write.ts, appendAll).
   */
  private readonly parsed = new WeakMap<PoolClient, Set<string>>();

  /**
   * `ready` resolves once the schema exists (the writer's first batch waits for it); `outcomeWaitMs`
   * bounds the wait for a transaction found still in progress after its COMMIT went unanswered.
   */
  constructor(
    private readonly pool: Pool,
    private readonly ready: Promise<void>,
    private readonly outcomeWaitMs?: number,
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
      let results: WriteResult[];
      try {
        results = await this.commit(batch.map((b) => b.w));
      } catch (e) {
        // Nothing of the batch is committed, or (COMMIT unanswered) the database is asked whether
        // it is; a failed batch fails every write in it, and batches committed before are untouched.
        const error = e instanceof CommitUnanswered ? await this.outcomeOf(e) : e;
        results = error === null ? (e as CommitUnanswered).results : batch.map(() => ({ ok: false, error }));
      }
      for (let i = 0; i < batch.length; i++) {
        const r = results[i]!;
        if (r.ok) batch[i]!.resolve(r.value);
        else batch[i]!.reject(r.error);
      }
    } finally {
      this.running = false;
    }
    if (this.pending.length > 0) this.schedule();
    else for (const f of this.drained.splice(0)) f();
  }

  /** Null when the unanswered COMMIT committed; else the error that fails the batch's writes. */
  private async outcomeOf(u: CommitUnanswered): Promise<unknown> {
    try {
      return (await commitOutcome(this.pool, u.xid, this.lock, this.outcomeWaitMs)) === 'committed' ? null : u.cause;
    } catch (e) {
      return e instanceof StoreOutcomeUnknownError ? e : new StoreOutcomeUnknownError(`the outcome of transaction ${u.xid} is unknown: ${String(e)}`, e);
    }
  }

  /**
   * One transaction for the whole batch, with a single statement in it when the batch only appends
   * (the usual case). On a statement error, once more write by write. Throws CommitUnanswered when
   * the connection fails during COMMIT.
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
      const appends = onlyAppends(batch);
      let xid = '';
      let results: WriteResult[];
      try {
        if (appends) {
          // The lock is taken in the statement, just before it draws seqs, and the transaction's
          // id is read there too; the statement opens the transaction (with BEGIN in its round trip where it can).
          let parsed = this.parsed.get(c);
          if (!parsed) this.parsed.set(c, (parsed = new Set()));
          ({ results, xid } = await appendAll(c, batch, lock, parsed));
        } else {
          xid = await begin(c, lock);
          results = await applyBatch(c, batch);
        }
      } catch (e) {
        // An aborted transaction: start again with one savepoint per write. A ROLLBACK that
        // fails means the connection is gone, and the error fails the whole batch.
        await c.query('ROLLBACK');
        if (e instanceof StoreInvariantError) throw e;
        if (batch.length === 1) return [{ ok: false, error: e }];
        xid = await begin(c, lock);
        results = await applyEach(c, batch);
      }
      return await this.finish(c, xid, results);
    } catch (e) {
      broken = e;
      // After an unanswered COMMIT the connection is gone; anywhere else, the transaction is undone.
      if (!(e instanceof CommitUnanswered)) await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.removeListener('error', onError);
      // A client whose batch failed outside a statement may be unusable: the pool drops it.
      c.release(broken instanceof Error ? broken : undefined);
    }
  }

  /** COMMIT the open transaction `xid`; resolves with the batch's results once it is committed. */
  private async finish(c: PoolClient, xid: string, results: WriteResult[]): Promise<WriteResult[]> {
    let done: QueryResult;
    try {
      done = await c.query('COMMIT');
    } catch (e) {
      throw new CommitUnanswered(xid, results, e);
    }
    // PostgreSQL answers COMMIT on a failed transaction with ROLLBACK, not an error: no path
    // here should get there, but a write must never be acknowledged on a rollback.
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

/** Open a transaction (taking the writers' lock when `lock` is given); resolves with its id. */
async function begin(c: PoolClient, lock: readonly [number, number] | null): Promise<string> {
  const text = `BEGIN;${lock ? ` SELECT pg_advisory_xact_lock(${lock[0]}, ${lock[1]});` : ''} SELECT txid_current()::text AS xid`;
  // Several statements in one query: pg answers with one result per statement.
  const r = (await c.query(text)) as unknown as QueryResult<{ xid: string }>[];
  return r[r.length - 1]!.rows[0]!.xid;
}

async function lockKeys(c: PoolClient): Promise<[number, number]> {
  const r = await c.query<{ oid: number }>("SELECT 'decisions'::regclass::oid::int8 AS oid");
  // pg_advisory_xact_lock(int4, int4): the oid folded into a signed 32-bit key.
  return [WRITE_LOCK_CLASS, r.rows[0]!.oid | 0];
}
