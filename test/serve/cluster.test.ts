/**
 * Several servers and one learner on one PostgreSQL store, with the update bus on the real NATS
 * server (./cluster/roles.ts). Needs PostgreSQL (127.0.0.1:5432) and NATS with JetStream
 * (127.0.0.1:4222): without them these tests fail, saying which is missing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from 'nats';
import { stringify } from '../../src/util/serialize.js';
import { startTestServer, type TestServer } from './helpers.js';
import { testDatabase } from '../store/postgres-db.js';

const NATS = process.env.CHORUS_TEST_NATS ?? 'nats://127.0.0.1:4222';
const db = testDatabase('cluster');

async function natsAnswers(): Promise<void> {
  try {
    const nc = await connect({ servers: NATS, timeout: 3000, maxReconnectAttempts: 0 });
    await nc.close();
  } catch (e) {
    throw new Error(`NATS is not answering at ${NATS} (${(e as Error).message}); these tests need it (nats-server -js, or run .ci/run)`);
  }
}

/** Poll `cond` every 50 ms until it holds; fails after `ms` saying what was awaited. */
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 8000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const open: TestServer[] = [];
afterEach(async () => {
  for (const s of open.splice(0).reverse()) await s.close().catch(() => undefined);
});

async function start(role: 'server' | 'learner' | 'both', store: string, extra: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const s = await startTestServer({ store, bus: NATS, ...extra, engine: { role, syncMs: 200, rewardWaitSeconds: 1, ...extra.engine } });
  open.push(s);
  return s;
}

const state = (s: TestServer): string => stringify(s.engine.policy.getState());

describe('a cluster: servers and one learner on one PostgreSQL store', () => {
  it('feedback logged by any server is learned once by the learner, whose policy every server then serves', async () => {
    await natsAnswers();
    const store = db.url('schema=c1&pool=4');
    const learner = await start('learner', store);
    const a = await start('server', store);
    const b = await start('server', store);
    const before = state(learner);
    expect(state(a)).toBe(before);

    // Slates from server A, clicks sent to server B (as a load balancer would spread them).
    const clicked: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await a.call('POST', '/recommend', { user: `u${1 + (i % 3)}`, k: 3 });
      expect(r.status).toBe(200);
      const item = r.body.items[i % 3].id as string;
      const f = await b.call('POST', '/feedback', { eventId: r.body.eventId, item, type: 'click' });
      expect(f.status).toBe(201);
      clicked.push(item);
    }
    // The learner learns every click (and, once the 1 s windows close, the unclicked positions).
    await until('the learner learned the six clicks', () => learner.engine.counters.learned >= 6);
    // Every window closed and swept: 6 slates of 3, one click each, so 12 positions learn the
    // default reward (the sweep reads each decision before it queues its jobs: wait for all 12).
    await until('the learner closed the reward windows', () => learner.engine.openWindows === 0 && learner.engine.counters.defaultRewards === 12);
    await learner.engine.settle();
    await learner.engine.checkpoint();
    const learned = state(learner);
    expect(learned).not.toBe(before);
    // Every server serves the learner's policy, and learned nothing itself.
    // Within a few sync intervals (200 ms here); the bound is loose for a loaded 2-core CI machine.
    const lag = await until('both servers serve the learner checkpoint', () => state(a) === learned && state(b) === learned, 15_000);
    expect(lag).toBeLessThan(10_000);
    expect(a.engine.counters.learned).toBe(0);
    expect(b.engine.cluster.policyUpdates).toBeGreaterThan(0);
    // Each server holds the users' histories, whichever server took the click.
    await until('server A holds the clicks B logged', () => a.engine.history('u1').length > 0);
    expect(new Set(a.engine.history('u1'))).toEqual(new Set(b.engine.history('u1')));
    // Counted once: the learner's feedback counter is the number of clicks, not twice it.
    expect(learner.engine.counters.feedback.click).toBe(6);
    expect(b.engine.counters.feedback.click).toBe(6);
    await until('server A counted the clicks B logged', () => a.engine.counters.feedback.click === 6);
  });

  it('each role refuses what it does not do; a second learner waits, and takes over when the first stops', async () => {
    await natsAnswers();
    const store = db.url('schema=c2&pool=4');
    // Windows long enough that a decision made before the takeover is still open after it.
    const wait = { engine: { rewardWaitSeconds: 30 } };
    const first = await start('learner', store, wait);
    const server = await start('server', store, wait);
    // Admin changes go to the learner; decisions and feedback to a server.
    const retrain = await server.call('POST', '/snapshots', { retrain: true });
    expect(retrain.status).toBe(409);
    expect(retrain.body.error.message).toMatch(/--role learner/);
    expect((await server.call('DELETE', '/users/u1')).status).toBe(409);
    const rec = await first.call('POST', '/recommend', { user: 'u1', k: 2 });
    expect(rec.status).toBe(409);
    expect(rec.body.error.message).toMatch(/--role server/);
    // A `both` process would be a second learner: refused while one holds the lock.
    await expect(startTestServer({ store, engine: { role: 'both' } })).rejects.toThrow(/holds the learner lock/);

    // A standby: its start waits for the lock.
    let standby: TestServer | null = null;
    const starting = start('learner', store, wait).then((s) => (standby = s));
    await new Promise((r) => setTimeout(r, 1500));
    expect(standby).toBeNull();
    // Feedback logged while the first learner goes away is learned by the next one.
    const r = await server.call('POST', '/recommend', { user: 'u2', k: 3 });
    open.splice(open.indexOf(first), 1);
    const t0 = Date.now();
    await first.close();
    await starting;
    expect(Date.now() - t0).toBeLessThan(5000);
    const f = await server.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[0].id, type: 'click' });
    expect(f.status).toBe(201);
    await until('the new learner learned the click', () => standby!.engine.counters.learned >= 1);

    // A snapshot the new learner activates reaches the server.
    const re = await standby!.call('POST', '/snapshots', { retrain: true });
    expect(re.status).toBe(201);
    await until('the server serves the retrained snapshot', () => server.engine.activeSnapshot.id === re.body.id);
  });

  it('an erasure on the learner leaves every server\'s memory', async () => {
    await natsAnswers();
    const store = db.url('schema=c3&pool=4');
    const learner = await start('learner', store);
    const a = await start('server', store);
    const r = await a.call('POST', '/recommend', { user: 'u9', k: 3 });
    expect((await a.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[0].id, type: 'click' })).status).toBe(201);
    expect(a.engine.history('u9')).toEqual([r.body.items[0].id]);
    await until('the learner holds the click', () => learner.engine.history('u9').length === 1);
    const del = await learner.call('DELETE', '/users/u9');
    expect(del.status).toBe(200);
    await until('the server dropped the erased user', () => a.engine.history('u9').length === 0, 3000);
    expect(await a.store.events.countFeedback()).toBe(0);
  });

  it('the learner\'s erasure notice drops the decisions a server kept for their feedback', async () => {
    await natsAnswers();
    const store = db.url('schema=c6&pool=4');
    const learner = await start('learner', store);
    const a = await start('server', store);
    const reads: string[] = [];
    const ev = a.store.events;
    const get = ev.getDecision.bind(ev);
    ev.getDecision = (id) => {
      reads.push(id);
      return get(id);
    };
    const r = await a.call('POST', '/recommend', { user: 'u8', k: 3 });
    // Kept: the click is checked against the decision in memory, not read.
    expect((await a.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[0].id, type: 'click' })).status).toBe(201);
    expect(reads).toEqual([]);
    expect((await learner.call('DELETE', '/users/u8')).status).toBe(200);
    await until('the server heard the erasure', () => a.engine.history('u8').length === 0, 3000);
    // Dropped with the notice: the decision is read (and is gone). Still kept, it would have
    // answered "not shown" for this item without a read.
    const f = await a.call('POST', '/feedback', { eventId: r.body.eventId, item: 'zzz', type: 'click' });
    expect(f.status).toBe(404);
    expect(f.body.error.message).toMatch(/unknown event/);
    expect(reads).toEqual([r.body.eventId]);
    expect(await a.store.events.countFeedback()).toBe(0);
  });

  it('a click committed while the learner reads the log is learned as a click, not replaced by the default reward', async () => {
    const store = db.url('schema=c4&pool=4');
    const learner = await start('learner', store, { engine: { rewardWaitSeconds: 1 } });
    const a = await start('server', store, { engine: { rewardWaitSeconds: 1 } });
    const learned: { position: number; reward: number }[] = [];
    const pol = learner.engine.policy as unknown as { learn: (p: unknown, pos: number, r: number) => boolean };
    const origLearn = pol.learn.bind(pol);
    pol.learn = (p, pos, r) => { learned.push({ position: pos, reward: r }); return origLearn(p, pos, r); };
    const ev = learner.store.events as unknown as { decisionsAfter: (a: number, n: number) => Promise<unknown[]> };
    const orig = ev.decisionsAfter.bind(ev);
    let armed = true;
    let item = '';
    ev.decisionsAfter = async (after, n) => {
      const rows = await orig(after, n);
      if (armed) {
        armed = false;
        // The decision and its click commit after this read, before the tail reads feedback.
        const r = await a.call('POST', '/recommend', { user: 'u1', k: 3 });
        item = r.body.items[0].id;
        expect((await a.call('POST', '/feedback', { eventId: r.body.eventId, item, type: 'click' })).status).toBe(201);
      }
      return rows;
    };
    await until('the decision was made', () => item !== '');
    await until('the learner closed the window', () => learner.engine.counters.defaultRewards >= 2 && learner.engine.openWindows === 0);
    expect(learned).toContainEqual({ position: 0, reward: 1 });
  });

  it('a server does not bring an erased user back through its feedback tail', async () => {
    const store = db.url('schema=c5&pool=4');
    const learner = await start('learner', store, { engine: { rewardWaitSeconds: 1 } });
    const a = await start('server', store, { engine: { rewardWaitSeconds: 1 } });
    const b = await start('server', store, { engine: { rewardWaitSeconds: 1 } });
    const r = await b.call('POST', '/recommend', { user: 'u9', k: 3 });
    const ev = a.store.events as unknown as { feedbackSince: (a: number, n: number) => Promise<unknown[]> };
    const orig = ev.feedbackSince.bind(ev);
    let armed = true;
    let done = false;
    ev.feedbackSince = async (after, n) => {
      const rows = await orig(after, n);
      if (armed && rows.length > 0) {
        armed = false;
        // The erasure commits (and its notice reaches A) after A read u9's click, before A counts it.
        expect((await learner.call('DELETE', '/users/u9')).status).toBe(200);
        await new Promise((res) => setTimeout(res, 500));
        done = true;
      }
      return rows;
    };
    expect((await b.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[0].id, type: 'click' })).status).toBe(201);
    await until('the erasure ran', () => done);
    await new Promise((res) => setTimeout(res, 1500));
    expect(a.engine.history('u9')).toEqual([]);
  });
});
