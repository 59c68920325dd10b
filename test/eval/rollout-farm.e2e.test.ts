/**
 * Simulation seeds over NATS JetStream (src/eval/sim/rollout-farm.ts) against the real server the
 * development and CI machines run (CHORUS_TEST_NATS, default nats://127.0.0.1:4222; .ci/run starts
 * it): worker processes give the in-process numbers for the same seeds, and a worker killed with
 * SIGKILL mid-task has its task redone by another. Each test uses its own queue, so stray workers
 * on the same server never take its tasks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AckPolicy, nanos } from 'nats';
import { connectBus } from '../../src/bus/nats.js';
import { MAX_DELIVER } from '../../src/eval/sim/rollout-farm.js';
import { runSimulation, type SimulationOptions } from '../../src/eval/sim/simulate.js';
import type { SeedMetrics } from '../../src/eval/sim/runner.js';
import { runCli, tempDir, writeTinyMovieLens } from '../cli/helpers.js';

const BUS = process.env.CHORUS_TEST_NATS ?? 'nats://127.0.0.1:4222';
const CLI = resolve('test/eval/fixtures/chorus-cli.ts');

const children: ChildProcess[] = [];
/** Queues the tests made: their consumers are removed afterwards (the server keeps them on disk). */
const queues: string[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  const nc = await connectBus(BUS, 'chorus-test-cleanup');
  const jsm = await nc.jetstreamManager();
  for (const q of queues.splice(0)) await jsm.consumers.delete('CHORUS_SIM_TASKS', `chorus-sim-workers-${q}`).catch(() => undefined);
  await nc.close();
});
const newQueue = (): string => {
  const q = `test-${randomUUID()}`;
  queues.push(q);
  return q;
};

interface Worker {
  proc: ChildProcess;
  log: () => string;
  /** Resolves when the worker's log matches. */
  saw: (re: RegExp) => Promise<void>;
  exited: Promise<number | null>;
}

function startWorker(queue: string, extra: string[] = []): Worker {
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI, 'worker', '--bus', BUS, '--queue', queue, '--ack-wait', '2', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let text = '';
  const waiters: { re: RegExp; ok: () => void }[] = [];
  const onData = (b: Buffer): void => {
    text += b.toString();
    for (const w of waiters.splice(0)) if (w.re.test(text)) w.ok();
    else waiters.push(w);
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((ok) => proc.once('exit', (code) => ok(code)));
  return {
    proc,
    log: () => text,
    // A worker that exits before saying it fails the wait with its log, instead of hanging the test.
    saw: (re) =>
      re.test(text)
        ? Promise.resolve()
        : Promise.race([new Promise<void>((ok) => waiters.push({ re, ok })), exited.then((code) => Promise.reject(new Error(`worker exited (${code}) before ${re}:\n${text}`)))]),
    exited,
  };
}

/** What must agree between runs: everything but the wall-clock seconds. */
function numbers(m: SeedMetrics): Omit<SeedMetrics, 'trainSeconds' | 'evalSeconds'> {
  const { trainSeconds: _t, evalSeconds: _e, ...rest } = m;
  return rest;
}

describe('rollout farm over NATS JetStream', () => {
  const data = tempDir('chorus-farm-');
  writeTinyMovieLens(data, 40, 80, 3);
  const base: SimulationOptions = { preset: 'sim-ml-ls-v1', dataDir: data, agent: 'linucb', trainSteps: 600, seeds: 3, evalSessions: 60 };

  it('the NATS server answers (the other tests need it; .ci/run starts it)', async () => {
    const nc = await connectBus(BUS, 'chorus-test');
    await nc.close();
  });

  it('gives the in-process numbers for the same seeds, over two worker processes', async () => {
    const queue = newQueue();
    const local = await runSimulation({ ...base, workers: 1 });
    const a = startWorker(queue);
    const b = startWorker(queue);
    await Promise.all([a.saw(/waiting for tasks/), b.saw(/waiting for tasks/)]);
    const remote = await runSimulation({ ...base, bus: BUS, queue });
    expect(remote.seedList).toEqual(local.seedList);
    expect(remote.perSeed.map(numbers)).toEqual(local.perSeed.map(numbers));
    expect(remote.return).toEqual(local.return);
    // Both workers took part (three seeds, one task each at a time). A worker logs "done in" after
    // its result is sent, so the run can end before the last line reaches this process: wait for it.
    const ran = (w: Worker) => (w.log().match(/ done in /g) ?? []).length;
    await expect.poll(() => ran(a) + ran(b), { timeout: 10_000, interval: 50 }).toBe(3);
    expect(ran(a)).toBeGreaterThan(0);
    expect(ran(b)).toBeGreaterThan(0);
  });

  it('redoes the task of a worker killed mid-task, with the same result', async () => {
    const queue = newQueue();
    const one = { ...base, seeds: 1, trainSteps: 6000 };
    const local = await runSimulation({ ...one, workers: 1 });
    const doomed = startWorker(queue);
    await doomed.saw(/waiting for tasks/);
    const run = runSimulation({ ...one, bus: BUS, queue });
    await doomed.saw(/seed 1 \(linucb, delivery 1\) started/);
    doomed.proc.kill('SIGKILL');
    expect(await doomed.exited).toBe(null);
    const rescuer = startWorker(queue);
    const remote = await run;
    // The server handed the task over after the dead worker's ack wait (2 s).
    expect(rescuer.log()).toMatch(/seed 1 \(linucb, delivery 2\) started/);
    // Logged after the result is sent: it may reach this process after the run ended.
    await rescuer.saw(/seed 1 done in/);
    expect(remote.perSeed.map(numbers)).toEqual(local.perSeed.map(numbers));
  });

  it('stops a worker after --max-tasks, and refuses what cannot run remotely', async () => {
    const queue = newQueue();
    const w = startWorker(queue, ['--max-tasks', '1']);
    await w.saw(/waiting for tasks/);
    await runSimulation({ ...base, seeds: 1, bus: BUS, queue });
    expect(await w.exited).toBe(0);
    expect(w.log()).toMatch(/1 task done/);
    await expect(runSimulation({ ...base, bus: BUS, queue, saveAgent: resolve(data, 'agent.json') })).rejects.toThrow(/--save-agent runs in this process/);
    const r = await runCli(['simulate', '--agent', 'team', '--bus', BUS, '--data', data, '--seeds', '1', '--steps', '10', '--no-report']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/agent "team" runs in this process only/);
    const q = await runCli(['simulate', '--agent', 'linucb', '--queue', 'x', '--data', data, '--seeds', '1', '--steps', '10', '--no-report']);
    expect(q.stderr).toMatch(/--queue names a queue on the bus: give --bus too/);
  });

  it('withdraws the run\'s tasks when it is interrupted', async () => {
    const queue = newQueue();
    const stop = new AbortController();
    const run = runSimulation({ ...base, seeds: 2, bus: BUS, queue, signal: stop.signal });
    // No worker: the tasks wait in the queue until the run is interrupted.
    await new Promise((r) => setTimeout(r, 1500));
    stop.abort();
    await expect(run).rejects.toThrow(/interrupted: the run's tasks were withdrawn/);
    const w = startWorker(queue, ['--max-tasks', '1']);
    await w.saw(/waiting for tasks/);
    await new Promise((r) => setTimeout(r, 3000));
    expect(w.log()).not.toMatch(/started/);
  });

  it('a worker whose data differs hands the task back, and the run says why', async () => {
    const queue = newQueue();
    const own = tempDir('chorus-farm-own-');
    writeTinyMovieLens(own, 40, 80, 3);
    const warnings: string[] = [];
    const run = runSimulation({ ...base, dataDir: own, seeds: 1, bus: BUS, queue, onWarning: (m) => warnings.push(m) });
    await new Promise((r) => setTimeout(r, 1000));
    // The worker reads another copy at the same path: the same layout, other ratings.
    writeTinyMovieLens(own, 40, 80, 4);
    const stale = startWorker(queue);
    await stale.saw(/handed back: .*sha256/);
    stale.proc.kill('SIGKILL');
    writeTinyMovieLens(own, 40, 80, 3);
    const good = startWorker(queue);
    const r = await run;
    expect(warnings.some((m) => /data at .* has sha256 .*give every worker the same data/.test(m))).toBe(true);
    await good.saw(/seed 1 done in/);
    const local = await runSimulation({ ...base, dataDir: own, seeds: 1, workers: 1 });
    expect(r.perSeed.map(numbers)).toEqual(local.perSeed.map(numbers));
  });

  it('fails the run, naming the seed, when its task is delivered MAX_DELIVER times without being finished', async () => {
    const queue = newQueue();
    // A consumer like the workers', with a 1 s ack wait, that takes tasks and never finishes them.
    const nc = await connectBus(BUS, 'chorus-test-black-hole');
    const jsm = await nc.jetstreamManager();
    const run = runSimulation({ ...base, seeds: 1, bus: BUS, queue });
    await new Promise((r) => setTimeout(r, 500));
    await jsm.consumers.add('CHORUS_SIM_TASKS', { durable_name: `chorus-sim-workers-${queue}`, ack_policy: AckPolicy.Explicit, ack_wait: nanos(1000), max_deliver: MAX_DELIVER, filter_subject: `chorus.sim.task.${queue}.>` });
    const c = await nc.jetstream().consumers.get('CHORUS_SIM_TASKS', `chorus-sim-workers-${queue}`);
    let pulling = true;
    void (async () => {
      while (pulling) await c.next({ expires: 1000 }).catch(() => null);
    })();
    try {
      await expect(run).rejects.toThrow(new RegExp(`seed 1's task was delivered ${MAX_DELIVER} times`));
    } finally {
      pulling = false;
      await nc.close();
    }
  });

  it('says clearly when the bus cannot be reached', async () => {
    await expect(runSimulation({ ...base, seeds: 1, bus: 'nats://127.0.0.1:1' })).rejects.toThrow(/cannot reach NATS at nats:\/\/127\.0\.0\.1:1/);
  });
});
