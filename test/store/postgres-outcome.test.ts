import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ChorusError, StoreOutcomeUnknownError } from '../../src/errors.js';
import { errorReply } from '../../src/serve/errors.js';
import { openStore } from '../../src/store/open.js';
import { commitOutcome } from '../../src/store/postgres-outcome.js';
import { PgGroupWriter } from '../../src/store/postgres-writer.js';
import type { PgWrite } from '../../src/store/postgres-write.js';
import type { PostgresStore } from '../../src/store/postgres.js';
import { rawClient, recordQueries, testDatabase } from './postgres-db.js';

const db = testDatabase('outcome');

const feedback = (item: string): PgWrite => ({
  op: 'feedback',
  eventId: null,
  ts: 1000,
  user: 'u1',
  item,
  type: 'click',
  value: null,
  reward: 1,
  position: 0,
  propensity: 0.5,
});
const upsert = (id: string): PgWrite => ({ op: 'upsert', kind: 'items', entries: [{ id, meta: '{}', created: 1, updated: 1 }] });

/** Run `f` with a plain client on the test database. */
async function withClient<T>(f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await rawClient(db.url());
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}

/** A transaction on its own connection, its id read; `lock` taken as the writer takes its own. */
async function openTransaction(lock?: [number, number]): Promise<{ c: pg.Client; xid: string }> {
  const c = await rawClient(db.url());
  await c.query('BEGIN');
  const xid = (await c.query<{ xid: string }>('SELECT txid_current()::text AS xid')).rows[0]!.xid;
  if (lock) await c.query('SELECT pg_advisory_xact_lock($1, $2)', lock);
  return { c, xid };
}

const unreachable = (): pg.Pool => new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 2000 });

describe('commitOutcome', () => {
  it('reads a committed transaction as committed and a rolled-back one as aborted', async () => {
    const pool = new pg.Pool({ connectionString: db.url() });
    try {
      const a = await openTransaction();
      await a.c.query('COMMIT');
      await a.c.end();
      const b = await openTransaction();
      await b.c.query('ROLLBACK');
      await b.c.end();
      expect(await commitOutcome(pool, a.xid, null)).toBe('committed');
      expect(await commitOutcome(pool, b.xid, null)).toBe('aborted');
    } finally {
      await pool.end();
    }
  });

  it('waits on the lock for a transaction still in progress, then reads its end', async () => {
    const pool = new pg.Pool({ connectionString: db.url() });
    const lock: [number, number] = [0x43485752, 4242];
    const t = await openTransaction(lock);
    try {
      let settled = false;
      const outcome = commitOutcome(pool, t.xid, lock, 20_000).finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 200));
      expect(settled).toBe(false);
      await t.c.query('COMMIT');
      expect(await outcome).toBe('committed');
    } finally {
      await t.c.end();
      await pool.end();
    }
  });

  it('throws E_STORE_OUTCOME_UNKNOWN when the status cannot be read', async () => {
    const pool = new pg.Pool({ connectionString: db.url() });
    const lock: [number, number] = [0x43485752, 4243];
    const t = await openTransaction(lock);
    const down = unreachable();
    try {
      // Still in progress after the wait.
      const stuck = await commitOutcome(pool, t.xid, lock, 100).catch((e: unknown) => e);
      expect(stuck).toBeInstanceOf(StoreOutcomeUnknownError);
      expect((stuck as Error).message).toMatch(/still in progress/);
      await t.c.query('COMMIT');
      // The server does not answer.
      const lost = await commitOutcome(down, t.xid, lock).catch((e: unknown) => e);
      expect(lost).toMatchObject({ code: 'E_STORE_OUTCOME_UNKNOWN', status: 503 });
      // Not a transaction id at all.
      await expect(commitOutcome(pool, '1; DROP TABLE x', null)).rejects.toBeInstanceOf(StoreOutcomeUnknownError);
    } finally {
      await t.c.end();
      await pool.end();
      await down.end();
    }
  });
});

/**
 * A pool on `schema` whose clients, while `lose.commit` is set, lose the answer to the next COMMIT:
 * the server really commits (or, for 'abort', rolls back) and the client then fails as on a dropped
 * connection. With `lose.connect`, every later connect fails (the server cannot be reached);
 * `lose.connectAfterCommit` sets it once the COMMIT's answer is lost.
 */
interface Loss {
  commit: 'commit' | 'abort' | null;
  connect: boolean;
  connectAfterCommit: boolean;
}
function lossyPool(schema: string): { pool: pg.Pool; lose: Loss } {
  const pool = new pg.Pool({ connectionString: db.url(), options: `-c search_path=${schema}` });
  const lose: Loss = { commit: null, connect: false, connectAfterCommit: false };
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  const wrapped = new WeakSet<pg.PoolClient>();
  const lossyConnect = async (): Promise<pg.PoolClient> => {
    if (lose.connect) throw new Error('connect ECONNREFUSED (test)');
    const c = await connect();
    if (wrapped.has(c)) return c;
    wrapped.add(c);
    const query = c.query.bind(c) as (...args: unknown[]) => Promise<unknown>;
    const lossyQuery = (...args: unknown[]): Promise<unknown> => {
      const mode = lose.commit;
      if (args[0] !== 'COMMIT' || mode === null) return query(...args);
      lose.commit = null;
      return (async () => {
        await query(mode === 'commit' ? 'COMMIT' : 'ROLLBACK');
        lose.connect = lose.connectAfterCommit;
        throw new Error('Connection terminated unexpectedly');
      })();
    };
    // The overloads of pg's query cannot be expressed by one wrapper; only the promise forms are used.
    c.query = lossyQuery as typeof c.query;
    return c;
  };
  pool.connect = lossyConnect as typeof pool.connect;
  return { pool, lose };
}

async function migrated(schema: string): Promise<void> {
  const s = openStore(db.url(`schema=${schema}`)) as PostgresStore;
  await s.ready;
  await s.close();
}

const count = (schema: string, table: string): Promise<number> =>
  withClient(async (c) => (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.${table}`)).rows[0]!.n);

describe('postgres writer when the answer to COMMIT is lost', () => {
  it('resolves the writes when the transaction committed (appends only, and a mixed batch)', async () => {
    await migrated('lost_ok');
    const { pool, lose } = lossyPool('lost_ok');
    const w = new PgGroupWriter(pool, Promise.resolve());
    try {
      lose.commit = 'commit';
      const seqs = await Promise.all([w.push(feedback('a')), w.push(feedback('b')), w.push(feedback('c'))]);
      expect(lose.commit).toBeNull();
      expect(seqs.map(Number)).toEqual(
        await withClient(async (c) => (await c.query<{ seq: string }>('SELECT seq FROM lost_ok.feedback ORDER BY seq')).rows.map((r) => Number(r.seq))),
      );
      lose.commit = 'commit';
      const mixed = await Promise.allSettled([w.push(feedback('d')), w.push(upsert('i1'))]);
      expect(lose.commit).toBeNull();
      expect(mixed.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
      expect(await count('lost_ok', 'feedback')).toBe(4);
      expect(await count('lost_ok', 'items')).toBe(1);
      // The totals count each stored row once.
      const t = await withClient((c) => c.query<{ n: number }>('SELECT sum(n)::int AS n FROM lost_ok.item_feedback'));
      expect(t.rows[0]!.n).toBe(4);
    } finally {
      await w.close();
      await pool.end();
    }
  });

  it('fails the writes when the transaction was rolled back', async () => {
    await migrated('lost_abort');
    const { pool, lose } = lossyPool('lost_abort');
    const w = new PgGroupWriter(pool, Promise.resolve());
    try {
      await w.push(feedback('kept'));
      lose.commit = 'abort';
      const r = await Promise.allSettled([w.push(feedback('a')), w.push(feedback('b'))]);
      expect(lose.commit).toBeNull();
      expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected']);
      const reason = (r[0] as PromiseRejectedResult).reason as Error;
      expect(reason).not.toBeInstanceOf(StoreOutcomeUnknownError);
      expect(reason.message).toMatch(/Connection terminated/);
      expect(await count('lost_abort', 'feedback')).toBe(1);
      // The writer goes on.
      await w.push(feedback('after'));
      expect(await count('lost_abort', 'feedback')).toBe(2);
    } finally {
      await w.close();
      await pool.end();
    }
  });

  it('fails the writes with E_STORE_OUTCOME_UNKNOWN (503) when the outcome cannot be asked', async () => {
    await migrated('lost_unknown');
    const { pool, lose } = lossyPool('lost_unknown');
    const w = new PgGroupWriter(pool, Promise.resolve());
    try {
      lose.commit = 'commit';
      // Once the COMMIT's answer is lost, no connection can be had to ask about it.
      lose.connectAfterCommit = true;
      const r = await Promise.allSettled([w.push(feedback('a')), w.push(feedback('b'))]);
      expect(lose.commit).toBeNull();
      for (const x of r) {
        expect(x.status).toBe('rejected');
        expect((x as PromiseRejectedResult).reason).toBeInstanceOf(StoreOutcomeUnknownError);
      }
      const reason = (r[0] as PromiseRejectedResult).reason as ChorusError;
      expect(errorReply(reason, '/events')).toMatchObject({ status: 503, body: { error: { code: 'E_STORE_OUTCOME_UNKNOWN' } } });
      // The writes are in fact stored: which is why the client must be told a retry may duplicate.
      expect(await count('lost_unknown', 'feedback')).toBe(2);
    } finally {
      lose.connect = false;
      await w.close();
      await pool.end();
    }
  });
});

describe('postgres writer on an impossible answer', () => {
  it('fails the whole batch and does not retry it write by write: nothing is stored twice', async () => {
    const s = openStore(db.url('schema=inv')) as PostgresStore;
    await s.ready;
    try {
      await s.events.appendFeedback({ eventId: null, ts: 1, user: null, item: 'x', type: 'click', value: null, reward: 1, position: null, propensity: null });
      // A trigger that drops some rows: the insert returns fewer rows than it was given.
      await withClient((c) =>
        c.query(`CREATE FUNCTION inv.drop_skip() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.item = 'skip' THEN RETURN NULL; END IF; RETURN NEW; END $$;
                 CREATE TRIGGER drop_skip BEFORE INSERT ON inv.feedback FOR EACH ROW EXECUTE FUNCTION inv.drop_skip()`),
      );
      const fbOf = (item: string) => s.events.appendFeedback({ eventId: null, ts: 2, user: null, item, type: 'click', value: null, reward: 1, position: null, propensity: null });
      const appends = await Promise.allSettled([fbOf('a'), fbOf('skip'), fbOf('b')]);
      const mixed = await Promise.allSettled([fbOf('c'), s.catalogue.upsert('items', [{ id: 'i1', meta: {}, created: 1, updated: 1 }]), fbOf('skip')]);
      for (const r of [...appends, ...mixed]) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'E_STORE_INVARIANT' });
      }
      expect(await s.events.countFeedback()).toBe(1);
      expect(await s.catalogue.count('items')).toBe(0);
      expect((await s.events.topItems(10)).map((t) => [t.item, t.feedback])).toEqual([['x', 1]]);
    } finally {
      await s.close();
    }
  });
});

describe('postgres writer: BEGIN in the round trip of a batch of appends', () => {
  /** A writer on `schema` whose queries are recorded: 'BEGIN', 'COMMIT', or the statement's name ('+begin' when BEGIN rode with it). */
  function recorded(schema: string): { pool: pg.Pool; lose: Loss; sent: string[] } {
    const { pool, lose } = lossyPool(schema);
    const sent = recordQueries(pool);
    return { pool, lose, sent };
  }

  it('takes two round trips once the statement is parsed on the connection, and a lost COMMIT still resolves', async () => {
    await migrated('first_ok');
    const { pool, lose, sent } = recorded('first_ok');
    const w = new PgGroupWriter(pool, Promise.resolve());
    try {
      await w.push(feedback('a'));
      // The first batch on a connection: BEGIN on its own (the statement is parsed in its own round trip).
      expect(sent.filter((x) => x !== 'SELECT \'decisions\'::regclass::oid::int8 AS oid')).toEqual(['BEGIN', 'chorus_append_feedback', 'COMMIT']);
      sent.length = 0;
      await Promise.all([w.push(feedback('b')), w.push(feedback('c'))]);
      expect(sent).toEqual(['chorus_append_feedback+begin', 'COMMIT']);
      // The transaction's id came with the statement: the lost COMMIT's outcome is asked, and it committed.
      lose.commit = 'commit';
      const seqs = await Promise.all([w.push(feedback('d')), w.push(feedback('e'))]);
      expect(lose.commit).toBeNull();
      const stored = await withClient(async (c) => (await c.query<{ seq: string; item: string }>('SELECT seq, item FROM first_ok.feedback ORDER BY seq')).rows);
      expect(stored.map((r) => r.item)).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(seqs.map(Number)).toEqual(stored.slice(3).map((r) => Number(r.seq)));
    } finally {
      await w.close();
      await pool.end();
    }
  });

  it('runs the statement of the tables a batch appends to, each parsed once on the connection', async () => {
    await migrated('first_kinds');
    const { pool, sent } = recorded('first_kinds');
    const w = new PgGroupWriter(pool, Promise.resolve());
    const decision = (id: string): PgWrite => ({
      op: 'decision', id, ts: 1, user: 'u1', kind: 'recommend', items: '["a"]', propensities: '[1]', scores: '[1]', snapshotId: null, activated: true, payload: '{"x":1}',
    });
    const onD1: PgWrite = { ...(feedback('a') as Extract<PgWrite, { op: 'feedback' }>), eventId: 'd1', onDecision: true };
    try {
      await w.push(decision('d1'));
      await Promise.all([w.push(decision('d2')), w.push(onD1)]);
      // Two decisions with one id in a batch: the first is stored, the second fails alone.
      const dup = await Promise.allSettled([w.push(decision('d3')), w.push(decision('d3'))]);
      expect(dup.map((x) => x.status)).toEqual(['fulfilled', 'rejected']);
      expect((dup[1] as PromiseRejectedResult).reason).toMatchObject({ code: '23505' });
      const both = await Promise.allSettled([w.push(decision('d4')), w.push(onD1), w.push({ ...onD1, eventId: 'gone' })]);
      expect(both.map((x) => x.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
      expect((both[2] as PromiseRejectedResult).reason).toMatchObject({ status: 404 });
      expect(sent.filter((x) => !x.startsWith('SELECT'))).toEqual([
        'BEGIN', 'chorus_append_decisions', 'COMMIT',
        'BEGIN', 'chorus_append_all', 'COMMIT',
        'chorus_append_decisions+begin', 'COMMIT',
        'chorus_append_all+begin', 'COMMIT',
      ]);
      expect(await count('first_kinds', 'decisions')).toBe(4);
      const fb = await withClient(async (c) => (await c.query<{ event_id: string }>('SELECT event_id FROM first_kinds.feedback ORDER BY seq')).rows.map((r) => r.event_id));
      expect(fb).toEqual(['d1', 'd1']);
    } finally {
      await w.close();
      await pool.end();
    }
  });

  it('a lost COMMIT of a rolled-back batch fails it, and a failed statement is undone and retried write by write', async () => {
    await migrated('first_fail');
    const { pool, lose, sent } = recorded('first_fail');
    const w = new PgGroupWriter(pool, Promise.resolve());
    try {
      await w.push(feedback('a'));
      lose.commit = 'abort';
      const r = await Promise.allSettled([w.push(feedback('b')), w.push(feedback('c'))]);
      expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected']);
      expect(await count('first_fail', 'feedback')).toBe(1);
      // The connection that lost its COMMIT was dropped; prime the new one, then fail its statement:
      // a position that is not an integer fails the batch's insert, inside the transaction BEGIN opened.
      await w.push(feedback('f'));
      sent.length = 0;
      const bad: PgWrite = { ...(feedback('bad') as Extract<PgWrite, { op: 'feedback' }>), position: 1.5 };
      const mixed = await Promise.allSettled([w.push(bad), w.push(feedback('g'))]);
      expect(sent[0]).toBe('chorus_append_feedback+begin');
      expect(mixed.map((x) => x.status)).toEqual(['rejected', 'fulfilled']);
      await w.push(feedback('h'));
      const items = await withClient(async (c) => (await c.query<{ item: string }>('SELECT item FROM first_fail.feedback ORDER BY seq')).rows.map((x) => x.item));
      expect(items).toEqual(['a', 'f', 'g', 'h']);
    } finally {
      await w.close();
      await pool.end();
    }
  });
});
