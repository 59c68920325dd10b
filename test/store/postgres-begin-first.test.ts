/**
 * BEGIN pipelined with a parsed append statement (BeginFirst): what the writer does when
 * the server forgot a statement pg still counts as parsed (DEALLOCATE ALL / DISCARD ALL, a
 * pooler). Characterisation, not a regression check: pg's own named statements fail the same way.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import { PgGroupWriter } from '../../src/store/postgres-writer.js';
import type { PgWrite } from '../../src/store/postgres-write.js';
import type { PostgresStore } from '../../src/store/postgres.js';
import { rawClient, recordQueries, testDatabase } from './postgres-db.js';

const db = testDatabase('beginfirst_review');
const feedback = (item: string): PgWrite => ({ op: 'feedback', eventId: null, ts: 1000, user: 'u1', item, type: 'click', value: null, reward: 1, position: 0, propensity: 0.5 });

describe('BeginFirst when the server forgot the statement', () => {
  it('characterisation (pre-existing, pg caches named statements): after DEALLOCATE ALL every batch falls back, a one-write batch fails', async () => {
    const s = openStore(db.url('schema=bf')) as PostgresStore;
    await s.ready;
    await s.close();
    const pool = new pg.Pool({ connectionString: db.url(), options: '-c search_path=bf', max: 1 });
    const sent = recordQueries(pool);
    const w = new PgGroupWriter(pool, Promise.resolve());
    try {
      await w.push(feedback('a'));
      await Promise.all([w.push(feedback('b')), w.push(feedback('c'))]); // BeginFirst on the one connection
      const c = await pool.connect();
      await c.query('DEALLOCATE ALL');
      c.release();
      sent.length = 0;
      const after = [];
      for (let i = 0; i < 3; i++) after.push(...(await Promise.allSettled([w.push(feedback(`x${i}`)), w.push(feedback(`y${i}`))])));
      const reasons = after.map((r) => (r.status === 'rejected' ? String((r.reason as Error).message) : 'ok'));
      const raw = await rawClient(db.url());
      const n = (await raw.query<{ n: number }>('SELECT count(*)::int AS n FROM bf.feedback')).rows[0]!.n;
      await raw.end();
      expect({ reasons, n }).toEqual({ reasons: ['ok', 'ok', 'ok', 'ok', 'ok', 'ok'], n: 9 });
      // Each batch after the DEALLOCATE: a failed BeginFirst statement, ROLLBACK, then write by write
      // (every batch, for the connection's life): the fast path is never taken again.
      expect(sent.filter((x) => x === 'ROLLBACK')).toHaveLength(3);
      // A batch of one write is not retried write by write: it fails, on every try.
      const single = await w.push(feedback('z')).then(() => 'ok', (e: Error) => e.message);
      expect(single).toMatch(/prepared statement .* does not exist/);
    } finally {
      await w.close();
      await pool.end();
    }
  });
});
