/**
 * Several servers and one learner as separate processes (docs/cluster.md): recommend + feedback
 * load spread over N servers, then kill -9 one server and the active learner during the load.
 * Prints how many events were acknowledged, how many of them the store lacks afterwards, how long
 * the standby learner took to hold the lock and to answer, and how long until every live server
 * served the new learner's newest checkpoint.
 *
 *   node --import tsx bench/cluster.ts [--servers 3] [--workers 8] [--seconds 12]
 *        [--store postgres://postgres@127.0.0.1:5432] [--bus nats://127.0.0.1:4222] [--write]
 *
 * A fresh database is created for the run and dropped after it. The load generator, every
 * process and PostgreSQL share this machine's cores: throughput is that of the whole cluster on
 * one host, a floor rather than a capacity figure.
 */
import { appendFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { call, driveLoad, missingFromStore, printedAt, spawnMember, type ClusterProc } from '../test/serve/fixtures/cluster-procs.js';
import { numArg, strArg } from './args.js';

const nServers = numArg('servers', 3);
const workers = numArg('workers', 8);
const seconds = numArg('seconds', 12);
const pgServer = strArg('store', 'postgres://postgres@127.0.0.1:5432');
const bus = strArg('bus', 'nats://127.0.0.1:4222');
const write = process.argv.includes('--write');

const dbName = `chorus_bench_cluster_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: `${pgServer}/postgres` });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const store = `${pgServer}/${dbName}?pool=4`;
const procs: ClusterProc[] = [];
const alive = (p: ClusterProc): boolean => p.proc.exitCode === null && p.proc.signalCode === null;
const load0 = loadavg();
try {
  const spawn = (role: 'server' | 'learner') => {
    const p = spawnMember(role, { store, bus });
    procs.push(p);
    return p;
  };
  const learner = spawn('learner');
  await learner.listening;
  const servers = Array.from({ length: nServers }, () => spawn('server'));
  await Promise.all(servers.map((s) => s.listening));
  const standby = spawn('learner');
  await new Promise((r) => setTimeout(r, 1000));
  const urls = () => servers.filter(alive).map((s) => s.url!);

  // A warm-up (JIT, first-use paths), steady load, then the same load with the kills.
  const warmEnd = Date.now() + 3000;
  await driveLoad(urls, { workers, until: () => Date.now() > warmEnd });
  const steadyEnd = Date.now() + 5000;
  const steady = await driveLoad(urls, { workers, until: () => Date.now() > steadyEnd });
  const t0 = Date.now();
  let serverKilledAt = 0;
  let learnerKilledAt = 0;
  const schedule = (async () => {
    await new Promise((r) => setTimeout(r, (seconds * 1000) / 4));
    serverKilledAt = Date.now();
    servers[0]!.proc.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, (seconds * 1000) / 4));
    learnerKilledAt = Date.now();
    learner.proc.kill('SIGKILL');
  })();
  const faulted = await driveLoad(urls, { workers, until: () => Date.now() - t0 > seconds * 1000 });
  await schedule;
  await standby.listening;
  const lockMs = printedAt(standby, /holding the learner lock/)! - learnerKilledAt;
  const learningMs = printedAt(standby, /learning from the log/)! - learnerKilledAt;
  const answerMs = printedAt(standby, /listening on/)! - learnerKilledAt;

  // Lost: acknowledged, yet absent from the store.
  const missing = await missingFromStore(store, { feedback: [...steady.feedback, ...faulted.feedback], decisions: [...steady.decisions, ...faulted.decisions] });
  const lostFeedback = missing.feedback.length;
  const lostDecisions = missing.decisions.length;

  // Propagation: new feedback, then the time until every live server serves the learner's newest checkpoint.
  const nudgeEnd = Date.now() + 1000;
  await driveLoad(urls, { workers: 2, until: () => Date.now() > nudgeEnd });
  const p0 = Date.now();
  let propagationMs = NaN;
  for (let i = 0; i < 200; i++) {
    const newest = (await call(standby.url!, 'GET', '/healthz')).body.checkpointAt as number;
    const seen = await Promise.all(urls().map(async (u) => (await call(u, 'GET', '/healthz')).body.checkpointAt as number));
    if (seen.every((s) => s === newest)) {
      propagationMs = Date.now() - p0;
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const rps = (r: { decisions: string[]; feedback: number[]; seconds: number }) => ((r.decisions.length + r.feedback.length) / r.seconds).toFixed(0);
  const table = [
    `Cluster on one host: ${nServers} servers, 1 learner + 1 standby, PostgreSQL ${pgServer.replace(/\/\/[^@]*@/, '//')}, NATS ${bus}; ${workers} clients (recommend, then a click). Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}; load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${loadavg().map((x) => x.toFixed(2)).join(' ')}.`,
    `Command: \`node --import tsx bench/cluster.ts --servers ${nServers} --workers ${workers} --seconds ${seconds}\` — ${new Date().toISOString()}.`,
    '',
    '| phase | requests/s (recommend + feedback) | acknowledged decisions | acknowledged feedback | lost | retried on another server |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    `| steady, 5 s | ${rps(steady)} | ${steady.decisions.length} | ${steady.feedback.length} | 0 | ${steady.retried} |`,
    `| ${seconds} s with kill -9 of a server (at ${((serverKilledAt - t0) / 1000).toFixed(1)} s) and of the learner (at ${((learnerKilledAt - t0) / 1000).toFixed(1)} s) | ${rps(faulted)} | ${faulted.decisions.length} | ${faulted.feedback.length} | ${lostDecisions + lostFeedback} | ${faulted.retried} |`,
    '',
    `Standby learner: held the lock ${lockMs} ms after the kill, learning from the log ${learningMs} ms after it (target ≤ 5,000 ms), its HTTP API answering ${answerMs} ms after it. Every live server served the new learner's newest checkpoint ${propagationMs.toFixed(0)} ms after the last feedback burst ended.`,
  ].join('\n');
  console.log(table);
  if (write) appendFileSync('docs/benchmarks.md', `\n<!-- bench:cluster -->\n${table}\n<!-- /bench:cluster -->\n`);
} finally {
  for (const p of procs) if (alive(p)) p.proc.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
}
