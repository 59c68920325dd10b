/**
 * Three servers and two learners (one a standby) as separate `chorus serve` processes on one
 * PostgreSQL store with the NATS bus, under load: kill -9 a server, then the active learner. No
 * acknowledged event may be lost, the standby must take over within 5 s and learn, and its
 * checkpoints must reach every server still running. Needs PostgreSQL and NATS (fails without).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { testDatabase } from '../store/postgres-db.js';
import { call, driveLoad, missingFromStore, printedAt, spawnMember, type ClusterProc } from './fixtures/cluster-procs.js';

const NATS = process.env.CHORUS_TEST_NATS ?? 'nats://127.0.0.1:4222';
const db = testDatabase('clusterproc');
const procs: ClusterProc[] = [];
afterAll(async () => {
  for (const p of procs) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
});

const alive = (p: ClusterProc): boolean => p.proc.exitCode === null && p.proc.signalCode === null;

describe('a cluster of processes under kill -9', () => {
  it('loses no acknowledged event, and the standby learner takes over within 5 s', async () => {
    const store = db.url('schema=k9&pool=4');
    const spawn = (role: 'server' | 'learner') => {
      const p = spawnMember(role, { store, bus: NATS });
      procs.push(p);
      return p;
    };
    const first = spawn('learner');
    await first.listening;
    const servers = [spawn('server'), spawn('server'), spawn('server')];
    await Promise.all(servers.map((s) => s.listening));
    const standby = spawn('learner');
    await new Promise((r) => setTimeout(r, 1000));
    expect(standby.url).toBeNull(); // waiting for the lock

    const urls = () => servers.filter(alive).map((s) => s.url!);
    const t0 = Date.now();
    let killedLearnerAt = 0;
    const schedule = (async () => {
      await new Promise((r) => setTimeout(r, 1500));
      servers[0]!.proc.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 1500));
      killedLearnerAt = Date.now();
      first.proc.kill('SIGKILL');
    })();
    const load = await driveLoad(urls, { workers: 4, until: () => Date.now() - t0 > 8000 });
    await schedule;
    expect(load.feedback.length).toBeGreaterThan(50);

    await standby.listening;
    // Taken over: the new learner reads the log and learns (its HTTP API opens a moment later).
    const took = printedAt(standby, /learning from the log/)! - killedLearnerAt;
    if (process.env.CLUSTER_DEBUG) console.log(standby.lines.map((l) => `${l.t - killedLearnerAt} ${l.line}`).join('\n'));
    expect(took).toBeLessThan(5000);

    // Every acknowledged decision and feedback is in the store.
    expect(await missingFromStore(store, { feedback: load.feedback, decisions: load.decisions })).toEqual({ feedback: [], decisions: [] });

    // The new learner learns what the servers log next, and every live server serves its checkpoint.
    const before = (await call(standby.url!, 'GET', '/healthz')).body.checkpointAt as number;
    const started = Date.now();
    const more = await driveLoad(urls, { workers: 4, until: () => Date.now() - started > 1500 });
    expect(more.feedback.length).toBeGreaterThan(0);
    let newest = before;
    for (let i = 0; i < 100; i++) {
      newest = (await call(standby.url!, 'GET', '/healthz')).body.checkpointAt as number;
      const seen = await Promise.all(urls().map(async (u) => (await call(u, 'GET', '/healthz')).body.checkpointAt as number));
      if (newest > before && seen.every((s) => s === newest)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(newest).toBeGreaterThan(before);
    // The learner may publish again after the loop saw every server on `newest` (events still in
    // flight when the load stopped), so a server may already hold a later one of its checkpoints:
    // each must serve one at least as new as `newest` and no newer than the learner's latest.
    const latest = (await call(standby.url!, 'GET', '/healthz')).body.checkpointAt as number;
    for (const u of urls()) {
      const served = (await call(u, 'GET', '/healthz')).body.checkpointAt as number;
      expect(served).toBeGreaterThanOrEqual(newest);
      expect(served).toBeLessThanOrEqual(latest);
    }
  });
});
