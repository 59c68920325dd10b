import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

/** Where the tests find PostgreSQL (the development and CI machines run it locally; override with CHORUS_TEST_PG). */
export const PG_SERVER = process.env.CHORUS_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432';

const HOW_TO_START =
  'start it (as root) with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start ' +
  '(or run .ci/run, which starts it), or point CHORUS_TEST_PG at a server';

/**
 * A fresh database for this test file: created before its tests, dropped after them, so that runs
 * never see each other's rows. When PostgreSQL does not answer, every test of the file fails, at
 * its first `url()`, with a message saying so: a test that needs the service never passes without
 * it. (The hook itself does not throw: vitest would report the tests as skipped, not failed.)
 */
export function testDatabase(label: string): { name: string; url: (params?: string) => string } {
  const name = `chorus_test_${label}_${process.pid}_${randomBytes(4).toString('hex')}`;
  let created = false;
  let missing: Error | null = null;
  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: `${PG_SERVER}/postgres`, connectionTimeoutMillis: 5000 });
    try {
      await admin.connect();
    } catch (e) {
      missing = new Error(`PostgreSQL is not answering at ${PG_SERVER} (${(e as Error).message}); these tests need it: ${HOW_TO_START}`);
      return;
    }
    try {
      await admin.query(`CREATE DATABASE ${name}`);
      created = true;
    } finally {
      await admin.end();
    }
  });
  afterAll(async () => {
    if (!created) return;
    const admin = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
    await admin.connect();
    try {
      // FORCE: a store a failed test left open must not keep the database alive.
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  });
  return {
    name,
    url: (params = '') => {
      if (missing) throw missing;
      return `${PG_SERVER}/${name}${params ? `?${params}` : ''}`;
    },
  };
}

/** A plain client on the test database (a second connection, independent of the store's pool). */
export async function rawClient(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
}

/**
 * Records what the pool's connections send, in order: 'BEGIN', 'COMMIT', 'ROLLBACK' (a text
 * query's first statement), or a named statement's name, with '+begin' when BEGIN rode in its
 * round trip (the writer's BeginFirst). The returned array fills as queries go out.
 */
export function recordQueries(pool: pg.Pool): string[] {
  const sent: string[] = [];
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  const seen = new WeakSet<pg.PoolClient>();
  pool.connect = (async () => {
    const c = await connect();
    if (seen.has(c)) return c;
    seen.add(c);
    const query = c.query.bind(c) as (...args: unknown[]) => unknown;
    c.query = ((...args: unknown[]) => {
      const q = args[0] as string | { name?: string; submit?: unknown };
      sent.push(typeof q === 'string' ? q.split(';')[0]! : `${q.name ?? '?'}${typeof q.submit === 'function' && q.constructor.name === 'BeginFirst' ? '+begin' : ''}`);
      return query(...args);
    }) as typeof c.query;
    return c;
  }) as typeof pool.connect;
  return sent;
}
