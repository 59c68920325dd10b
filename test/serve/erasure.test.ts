import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { datasetFromTriples, type Dataset } from '../../src/data/dataset.js';
import { Pseudonymiser } from '../../src/privacy/pseudonym.js';
import type { StartOptions } from '../../src/serve/server.js';
import { rawClient, testDatabase } from '../store/postgres-db.js';
import { ErasureMarks } from '../../src/serve/erasure.js';
import { startServer } from '../../src/serve/server.js';
import { ADMIN, startTestServer, type TestServer } from './helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'chorus-erasure-'));
  dirs.push(d);
  return d;
}

/**
 * 6 users × 12 items with ids that cannot occur by chance in event ids, snapshot encodings or
 * hashes ("zq-…-user"), so a scan for one of them finds only that user's own rows.
 */
function people(): Dataset {
  const triples: [string, string, number, number][] = [];
  let t = 1_600_000_000;
  for (let u = 1; u <= 6; u++) for (let i = 1; i <= 12; i++) if ((u * 7 + i * 3) % 4 === 0 || i <= 2) triples.push([`zq-${u}-user`, `m${i}`, 1 + ((u + i) % 5), t++]);
  return datasetFromTriples(triples, 'people');
}

const GONE = 'zq-1-user';
const ONLINE = 'zq-online-user';
const KEY = 'erasure-test-key-0123456789abcdef0123';

/**
 * Every TEXT and BLOB value of every table of the SQLite store that contains `needle`, as
 * "table.column" (read through a second connection: it sees what is committed).
 */
function storeHits(path: string, needles: readonly string[]): string[] {
  const db = new Database(path, { readonly: true });
  try {
    const hits: string[] = [];
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[];
    for (const { name } of tables) {
      for (const row of db.prepare(`SELECT * FROM ${name}`).all() as Record<string, unknown>[]) {
        for (const [col, v] of Object.entries(row)) {
          for (const n of needles) {
            if ((typeof v === 'string' && v.includes(n)) || (Buffer.isBuffer(v) && v.includes(n))) hits.push(`${name}.${col} (${n})`);
          }
        }
      }
    }
    return [...new Set(hits)];
  } finally {
    db.close();
  }
}

/** Needles found in the store's files (database, WAL) byte for byte. */
function fileHits(path: string, needles: readonly string[]): string[] {
  const out: string[] = [];
  for (const f of [path, `${path}-wal`]) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(f);
    } catch {
      continue;
    }
    for (const n of needles) if (bytes.includes(n)) out.push(`${f} (${n})`);
  }
  return out;
}

const ENGINE: StartOptions['engine'] = {
  // ALS keeps a factor row per user: the snapshot rewrite has something real to remove.
  model: { kind: 'als', config: { factors: 4, iterations: 3 } },
  retrainInWorker: false,
  // No exploration: two users the model cannot tell apart get the same slate.
  policy: { epsilon: 0 },
  checkpointEvery: 1,
  checkpointSeconds: 0,
};

async function traffic(s: TestServer, users: readonly string[]): Promise<void> {
  for (let t = 0; t < 12; t++) {
    const user = users[t % users.length]!;
    const r = await s.call('POST', '/recommend', { user, k: 3, context: { hour: t % 24 } });
    expect(r.status).toBe(200);
    expect(r.body.user).toBe(user);
    await s.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[t % 3].id, type: 'click' });
  }
  // Feedback without a decision, and a catalogue row with metadata, for the online-only user.
  await s.call('POST', '/feedback', { user: ONLINE, item: 'm5', type: 'purchase' });
  await s.call('PUT', `/users/${ONLINE}`, { text: 'likes m5' });
  await s.engine.settle();
}

const slate = async (s: TestServer, user: string): Promise<string[]> =>
  (await s.call('POST', '/recommend', { user, k: 5, excludeSeen: true })).body.items.map((x: { id: string }) => x.id);

describe('DELETE /users/:id erases the user', () => {
  it('from every table, every snapshot, the event log and memory; after a restart and a retrain too', async () => {
    const dir = tmp();
    const db = join(dir, 'chorus.db');
    const s = await startTestServer({ dir, dataset: people(), engine: ENGINE });
    await traffic(s, [GONE, ONLINE, 'zq-2-user', 'zq-3-user']);
    // A second stored snapshot (a restore point) that knows the user too, and a third one deleted
    // before the erasure: its body is left on SQLite's free list, which the erasure must wipe.
    expect((await s.call('POST', '/snapshots', { activate: false })).status).toBe(201);
    const dropped = (await s.call('POST', '/snapshots', { activate: false })).body.id as string;
    expect((await s.call('DELETE', `/snapshots/${dropped}`)).status).toBe(204);
    expect(storeHits(db, [GONE, ONLINE]).length).toBeGreaterThan(0);
    const feedbackBefore = await s.store.events.countFeedback();

    const r = await s.call('DELETE', `/users/${GONE}`);
    expect(r.status).toBe(200);
    const c = r.body.erasure.counts;
    expect(c.decisions).toBe(3);
    expect(c.feedback).toBe(3);
    expect(c.users).toBe(1);
    expect(c.snapshots).toBe(2);
    expect(c.baseInteractions).toBeGreaterThan(0);
    expect(r.text).not.toContain(GONE);
    expect((await s.call('DELETE', `/users/${ONLINE}`)).status).toBe(200);
    expect(await s.store.events.countFeedback()).toBe(feedbackBefore - 3 - 4);

    // Nothing in any table, nor in the files once the WAL is checkpointed.
    expect(storeHits(db, [GONE, ONLINE])).toEqual([]);
    expect(fileHits(db, [GONE, ONLINE])).toEqual([]);
    for (const m of (await s.call('GET', '/snapshots')).body.snapshots) {
      const body = (await s.store.snapshots.getSnapshot(m.id))!.body;
      expect(body.includes(GONE)).toBe(false);
    }
    const events = await s.call('GET', '/events?limit=1000');
    expect(events.body.events.length).toBeGreaterThan(0);
    expect(events.text).not.toContain(GONE);
    expect(events.text).not.toContain(ONLINE);
    expect((await s.call('GET', `/users/${ONLINE}`)).status).toBe(404);
    // The audit names no one.
    const audit = await s.call('GET', '/erasures');
    expect(audit.body.erasures).toHaveLength(2);
    expect(audit.text).not.toMatch(/zq-/);
    // Per-item totals lost the erased feedback: they add up to what is left in the log.
    const top = await s.store.events.topItems(100);
    expect(top.reduce((a, x) => a + x.feedback, 0)).toBe(await s.store.events.countFeedback());
    // A second erasure finds nothing.
    expect((await s.call('DELETE', `/users/${GONE}`)).status).toBe(404);
    await s.close();

    // Restart: the base data still lists the user, and the tombstone keeps them out.
    const b = await startTestServer({ dir, dataset: people(), engine: ENGINE });
    expect(storeHits(db, [GONE, ONLINE])).toEqual([]);
    expect(b.engine.trainingData().users.has(GONE)).toBe(false);
    const retrained = await b.call('POST', '/snapshots', { retrain: true });
    expect(retrained.status).toBe(201);
    expect(retrained.body.info.users).toBe(5);
    expect((await b.store.snapshots.getSnapshot(retrained.body.id))!.body.includes(GONE)).toBe(false);
    expect(storeHits(db, [GONE, ONLINE])).toEqual([]);

    // Cold start at once: the erased user is served exactly as a user never seen.
    expect(await slate(b, GONE)).toEqual(await slate(b, 'zq-never-seen'));
    await b.close();
  }, 60_000);

  it('gives cold-start recommendations at once, before any restart', async () => {
    const s = await startTestServer({ dir: tmp(), dataset: people(), engine: ENGINE });
    await traffic(s, [GONE, 'zq-2-user']);
    const fresh = await slate(s, 'zq-brand-new');
    expect(await slate(s, GONE)).not.toEqual(fresh);
    expect((await s.call('DELETE', `/users/${GONE}`)).status).toBe(200);
    expect(await slate(s, GONE)).toEqual(await slate(s, 'zq-brand-new-2'));
    await s.close();
  }, 60_000);

  it("drops an agent policy's open sessions of the user, and its checkpoint no longer names them", async () => {
    const dir = tmp();
    const db = join(dir, 'chorus.db');
    // A long reward wait keeps the user's decisions pending in the agent's sessions (and in its checkpoint).
    const s = await startTestServer({ dir, dataset: people(), engine: { ...ENGINE, agent: { name: 'ucb' }, rewardWaitSeconds: 3600 } });
    await traffic(s, [GONE, 'zq-2-user']);
    await s.engine.checkpoint();
    expect(storeHits(db, [GONE]).some((h) => h.startsWith('state.value'))).toBe(true);
    // The erasure re-aligns only the agent's user side (bindErased), not a full bind (which refits its item space).
    const policy = s.engine.policy as Required<Pick<typeof s.engine.policy, 'bind' | 'bindErased'>>;
    const calls: string[] = [];
    const { bind, bindErased } = policy;
    policy.bind = (...a) => (calls.push('bind'), bind.apply(policy, a));
    policy.bindErased = (...a) => (calls.push(`bindErased ${a[2]}`), bindErased.apply(policy, a));
    const r = await s.call('DELETE', `/users/${GONE}`);
    expect(r.status).toBe(200);
    expect(calls).toEqual([`bindErased ${people().users.toIndex(GONE)}`]);
    expect(r.body.erasure.counts.policyEntries).toBeGreaterThan(0);
    expect(storeHits(db, [GONE])).toEqual([]);
    expect(fileHits(db, [GONE])).toEqual([]);
    await s.close();
    expect(storeHits(db, [GONE])).toEqual([]);
  }, 60_000);

  it('scrubs a retrain that was fitting while the user was erased', async () => {
    // The fit runs in a worker thread, so the erasure lands while it runs: the erasure rewrites
    // only the snapshot stored before (the retrained one does not exist yet), and the retrain
    // scrubs its own body before storing it.
    const s = await startTestServer({ dir: tmp(), dataset: people(), engine: { ...ENGINE, retrainInWorker: true } });
    await traffic(s, [GONE, 'zq-2-user']);
    const before = (await s.store.snapshots.listSnapshots()).map((m) => m.id);
    expect(before).toHaveLength(1);
    const users = s.engine.trainingData().nUsers;
    const retrain = s.engine.retrain(false);
    expect(s.engine.retrainInProgress).toBe(true);
    const er = await s.engine.eraseUser(GONE);
    // Still fitting when the erasure committed.
    expect(s.engine.retrainInProgress).toBe(true);
    expect(er!.counts.snapshots).toBe(1);
    const meta = await retrain;
    expect(before).not.toContain(meta.id);
    const body = (await s.store.snapshots.getSnapshot(meta.id))!.body;
    expect(body.includes(GONE)).toBe(false);
    // The retrained snapshot was fitted on data that still had the user (the base data was taken
    // before the erasure): it knew them, and the scrub left the row with an empty id.
    expect(meta.info.users).toBe(users);
    for (const m of (await s.call('GET', '/snapshots')).body.snapshots) expect((await s.store.snapshots.getSnapshot(m.id))!.body.includes(GONE)).toBe(false);
    await s.close();
  }, 60_000);
});

describe('an erasure with requests in flight', () => {
  it('feedback committed just before the erasure does not bring the user back into memory, the policy checkpoint or the next retrain', async () => {
    const dir = tmp();
    const db = join(dir, 'chorus.db');
    const s = await startTestServer({ dir, dataset: people(), engine: { ...ENGINE, agent: { name: 'ucb' }, rewardWaitSeconds: 3600 } });
    const r = await s.engine.recommend({ user: GONE, k: 3, excludeSeen: true });
    await s.engine.settle();
    // Both in one turn: the feedback's write is queued before the erasure's, its after-commit
    // work (history, learning) runs after the erasure cleared the user's state.
    const fb = s.engine.feedback({ eventId: r.eventId, item: r.items[0]!.id, type: 'click' });
    const er = s.engine.eraseUser(GONE);
    const [f, x] = await Promise.allSettled([fb, er]);
    expect(f.status).toBe('fulfilled');
    expect(x.status).toBe('fulfilled');
    expect(storeHits(db, [GONE])).toEqual([]);
    expect(s.engine.trainingData().users.has(GONE)).toBe(false);
    await s.engine.settle();
    expect(await s.engine.checkpoint()).toBe(true);
    expect(storeHits(db, [GONE])).toEqual([]);
    const meta = await s.engine.retrain(false);
    expect((await s.store.snapshots.getSnapshot(meta.id))!.body.includes(GONE)).toBe(false);
    expect(storeHits(db, [GONE])).toEqual([]);
    await s.close();
    expect(storeHits(db, [GONE])).toEqual([]);
  }, 60_000);

  it('feedback whose decision was read before the erasure and whose write comes after is refused (404), leaving no row', async () => {
    const dir = tmp();
    const db = join(dir, 'chorus.db');
    // No decision kept in memory: the feedback reads its decision (as for one another server logged).
    const s = await startTestServer({ dir, dataset: people(), engine: { ...ENGINE, recentDecisions: 0 } });
    const r = await s.engine.recommend({ user: GONE, k: 3, excludeSeen: true });
    // A store read with latency (as on PostgreSQL): the erasure commits between the read and the write.
    const events = s.store.events as { getDecision: typeof s.store.events.getDecision };
    const read = events.getDecision.bind(s.store.events);
    events.getDecision = async (id) => {
      const d = await read(id);
      await new Promise((res) => setTimeout(res, 50));
      return d;
    };
    const fb = s.engine.feedback({ eventId: r.eventId, item: r.items[0]!.id, type: 'click' });
    await new Promise((res) => setTimeout(res, 5));
    expect(await s.engine.eraseUser(GONE)).not.toBeNull();
    await expect(fb).rejects.toMatchObject({ status: 404 });
    expect(storeHits(db, [GONE])).toEqual([]);
    expect(s.engine.trainingData().users.has(GONE)).toBe(false);
    await s.close();
  }, 60_000);

  it('feedback on a kept decision, its write queued before an erasure\'s, is stored and then erased with the user', async () => {
    const dir = tmp();
    const db = join(dir, 'chorus.db');
    const s = await startTestServer({ dir, dataset: people(), engine: ENGINE });
    const r = await s.engine.recommend({ user: GONE, k: 3, excludeSeen: true });
    const events = s.store.events as { getDecision: typeof s.store.events.getDecision };
    const read = events.getDecision.bind(s.store.events);
    let reads = 0;
    events.getDecision = (id) => {
      reads++;
      return read(id);
    };
    // Kept in memory: the feedback's write is queued at once, ahead of the erasure's.
    const fb = s.engine.feedback({ eventId: r.eventId, item: r.items[0]!.id, type: 'click' });
    const er = s.engine.eraseUser(GONE);
    expect((await fb).seq).toBeGreaterThan(0);
    expect(await er).not.toBeNull();
    expect(reads).toBe(0);
    // The erasure came after it, and took its row; nothing in memory brings the user back.
    expect(storeHits(db, [GONE])).toEqual([]);
    expect(await s.store.events.countFeedback()).toBe(0);
    expect(s.engine.history(GONE)).toEqual([]);
    expect(s.engine.trainingData().users.has(GONE)).toBe(false);
    await s.close();
  }, 60_000);

  it('a failed erasure commit changes nothing that a retry needs: the retry tombstones the base user', async () => {
    const dir = tmp();
    const s = await startTestServer({ dir, dataset: people(), engine: ENGINE });
    const erasures = s.store.erasures as { eraseUser: typeof s.store.erasures.eraseUser };
    const commit = erasures.eraseUser.bind(s.store.erasures);
    let fail = true;
    erasures.eraseUser = async (req) => {
      if (fail) {
        fail = false;
        throw new Error('SQLITE_FULL: database or disk is full');
      }
      return commit(req);
    };
    await expect(s.engine.eraseUser(GONE)).rejects.toThrow(/SQLITE_FULL/);
    // Not committed: the base data still holds the user.
    expect(s.engine.trainingData().users.has(GONE)).toBe(true);
    const rec = await s.engine.eraseUser(GONE);
    expect(rec?.counts.baseInteractions).toBeGreaterThan(0);
    await s.close();
    const b = await startTestServer({ dir, dataset: people(), engine: ENGINE });
    expect(b.engine.trainingData().users.has(GONE)).toBe(false);
    await b.close();
  }, 60_000);

  it('an unknown id writes nothing: 404, no audit record', async () => {
    const s = await startTestServer({ dir: tmp(), dataset: people(), engine: ENGINE });
    expect((await s.call('DELETE', '/users/zq-no-such-user')).status).toBe(404);
    expect(await s.engine.eraseUser('zq-no-such-user')).toBeNull();
    expect((await s.call('GET', '/erasures')).body.erasures).toEqual([]);
    expect(await s.store.erasures.list(10)).toEqual([]);
    await s.close();
  }, 60_000);

  it('a restart with tombstoned base users does not warn that the store was seeded from other data', async () => {
    const dir = tmp();
    const store = `sqlite:${join(dir, 'chorus.db')}`;
    const start = async (lines: string[]) => startServer({ dataset: people(), store, adminKey: ADMIN, engine: ENGINE, log: (m) => lines.push(m) });
    const first: string[] = [];
    const a = await start(first);
    expect(await a.engine.eraseUser(GONE)).not.toBeNull();
    await a.close();
    const second: string[] = [];
    const b = await start(second);
    expect(second.some((l) => /1 users of the base data were erased/.test(l))).toBe(true);
    expect(second.filter((l) => /seeded from/.test(l))).toEqual([]);
    await b.close();
  }, 60_000);
});

describe('--pseudonymise', () => {
  const p = new Pseudonymiser(KEY);

  it('keeps raw ids out of the store file; answers in the caller ids; erasure removes the pseudonym', async () => {
    const dir = tmp();
    const db = join(dir, 'chorus.db');
    const s = await startTestServer({ dir, dataset: people(), engine: { ...ENGINE, pseudonyms: p } });
    await traffic(s, [GONE, ONLINE, 'zq-2-user']);
    expect((await s.call('POST', '/users/import', undefined, { type: 'text/csv', raw: 'id,age\nzq-imported-user,31\n' })).status).toBe(200);
    expect((await s.call('GET', '/users/zq-imported-user')).body.meta).toEqual({ attributes: { age: 31 } });
    const raw = ['zq-1-user', 'zq-2-user', 'zq-3-user', ONLINE, 'zq-imported-user'];
    // Pseudonyms are what the store holds, and what /events lists.
    expect(storeHits(db, [p.of(GONE), p.of(ONLINE)]).length).toBeGreaterThan(0);
    const events = await s.call('GET', '/events');
    expect(events.body.events[0].user).toBe(p.of(GONE));
    await s.close();
    // Closed: the WAL is checkpointed into the file, and the bytes hold no raw id.
    expect(storeHits(db, raw)).toEqual([]);
    expect(fileHits(db, raw)).toEqual([]);

    const b = await startTestServer({ dir, dataset: people(), engine: { ...ENGINE, pseudonyms: p } });
    const r = await b.call('DELETE', `/users/${GONE}`);
    expect(r.status).toBe(200);
    expect(r.body.erasure.counts.decisions).toBe(4);
    expect(storeHits(db, [GONE, p.of(GONE)])).toEqual([]);
    expect(fileHits(db, [GONE, p.of(GONE)])).toEqual([]);
    await b.close();
  }, 60_000);

  it('refuses to mix modes: raw on a pseudonymised store, pseudonymised on a raw one, another key', async () => {
    const dir = tmp();
    await (await startTestServer({ dir, dataset: people(), engine: { ...ENGINE, pseudonyms: p } })).close();
    await expect(startTestServer({ dir, dataset: people(), engine: ENGINE })).rejects.toMatchObject({ code: 'E_ID_MODE', message: expect.stringMatching(/pseudonymous user ids but this run would write raw/) });
    await expect(startTestServer({ dir, dataset: people(), engine: { ...ENGINE, pseudonyms: new Pseudonymiser(KEY + '!') } })).rejects.toMatchObject({ code: 'E_ID_MODE', message: expect.stringMatching(/another key/) });
    const raw = tmp();
    await (await startTestServer({ dir: raw, dataset: people(), engine: ENGINE })).close();
    await expect(startTestServer({ dir: raw, dataset: people(), engine: { ...ENGINE, pseudonyms: p } })).rejects.toMatchObject({ code: 'E_ID_MODE', message: expect.stringMatching(/raw user ids but this run would write pseudonymous/) });
  }, 60_000);
});

describe('DELETE /users/:id on PostgreSQL', () => {
  const pgdb = testDatabase('erasure');

  /** Every text, jsonb and bytea value of every table in `schema` that contains a needle, as "table.column". */
  async function pgHits(schema: string, needles: readonly string[]): Promise<string[]> {
    const c = await rawClient(pgdb.url());
    try {
      const cols = await c.query<{ table_name: string; column_name: string; data_type: string }>(
        "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND data_type IN ('text', 'jsonb', 'bytea')",
        [schema],
      );
      const hits: string[] = [];
      for (const col of cols.rows) {
        for (const n of needles) {
          const cond = col.data_type === 'bytea' ? `position(convert_to($1, 'UTF8') in "${col.column_name}") > 0` : `"${col.column_name}"::text LIKE '%' || $1 || '%'`;
          const r = await c.query(`SELECT count(*)::int AS n FROM ${schema}."${col.table_name}" WHERE ${cond}`, [n]);
          if (r.rows[0].n > 0) hits.push(`${col.table_name}.${col.column_name} (${n})`);
        }
      }
      return hits;
    } finally {
      await c.end();
    }
  }

  it('leaves no row, snapshot or state entry holding the user, also after a restart and a retrain', async () => {
    const store = pgdb.url('schema=erasure_http');
    const s = await startTestServer({ store, dataset: people(), engine: ENGINE });
    await traffic(s, [GONE, ONLINE, 'zq-2-user']);
    expect((await pgHits('erasure_http', [GONE, ONLINE])).length).toBeGreaterThan(0);
    const r = await s.call('DELETE', `/users/${GONE}`);
    expect(r.status).toBe(200);
    expect(r.body.erasure.counts).toMatchObject({ decisions: 4, feedback: 4, users: 1, snapshots: 1 });
    expect((await s.call('DELETE', `/users/${ONLINE}`)).status).toBe(200);
    expect(await pgHits('erasure_http', [GONE, ONLINE])).toEqual([]);
    expect((await s.call('GET', '/events')).text).not.toContain(GONE);
    await s.close();

    const b = await startTestServer({ store, dataset: people(), engine: ENGINE });
    expect((await b.call('POST', '/snapshots', { retrain: true })).status).toBe(201);
    expect(await pgHits('erasure_http', [GONE, ONLINE])).toEqual([]);
    expect(await slate(b, GONE)).toEqual(await slate(b, 'zq-never-seen'));
    await b.close();
  }, 60_000);

  it('feedback arriving while the erasure runs either is erased with it or is refused (404): never a row left behind', async () => {
    const store = pgdb.url('schema=erasure_race');
    const s = await startTestServer({ store, dataset: people(), engine: ENGINE });
    const outcomes = new Set<string>();
    for (let trial = 0; trial < 4; trial++) {
      const user = `zq-race-${trial}`;
      const r = await s.engine.recommend({ user, k: 3, excludeSeen: true });
      // The erasure starts; the click on the slate just shown comes a moment later (its decision
      // read then runs beside the erasure's transaction).
      const er = s.engine.eraseUser(user);
      await new Promise((res) => setTimeout(res, trial));
      const fb = s.engine.feedback({ eventId: r.eventId, item: r.items[0]!.id, type: 'click' }).then(
        () => 'accepted',
        (e: { status?: number }) => `refused ${e.status}`,
      );
      expect(await er).not.toBeNull();
      const outcome = await fb;
      outcomes.add(outcome);
      expect(['accepted', 'refused 404']).toContain(outcome);
      expect(await pgHits('erasure_race', [user])).toEqual([]);
      await s.engine.settle();
      expect(s.engine.trainingData().users.has(user)).toBe(false);
    }
    await s.close();
  }, 60_000);
});

describe('ErasureMarks', () => {
  it('says which users were erased since a mark, and answers true once an erasure that old was forgotten', () => {
    const m = new ErasureMarks(2);
    const m0 = m.mark();
    expect(m.since('a', m0)).toBe(false);
    m.erased('a');
    expect(m.since('a', m0)).toBe(true);
    expect(m.since('b', m0)).toBe(false);
    expect(m.since(null, m0)).toBe(false);
    const m1 = m.mark();
    expect(m.since('a', m1)).toBe(false);
    m.erased('b');
    m.erased('c'); // 'a' is forgotten (keep = 2)
    expect(m.since('a', m1)).toBe(false); // erased before m1, and 'a''s number (1) is not after it
    expect(m.since('x', m0)).toBe(true); // unknown, but an erasure after m0 was forgotten: conservative
    expect(m.since('x', m1)).toBe(false);
  });
});
