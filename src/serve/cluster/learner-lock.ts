/**
 * Exactly one learner per store: a PostgreSQL session-level advisory lock, held on a connection
 * of its own for as long as the learner runs. PostgreSQL releases it when that connection ends,
 * so a learner that dies (kill -9, a lost host) frees it at once, and a standby learner polling
 * for it takes over; no lease to expire, no clock to trust.
 *
 * A learner that loses its connection no longer holds the lock (another may hold it a moment
 * later), so it must stop learning at once: `onLost` fires, and `chorus serve` exits on it
 * (a supervisor restarts the process, which then waits as a standby).
 */
import pg from 'pg';
import { ChorusError, ConfigError } from '../../errors.js';
import { postgresOptions } from '../../store/postgres.js';

/** The two-key advisory lock: a constant for "the Chorus learner" and the schema the tables live in. */
const LOCK_SQL = "SELECT pg_try_advisory_lock(hashtext('chorus learner'), hashtext(coalesce(current_schema(), ''))) AS ok";

export interface LearnerLockOptions {
  /** Poll for the lock this often while another learner holds it. */
  pollMs?: number;
  /** Check the lock's connection this often once held (a dead connection means the lock is gone). */
  heartbeatMs?: number;
  /** Give up waiting after this long (Infinity: a standby waits for ever). */
  waitMs?: number;
  /** Called once when the lock is lost after it was held (connection error or end). */
  onLost?: (reason: string) => void;
  log?: (msg: string) => void;
}

export interface LearnerLock {
  /** Release the lock (closes its connection). */
  release(): Promise<void>;
}

/** The store URL's connection settings (postgres:// or postgresql://); other schemes cannot hold a cluster-wide lock. */
function connectionOf(storeUrl: string): { connectionString: string; schema: string | null } {
  const m = /^(postgres|postgresql):(.*)$/.exec(storeUrl);
  if (!m) throw new ConfigError(`the learner lock needs a PostgreSQL store (--store postgres://…), got "${storeUrl.split('?')[0]}"`, 'store');
  const rest = m[2]!;
  const qm = rest.indexOf('?');
  const o = postgresOptions(qm >= 0 ? rest.slice(0, qm) : rest, new URLSearchParams(qm >= 0 ? rest.slice(qm + 1) : ''));
  return { connectionString: o.connectionString, schema: o.schema ?? null };
}

/**
 * Try once: resolves with the held lock, or null when another learner holds it. The store's
 * schema must exist (the store creates it on open).
 */
export async function tryLearnerLock(storeUrl: string, o: LearnerLockOptions = {}): Promise<LearnerLock | null> {
  return acquire(storeUrl, { ...o, waitMs: 0 }, false);
}

/**
 * Wait until this process holds the learner lock: a standby asks every `pollMs` on one open
 * connection (no reconnect per try, so a takeover costs one poll interval). Rejects with
 * E_LEARNER_BUSY after `waitMs` (default: wait for ever).
 */
export async function acquireLearnerLock(storeUrl: string, o: LearnerLockOptions = {}): Promise<LearnerLock> {
  return (await acquire(storeUrl, o, true))!;
}

async function acquire(storeUrl: string, o: LearnerLockOptions, refuseWhenBusy: boolean): Promise<LearnerLock | null> {
  const { connectionString, schema } = connectionOf(storeUrl);
  // A host that vanishes (power, network) closes no socket: TCP keepalives on both ends notice
  // it — the server's backend within about 5 s (which frees the lock for a standby), this end's
  // heartbeat within its query timeout (which stops this learner).
  const options = [...(schema ? [`-c search_path=${schema}`] : []), '-c tcp_keepalives_idle=2', '-c tcp_keepalives_interval=1', '-c tcp_keepalives_count=3'].join(' ');
  const client = new pg.Client({ connectionString, options, connectionTimeoutMillis: 10_000, keepAlive: true, keepAliveInitialDelayMillis: 1000, query_timeout: 3000 });
  // Until the lock is held an error just fails the wait; afterwards it is the loss of the lock.
  let held = false;
  let lost = false;
  let releasing = false;
  let timer: NodeJS.Timeout | null = null;
  const lose = (reason: string): void => {
    if (!held || lost || releasing) return;
    lost = true;
    if (timer) clearInterval(timer);
    o.onLost?.(reason);
  };
  client.on('error', (e) => lose(`the lock's connection failed: ${e.message}`));
  client.on('end', () => lose("the lock's connection ended"));
  const poll = o.pollMs ?? 250;
  const until = Date.now() + (o.waitMs ?? Infinity);
  try {
    await client.connect();
    let said = false;
    for (;;) {
      const r = await client.query<{ ok: boolean }>(LOCK_SQL);
      if (r.rows[0]?.ok) break;
      if (Date.now() + poll > until) {
        await client.end();
        if (!refuseWhenBusy) return null;
        throw new ChorusError('E_LEARNER_BUSY', `another learner holds the learner lock of ${storeUrl.split('?')[0]}: start this process with --role server, or stop that learner`, {
          status: 409,
          location: { field: 'role' },
        });
      }
      if (!said) o.log?.('standby: another learner holds the learner lock; taking over when it stops');
      said = true;
      await new Promise((r) => setTimeout(r, poll));
    }
  } catch (e) {
    await client.end().catch(() => undefined);
    if (e instanceof ChorusError) throw e;
    throw new ChorusError('E_STORE_OPEN', `cannot take the learner lock on ${storeUrl.split('?')[0]}: ${(e as Error).message}`, { status: 503, location: { field: 'store' } });
  }
  held = true;
  // A connection that dies quietly (a half-open socket) shows up here; the lock went with it.
  timer = setInterval(() => {
    client.query('SELECT 1').catch((e: unknown) => lose(`the lock's connection stopped answering: ${(e as Error).message}`));
  }, o.heartbeatMs ?? 1000);
  timer.unref();
  return {
    release: async () => {
      releasing = true;
      if (timer) clearInterval(timer);
      await client.end().catch(() => undefined);
    },
  };
}
