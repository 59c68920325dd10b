/**
 * The candidate-pool cache shared through Redis (`chorus serve --redis`, src/serve/shared-pools.ts):
 * servers of one cluster serve each other's pools, exactly — a change to anything a pool depends on
 * (catalogue, snapshot, the user's history) is a miss — an erasure deletes the user's entry, and a
 * Redis that dies or stalls costs no request more than the lookup timeout. Needs PostgreSQL, NATS
 * and Redis (CHORUS_TEST_PG, CHORUS_TEST_NATS, CHORUS_TEST_REDIS; .ci/run starts them) and a
 * `redis-server` binary for the private Redis the failure tests stop.
 */
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { Pseudonymiser } from '../../src/privacy/pseudonym.js';
import { Engine } from '../../src/serve/engine.js';
import { POOL_CACHE_KEY, poolCacheIdentity, SharedPools, type PoolIdentity } from '../../src/serve/shared-pools.js';
import { openStore } from '../../src/store/open.js';
import { stringify } from '../../src/util/serialize.js';
import { startTestServer, type TestServer } from './helpers.js';
import { testDatabase } from '../store/postgres-db.js';

const REDIS = process.env.CHORUS_TEST_REDIS ?? 'redis://127.0.0.1:6379';
const NATS = process.env.CHORUS_TEST_NATS ?? 'nats://127.0.0.1:4222';
const db = testDatabase('poolcache');
const redis = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 1 });

/** Poll `cond` every 25 ms until it holds; fails after `ms` saying what was awaited. */
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 8000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const open: TestServer[] = [];
const prefixes = new Set<string>();
const redisProcs: ReturnType<typeof spawn>[] = [];
afterEach(async () => {
  for (const s of open.splice(0).reverse()) await s.close().catch(() => undefined);
  for (const p of redisProcs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});
afterAll(async () => {
  // This run's keys (the store's random identity names them); the TTL would remove them too.
  if (redis.status === 'ready') {
    for (const p of prefixes) {
      const keys = await redis.keys(`${p}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
  }
  redis.disconnect();
});

/** A Redis of the test's own (the failure tests stop it; killed after each test). */
async function privateRedis(): Promise<{ url: string; proc: ReturnType<typeof spawn> }> {
  const port = 20_000 + randomInt(20_000);
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  redisProcs.push(proc);
  for (let i = 0; i < 50; i++) {
    if (await new Promise<boolean>((ok) => connect(port, '127.0.0.1').once('connect', function (this: Socket) { this.destroy(); ok(true); }).once('error', () => ok(false)))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url: `redis://127.0.0.1:${port}`, proc };
}

/**
 * Item kNN: a user's pool depends on their seen items, so a stale pool would show. Greedy cb, and
 * no reward window closing during a test: a slate is a function of the pool and of a policy state
 * that changes only when a click is learned.
 */
const ENGINE = { model: { kind: 'itemknn', config: {} }, policy: { epsilon: 0 }, syncMs: 100, rewardWaitSeconds: 600 };
const policyState = (s: TestServer): string => stringify(s.engine.policy.getState());

/** `store` null: a SQLite store in a temporary folder, removed on close (a `both` server). */
async function start(role: 'server' | 'learner' | 'both', store: string | null, withRedis: string | null = REDIS): Promise<TestServer> {
  const s = await startTestServer({
    ...(store ? { store } : {}),
    ...(role === 'both' ? {} : { bus: NATS }),
    engine: { ...ENGINE, role },
    // No rate limits: the failure tests measure the pool cache's waits alone.
    server: { rateLimit: false, authFailureLimit: false, ...(withRedis ? { redis: withRedis } : {}) },
  });
  open.push(s);
  return s;
}

async function keyOf(s: TestServer, user: string): Promise<string> {
  const identity = (await poolCacheIdentity(s.store.state, false)) as PoolIdentity;
  const key = new SharedPools({ client: redis, notice: () => {}, close: async () => {} }, identity, 600).keyOf(user);
  prefixes.add(key.slice(0, key.lastIndexOf(':') + 1));
  return key;
}

const slate = async (s: TestServer, user: string) => {
  const r = await s.call('POST', '/recommend', { user, k: 4 });
  expect(r.status).toBe(200);
  return r.body.items.map((x: { id: string; score: number }) => [x.id, x.score]) as [string, number][];
};
/** The shared level's lookups: hits, misses, and failed reads. */
const shared = (s: TestServer) => {
  const { hits, misses, errors } = s.engine.sharedPoolStats;
  return { hits, misses, errors };
};
/** A temporary folder for a start expected to fail (startTestServer removes its own only on close). */
async function inTempDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-poolcache-'));
  try {
    await run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the candidate-pool cache shared through Redis', () => {
  it('a pool one server computed is a hit on another, with the slate a server without Redis computes', async () => {
    await redis.connect();
    const store = db.url('schema=p1&pool=4');
    await start('learner', store);
    const a = await start('server', store);
    const b = await start('server', store);
    const alone = await start('server', store, null);
    const key = await keyOf(a, 'u1');

    const fromA = await slate(a, 'u1');
    expect(shared(a)).toEqual({ hits: 0, misses: 1, errors: 0 });
    // Written without the request waiting for it.
    await until('A wrote the pool', async () => (await redis.exists(key)) === 1, 3000);
    const fromB = await slate(b, 'u1');
    expect(shared(b)).toEqual({ hits: 1, misses: 0, errors: 0 });
    expect(fromB).toEqual(fromA);
    expect(await slate(alone, 'u1')).toEqual(fromA);
    // The key names neither the user nor anything reversible to them; the TTL is set.
    expect(key).not.toContain('u1');
    expect(await redis.pttl(key)).toBeGreaterThan(590_000);
    // A second request on B is an in-process hit: Redis is not asked again.
    await slate(b, 'u1');
    expect(shared(b).hits + shared(b).misses).toBe(1);
    expect(b.engine.poolStats.hits).toBe(1);
    const metrics = await b.call('GET', '/metrics');
    expect(metrics.text).toMatch(/chorus_pool_cache_shared_total\{result="hit"\} 1/);
    // Turning the shared level off keeps what it counted: a counter never goes backwards.
    b.engine.useSharedPools(null);
    expect(shared(b)).toEqual({ hits: 1, misses: 0, errors: 0 });
    expect((await b.call('GET', '/metrics')).text).toMatch(/chorus_pool_cache_shared_total\{result="hit"\} 1/);
  });

  it('a catalogue change, a new snapshot and new feedback for the user each make it a miss, and the new pool is shared again', async () => {
    if (redis.status !== 'ready') await redis.connect();
    const store = db.url('schema=p2&pool=4');
    const learner = await start('learner', store);
    const a = await start('server', store);
    const b = await start('server', store);
    const user = 'u2';
    const key = await keyOf(a, user);
    const written = async () => (await redis.getBuffer(key))?.toString('base64') ?? '';
    /** A computes (a shared miss), then B serves A's pool (a shared hit). */
    const computeOnAThenHitOnB = async (): Promise<[string, number][]> => {
      const before = await written();
      const [a0, b0] = [shared(a), shared(b)];
      const s = await slate(a, user);
      expect(shared(a)).toEqual({ ...a0, misses: a0.misses + 1 });
      await until('A wrote the new pool', async () => (await written()) !== before, 3000);
      expect(await slate(b, user)).toEqual(s);
      expect(shared(b)).toEqual({ ...b0, hits: b0.hits + 1 });
      return s;
    };
    const first = await computeOnAThenHitOnB();

    // Catalogue: an item of the pool deleted on the learner. Both servers follow; B's entry (A's
    // pool) is for the old catalogue: a miss on whichever server asks first.
    const gone = first[0]![0];
    expect((await learner.call('DELETE', `/items/${gone}`)).status).toBe(204);
    const items = learner.engine.catalogueSize('items');
    await until('both servers follow the catalogue', () => a.engine.catalogueSize('items') === items && b.engine.catalogueSize('items') === items);
    const afterDelete = await computeOnAThenHitOnB();
    expect(afterDelete.map(([id]) => id)).not.toContain(gone);

    // A new snapshot (a retrain on the learner).
    const re = await learner.call('POST', '/snapshots', { retrain: true });
    expect(re.status).toBe(201);
    await until('both servers serve the retrained snapshot', () => a.engine.activeSnapshot.id === re.body.id && b.engine.activeSnapshot.id === re.body.id);
    await computeOnAThenHitOnB();

    // New feedback for the user on A: A's own history changes at once (a miss there); B serves the
    // new pool once it has followed the click into its own history (the same state, so a hit).
    // Twice: the first click also moves the user from their model row to fold-in items; the
    // second changes only which items they have seen.
    for (let click = 1; click <= 2; click++) {
      const r = await a.call('POST', '/recommend', { user, k: 4 });
      const a0 = shared(a);
      expect((await a.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[1].id, type: 'click' })).status).toBe(201);
      await until('B follows the click, the learner learns it', () => b.engine.history(user).length === click && learner.engine.counters.learned === click);
      // Checkpointed now (not at the next checkpointSeconds), so that both servers serve one policy.
      await learner.engine.settle();
      await learner.engine.checkpoint();
      const learned = policyState(learner);
      await until('both servers serve the policy that learned it', () => policyState(a) === learned && policyState(b) === learned);
      const b0 = shared(b);
      const before = await written();
      const s = await slate(a, user);
      expect(shared(a)).toEqual({ ...a0, misses: a0.misses + 1 });
      await until('A wrote the new pool', async () => (await written()) !== before, 3000);
      expect(await slate(b, user)).toEqual(s);
      expect(shared(b)).toEqual({ ...b0, hits: b0.hits + 1 });
    }
  });

  it('a server that hears an erasure deletes the user\'s entry itself (the learner\'s deletes go to another Redis here)', async () => {
    if (redis.status !== 'ready') await redis.connect();
    const store = db.url('schema=p3&pool=4');
    const learner = await start('learner', store, (await privateRedis()).url);
    const a = await start('server', store);
    const key = await keyOf(a, 'u3');
    const other = await keyOf(a, 'u4');
    await slate(a, 'u3');
    await slate(a, 'u4');
    await until('A wrote both pools', async () => (await redis.exists(key, other)) === 2, 3000);
    expect((await learner.call('DELETE', '/users/u3')).status).toBe(200);
    await until('the erased user\'s entry is gone', async () => (await redis.exists(key)) === 0, 3000);
    expect(await redis.exists(other)).toBe(1);
  });

  it('a server that heard an erasure writes no pool for the user until it has re-read the snapshot, then deletes the key again', async () => {
    if (redis.status !== 'ready') await redis.connect();
    const store = db.url('schema=p6&pool=4');
    const learner = await start('learner', store);
    const a = await start('server', store);
    const key = await keyOf(a, 'u1');
    const [k2, k3] = [await keyOf(a, 'u2'), await keyOf(a, 'u3')];
    await slate(a, 'u1');
    await until('A wrote the pool', async () => (await redis.exists(key)) === 1, 3000);
    // A slow store: A's re-read of the rewritten snapshot takes 1.5 s, during which its model
    // still holds u1's row (A's only reads of a snapshot after its start are these re-reads).
    const read = a.store.snapshots.getSnapshot.bind(a.store.snapshots);
    let rereads = 0;
    let reread = 0;
    vi.spyOn(a.store.snapshots, 'getSnapshot').mockImplementation(async (id) => {
      rereads++;
      await new Promise((r) => setTimeout(r, 1500));
      const snap = await read(id);
      reread++;
      return snap;
    });
    expect((await learner.call('DELETE', '/users/u1')).status).toBe(200);
    await until('A heard the notice and re-reads the snapshot', () => rereads > 0, 3000);
    await until('the entry is gone', async () => (await redis.exists(key)) === 0, 3000);
    // In the window: the pool A computes from the old row is neither looked up nor written. A's
    // writes land in order, so once u2's pool is in Redis a write for u1 before it would be too.
    const before = shared(a);
    await slate(a, 'u1');
    expect(shared(a)).toEqual(before);
    await slate(a, 'u2');
    await until('A wrote u2\'s pool', async () => (await redis.exists(k2)) === 1, 3000);
    expect(await redis.exists(key)).toBe(0);
    // A server that has not heard the notice yet writes the user's entry back in the window.
    await redis.set(key, 'written by a lagging server', 'PX', 600_000);
    expect(reread).toBe(0);
    await until('A re-read the rewritten snapshot', () => reread > 0, 4000);
    await until('A deleted the entry again', async () => (await redis.exists(key)) === 0, 3000);
    // Now u1 is nobody to A's model (no row, no history): nothing is written for them.
    await slate(a, 'u1');
    await slate(a, 'u3');
    await until('A wrote u3\'s pool', async () => (await redis.exists(k3)) === 1, 3000);
    expect(await redis.exists(key)).toBe(0);
  });

  it('after an erasure on a single server, the user\'s requests (one racing it included) write nothing to Redis', async () => {
    if (redis.status !== 'ready') await redis.connect();
    const s = await start('both', null);
    const key = await keyOf(s, 'u2');
    const other = await keyOf(s, 'u3');
    await slate(s, 'u2');
    await until('the pool is written', async () => (await redis.exists(key)) === 1, 3000);
    const racing = slate(s, 'u2');
    expect((await s.call('DELETE', '/users/u2')).status).toBe(200);
    await racing;
    await slate(s, 'u2');
    await slate(s, 'u3');
    await until('u3\'s pool is written (after any write for u2)', async () => (await redis.exists(other)) === 1, 3000);
    expect(await redis.exists(key)).toBe(0);
  });

  it('a user the model does not know and who has no history (any id) never reaches Redis', async () => {
    if (redis.status !== 'ready') await redis.connect();
    const s = await start('both', null);
    const nobody = `nobody-${randomInt(1_000_000_000)}`;
    const key = await keyOf(s, nobody);
    const known = await keyOf(s, 'u1');
    await slate(s, nobody);
    await slate(s, `nobody-else-${randomInt(1_000_000_000)}`);
    expect(shared(s)).toEqual({ hits: 0, misses: 0, errors: 0 });
    await slate(s, 'u1');
    expect(shared(s)).toEqual({ hits: 0, misses: 1, errors: 0 });
    await until('u1\'s pool is written (after any write for the unknown ids)', async () => (await redis.exists(known)) === 1, 3000);
    expect(await redis.exists(key)).toBe(0);
  });

  it('under --pseudonymise the key is made from the pseudonym, and erasure by the caller\'s id deletes it', async () => {
    if (redis.status !== 'ready') await redis.connect();
    const p = new Pseudonymiser('pool-cache-test-key-0123456789abcdef');
    const s = await startTestServer({ engine: { ...ENGINE, pseudonyms: p }, server: { rateLimit: false, authFailureLimit: false, redis: REDIS } });
    open.push(s);
    const key = await keyOf(s, p.of('u5'));
    await slate(s, 'u5');
    await until('the pool is written under the pseudonym\'s key', async () => (await redis.exists(key)) === 1, 3000);
    expect(await redis.exists(await keyOf(s, 'u5'))).toBe(0);
    expect((await s.call('DELETE', '/users/u5')).status).toBe(200);
    await until('the entry is gone', async () => (await redis.exists(key)) === 0, 3000);
  });
});

describe('the shared level off, or misconfigured', () => {
  it('a single server without Redis, or with --pool-cache-ttl 0, writes no pool-cache identity and hashes no snapshot', async () => {
    const alone = await start('both', null, null);
    expect(await alone.store.state.getState(POOL_CACHE_KEY)).toBeFalsy();
    expect(alone.engine['snapshots'].model.contentId).toBeUndefined();
    const off = await startTestServer({ engine: ENGINE, server: { rateLimit: false, authFailureLimit: false, redis: REDIS }, poolCacheTtl: 0 });
    open.push(off);
    await slate(off, 'u1');
    expect(await off.store.state.getState(POOL_CACHE_KEY)).toBeFalsy();
    expect(off.engine['snapshots'].model.contentId).toBeUndefined();
  });

  it('a malformed pool-cache identity in the store stops the start, naming the state key', async () => {
    await inTempDir(async (dir) => {
      const st = openStore(`sqlite:${join(dir, 'chorus.db')}`);
      await st.state.putState(POOL_CACHE_KEY, Buffer.from('{"id":1}'));
      await st.close();
      await expect(startTestServer({ dir, engine: ENGINE, server: { rateLimit: false, authFailureLimit: false, redis: REDIS } })).rejects.toThrow(/serve\.pool-cache/);
    });
  });

  it('a Redis that does not answer at start stops it, with the engine closed', async () => {
    const closed = vi.spyOn(Engine.prototype, 'close');
    try {
      await inTempDir(async (dir) => {
        await expect(startTestServer({ dir, engine: ENGINE, server: { rateLimit: false, authFailureLimit: false, redis: 'redis://127.0.0.1:1' } })).rejects.toMatchObject({ code: 'E_REDIS_UNREACHABLE' });
      });
      expect(closed).toHaveBeenCalledTimes(1);
    } finally {
      closed.mockRestore();
    }
  });

  it('refuses a TTL that is not a whole number of seconds from 0 to 7 days, and one given without --redis', async () => {
    for (const [poolCacheTtl, url] of [[0.5, REDIS], [-1, REDIS], [8 * 86_400, REDIS], [Number.NaN, REDIS], [600, null]] as const) {
      await inTempDir(async (dir) => {
        const server = { rateLimit: false as const, authFailureLimit: false as const, ...(url ? { redis: url } : {}) };
        await expect(startTestServer({ dir, engine: ENGINE, server, poolCacheTtl }), `ttl ${poolCacheTtl}`).rejects.toMatchObject({ location: { field: 'pool-cache-ttl' } });
      });
    }
  });
});

describe('a shared pool cache whose Redis fails', () => {
  it('answers at once, and says so, when Redis dies; a stalled Redis costs one lookup timeout, then is bypassed', async () => {
    const stalled = await privateRedis();
    const dead = await privateRedis();
    const said = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      // Stalled: SIGSTOP keeps the connection open but nothing answers.
      const s = await start('both', null, stalled.url);
      await slate(s, 'u1');
      // u1's write answered before the stall (a write timing out would start the bypass early).
      const look = new Redis(stalled.url, { maxRetriesPerRequest: 1 });
      await until('u1\'s pool is written', async () => (await look.dbsize()) === 1, 3000);
      look.disconnect();
      stalled.proc.kill('SIGSTOP');
      const t0 = performance.now();
      for (const u of ['u2', 'u3', 'u4', 'u5', 'u6']) await slate(s, u);
      // One lookup waits its 250 ms timeout; the cache is then bypassed (the pools are computed):
      // without the bypass the five would take 5 × 250 ms.
      expect(performance.now() - t0).toBeLessThan(600);
      // The failed read counts as an error, not also as a miss.
      expect(shared(s)).toEqual({ hits: 0, misses: 1, errors: 1 });
      stalled.proc.kill('SIGKILL');

      const d = await start('both', null, dead.url);
      await slate(d, 'u1');
      dead.proc.kill('SIGKILL');
      await new Promise((r) => dead.proc.once('exit', r));
      const t1 = performance.now();
      for (const u of ['u2', 'u3', 'u4']) await slate(d, u);
      expect(performance.now() - t1).toBeLessThan(1000);
      const noticed = () => said.mock.calls.some(([m]) => /Redis at redis:\/\/127\.0\.0\.1:\d+ is not answering.*candidate pools are computed on each server/.test(String(m)));
      await until('the notice on stderr', noticed, 2000);
      expect(said.mock.calls.filter(([m]) => String(m).includes(dead.url) && String(m).includes('candidate pools')).length).toBe(1);
    } finally {
      said.mockRestore();
      for (const p of [stalled.proc, dead.proc]) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
  });
});
