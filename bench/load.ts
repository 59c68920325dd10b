/**
 * Load test of `chorus serve` on loopback with autocannon: /recommend, /feedback and a bare
 * Fastify route (same process, same core as the server) measured in the same run, each bounded
 * in time and in request count. The server runs in a child process so that the load generator
 * does not share its event loop. Synthetic catalogue: 10,000 items, 64-dimensional BPR factors.
 *
 *   node --import tsx bench/load.ts [--duration 10] [--connections 16] [--amount 200000]
 *        [--items 10000] [--users 2000] [--factors 64] [--pool-cache 10000] [--sync-normal]
 *        [--soak 0] [--policy cb|linucb-rerank|<agent name>] [--write] [--server-prof <dir>]
 *        [--prefill 0] [--old-ids] [--writer worker|inline] [--rounds 1] [--only bare,floor,floor-feedback,recommend,feedback]
 *        [--store postgres://user@host:5432/db?pool=10] [--prefill-sql 0] [--rate 0] [--gc-after-start]
 *        [--feedback-on old|recent]
 *
 * --soak N adds an N-second /recommend run sampling the server's RSS every 10 s (memory flatness).
 * --prefill N logs N decisions (copies of a real one, fresh event ids) before the run, so that a
 * 10 s run sees the event log a long soak would have built. --old-ids gives the prefilled rows
 * random (v4) UUIDs, as event ids were before 2026-12-02, instead of the server's time-ordered ids.
 * --writer worker commits in the SQLite store's commit worker thread instead of on the event loop.
 * --store URL serves from that store instead of a fresh SQLite file (--sync-normal and --writer then
 * do not apply); give a PostgreSQL URL an empty database or schema: the run's rows stay there.
 * --prefill-sql N (PostgreSQL store only) copies one real decision N times with INSERT … SELECT in the
 * database (./pg-bench.ts), then VACUUM ANALYZE: 10 M rows in minutes instead of an hour. With a
 * PostgreSQL store each row also carries the CPU time of the database's backend processes per
 * request (the server runs on this machine), and the report gives the server's start-up time.
 * --rate R sends R requests per second in all (autocannon's overallRate, latencies corrected for
 * coordinated omission) instead of as many as the connections get answered: latencies of two
 * stores compared at the same offered load rather than each at its own saturation.
 * --gc-after-start runs a full garbage collection in the server once it has started (a diagnostic:
 * whether what the start-up left on the heap, e.g. the decisions recovery read, slows the runs).
 * --rounds N runs the routes N times interleaved and reports each route's best round; --only
 * runs a subset (to profile one route with --server-prof). Every row carries the server process's
 * CPU time per request (all threads) and the load generator's, beside req/s and latencies.
 * --only floor adds POST /floor on the bare app: the same body as /recommend parsed, one decision row
 * of a real decision's size appended through the server's store (durable before the answer, as
 * /recommend's), and a real /recommend response's bytes returned prebuilt: the floor under any
 * durable /recommend on this stack, without candidates, policy or explanations; and POST
 * /floor-nowrite, the same without the write (the HTTP exchange of those bytes alone).
 * --only floor-feedback adds POST /floor-feedback, /feedback's floor: its body parsed, one feedback
 * row on a stored decision appended durably through the store, a real /feedback answer's bytes.
 * --feedback-on recent gives feedback on decisions made just before each feedback run, which the
 * server still holds in its recent-decision cache (src/serve/recent-decisions.ts, the last 4,096);
 * the default, old, on decisions made before the warm-up, long evicted: every feedback then reads
 * its decision from the store.
 * --write appends the table to docs/benchmarks.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import type pg from 'pg';
import { newEventId } from '../src/serve/event-id.js';
import { startServer } from '../src/serve/server.js';
import { numArg as arg, strArg } from './args.js';
import { backendCpu, cpuSince, pgClient, prefillDecisionsSql } from './pg-bench.js';
import { syntheticCatalogue } from './synthetic-catalogue.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');
const KEY = 'bench-admin-key-0000000000000000';


/** The server's settings; the parent reads them to pass them on (and to describe the run). */
function serverArgs() {
  return {
    nItems: arg('items', 10_000),
    nUsers: arg('users', 2000),
    factors: arg('factors', 64),
    poolCache: arg('pool-cache', 10_000),
    sync: process.argv.includes('--sync-normal') ? 'normal' : 'full',
    policy: strArg('policy', 'cb'),
    prefill: arg('prefill', 0),
    prefillSql: arg('prefill-sql', 0),
    oldIds: process.argv.includes('--old-ids'),
    writer: strArg('writer', 'inline'),
    store: strArg('store', ''),
    gcAfterStart: process.argv.includes('--gc-after-start'),
  };
}

/**
 * CPU time of this process's main thread (the event loop), µs, from /proc (Linux; NaN elsewhere):
 * utime + stime of the task whose id is the process id, in clock ticks of 10 ms.
 */
function mainThreadCpu(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, so split after its closing parenthesis).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return NaN;
  }
}

/** Child mode: the Chorus server and a bare Fastify app, in one process. */
async function serverMode(): Promise<void> {
  const { nItems, nUsers, factors, poolCache, sync, policy, prefill, prefillSql, oldIds, writer, store, gcAfterStart } = serverArgs();
  const dir = process.argv[process.argv.indexOf('--dir') + 1]!;
  const t0 = performance.now();
  const ds = syntheticCatalogue(nUsers, nItems, 50, 7);
  const s = await startServer({
    dataset: ds,
    store: store || `sqlite:${join(dir, 'bench.db')}?synchronous=${sync}&writer=${writer}`,
    adminKey: KEY,
    // Few epochs: the benchmark measures serving cost, which depends on the factor count, not on fit quality.
    engine: { model: { kind: 'bpr', config: { factors, iterations: 3 } }, poolCache, serving: policy === 'linucb-rerank' ? 'linucb-rerank' : 'cb', agent: policy === 'linucb-rerank' || policy === 'cb' ? null : { name: policy } },
    server: { rateLimit: false },
  });
  const setupSeconds = (performance.now() - t0) / 1000;
  let prefillSeconds = 0;
  let sqlPrefill = { copy: 0, vacuum: 0 };
  if (prefillSql > 0) {
    if (!/^postgres(ql)?:/.test(store)) throw new Error('--prefill-sql needs --store postgres://…');
    const r = await s.engine.recommend({ user: 'u0', k: 10, excludeSeen: true, context: { device: 'phone' } });
    const c = await pgClient(store);
    try {
      sqlPrefill = await prefillDecisionsSql(c, r.eventId, prefillSql, nUsers, (m) => process.stderr.write(`${m}\n`));
    } finally {
      await c.end();
    }
    // A policy checkpoint taken now covers the copies (all older than its oldest open reward
    // window), as a server that had logged them live would have one: a later server on this
    // database starts as a restart of that one would, without replaying 200,000 closed windows.
    await s.engine.checkpoint();
  }
  if (prefill > 0) {
    const t1 = performance.now();
    // One real decision (its payload has the size and shape of every slate's), copied N times
    // through the store's own write path, 10,000 rows per group commit.
    const r = await s.engine.recommend({ user: 'u0', k: 10, excludeSeen: true, context: { device: 'phone' } });
    const d = (await s.store.events.getDecision(r.eventId))!;
    for (let done = 0; done < prefill; ) {
      const n = Math.min(10_000, prefill - done);
      await Promise.all(
        Array.from({ length: n }, (_, j) =>
          s.store.events.appendDecision({ ...d, seq: undefined, id: oldIds ? randomUUID() : newEventId(), ts: Date.now(), user: `u${(done + j) % nUsers}` }),
        ),
      );
      done += n;
    }
    prefillSeconds = (performance.now() - t1) / 1000;
  }
  // The child runs with --expose-gc for this flag.
  if (gcAfterStart) (globalThis as { gc?: () => void }).gc?.();
  const bare = Fastify({ logger: false });
  bare.get('/bare', async () => ({ ok: true }));
  // The server process's CPU time (all its threads: the commit worker's too, with --writer worker),
  // read by the load generator before and after each route's run: CPU-s per request is the
  // steadier figure on a shared machine, where req/s also depends on what else runs.
  bare.get('/cpu', async () => {
    const c = process.cpuUsage();
    return { user: c.user, system: c.system, main: mainThreadCpu() };
  });
  // The floor of a durable /recommend: the same request body parsed, one decision row of a real
  // decision's size written through the server's own store (committed, and fsynced as the store is
  // set, before the answer), and a real /recommend response's bytes sent back, prebuilt. No
  // candidate, policy or explanation is computed: whatever /recommend costs beyond this route is
  // the recommending; what this route costs, any durable /recommend on this stack pays too.
  const sampleRes = await fetch(`${s.url}/recommend`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'u1', k: 10, context: { device: 'phone' } }),
  });
  const sampleBody = await sampleRes.text();
  const sampleId = (JSON.parse(sampleBody) as { eventId: string }).eventId;
  const sampleDecision = (await s.store.events.getDecision(sampleId))!;
  bare.post('/floor', async (_req, reply) => {
    const id = newEventId();
    await s.store.events.appendDecision({ ...sampleDecision, seq: undefined, id, ts: Date.now() });
    reply.type('application/json; charset=utf-8');
    return sampleBody.replace(sampleId, id);
  });
  // /feedback's floor likewise: its body parsed, one feedback row on a stored decision appended
  // through the store (its decision's existence checked in the write, as /feedback's is), a real
  // /feedback answer's bytes returned. No decision read, reward or learning.
  const fbRes = await fetch(`${s.url}/feedback`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ eventId: sampleId, item: sampleDecision.items[0], type: 'click' }),
  });
  const fbBody = await fbRes.text();
  bare.post('/floor-feedback', async (_req, reply) => {
    const seq = await s.store.events.appendFeedback(
      { eventId: sampleId, ts: Date.now(), user: sampleDecision.user, item: sampleDecision.items[0]!, type: 'click', value: null, reward: 1, position: 0, propensity: sampleDecision.propensities[0] ?? null },
      { onDecision: true },
    );
    reply.status(201).type('application/json; charset=utf-8');
    return fbBody.replace(/"seq":\d+/, `"seq":${seq}`);
  });
  // The same without the write: what the HTTP exchange of /recommend's bytes costs by itself.
  bare.post('/floor-nowrite', async (_req, reply) => {
    reply.type('application/json; charset=utf-8');
    return sampleBody.replace(sampleId, newEventId());
  });
  const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
  // Exit normally on SIGINT/SIGTERM so that --cpu-prof and similar flags can write their output.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(0));
  process.stdout.write(`${JSON.stringify({ url: s.url, bareUrl, setupSeconds, prefillSeconds, prefillSql: sqlPrefill, snapshot: s.engine.activeSnapshot })}\n`);
}

interface Row {
  route: string;
  rps: number;
  /** Server CPU time per request (user + system, all threads), µs; its main thread's; and the load generator's. */
  cpuPerReq: number;
  mainCpuPerReq: number;
  clientCpuPerReq: number;
  /** CPU time of the PostgreSQL backends serving the store, per request, µs (NaN without a PostgreSQL store). */
  pgCpuPerReq: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  requests: number;
  non2xx: number;
  errors: number;
}

function run(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((ok, fail) => {
    autocannon(opts, (err, res) => (err ? fail(err) : ok(res)));
  });
}

/** Server process CPU time so far, µs (user + system): all threads, and the main thread alone. */
async function serverCpu(bareUrl: string): Promise<{ all: number; main: number }> {
  const c = (await (await fetch(`${bareUrl}/cpu`)).json()) as { user: number; system: number; main: number | null };
  return { all: c.user + c.system, main: c.main ?? NaN };
}

/** One route's run, with the CPU time the server and this process (autocannon) spent on it. */
async function measured(route: string, bareUrl: string, opts: autocannon.Options, pgc: pg.Client | null): Promise<Row> {
  const p0 = pgc ? await backendCpu(pgc) : null;
  const s0 = await serverCpu(bareUrl);
  const c0 = process.cpuUsage();
  const r = await run(opts);
  const c1 = process.cpuUsage(c0);
  const s1 = await serverCpu(bareUrl);
  const p1 = pgc ? await backendCpu(pgc) : null;
  const n = Math.max(1, r.requests.total);
  return {
    ...row(route, r),
    cpuPerReq: (s1.all - s0.all) / n,
    mainCpuPerReq: (s1.main - s0.main) / n,
    clientCpuPerReq: (c1.user + c1.system) / n,
    pgCpuPerReq: p0 && p1 ? cpuSince(p0, p1) / n : NaN,
  };
}

function row(route: string, r: autocannon.Result): Omit<Row, 'cpuPerReq' | 'mainCpuPerReq' | 'clientCpuPerReq' | 'pgCpuPerReq'> {
  return {
    route,
    rps: r.requests.average,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    max: r.latency.max,
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
  };
}

async function metric(url: string, re: RegExp): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
  return Number(re.exec(text)?.[1] ?? NaN);
}

async function rss(url: string): Promise<number> {
  return (await metric(url, /^process_resident_memory_bytes (\d+)/m)) / 2 ** 20;
}

async function main(): Promise<void> {
  if (process.argv.includes('--server')) return serverMode();
  const duration = arg('duration', 10);
  const connections = arg('connections', 16);
  const amount = arg('amount', 200_000);
  const soak = arg('soak', 0);
  const rate = arg('rate', 0);
  const feedbackOn = strArg('feedback-on', 'old');
  if (feedbackOn !== 'old' && feedbackOn !== 'recent') throw new Error(`--feedback-on must be old or recent, got "${feedbackOn}"`);
  // --server-prof DIR: the server child writes a V8 CPU profile there on exit (where its time goes).
  const profDir = strArg('server-prof', '');
  const { nItems, nUsers, factors, poolCache, sync, policy, prefill, prefillSql, oldIds, writer, store, gcAfterStart } = serverArgs();
  const dir = mkdtempSync(join(tmpdir(), 'chorus-load-'));
  const load0 = loadavg();
  let child: ChildProcess | undefined;
  let pgc: pg.Client | null = null;
  try {
    child = spawn(
      process.execPath,
      [...(gcAfterStart ? ['--expose-gc'] : []), ...(profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []), '--import', 'tsx', fileURLToPath(import.meta.url), '--server', '--dir', dir, '--items', String(nItems), '--users', String(nUsers), '--factors', String(factors), '--pool-cache', String(poolCache), '--policy', policy, '--prefill', String(prefill), '--prefill-sql', String(prefillSql), '--writer', writer, ...(store ? ['--store', store] : []), ...(oldIds ? ['--old-ids'] : []), ...(gcAfterStart ? ['--gc-after-start'] : []), ...(sync === 'normal' ? ['--sync-normal'] : [])],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const info = await new Promise<{ url: string; bareUrl: string; setupSeconds: number; prefillSeconds: number; prefillSql: { copy: number; vacuum: number } }>((ok, fail) => {
      createInterface({ input: child!.stdout! }).once('line', (l) => ok(JSON.parse(l)));
      child!.once('exit', (c) => fail(new Error(`server exited (${c})`)));
    });
    // The database's backends, for their CPU time per request (PostgreSQL on this machine).
    if (/^postgres(ql)?:/.test(store)) pgc = await pgClient(store);
    const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
    let n = 0;
    const recommend = {
      method: 'POST' as const,
      path: '/recommend',
      setupRequest: (req: autocannon.Request) => ({ ...req, body: JSON.stringify({ user: `u${n++ % nUsers}`, k: 10, context: { device: n % 2 ? 'phone' : 'desktop' } }) }),
    };
    // Events to give feedback on: 400 decisions made now (refreshed before each feedback run with
    // --feedback-on recent).
    const events: string[] = [];
    const makeEvents = async (): Promise<void> => {
      events.length = 0;
      for (let i = 0; i < 400; i++) {
        const r = (await (await fetch(`${info.url}/recommend`, { method: 'POST', headers, body: JSON.stringify({ user: `u${i}`, k: 10 }) })).json()) as {
          eventId: string;
          items: { id: string }[];
        };
        events.push(JSON.stringify({ eventId: r.eventId, item: r.items[i % 10]!.id, type: 'click' }));
      }
    };
    await makeEvents();
    let m = 0;
    const feedback = { method: 'POST' as const, path: '/feedback', setupRequest: (req: autocannon.Request) => ({ ...req, body: events[m++ % events.length] }) };
    // Bounded in time (duration) and in count (maxOverallRequests), whichever comes first.
    const common = { connections, duration, maxOverallRequests: amount, headers, ...(rate > 0 ? { overallRate: rate } : {}) };
    // Warm-up (JIT, SQLite page cache, and every user's candidate pool: the measured runs see the
    // cache's steady state however slowly a loaded machine gets through the users), not reported.
    await run({ url: info.url, connections, headers, amount: nUsers, requests: [recommend] });
    await run({ ...common, url: info.url, duration: 2, maxOverallRequests: undefined, requests: [recommend] });
    await run({ ...common, url: info.bareUrl, duration: 2, maxOverallRequests: undefined, requests: [{ method: 'GET', path: '/bare' }] });
    // --rounds N: the three routes run N times, interleaved (bare, recommend, feedback, bare, …), and
    // each route reports its best round (highest req/s, with that round's latencies) and its lowest
    // server CPU per request: on a shared machine the best round is the one least disturbed.
    // --only a,b: run only these routes (bare, recommend, feedback), e.g. to profile one.
    const only = strArg('only', 'bare,recommend,feedback').split(',');
    const rounds = Math.max(1, arg('rounds', 1));
    const byRoute = new Map<string, Row[]>();
    const add = (r: Row) => byRoute.set(r.route, [...(byRoute.get(r.route) ?? []), r]);
    let hits = 0;
    let misses = 0;
    for (let round = 0; round < rounds; round++) {
      if (only.includes('bare')) add(await measured('GET /bare (plain Fastify)', info.bareUrl, { ...common, url: info.bareUrl, requests: [{ method: 'GET', path: '/bare' }] }, pgc));
      if (only.includes('floor')) add(await measured('POST /floor-nowrite (the same, no write)', info.bareUrl, { ...common, url: info.bareUrl, requests: [{ ...recommend, path: '/floor-nowrite' }] }, pgc));
      if (only.includes('floor')) add(await measured('POST /floor (durable decision write only)', info.bareUrl, { ...common, url: info.bareUrl, requests: [{ ...recommend, path: '/floor' }] }, pgc));
      if (only.includes('floor-feedback')) add(await measured('POST /floor-feedback (durable feedback write only)', info.bareUrl, { ...common, url: info.bareUrl, requests: [{ ...feedback, path: '/floor-feedback' }] }, pgc));
      if (only.includes('recommend')) {
        const hits0 = await metric(info.url, /chorus_pool_cache_total\{result="hit"\} (\d+)/);
        const miss0 = await metric(info.url, /chorus_pool_cache_total\{result="miss"\} (\d+)/);
        add(await measured('POST /recommend (k=10)', info.bareUrl, { ...common, url: info.url, requests: [recommend] }, pgc));
        hits += (await metric(info.url, /chorus_pool_cache_total\{result="hit"\} (\d+)/)) - hits0;
        misses += (await metric(info.url, /chorus_pool_cache_total\{result="miss"\} (\d+)/)) - miss0;
      }
      if (only.includes('feedback')) {
        // old: the events made before the warm-up, whose thousands of /recommend calls have pushed
        // them out of the server's recent-decision cache (every feedback reads its decision from
        // the store); recent: events made just before the run, still in that cache, as feedback
        // that follows its decision within seconds is.
        if (feedbackOn === 'recent') await makeEvents();
        add(await measured(feedbackOn === 'recent' ? 'POST /feedback (click, recent decisions)' : 'POST /feedback (click)', info.bareUrl, { ...common, url: info.url, requests: [feedback] }, pgc));
      }
    }
    const rows: Row[] = [...byRoute.values()].map((rs) => {
      const best = rs.reduce((a, b) => (b.rps > a.rps ? b : a));
      const least = (f: (r: Row) => number) => Math.min(...rs.map(f));
      return {
        ...best,
        cpuPerReq: least((r) => r.cpuPerReq),
        mainCpuPerReq: least((r) => r.mainCpuPerReq),
        clientCpuPerReq: least((r) => r.clientCpuPerReq),
        pgCpuPerReq: least((r) => r.pgCpuPerReq),
      };
    });
    let soakLine = '';
    if (soak > 0) {
      const decisions = () => metric(info.url, /^chorus_decisions_total (\d+)/m);
      const samples: number[] = [await rss(info.url)];
      // Logged decisions every 10 s: the soak's throughput over time, as the event log grows.
      const counts: { t: number; n: number }[] = [{ t: performance.now(), n: await decisions() }];
      const timer = setInterval(() => {
        void rss(info.url).then((x) => samples.push(x));
        void decisions().then((n) => counts.push({ t: performance.now(), n }));
      }, 10_000);
      rows.push(await measured(`POST /recommend soak ${soak}s`, info.bareUrl, { ...common, url: info.url, duration: soak, maxOverallRequests: undefined, requests: [recommend] }, pgc));
      clearInterval(timer);
      samples.push(await rss(info.url));
      counts.push({ t: performance.now(), n: await decisions() });
      const later = samples.slice(1);
      const rates = counts.slice(1).map((c, i) => (c.n - counts[i]!.n) / ((c.t - counts[i]!.t) / 1000));
      soakLine = `Soak: server RSS MiB at start ${samples[0]!.toFixed(0)}, min ${Math.min(...later).toFixed(0)}, max ${Math.max(...later).toFixed(0)}, end ${samples[samples.length - 1]!.toFixed(0)} (every 10 s: ${samples.map((x) => x.toFixed(0)).join(' ')}). /recommend req/s in each 10 s of the soak (decisions logged): ${rates.map((x) => x.toFixed(0)).join(' ')}; log size at the end ${counts[counts.length - 1]!.n + prefill} decisions.`;
    }
    const load1 = loadavg();
    const bare = rows.find((r) => r.route.startsWith('GET /bare'))?.rps ?? NaN;
    const rec = rows.find((r) => r.route.startsWith('POST /recommend'))?.rps ?? NaN;
    const floor = rows.find((r) => r.route.startsWith('POST /floor ('))?.rps ?? NaN;
    const pgCol = pgc !== null;
    const table = [
      `| route | req/s | p50 ms | p90 ms | p99 ms | max ms | server CPU µs/req | of which main thread |${pgCol ? ' PostgreSQL backends CPU µs/req |' : ''} autocannon CPU µs/req | requests | non-2xx | errors |`,
      `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${pgCol ? ' ---: |' : ''} ---: | ---: | ---: | ---: |`,
      ...rows.map(
        (r) =>
          `| ${r.route} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p90} | ${r.p99} | ${r.max} | ${r.cpuPerReq.toFixed(1)} | ${r.mainCpuPerReq.toFixed(1)} |${pgCol ? ` ${r.pgCpuPerReq.toFixed(1)} |` : ''} ${r.clientCpuPerReq.toFixed(1)} | ${r.requests} | ${r.non2xx} | ${r.errors} |`,
      ),
    ].join('\n');
    const ratio = rec / bare;
    const cmd = `node --import tsx bench/load.ts ${process.argv.slice(2).filter((a) => a !== '--write').join(' ')}`.trim();
    const text = [
      `### Server load (bench/load.ts) — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      '',
      `Command: \`${cmd}\`. Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}.`,
      `Setup: synthetic ${nUsers} users × ${nItems} items (50 interactions per user), BPR with ${factors} factors (3 epochs), serving policy ${policy === 'linucb-rerank' ? 'LinUCB re-rank + ε-greedy (ε 0.1) over a 30-item pool' : policy === 'cb' ? 'cb (namespace features, sparse ridge, UCB + ε-greedy, ε 0.02) over a 30-item pool' : `agent "${policy}" (src/agents registry) over the whole catalogue`}, ${policy !== 'linucb-rerank' && policy !== 'cb' ? 'no recommender pool (the agent ranks the catalogue)' : poolCache > 0 ? `candidate-pool cache on (${hits} hits, ${misses} misses during the /recommend run: users cycle through ${nUsers})` : 'candidate-pool cache off (every request scores all items)'}, ${store ? `store ${store.replace(/:[^:@/]*@/, '@')} (writes group-committed, each answered after its COMMIT)` : `SQLite store with ${sync === 'full' ? 'synchronous=FULL (every commit fsynced; writes arriving together share one commit)' : 'synchronous=NORMAL (WAL commit without fsync: survives a process kill, not a power cut)'}, ${writer === 'inline' ? 'commits on the event loop' : 'commits in the store\'s commit worker thread (writer=worker)'}`}${prefill > 0 ? `; the event log was prefilled with ${prefill} decisions (${oldIds ? 'random v4 UUID ids, as before 2026-12-02' : 'time-ordered ids'}, ${info.prefillSeconds.toFixed(0)} s) before the warm-up` : ''}${prefillSql > 0 ? `; the event log was prefilled in SQL with ${prefillSql} copies of a real decision (bench/pg-bench.ts: ${info.prefillSql.copy.toFixed(0)} s, then VACUUM ANALYZE ${info.prefillSql.vacuum.toFixed(0)} s) before the warm-up` : ''}; server start (synthetic data, BPR fit, store open and recovery from the log) ${info.setupSeconds.toFixed(1)} s${gcAfterStart ? ', then a full garbage collection (--gc-after-start)' : ''}; server (Chorus and the bare app) in one child process, autocannon with ${connections} connections in the parent process${rate > 0 ? ` sending ${rate} requests/s in all (latencies corrected for coordinated omission)` : ''}, ${duration} s or ${amount} requests per route, after a warm-up (one request per user, then 2 s)${rounds > 1 ? `; ${rounds} interleaved rounds, each route's best round (req/s and its latencies) and lowest CPU per request` : ''}. CPU µs/req: process CPU time (user + system) over the run divided by its requests; for the server all its threads (the main thread alone beside it, from /proc, 10 ms ticks)${pgCol ? "; for PostgreSQL its backend processes on the store's database (from /proc; the WAL writer and checkpointer not counted)" : ''}.`,
      '',
      table,
      '',
      `/recommend reaches ${(100 * ratio).toFixed(0)} % of the bare route's throughput in the same run${Number.isFinite(floor) ? `; /floor (HTTP, the durable decision write and the response bytes, without recommending) ${(100 * floor / bare).toFixed(0)} %` : ''}.${soakLine ? ` ${soakLine}` : ''}`,
      '',
    ].join('\n');
    process.stdout.write(`${text}\n`);
    if (process.argv.includes('--write')) appendFileSync(join(ROOT, 'docs', 'benchmarks.md'), `\n${text}`);
  } finally {
    await pgc?.end();
    child?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
