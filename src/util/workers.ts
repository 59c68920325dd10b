/**
 * Worker threads for the numeric code: spawn a worker module that works both from the TS sources
 * (vitest, tsx: tsx's loader is registered inside the worker, see `spawnWorker`) and from compiled
 * dist/ (plain JS), a tiny request/response protocol, and a pool with a clean shutdown.
 *
 * Owner side:   const pool = new WorkerPool(workerUrl(import.meta.url, './x-worker.js'), 2, data);
 *               const r = await pool.run(0, { op: 'sweep', from, to });   …   await pool.close();
 * Worker side:  serveWorker(async (msg, workerData) => result);
 *
 * Share big inputs through SharedArrayBuffer-backed typed arrays in `workerData` (no copies).
 */
import { isMainThread, parentPort, Worker, workerData as threadData } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { ChorusError } from '../errors.js';
import { fromWire, toWire, type WireError } from './worker-error.js';

/**
 * URL of a sibling worker module: `relative` is written with a `.js` extension (as imports are);
 * when the caller itself runs from a `.ts` source the `.ts` file is used instead.
 */
export function workerUrl(callerUrl: string, relative: string): URL {
  const fromTs = /\.[mc]?ts$/.test(new URL(callerUrl).pathname);
  const rel = fromTs ? relative.replace(/\.js$/, '.ts') : relative;
  return new URL(rel, callerUrl);
}

/**
 * Start a worker thread on `url`. A TypeScript module gets a two-line bootstrap that registers
 * tsx's loader inside the worker before importing it: on Node 20 a worker's own `--import tsx`
 * runs too late for its entry module ("Unknown file extension .ts").
 */
export function spawnWorker(url: URL, data?: unknown): Worker {
  if (!/\.[mc]?ts$/.test(url.pathname)) return new Worker(url, { workerData: data });
  // tsx's ESM api entry, resolved from here (its "require" condition points at the .cjs twin).
  const api = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(code, { eval: true, workerData: data });
}

/** Worker threads worth starting for CPU-bound work: the core count, at most `cap`. */
export function defaultThreads(cap = 2): number {
  return Math.max(1, Math.min(cap, availableParallelism()));
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Reply {
  id: number;
  result?: unknown;
  error?: { message: string; name: string; stack?: string };
  /** A ChorusError, sent as data so that it keeps its class, code, status and location. */
  chorusError?: WireError;
}

/** A fixed set of workers on one module, addressed by index (callers split the work themselves). */
export class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly pending: Map<number, Pending>[] = [];
  private nextId = 1;
  private closed = false;
  private failure: Error | null = null;

  constructor(url: URL, size: number, data?: unknown) {
    for (let w = 0; w < size; w++) {
      const worker = spawnWorker(url, data);
      const pending = new Map<number, Pending>();
      worker.on('message', (msg: Reply) => {
        const p = pending.get(msg.id);
        if (!p) return;
        pending.delete(msg.id);
        if (pending.size === 0) worker.unref();
        if (msg.chorusError) p.reject(fromWire(msg.chorusError));
        else if (msg.error) {
          const e = new Error(msg.error.message);
          e.name = msg.error.name;
          if (msg.error.stack) e.stack = msg.error.stack;
          p.reject(e);
        } else p.resolve(msg.result);
      });
      const failAll = (e: Error): void => {
        this.failure ??= e;
        for (const p of pending.values()) p.reject(e);
        pending.clear();
      };
      worker.on('error', failAll);
      worker.on('exit', (code) => {
        if (!this.closed) failAll(new Error(`worker ${w} exited with code ${code}`));
      });
      // An idle pool someone forgot to close must not keep the process alive; a worker is ref'd
      // only while a request waits on it (else the process could exit under an awaited call).
      worker.unref();
      this.workers.push(worker);
      this.pending.push(pending);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** Send `message` to worker `index`; resolves with what its handler returned. */
  run<T = unknown>(index: number, message: unknown): Promise<T> {
    if (this.closed) return Promise.reject(new Error('worker pool is closed'));
    if (this.failure) return Promise.reject(this.failure);
    const worker = this.workers[index];
    if (!worker) return Promise.reject(new RangeError(`no worker ${index} (pool of ${this.workers.length})`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending[index]!.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.ref();
      worker.postMessage({ id, payload: message });
    });
  }

  /** Terminate every worker; pending calls reject. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending) {
      for (const q of p.values()) q.reject(new Error('worker pool closed'));
      p.clear();
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * Worker side: answer each request with `handler(payload, workerData)`. Errors thrown by the
 * handler come back to the caller as rejected promises; a ChorusError keeps its class, code,
 * status and location (./worker-error.ts).
 */
export function serveWorker<D = unknown>(handler: (payload: unknown, data: D) => unknown): void {
  if (isMainThread || !parentPort) throw new Error('serveWorker must run inside a worker thread');
  const port = parentPort;
  port.on('message', async (msg: { id: number; payload: unknown }) => {
    try {
      const result = await handler(msg.payload, threadData as D);
      port.postMessage({ id: msg.id, result });
    } catch (e) {
      if (e instanceof ChorusError) {
        port.postMessage({ id: msg.id, chorusError: toWire(e) });
        return;
      }
      const err = e instanceof Error ? e : new Error(String(e));
      port.postMessage({ id: msg.id, error: { message: err.message, name: err.name, stack: err.stack } });
    }
  });
}
