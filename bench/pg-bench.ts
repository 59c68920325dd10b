/**
 * PostgreSQL helpers for bench/load.ts (issue 20): a plain connection to a store's database, a
 * fast prefill of the decision log in SQL, and the CPU time of the database's backend processes.
 *
 * Why a SQL prefill: `--prefill` logs copies through the store's group writer, ~10^4 rows per
 * round trip with JSON encoding on the event loop; 10 M rows that way take the better part of an
 * hour. One INSERT … SELECT per million rows copies a real decision inside the server instead.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { postgresOptions } from '../src/store/postgres.js';

/** A client on the database (and schema) a `postgres://…?pool=&schema=` store URL names. */
export async function pgClient(storeUrl: string): Promise<pg.Client> {
  const colon = storeUrl.indexOf(':');
  const qm = storeUrl.indexOf('?');
  const rest = storeUrl.slice(colon + 1, qm >= 0 ? qm : undefined);
  const o = postgresOptions(rest, new URLSearchParams(qm >= 0 ? storeUrl.slice(qm + 1) : ''));
  const c = new pg.Client({ connectionString: o.connectionString, ...(o.schema ? { options: `-c search_path=${o.schema}` } : {}) });
  await c.connect();
  return c;
}

/** Rows per INSERT: each commits on its own, so checkpoints can recycle the WAL as the copy goes. */
const CHUNK = 1_000_000;

/**
 * Copy the stored decision `sourceId` `n` times: fresh time-ordered (v7-shaped) event ids, users
 * `u0…` in turn, ts 1 ms apart ending 1 ms before the source's ts (so the copies are older than
 * every decision the server logs next, as a real backlog is, and a restart's recovery treats
 * them as closed before its checkpoint), seq increasing with ts. Then VACUUM ANALYZE, so the
 * planner has statistics and autovacuum does not start on the new rows during the measured runs.
 * Resolves with the seconds the copy and the vacuum took.
 */
export async function prefillDecisionsSql(c: pg.Client, sourceId: string, n: number, nUsers: number, log: (m: string) => void): Promise<{ copy: number; vacuum: number }> {
  const t0 = performance.now();
  for (let from = 0; from < n; from += CHUNK) {
    const to = Math.min(n, from + CHUNK) - 1;
    // g counts up from 0; the copy's ts is the source's minus (n - g) ms. Its id: the ts in ms as
    // the 48-bit time field of a UUID v7 and g in the random field, so ids are unique and sort
    // with ts, as the server's own ids do (src/serve/event-id.ts).
    await c.query(
      `INSERT INTO decisions (id, ts, "user", kind, items, propensities, scores, snapshot_id, activated, payload)
       SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7000-8000-' || lpad(to_hex(g), 12, '0'),
              t, 'u' || (g % $4), d.kind, d.items, d.propensities, d.scores, d.snapshot_id, d.activated, d.payload
       FROM decisions d
       CROSS JOIN generate_series($2::int8, $3::int8) AS g
       CROSS JOIN LATERAL (SELECT d.ts - ($5::int8 - g) AS t) AS x
       CROSS JOIN LATERAL (SELECT lpad(to_hex(floor(t)::int8), 12, '0') AS h) AS y
       WHERE d.id = $1
       ORDER BY g`,
      [sourceId, from, to, nUsers, n],
    );
    log(`prefill-sql: ${to + 1} / ${n} rows, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  const copy = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  await c.query('VACUUM (ANALYZE) decisions');
  return { copy, vacuum: (performance.now() - t1) / 1000 };
}

/** Clock ticks per second of /proc's utime and stime (USER_HZ: 100 on Linux). */
const TICK_US = 10_000;

/**
 * CPU time (user + system, µs) of every other process serving this database (the store's pooled
 * connections, autovacuum workers on it), by pid, read from /proc: the database server must run on
 * this machine. Its shared processes (WAL writer, checkpointer) are not counted.
 */
export async function backendCpu(c: pg.Client): Promise<Map<number, number>> {
  const r = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
  const out = new Map<number, number>();
  for (const { pid } of r.rows) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(pid, (Number(f[11]) + Number(f[12])) * TICK_US);
    } catch {
      // Exited between the query and the read, or not on this machine.
    }
  }
  return out;
}

/** CPU µs the backends spent between two readings; a backend that exited in between is lost (an undercount). */
export function cpuSince(before: Map<number, number>, after: Map<number, number>): number {
  let s = 0;
  for (const [pid, t] of after) s += t - (before.get(pid) ?? 0);
  return s;
}
