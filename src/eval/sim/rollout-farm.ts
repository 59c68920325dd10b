/**
 * Simulation seeds farmed out over NATS JetStream to worker processes on any host
 * (`chorus simulate --bus nats://…`, `chorus worker --bus nats://…`).
 *
 * Why JetStream and not core NATS: a task must outlive the process that runs it. Each seed is one
 * message on a work-queue stream; workers pull from one shared durable consumer with explicit
 * acknowledgement, so a task is handed to one worker at a time, and a worker that dies mid-task
 * (crash, `kill -9`, lost host) never acknowledges it: once its ack wait runs out the server
 * hands the task to another worker. While a task runs, the worker's main thread tells the server
 * it is still working (`working()`, every third of the ack wait) — the seed itself runs on a
 * worker thread, so a long training chunk never starves the heartbeat.
 *
 * Same numbers as in-process: a task carries everything `SeedRun` is built from (the setup, the
 * run options, the seed), and the worker runs the same code on it (./worker.ts, the thread worker
 * `runSimulation` uses); the task also carries the data's sha256, and a worker whose copy of the
 * data differs refuses the task instead of simulating another world.
 *
 * Results travel back on a second stream (kept for a day), one message per seed, published
 * before the task is acknowledged: a worker that dies between the two has its task redone, and
 * the duplicate result is dropped (JetStream's message-id deduplication, and the coordinator
 * keeps the first result per seed). Progress (train steps, eval sessions) goes over plain NATS:
 * it is only for the progress bar.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  AckPolicy,
  RetentionPolicy,
  StorageType,
  nanos,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  type StreamConfig,
} from 'nats';
import { isBuiltinAgent } from '../../agents/registry.js';
import { connectBus } from '../../bus/nats.js';
import { ChorusError, ConfigError } from '../../errors.js';
import { WorkerPool, workerUrl } from '../../util/workers.js';
import { loadSimData } from './data.js';
import type { SeedMetrics, SeedRunOptions } from './runner.js';
import type { SetupOptions } from './setup.js';

export const TASK_STREAM = 'CHORUS_SIM_TASKS';
export const RESULT_STREAM = 'CHORUS_SIM_RESULTS';
/** The durable consumer every worker of a queue pulls tasks through (`chorus-sim-workers-<queue>`). */
export const WORKER_CONSUMER = 'chorus-sim-workers';
export const DEFAULT_QUEUE = 'default';
const TASK_SUBJECT = 'chorus.sim.task';
const RESULT_SUBJECT = 'chorus.sim.result';
const PROGRESS_SUBJECT = 'chorus.sim.progress';
/** A coordinator that gives up (a failure, Ctrl-C) tells the workers holding its tasks to drop them. */
const CANCEL_SUBJECT = 'chorus.sim.cancel';
/**
 * A task that keeps coming back (workers crashing on it) is given up after this many deliveries;
 * the server then announces it, and the coordinator fails the run naming the seed.
 */
export const MAX_DELIVER = 10;
/** A queue's consumer that no worker has used for this long is removed by the server. */
const CONSUMER_IDLE_MS = 7 * 24 * 3600 * 1000;
export const DEFAULT_ACK_WAIT_MS = 30_000;

/** One seed of one simulation run: what a worker needs to rebuild exactly the in-process `SeedRun`. */
export interface SimTask {
  v: 1;
  /** The coordinator's run id (a UUID): results and progress come back on subjects named after it. */
  run: string;
  seed: number;
  setup: SetupOptions;
  runOptions: SeedRunOptions;
  evalSessions: number;
  /** Training chunk between heartbeats and progress messages, in user-steps. */
  chunk: number;
  /** sha256 of the data the coordinator calibrated on. */
  dataSha256: string;
}

/** What became of a task: the seed's metrics, or why it failed. */
export type TaskOutcome = { ok: true; metrics: SeedMetrics } | { ok: false; error: string; code?: string };
export type SimTaskResult = { run: string; seed: number; worker: string } & TaskOutcome;

interface Progress {
  seed: number;
  /** User-steps or sessions done since the last message. */
  units: number;
  /** A worker could not take the task (its data or its Chorus differ) and handed it back. */
  warning?: string;
}

/**
 * JSON on the wire (readable, and the same on any Node version), except that the numbers JSON
 * cannot hold — NaN and ±Infinity, e.g. a learning-curve window where no session finished — travel
 * as `{"$num":"NaN"}`, so that a seed's metrics come back exactly as the worker computed them.
 */
const json = {
  encode: (v: unknown): Uint8Array =>
    new TextEncoder().encode(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? { $num: String(x) } : x))),
  decode: (b: Uint8Array): unknown =>
    JSON.parse(new TextDecoder().decode(b), (_k, x: unknown) =>
      x !== null && typeof x === 'object' && !Array.isArray(x) && Object.keys(x).length === 1 && typeof (x as { $num?: unknown }).$num === 'string' ? Number((x as { $num: string }).$num) : x,
    ),
};

/** Create the two streams unless they exist (an existing stream is used as it is). */
async function ensureStreams(jsm: JetStreamManager): Promise<void> {
  const day = 24 * 3600 * 1000;
  const want: Partial<StreamConfig>[] = [
    // Work queue: a task is removed once a worker acknowledges it.
    { name: TASK_STREAM, subjects: [`${TASK_SUBJECT}.>`], retention: RetentionPolicy.Workqueue, storage: StorageType.File, max_age: nanos(7 * day) },
    { name: RESULT_STREAM, subjects: [`${RESULT_SUBJECT}.>`], retention: RetentionPolicy.Limits, storage: StorageType.File, max_age: nanos(day) },
  ];
  for (const cfg of want) {
    try {
      await jsm.streams.info(cfg.name!);
    } catch {
      try {
        await jsm.streams.add(cfg);
      } catch (e) {
        // Another process created it between the two calls.
        if (!/already in use/i.test((e as Error).message)) throw e;
      }
    }
  }
}

/** The shared pull consumer, with this worker's ack wait (the last worker started sets it for all). */
async function ensureWorkerConsumer(jsm: JetStreamManager, queue: string, ackWaitMs: number): Promise<void> {
  const name = consumerName(queue);
  const cfg = {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(ackWaitMs),
    max_deliver: MAX_DELIVER,
    filter_subject: `${TASK_SUBJECT}.${queue}.>`,
    // Queues are cheap to make (one per farm, one per test run): the server drops idle ones.
    inactive_threshold: nanos(CONSUMER_IDLE_MS),
  };
  try {
    const info = await jsm.consumers.info(TASK_STREAM, name);
    if (info.config.ack_wait !== cfg.ack_wait) await jsm.consumers.update(TASK_STREAM, name, { ack_wait: cfg.ack_wait });
  } catch {
    try {
      await jsm.consumers.add(TASK_STREAM, cfg);
    } catch (e) {
      const msg = (e as Error).message;
      // A work-queue stream lets each message reach one consumer only, so filters may not overlap.
      if (/not unique/i.test(msg)) {
        throw new ChorusError('E_BUS_CONSUMER', `stream ${TASK_STREAM} already has a consumer whose subjects overlap queue "${queue}" (${msg}); list them with \`nats consumer ls ${TASK_STREAM}\` and remove the one that is not chorus-sim-workers-<queue>`, { status: 500 });
      }
      if (!/already in use|already exists/i.test(msg)) throw e;
    }
  }
}

/**
 * A queue name: workers serve one queue, and runs publish to one, so that several farms (teams,
 * experiments, test runs) can share a NATS server without taking each other's tasks.
 */
export function checkQueueName(queue: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(queue)) throw new ConfigError(`a queue name is 1–64 letters, digits, "_" or "-", got "${queue}"`, 'queue');
  return queue;
}

const consumerName = (queue: string): string => `${WORKER_CONSUMER}-${queue}`;

export interface FarmRunOptions {
  bus: string;
  /** Default `default`. */
  queue?: string;
  setup: SetupOptions;
  runOptions: SeedRunOptions;
  seeds: number[];
  evalSessions: number;
  chunk: number;
  dataSha256: string;
  /** Units of progress (user-steps + sessions), as `runSimulation` counts them. */
  onProgress?: (units: number) => void;
  /** Said once when no worker has pulled a task for `idleWarningMs` (default 15 s). */
  onWarning?: (message: string) => void;
  idleWarningMs?: number;
  /** Aborting (Ctrl-C) ends the run with an error after withdrawing its tasks. */
  signal?: AbortSignal;
}

/**
 * Publish one task per seed and wait for every seed's metrics. Throws the first failure a worker
 * reports, when a task is given up after MAX_DELIVER deliveries, when the bus connection is lost
 * and when `signal` aborts. Whatever way it ends (short of the process being killed), the run's
 * unfinished tasks are withdrawn from the queue and workers holding one are told to drop it.
 */
export async function runSeedsOnBus(o: FarmRunOptions): Promise<Map<number, SeedMetrics>> {
  if (!isBuiltinAgent(o.runOptions.agent)) {
    throw new ConfigError(`agent "${o.runOptions.agent}" is registered in this process only; worker processes know the built-in agents`, 'agent');
  }
  const queue = checkQueueName(o.queue ?? DEFAULT_QUEUE);
  const nc = await connectBus(o.bus, `chorus-simulate@${hostname()}:${process.pid}`);
  const run = randomUUID();
  const taskSubject = `${TASK_SUBJECT}.${queue}.${run}`;
  const hint = `chorus worker --bus ${o.bus}${queue === DEFAULT_QUEUE ? '' : ` --queue ${queue}`}`;
  const jsm = await nc.jetstreamManager();
  let timer: NodeJS.Timeout | undefined;
  let complete = false;
  try {
    await ensureStreams(jsm);
    const js = nc.jetstream();
    const warned = new Set<string>();
    const progress = nc.subscribe(`${PROGRESS_SUBJECT}.${run}`, {
      callback: (err, m) => {
        if (err) return;
        const p = json.decode(m.data) as Progress;
        if (p.warning !== undefined) {
          if (!warned.has(p.warning)) (warned.add(p.warning), o.onWarning?.(p.warning));
        } else o.onProgress?.(p.units);
      },
    });
    // An ordered consumer over this run's results, created before any task exists: none is missed.
    const consumer = await js.consumers.get(RESULT_STREAM, { filterSubjects: `${RESULT_SUBJECT}.${run}` });
    const messages = await consumer.consume();
    // The server announces a task it gave up on by its stream sequence number.
    const seedAt = new Map<number, number>();
    let giveUp: ((e: Error) => void) | undefined;
    const advisories = nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${TASK_STREAM}.${consumerName(queue)}`, {
      callback: (err, m) => {
        if (err) return;
        const seed = seedAt.get((JSON.parse(new TextDecoder().decode(m.data)) as { stream_seq: number }).stream_seq);
        if (seed !== undefined) giveUp?.(new ChorusError('E_WORKER_TASK', `seed ${seed}'s task was delivered ${MAX_DELIVER} times without being finished (workers crashed on it or kept handing it back); the run is given up`, { status: 500 }));
      },
    });
    for (const seed of o.seeds) {
      const task: SimTask = { v: 1, run, seed, setup: o.setup, runOptions: o.runOptions, evalSessions: o.evalSessions, chunk: o.chunk, dataSha256: o.dataSha256 };
      const ack = await js.publish(taskSubject, json.encode(task), { msgID: `${run}:${seed}` });
      seedAt.set(ack.seq, seed);
    }
    let heard = false;
    timer = setInterval(() => {
      if (heard) return;
      void jsm.consumers.info(TASK_STREAM, consumerName(queue)).then(
        (info) => {
          if (!heard && info.num_ack_pending === 0 && info.num_waiting === 0) {
            heard = true;
            o.onWarning?.(`no worker is taking tasks from ${o.bus} (queue ${queue}): start one or more with \`${hint}\` (the run waits for them)`);
          } else heard = true;
        },
        () => {
          heard = true;
          o.onWarning?.(`no worker has ever served queue ${queue} on ${o.bus}: start one or more with \`${hint}\` (the run waits for them)`);
        },
      );
    }, o.idleWarningMs ?? 15_000);
    const results = new Map<number, SeedMetrics>();
    const wanted = new Set(o.seeds);
    // The results, raced against everything that means they will not all come.
    await new Promise<void>((resolve, reject) => {
      giveUp = reject;
      void nc.closed().then((err) =>
        reject(new ChorusError('E_BUS_UNREACHABLE', `lost the connection to NATS at ${o.bus}${err ? ` (${err.message})` : ''} before every seed reported`, { status: 503 })),
      );
      if (o.signal?.aborted) reject(new ChorusError('E_INTERRUPTED', 'interrupted: the run\'s tasks were withdrawn from the queue', { status: 500 }));
      o.signal?.addEventListener('abort', () => reject(new ChorusError('E_INTERRUPTED', 'interrupted: the run\'s tasks were withdrawn from the queue', { status: 500 })), { once: true });
      void (async () => {
        for await (const m of messages) {
          const r = json.decode(m.data) as SimTaskResult;
          if (r.run !== run || !wanted.has(r.seed) || results.has(r.seed)) continue;
          if (!r.ok) throw new ChorusError(r.code ?? 'E_WORKER_TASK', `seed ${r.seed} failed on worker ${r.worker}: ${r.error}`, { status: 500 });
          results.set(r.seed, r.metrics);
          if (results.size === wanted.size) return;
        }
        throw new ChorusError('E_BUS_UNREACHABLE', `the results from ${o.bus} stopped before every seed reported`, { status: 503 });
      })().then(resolve, reject);
    });
    complete = true;
    progress.unsubscribe();
    advisories.unsubscribe();
    return results;
  } finally {
    if (timer) clearInterval(timer);
    // Withdraw what no worker finished (after a failure, or Ctrl-C) and the run's results; workers
    // holding one of its tasks drop it at their next chunk.
    if (!complete && !nc.isClosed()) nc.publish(`${CANCEL_SUBJECT}.${run}`);
    await jsm.streams.purge(TASK_STREAM, { filter: taskSubject }).catch(() => undefined);
    await jsm.streams.purge(RESULT_STREAM, { filter: `${RESULT_SUBJECT}.${run}` }).catch(() => undefined);
    await nc.close();
  }
}

export interface FarmWorkerOptions {
  bus: string;
  /** Default `default`. */
  queue?: string;
  /** Tasks run at the same time, each on its own thread (default 1). */
  concurrency?: number;
  /** Stop after this many tasks (default: run until `signal` aborts). */
  maxTasks?: number;
  /** How long the server waits for a sign of life before it hands a task to another worker. */
  ackWaitMs?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/** Pools of seed threads, one per concurrent slot, reused while tasks share a setup. */
class SlotThreads {
  private pool: WorkerPool | null = null;
  private key = '';

  get(setup: SetupOptions, run: SeedRunOptions): WorkerPool {
    const key = JSON.stringify([setup, run]);
    if (this.pool && this.key === key) return this.pool;
    void this.pool?.close();
    this.pool = new WorkerPool(workerUrl(import.meta.url, './worker.js'), 1, { setup, run });
    this.key = key;
    return this.pool;
  }

  close(): Promise<void> {
    return this.pool?.close() ?? Promise.resolve();
  }
}

/** Data hashes by (dir, read options), computed once per worker process. */
const hashes = new Map<string, Promise<string>>();
function dataHash(setup: SetupOptions): Promise<string> {
  const key = JSON.stringify([setup.dataDir, setup.readOptions ?? null]);
  let h = hashes.get(key);
  if (!h) {
    h = loadSimData(setup.dataDir, setup.readOptions).then((d) => d.summary.sha256);
    hashes.set(key, h);
  }
  return h;
}

/**
 * Pull tasks and run them until `maxTasks` are done or `signal` aborts (a task in progress is
 * finished first). Returns the number of tasks this worker completed.
 */
export async function serveSimTasks(o: FarmWorkerOptions): Promise<{ tasks: number }> {
  const ackWaitMs = o.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
  if (!(ackWaitMs >= 1000)) throw new ConfigError(`ack wait must be at least 1 s, got ${ackWaitMs / 1000} s`, 'ack-wait');
  const concurrency = o.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new ConfigError(`concurrency must be a positive integer, got ${concurrency}`, 'threads');
  const queue = checkQueueName(o.queue ?? DEFAULT_QUEUE);
  const name = `${hostname()}:${process.pid}`;
  const log = o.log ?? (() => undefined);
  // A worker outlives NATS restarts: it reconnects for as long as it runs (only the first connect fails fast).
  const nc = await connectBus(o.bus, `chorus-worker@${name}`, 'bus', { reconnectForever: true });
  const jsm = await nc.jetstreamManager();
  await ensureStreams(jsm);
  await ensureWorkerConsumer(jsm, queue, ackWaitMs);
  const js = nc.jetstream();
  const consumer = await js.consumers.get(TASK_STREAM, consumerName(queue));
  log(`worker ${name} connected to ${o.bus}, queue ${queue}; waiting for tasks (ack wait ${ackWaitMs / 1000} s)`);
  // Runs whose coordinator gave up: their tasks are dropped at the next chunk (bounded memory).
  const cancelled = new Set<string>();
  const cancels = nc.subscribe(`${CANCEL_SUBJECT}.>`, {
    callback: (err, m) => {
      if (err) return;
      if (cancelled.size >= 1000) cancelled.clear();
      cancelled.add(m.subject.slice(CANCEL_SUBJECT.length + 1));
    },
  });
  let taken = 0;
  let done = 0;
  const slots = Array.from({ length: concurrency }, () => new SlotThreads());

  const runTask = async (m: JsMsg, threads: SlotThreads): Promise<void> => {
    const task = json.decode(m.data) as SimTask;
    const reply = (r: TaskOutcome) =>
      js.publish(`${RESULT_SUBJECT}.${task.run}`, json.encode({ run: task.run, seed: task.seed, worker: name, ...r }), { msgID: `${task.run}:${task.seed}:result` });
    const tell = (p: Omit<Progress, 'seed'>) => nc.publish(`${PROGRESS_SUBJECT}.${task.run}`, json.encode({ seed: task.seed, ...p } satisfies Progress));
    // The consumer's ack wait is set by the last worker started, maybe not this one: beat to it.
    const info = await jsm.consumers.info(TASK_STREAM, consumerName(queue)).catch(() => null);
    const ackMs = info?.config.ack_wait ? Math.min(ackWaitMs, info.config.ack_wait / 1e6) : ackWaitMs;
    const heartbeat = setInterval(() => m.working(), Math.max(250, ackMs / 3));
    const t0 = performance.now();
    const label = `task run ${task.run.slice(0, 8)} seed ${task.seed}`;
    log(`${label} (${task.runOptions.agent}, delivery ${m.info.redeliveryCount}) started`);
    let metrics: SeedMetrics;
    try {
      // This worker cannot run it (other data, older Chorus), another may: hand it back, tell the coordinator.
      let local: string | null = null;
      if (task.v !== 1) local = `worker ${name} does not know task format v${String(task.v)} (update Chorus on it)`;
      else {
        const sha = await dataHash(task.setup);
        if (sha !== task.dataSha256) local = `worker ${name}'s data at ${task.setup.dataDir} has sha256 ${sha.slice(0, 12)}…, the run's has ${task.dataSha256.slice(0, 12)}…: give every worker the same data at the same path`;
      }
      if (local !== null) {
        // The coordinator's warning first, flushed, so it is out even if this worker dies next.
        tell({ units: 0, warning: local });
        await nc.flush();
        m.nak(10_000);
        log(`${label} handed back: ${local}`);
        return;
      }
      if (!isBuiltinAgent(task.runOptions.agent)) throw new ConfigError(`agent "${task.runOptions.agent}" is not a built-in agent`, 'agent');
      const pool = threads.get(task.setup, task.runOptions);
      await pool.run(0, { op: 'init', seed: task.seed });
      let trained = 0;
      while (trained < task.runOptions.trainSteps) {
        if (cancelled.has(task.run)) {
          log(`${label} dropped: its run was given up`);
          m.term();
          return;
        }
        const n = await pool.run<number>(0, { op: 'train', seed: task.seed, steps: task.chunk });
        trained += n;
        tell({ units: n });
      }
      metrics = await pool.run<SeedMetrics>(0, { op: 'eval', seed: task.seed, sessions: task.evalSessions });
      tell({ units: task.evalSessions });
    } catch (e) {
      const err = e as Error & { code?: string };
      log(`${label} failed: ${err.message}`);
      // The seed's own code failed: it fails the same way on any worker, so report it and drop it.
      await reply({ ok: false, error: err.message, ...(typeof err.code === 'string' ? { code: err.code } : {}) }).catch(() => undefined);
      m.term();
      return;
    } finally {
      clearInterval(heartbeat);
    }
    try {
      await reply({ ok: true, metrics });
      m.ack();
      done++;
      log(`${label} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } catch (e) {
      // The result did not reach the stream (a publish timeout): let the task be redone.
      log(`${label}: could not send the result (${(e as Error).message}); handing the task back`);
      m.nak();
    }
  };

  try {
    await Promise.all(
      slots.map(async (threads) => {
        for (;;) {
          if (o.signal?.aborted) return;
          // Reserve the task before pulling it, so that slots together never take more than maxTasks.
          if (o.maxTasks !== undefined && taken >= o.maxTasks) return;
          taken++;
          const m = await consumer.next({ expires: 2000 });
          if (!m) {
            taken--;
            continue;
          }
          if (o.signal?.aborted) {
            // Stopping while a task arrived: hand it back at once.
            m.nak();
            return;
          }
          await runTask(m, threads);
        }
      }),
    );
  } finally {
    cancels.unsubscribe();
    await Promise.all(slots.map((s) => s.close()));
    await nc.drain();
  }
  return { tasks: done };
}
