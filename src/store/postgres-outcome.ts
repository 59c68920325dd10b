/**
 * What became of a transaction whose COMMIT got no answer (the connection died while it was in
 * flight): the server may have committed it or not. The writer reads the transaction's id
 * (`txid_current()`) before it sends COMMIT (at BEGIN, or in a batch of appends' own statement); a
 * fresh connection then asks `txid_status`, so a
 * committed batch is acknowledged instead of failed (a client retrying it would store its
 * feedback twice) and an aborted one fails as before.
 */
import type { Pool, PoolClient } from 'pg';
import { StoreOutcomeUnknownError } from '../errors.js';

export type CommitOutcome = 'committed' | 'aborted';

/** How long to wait for a transaction still in progress (its COMMIT may be on its way to disk). */
export const OUTCOME_WAIT_MS = 10_000;

/** A transaction id as `txid_current()::text` gives it: digits only, so it can go into SQL text. */
const TXID = /^[0-9]{1,20}$/;

/**
 * The outcome of transaction `xid`, asked on a connection from `pool` (the one that ran it is gone).
 * A transaction still in progress may be between its COMMIT and the end of its commit: when `lock`
 * (an advisory lock the transaction holds to its end) is given, this waits for it up to `waitMs`
 * and asks again. Throws StoreOutcomeUnknownError when the answer cannot be had: the server does
 * not answer, the status is gone (NULL: far too old), or the transaction is still running.
 */
export async function commitOutcome(pool: Pool, xid: string, lock: readonly [number, number] | null, waitMs = OUTCOME_WAIT_MS): Promise<CommitOutcome> {
  if (!TXID.test(xid)) throw new StoreOutcomeUnknownError(`cannot check transaction "${xid}": not a transaction id`);
  let c: PoolClient;
  try {
    c = await pool.connect();
  } catch (e) {
    throw unknown(xid, `cannot connect to ask: ${(e as Error).message}`, e);
  }
  let broken: Error | undefined;
  // As in PgGroupWriter.commit: a checked-out client's connection errors need a listener.
  const onError = (e: Error): void => {
    broken ??= e;
  };
  c.on('error', onError);
  try {
    let status = await statusOf(c, xid);
    if (status === 'in progress' && lock) {
      // The lock is released only once the commit (or abort) is complete: holding it, the status is final.
      await c.query(`BEGIN; SET LOCAL lock_timeout = ${Math.max(1, Math.round(waitMs))}`);
      try {
        await c.query(`SELECT pg_advisory_xact_lock(${lock[0] | 0}, ${lock[1] | 0})`);
        status = await statusOf(c, xid);
      } catch (e) {
        // lock_not_available: the lock_timeout passed, and the status read above still stands.
        if ((e as { code?: unknown }).code !== '55P03') throw e;
      } finally {
        await c.query('ROLLBACK');
      }
    }
    if (status === 'committed' || status === 'aborted') return status;
    throw unknown(xid, status === null ? 'its status is no longer kept' : `it is still ${status}`);
  } catch (e) {
    if (e instanceof StoreOutcomeUnknownError) throw e;
    broken ??= e as Error;
    throw unknown(xid, `cannot ask its status: ${(e as Error).message}`, e);
  } finally {
    c.removeListener('error', onError);
    c.release(broken);
  }
}

async function statusOf(c: PoolClient, xid: string): Promise<string | null> {
  const r = await c.query<{ s: string | null }>({ name: 'chorus_txid_status', text: 'SELECT txid_status($1::text::int8) AS s', values: [xid] });
  return r.rows[0]?.s ?? null;
}

const unknown = (xid: string, why: string, cause?: unknown): StoreOutcomeUnknownError =>
  new StoreOutcomeUnknownError(
    `the connection was lost during COMMIT of transaction ${xid} and its outcome is unknown (${why}): the write may be stored, and a retry may store it twice`,
    cause,
  );
