/**
 * The candidate-pool cache shared through Redis (src/serve/shared-pools.ts) against the per-process
 * one alone: a learner and two cluster servers, A and B, as engines in this process on one
 * PostgreSQL store (each with its own store connection, as separate processes would have), and one
 * Redis. For each user A answers first (computing the pool, and with the shared cache writing it to
 * Redis); then B answers the same user's first request, timed: with the first level only B computes
 * the pool itself, with both levels it reads A's from Redis. The whole Engine.recommend is timed
 * (pool, policy, and the decision committed to PostgreSQL), without HTTP; per recommender, a cheap
 * one (ALS, scoring by factor row) and an expensive one (SASRec, a transformer per request), the
 * modes alternate (L1, L1+L2, L1, L1+L2, each on fresh users) so that neither gains from warm-up.
 *
 *   node --import tsx bench/pool-cache.ts [--pg postgres://postgres@127.0.0.1:5432/postgres]
 *     [--redis redis://127.0.0.1:6379] [--users 2000] [--items 10000] [--models als,sasrec]
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { Engine, type EngineConfig } from '../src/serve/engine.js';
import { registryModels } from '../src/serve/model.js';
import { poolCacheIdentity, SharedPools } from '../src/serve/shared-pools.js';
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/types.js';
import { numArg, strArg } from './args.js';
import { syntheticCatalogue } from './synthetic-catalogue.js';

const PG = strArg('pg', 'postgres://postgres@127.0.0.1:5432/postgres');
const REDIS = strArg('redis', 'redis://127.0.0.1:6379');
const nUsers = numArg('users', 2000);
const nItems = numArg('items', 10_000);
const models: Record<string, Record<string, unknown>> = {
  als: { factors: 64, iterations: 5 },
  // One epoch: the bench needs its serving cost (a forward pass per request), not its accuracy.
  sasrec: { dim: 128, maxLen: 50, epochs: 1 },
};
const chosen = strArg('models', 'als,sasrec').split(',');
const CONCURRENCY = 16;
// Per round: users A answers first and B then answers one at a time (latency), and users B answers
// CONCURRENCY at a time (throughput); disjoint, so that every timed request is B's first for its
// user, and all of them in the model (an unknown id's pool is never shared).
const MODES = ['L1 only', 'L1+L2', 'L1 only', 'L1+L2'] as const;
const LATENCY_USERS = Math.floor(nUsers / 16);
const THROUGHPUT_USERS = Math.floor(nUsers / 8);

const data = syntheticCatalogue(nUsers, nItems, 50, 7);

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

const recommend = (e: Engine, user: string) => e.recommend({ user, k: 10, excludeSeen: true, context: { device: 'phone' } });

async function inBatches(users: string[], one: (u: string) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < users.length; i += CONCURRENCY) await Promise.all(users.slice(i, i + CONCURRENCY).map(one));
}

async function benchModel(kind: string, rows: string[]): Promise<void> {
  const schema = `chorus_poolbench_${randomBytes(4).toString('hex')}`;
  const url = `${PG}?schema=${schema}&pool=4`;
  const stores: Store[] = [];
  const engines: Engine[] = [];
  const shared: SharedPools[] = [];
  const open = async (role: EngineConfig['role']): Promise<Engine> => {
    const st = openStore(url);
    stores.push(st);
    // As `chorus serve --redis` does (src/serve/server.ts): the learning process creates the cache's
    // identity first, and every engine decodes snapshots with the hash the shared level keys on.
    if (role === 'learner') await poolCacheIdentity(st.state, true);
    const e = await Engine.open(st, data, registryModels, { role, model: { kind, config: models[kind]! }, retrainInWorker: false, syncMs: 200, rewardWaitSeconds: 600 }, () => {}, { bus: null, sharedPools: true });
    engines.push(e);
    return e;
  };
  try {
    const t0 = performance.now();
    await open('learner');
    const fitSeconds = (performance.now() - t0) / 1000;
    const a = await open('server');
    const b = await open('server');
    const identity = (await poolCacheIdentity(stores[0]!.state, false))!;
    for (let i = 0; i < 2; i++) shared.push(await SharedPools.open(REDIS, identity, 600));
    let next = 0;
    const take = (n: number) => Array.from({ length: n }, () => `u${next++}`);
    for (const [round, mode] of MODES.entries()) {
      a.useSharedPools(mode === 'L1+L2' ? shared[0]! : null);
      b.useSharedPools(mode === 'L1+L2' ? shared[1]! : null);
      const lat = take(LATENCY_USERS);
      const thr = take(THROUGHPUT_USERS);
      await inBatches([...lat, ...thr], (u) => recommend(a, u));
      // A's writes are not awaited by its requests: let them land before B asks.
      await new Promise((r) => setTimeout(r, 300));
      const s0 = { ...b.sharedPoolStats };
      const times: number[] = [];
      for (const u of lat) {
        const t = performance.now();
        await recommend(b, u);
        times.push(performance.now() - t);
      }
      const t1 = performance.now();
      const c1 = process.cpuUsage();
      await inBatches(thr, (u) => recommend(b, u));
      const rate = thr.length / ((performance.now() - t1) / 1000);
      // This process's CPU per request (B, and the learner polling beside it): less swayed by a loaded host than wall time.
      const c = process.cpuUsage(c1);
      const cpu = (c.user + c.system) / 1000 / thr.length;
      // The same users again on B: first-level hits, the floor both modes share.
      const again: number[] = [];
      for (const u of lat.slice(0, 100)) {
        const t = performance.now();
        await recommend(b, u);
        again.push(performance.now() - t);
      }
      const s = b.sharedPoolStats;
      rows.push(
        `| ${kind} (fit ${fitSeconds.toFixed(1)} s) | ${mode} (round ${round + 1}) | ${quantile(times, 0.5).toFixed(2)} | ${quantile(times, 0.99).toFixed(2)} | ${rate.toFixed(0)} | ${cpu.toFixed(2)} | ${quantile(again, 0.5).toFixed(2)} | ${s.hits - s0.hits}/${s.misses - s0.misses}/${s.errors - s0.errors} |`,
      );
      process.stdout.write(`${rows.at(-1)}\n`);
    }
  } finally {
    for (const e of engines.reverse()) await e.close();
    for (const s of shared) await s.close();
    for (const s of stores) await s.close();
    const c = new pg.Client({ connectionString: PG });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  }
}

process.stdout.write(
  `pool cache: ${data.name} (${data.nInteractions} interactions), k 10, cb policy, decisions committed to ${PG.replace(/\/\/[^@]*@/, '//')}, Redis ${REDIS}; ` +
    `${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n` +
    `B's first request per user after A computed its pool: ${LATENCY_USERS} users one at a time (p50/p99 ms), ${THROUGHPUT_USERS} users ${CONCURRENCY} at a time (req/s, CPU ms/req); ` +
    `then 100 of them again (first-level hits, p50 ms). Shared lookups on B: hit/miss/error.\n\n` +
    `| model | cache | first request p50 ms | p99 ms | req/s | CPU ms/req | L1 hit p50 ms | shared h/m/e |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n`,
);
const rows: string[] = [];
for (const kind of chosen) {
  if (!models[kind]) throw new Error(`--models: unknown "${kind}"; expected some of ${Object.keys(models).join(', ')}`);
  await benchModel(kind, rows);
}
