import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChorusError, ConfigError } from '../../src/errors.js';
import { isDuplicateKeyError } from '../../src/store/duplicate.js';
import { openStore } from '../../src/store/open.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/store/postgres-schema.js';
import { SCHEMA as SQLITE_SCHEMA } from '../../src/store/sqlite-write.js';
import type { DecisionRecord, FeedbackRecord, Store } from '../../src/store/types.js';
import { storeContract } from './contract.js';
import { rawClient, testDatabase } from './postgres-db.js';
import { decisionRecord } from './records.js';

const db = testDatabase('store');
// Each store name of the contract suite gets its own schema in the run's database.
const schemaOf = (name: string) => name.replace(/[^a-z0-9_]/g, '_');
storeContract('postgres', (name) => openStore(db.url(`schema=${schemaOf(name)}`)));
storeContract('postgres pool=1', (name) => openStore(db.url(`pool=1&schema=p1_${schemaOf(name)}`)));

const decision = (id: string, payload: unknown = { n: 1 }): DecisionRecord => decisionRecord(id, { snapshotId: null, payload });
const fb = (item: string, reward = 1, eventId: string | null = null): FeedbackRecord => ({
  eventId,
  ts: 1000,
  user: 'u1',
  item,
  type: 'click',
  value: null,
  reward,
  position: 0,
  propensity: 0.5,
});

/** Open a store in its own schema and wait for its migrations. */
async function open(schema: string, params = ''): Promise<PostgresStore> {
  const s = openStore(db.url(`schema=${schema}${params ? `&${params}` : ''}`)) as PostgresStore;
  await s.ready;
  return s;
}

async function withClient<T>(f: (c: Awaited<ReturnType<typeof rawClient>>) => Promise<T>): Promise<T> {
  const c = await rawClient(db.url());
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}

describe('postgres store URL', () => {
  it('is opened by postgres: and postgresql:, without the password in store.url', async () => {
    const s = openStore(db.url('schema=url_a').replace('postgres://postgres@', 'postgresql://postgres:secret@'));
    expect(s).toBeInstanceOf(PostgresStore);
    expect(s.url).not.toContain('secret');
    expect(s.url).toContain('schema=url_a');
    await s.state.putState('k', Buffer.from('v'));
    await s.close();
  });
  it('rejects a bad pool size, schema name or a URL without //', () => {
    expect(() => openStore('postgres://h/db?pool=0')).toThrow(ConfigError);
    expect(() => openStore('postgres://h/db?pool=2.5')).toThrow(/pool must be an integer/);
    expect(() => openStore('postgres://h/db?schema=Bad-Name')).toThrow(/schema must be/);
    expect(() => openStore('postgres:h/db')).toThrow(/postgres:\/\/user@host/);
  });
  it('fails the first call with E_STORE_OPEN when the server does not answer', async () => {
    const s = openStore('postgres://postgres@127.0.0.1:1/none');
    const err = await s.events.countDecisions().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChorusError);
    expect((err as ChorusError).code).toBe('E_STORE_OPEN');
    expect((err as Error).message).toMatch(/cannot open PostgreSQL store at postgres:\/\/postgres@127\.0\.0\.1:1\/none/);
    await expect(s.events.appendFeedback(fb('a'))).rejects.toThrow(/E_STORE_OPEN|cannot open/);
    await s.close();
  });
});

describe('postgres migrations', () => {
  const tablesOf = (c: Awaited<ReturnType<typeof rawClient>>, schema: string) =>
    c
      .query<{ table_name: string; column_name: string }>(
        'SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = $1 ORDER BY table_name, ordinal_position',
        [schema],
      )
      .then((r) => r.rows);

  it('has the SQLite schema: the same tables with the same columns, plus schema_version', async () => {
    const s = await open('mig_same');
    await s.close();
    const lite = new Database(':memory:');
    lite.exec(SQLITE_SCHEMA);
    const want: string[] = [];
    const tables = lite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[];
    for (const t of tables) for (const c of lite.prepare(`PRAGMA table_info(${t.name})`).all() as { name: string }[]) want.push(`${t.name}.${c.name}`);
    lite.close();
    const got = await withClient((c) => tablesOf(c, 'mig_same'));
    const have = got.filter((r) => r.table_name !== 'schema_version').map((r) => `${r.table_name}.${r.column_name}`);
    expect(have.sort()).toEqual(want.sort());
    expect(got.some((r) => r.table_name === 'schema_version')).toBe(true);
  });

  it('opened twice, records one version and creates no table twice', async () => {
    const a = await open('mig_twice');
    expect(await a.ready).toBe(SCHEMA_VERSION);
    await a.events.appendDecision(decision('e1'));
    await a.close();
    const before = await withClient((c) => tablesOf(c, 'mig_twice'));
    const b = await open('mig_twice');
    expect(await b.ready).toBe(SCHEMA_VERSION);
    expect(await b.events.countDecisions()).toBe(1);
    await b.close();
    await withClient(async (c) => {
      expect(await tablesOf(c, 'mig_twice')).toEqual(before);
      const v = await c.query('SELECT version FROM mig_twice.schema_version ORDER BY version');
      expect(v.rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
      const t = await c.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'mig_twice' AND tablename = 'decisions'");
      expect(t.rows[0].n).toBe(1);
    });
  });

  it('lets servers open a fresh database at the same moment', async () => {
    const stores = [0, 1, 2, 3].map(() => openStore(db.url('schema=mig_race')) as PostgresStore);
    expect(await Promise.all(stores.map((s) => s.ready))).toEqual([SCHEMA_VERSION, SCHEMA_VERSION, SCHEMA_VERSION, SCHEMA_VERSION]);
    await Promise.all(stores.map((s) => s.close()));
    const v = await withClient((c) => c.query('SELECT version FROM mig_race.schema_version ORDER BY version'));
    expect(v.rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
  });

  it('refuses a database whose schema is newer than this code', async () => {
    await (await open('mig_newer')).close();
    await withClient((c) => c.query("INSERT INTO mig_newer.schema_version (version, description) VALUES (99, 'from the future')"));
    const s = openStore(db.url('schema=mig_newer')) as PostgresStore;
    await expect(s.ready).rejects.toMatchObject({ code: 'E_STORE_SCHEMA' });
    await expect(s.events.countFeedback()).rejects.toThrow(/version 99/);
    await s.close();
  });
});

describe('postgres group commit', () => {
  it('commits many concurrent writes in fewer transactions than writes, all durable, seqs in push order', async () => {
    const s = await open('gc_many');
    const n = 400;
    const seqs = await Promise.all(Array.from({ length: n }, (_, i) => s.events.appendFeedback(fb(`i${i % 9}`, i % 3))));
    await Promise.all(Array.from({ length: 50 }, (_, i) => s.events.appendDecision(decision(`e${i}`))));
    // Seqs were assigned in the order the writes were made.
    for (let i = 1; i < n; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);
    await s.close();
    await withClient(async (c) => {
      const f = await c.query('SELECT count(*)::int AS n, count(DISTINCT xmin::text)::int AS tx FROM gc_many.feedback');
      expect(f.rows[0].n).toBe(n);
      // Every row records the transaction that wrote it: the batches were shared.
      expect(f.rows[0].tx).toBeLessThan(n / 10);
      const d = await c.query('SELECT count(*)::int AS n, count(DISTINCT xmin::text)::int AS tx FROM gc_many.decisions');
      expect(d.rows[0].n).toBe(50);
      expect(d.rows[0].tx).toBeLessThan(50);
      const t = await c.query('SELECT sum(n)::int AS n, sum(reward)::float8 AS r FROM gc_many.item_feedback');
      expect(t.rows[0]).toEqual({ n, r: Array.from({ length: n }, (_, i) => i % 3).reduce((a, b) => a + b, 0) });
    });
  });

  it('fails only the write whose statement fails, and commits its neighbours', async () => {
    const s = await open('gc_one_bad');
    const results = await Promise.allSettled([
      s.events.appendDecision(decision('ok1')),
      // jsonb cannot hold a NUL character: this write's INSERT fails in the database.
      s.events.appendDecision(decision('bad', { s: 'a\u0000b' })),
      s.events.appendFeedback(fb('x')),
      s.catalogue.upsert('items', [{ id: 'i1', meta: {}, created: 1, updated: 1 }]),
      s.events.appendDecision(decision('ok2')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(isDuplicateKeyError((results[1] as PromiseRejectedResult).reason)).toBe(false);
    expect((await s.events.recentDecisions(10)).map((d) => d.id)).toEqual(['ok2', 'ok1']);
    expect(await s.events.countFeedback()).toBe(1);
    expect(await s.catalogue.count('items')).toBe(1);
    // The same with appends only (they commit as one statement before falling back to one by one).
    const appends = await Promise.allSettled([
      s.events.appendFeedback(fb('y')),
      s.events.appendDecision(decision('bad2', { s: '\u0000' })),
      s.events.appendDecision(decision('ok3')),
      s.events.appendFeedback(fb('z')),
    ]);
    expect(appends.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const [y, , , z] = appends as PromiseFulfilledResult<number>[];
    expect(z!.value).toBeGreaterThan(y!.value);
    expect((await s.events.feedbackSince(0, 10)).map((f) => [f.seq, f.item])).toEqual([
      [expect.any(Number), 'x'],
      [y!.value, 'y'],
      [z!.value, 'z'],
    ]);
    expect((await s.events.recentDecisions(10)).map((d) => d.id)).toEqual(['ok3', 'ok2', 'ok1']);
    await s.close();
  });

  it('reports a duplicate event id as a duplicate key, keeping the first of two in one batch', async () => {
    const s = await open('gc_dup');
    const r = await Promise.allSettled([s.events.appendDecision(decision('e1', { v: 1 })), s.events.appendDecision(decision('e1', { v: 2 }))]);
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected']);
    expect(isDuplicateKeyError((r[1] as PromiseRejectedResult).reason)).toBe(true);
    expect((await s.events.getDecision('e1'))!.payload).toEqual({ v: 1 });
    await s.close();
  });

  it('fails every write of a batch whose connection dies, loses nothing acknowledged before, and goes on', async () => {
    const s = await open('gc_fail');
    const before = await Promise.all(Array.from({ length: 20 }, (_, i) => s.events.appendFeedback(fb(`a${i}`))));
    await s.events.appendDecision(decision('kept'));
    const blocker = await rawClient(db.url());
    const killer = await rawClient(db.url());
    try {
      // Hold the batch inside its transaction: inserts wait for this lock.
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE gc_fail.feedback IN SHARE MODE');
      const doomed = Array.from({ length: 10 }, (_, i) => s.events.appendFeedback(fb(`b${i}`)));
      doomed.push(s.events.appendDecision(decision('lost')) as Promise<never>);
      const settled = Promise.allSettled(doomed);
      let pid: number | undefined;
      // A loaded CI machine may take seconds to get the batch as far as the lock: poll for up to 30 s.
      const deadline = Date.now() + 30_000;
      while (pid === undefined && Date.now() < deadline) {
        const r = await killer.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
        );
        pid = r.rows[0]?.pid;
        if (pid === undefined) await new Promise((r) => setTimeout(r, 25));
      }
      expect(pid).toBeDefined();
      await killer.query('SELECT pg_terminate_backend($1)', [pid]);
      const results = await settled;
      expect(results.every((r) => r.status === 'rejected')).toBe(true);
      await blocker.query('ROLLBACK');
    } finally {
      await blocker.end();
      await killer.end();
    }
    // The pool replaced the dead connection.
    const after = await s.events.appendFeedback(fb('c'));
    expect(after).toBeGreaterThan(before[before.length - 1]!);
    const items = (await s.events.feedbackSince(0, 100)).map((f) => f.item);
    expect(items).toEqual([...Array.from({ length: 20 }, (_, i) => `a${i}`), 'c']);
    expect((await s.events.recentDecisions(5)).map((d) => d.id)).toEqual(['kept']);
    await s.close();
  });
});

describe('postgres durability and order', () => {
  it('resolves a write only after its COMMIT: another connection sees the row as soon as it resolves, never before', async () => {
    const s = await open('dur_commit');
    await s.events.countDecisions();
    const reader = await rawClient(db.url());
    const blocker = await rawClient(db.url());
    try {
      for (let i = 0; i < 30; i++) {
        await s.events.appendDecision(decision(`d${i}`));
        const r = await reader.query('SELECT 1 FROM dur_commit.decisions WHERE id = $1', [`d${i}`]);
        expect(r.rowCount).toBe(1);
        const seq = await s.events.appendFeedback(fb(`f${i}`));
        const f = await reader.query('SELECT item FROM dur_commit.feedback WHERE seq = $1', [seq]);
        expect(f.rows).toEqual([{ item: `f${i}` }]);
      }
      // Hold the commit back: the promise must stay pending, and the row invisible, until it happens.
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE dur_commit.decisions IN SHARE MODE');
      let settled = false;
      const w = s.events.appendDecision(decision('held')).finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 300));
      expect(settled).toBe(false);
      expect((await reader.query("SELECT 1 FROM dur_commit.decisions WHERE id = 'held'")).rowCount).toBe(0);
      await blocker.query('COMMIT');
      await w;
      expect((await reader.query("SELECT 1 FROM dur_commit.decisions WHERE id = 'held'")).rowCount).toBe(1);
    } finally {
      await reader.end();
      await blocker.end();
      await s.close();
    }
  });

  it('pages feedback by seq without missing rows while three stores write at once', async () => {
    // Three stores on the same tables stand for three servers: their seqs interleave.
    const stores = await Promise.all([0, 1, 2].map(() => open('ord_two', 'pool=4')));
    const seen: number[] = [];
    let writing = true;
    const writer = async (s: Store, tag: string) => {
      for (let round = 0; round < 40; round++) {
        await Promise.all(Array.from({ length: 8 }, (_, i) => s.events.appendFeedback(fb(`${tag}${round}-${i}`))));
      }
    };
    const reader = (async () => {
      let after = 0;
      for (;;) {
        const stillWriting = writing;
        const page = await stores[0]!.events.feedbackSince(after, 5);
        for (const f of page) seen.push(f.seq!);
        if (page.length > 0) after = page[page.length - 1]!.seq!;
        else if (!stillWriting) break;
      }
    })();
    await Promise.all(stores.map((s, i) => writer(s, `s${i}`)));
    writing = false;
    await reader;
    const all = (await stores[1]!.events.feedbackSince(0, 10_000)).map((f) => f.seq!);
    expect(all).toHaveLength(3 * 40 * 8);
    // The reader, paging while rows were committed, saw every row, each once, in seq order.
    expect(seen).toEqual(all);
    await Promise.all(stores.map((s) => s.close()));
  });

  it('keeps text order byte-wise, as SQLite does', async () => {
    const s = await open('ord_bytes');
    const ids = ['b', 'B', 'a', '_x', 'A', 'é'];
    await s.catalogue.upsert('items', ids.map((id) => ({ id, meta: {}, created: 1, updated: 1 })));
    expect((await s.catalogue.all('items')).map((e) => e.id)).toEqual([...ids].sort());
    await s.close();
  });
});

describe('postgres and sqlite give the same answers', () => {
  /** The same writes, some in one batch, some racing; then every read, seqs removed (PostgreSQL may skip some). */
  async function script(s: Store): Promise<unknown[]> {
    const out: unknown[] = [];
    const settle = async (ps: Promise<unknown>[]) => (await Promise.allSettled(ps)).map((r) => (r.status === 'fulfilled' ? r.value : 'rejected'));
    const exact = [1 / 3, 0.1 + 0.2, 1e-300, 5e-324, 123456789.123456789, -0.5];
    out.push(
      await settle([
        s.events.appendDecision({ ...decision('e1', { deep: { list: [1, 'two', null, true], n: 1e21 } }), propensities: exact, scores: exact, ts: -1500 }),
        s.events.activateDecision('e1'),
        s.events.appendDecision({ ...decision('e2'), activated: false, user: null, snapshotId: 's1', ts: 59_999.5 }),
        s.events.appendDecision(decision('e1')),
        s.events.appendFeedback({ ...fb('x', 0.25, 'e1'), ts: 60_000 }),
        s.events.appendFeedback({ ...fb('y', -1, 'e2'), type: 'reward', value: -1, position: null, propensity: null, user: null }),
        s.events.appendFeedback({ ...fb('x', 0.5, null), type: 'reward', ts: -1 }),
        s.catalogue.upsert('items', [
          { id: 'i1', meta: { t: 'one' }, created: 5, updated: 5 },
          { id: 'i1', meta: { t: 'uno' }, created: 7, updated: 8 },
          { id: 'i0', meta: {}, created: 5, updated: 5 },
        ]),
        s.snapshots.putSnapshot({ id: 's1', created: 1, kind: 'als', source: 'manual', info: { a: [1] } }, Buffer.from([0, 1, 2, 255])),
        s.snapshots.deleteSnapshot('s1'),
        s.snapshots.putSnapshot({ id: 's2', created: 1, kind: 'als', source: 'initial', info: {} }, Buffer.alloc(0)),
        s.keys.putKey({ id: 'k1', scope: 'admin', salt: Buffer.from('s'), hash: Buffer.alloc(32, 7), created: 3, name: 'n' }),
        s.state.putState('bandit', Buffer.from('{}')),
      ]),
    );
    out.push(await settle([s.catalogue.remove('items', 'i0'), s.catalogue.remove('users', 'i0'), s.keys.deleteKey('zz'), s.events.activateDecision('e2')]));
    const noSeq = <T extends { seq?: number }>(xs: T[]) => xs.map(({ seq: _seq, ...rest }) => rest);
    out.push(noSeq(await s.events.decisionsAfter(0, 10)));
    out.push(noSeq(await s.events.recentDecisions(10)));
    out.push(noSeq(await s.events.feedbackSince(0, 10)));
    out.push(noSeq(await s.events.feedbackFor(['e2', 'e1', 'none'])));
    out.push(await s.events.timeline(60_000, -10_000));
    out.push(await s.events.topItems(10));
    out.push(await s.events.countDecisions(), await s.events.countFeedback());
    out.push(await s.catalogue.all('items'), await s.catalogue.list('items', 0, 1), await s.catalogue.get('items', 'i1'), await s.catalogue.count('users'));
    out.push(await s.snapshots.listSnapshots(), await s.snapshots.getSnapshot('s2'), await s.snapshots.getSnapshot('s1'));
    out.push(await s.keys.listKeys(), await s.state.getState('bandit'));
    return out;
  }

  it('for one script of writes and reads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-pg-diff-'));
    try {
      const lite = openStore(`sqlite:${join(dir, 'diff.db')}`);
      const want = await script(lite);
      await lite.close();
      const pgs = await open('diff');
      const got = await script(pgs);
      await pgs.close();
      expect(got).toEqual(want);
      // The floats went through jsonb unchanged, bit for bit.
      const d = (got[2] as DecisionRecord[])[0]!;
      expect(d.propensities).toEqual([1 / 3, 0.1 + 0.2, 1e-300, 5e-324, 123456789.123456789, -0.5]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
