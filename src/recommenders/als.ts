/**
 * ALS for implicit feedback (Hu, Koren & Volinsky 2008). Every observed (user, item) has
 * preference 1 and confidence c = 1 + α·r (r = 1 for every interaction with `values: 'binary'`,
 * the interaction value with `'raw'`); unobserved pairs have preference 0 and confidence 1. Users
 * and items are solved in turn against the other side's fixed factors with ridge λ (not scaled by
 * counts, as implicit does).
 *
 * Solvers: `cg` runs `cgSteps` conjugate-gradient steps per row warm-started from the previous
 * factors (implicit's default solver); `exact` Cholesky-solves each row's f×f system.
 *
 * Kernels: with the native addon built, each half-sweep is one call into src/nn/native/als.c (the
 * Gram YᵀY and every row's solve in C, rows sharded over `threads` pthreads by entry count;
 * bit-identical for any thread count). Otherwise (or with CHORUS_NN_BACKEND=js) the JS kernels of
 * als-solve.ts run the same arithmetic, the dense products through src/nn's GEMM and the sparse
 * per-row work split over worker threads. The two agree to float rounding.
 *
 * Note on α: implicit's `alpha` multiplies r into its confidence *without* the 1 + … (c = α·r,
 * implicit/cpu/als.py `Cui = self.alpha * Cui`), so implicit's alpha = 2 on binary data equals
 * α = 1 here. Initial factors are uniform in [0, 0.01), as implicit's.
 */
import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { DataError } from '../errors.js';
import { alsSweepKernel, kernels } from '../nn/kernels.js';
import { scoreAllFactors } from '../util/dot.js';
import { gram } from '../util/linalg.js';
import { Rng } from '../util/rng.js';
import { defaultThreads, WorkerPool, workerUrl } from '../util/workers.js';
import { cgInit, cgStep, exactRows, exactWork, solveRow, type HalfSweep } from './als-solve.js';
import { BaseRecommender } from './base.js';
import { numberField, typedField } from './saved-state.js';
import type { FitOptions, UserRef, UserState } from './types.js';
import { FoldInCache } from './fold-in-cache.js';

export const alsConfigSchema = z.strictObject({
  factors: z.number().int().positive(),
  /** Ridge λ added to every row's normal equations. */
  regularization: z.number().positive(),
  /** Confidence weight: c = 1 + alpha·r. */
  alpha: z.number().min(0),
  iterations: z.number().int().positive(),
  solver: z.enum(['cg', 'exact']),
  /** CG steps per row per half-sweep (solver "cg"). */
  cgSteps: z.number().int().positive(),
  /** "binary": every interaction counts r = 1 (repeats merge); "raw": r = the summed values. */
  values: z.enum(['binary', 'raw']),
  /** Worker threads for the sweeps: 0 = automatic (2 on big inputs where it pays, else 1). */
  threads: z.number().int().min(0).max(16),
  seed: z.number().int(),
});
export type AlsConfig = z.infer<typeof alsConfigSchema>;
/**
 * The P1 peer row's model (implicit 0.7.3: 64 factors, reg 10, alpha 2, 15 iterations, CG 3 steps).
 * implicit's confidence is c = alpha·r, ours is c = 1 + α·r, so on binary data its alpha = 2 is
 * α = 1 here (c = 2 either way); α = 1 was also the best of {1, 2, 4} on P1's validation split.
 */
export const ALS_DEFAULTS: AlsConfig = {
  factors: 64,
  regularization: 10,
  alpha: 1,
  iterations: 15,
  solver: 'cg',
  cgSteps: 3,
  values: 'binary',
  threads: 0,
  seed: 0,
};

/**
 * From this many interactions a second JS worker thread pays for its start-up (~0.1–0.3 s): on P1
 * `all` (81 k) two threads fit in ~0.7× the time of one (bench/als-ease-speed.ts, JS kernels).
 */
const THREADS_MIN_NNZ = 50_000;
/** The native kernel's threads are pthreads started per half-sweep (~50 µs): they pay much sooner. */
const NATIVE_THREADS_MIN_NNZ = 5_000;

export interface ImplicitMatrix {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  /** c − 1 = α·r per entry. */
  cm1: Float32Array;
}

/**
 * The user×item confidence matrix from a dataset: repeats of a (user, item) pair merge (binary:
 * r = 1; raw: values summed), entries sorted by item within a row. Shared memory when `shared`, so
 * worker threads can read it without a copy.
 */
export function implicitMatrix(train: Dataset, alpha: number, values: 'binary' | 'raw', shared = false): ImplicitMatrix {
  const csr = train.byUser();
  const rows = train.nUsers;
  const cols = train.nItems;
  const last = new Int32Array(cols).fill(-1);
  const acc = new Float64Array(cols);
  const indptr = new Int32Array(rows + 1);
  // First pass: distinct items per row.
  let nnz = 0;
  for (let u = 0; u < rows; u++) {
    for (let e = csr.indptr[u]!; e < csr.indptr[u + 1]!; e++) {
      const i = csr.indices[e]!;
      if (last[i] !== u) {
        last[i] = u;
        nnz++;
      }
    }
    indptr[u + 1] = nnz;
  }
  const indices = alloc(Int32Array, nnz, shared);
  const cm1 = alloc(Float32Array, nnz, shared);
  last.fill(-1);
  for (let u = 0; u < rows; u++) {
    let w = indptr[u]!;
    for (let e = csr.indptr[u]!; e < csr.indptr[u + 1]!; e++) {
      const i = csr.indices[e]!;
      const v = csr.values[e]!;
      if (values === 'raw' && !(v >= 0)) {
        throw new DataError(`ALS needs non-negative interaction values; user index ${u}, item index ${i} has ${v}`, { field: 'value' });
      }
      if (last[i] !== u) {
        last[i] = u;
        indices[w++] = i;
        acc[i] = 0;
      }
      acc[i] = values === 'binary' ? 1 : acc[i]! + v;
    }
    const s = indptr[u]!;
    const row = indices.subarray(s, w);
    row.sort();
    for (let e = s; e < w; e++) cm1[e] = alpha * acc[indices[e]!]!;
  }
  const sharedIndptr = alloc(Int32Array, rows + 1, shared);
  sharedIndptr.set(indptr);
  return { rows, cols, indptr: sharedIndptr, indices, cm1 };
}

/** The transpose (item×user) of an implicit matrix, entries sorted by user. */
export function transposeImplicit(m: ImplicitMatrix, shared = false): ImplicitMatrix {
  const nnz = m.indptr[m.rows]!;
  const indptr = alloc(Int32Array, m.cols + 1, shared);
  for (let e = 0; e < nnz; e++) indptr[m.indices[e]! + 1]++;
  for (let i = 0; i < m.cols; i++) indptr[i + 1] += indptr[i]!;
  const next = indptr.slice(0, m.cols);
  const indices = alloc(Int32Array, nnz, shared);
  const cm1 = alloc(Float32Array, nnz, shared);
  for (let u = 0; u < m.rows; u++) {
    for (let e = m.indptr[u]!; e < m.indptr[u + 1]!; e++) {
      const w = next[m.indices[e]!]++;
      indices[w] = u;
      cm1[w] = m.cm1[e]!;
    }
  }
  return { rows: m.cols, cols: m.rows, indptr, indices, cm1 };
}

type TypedCtor<T> = { new (n: number): T; new (b: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number };

function alloc<T>(ctor: TypedCtor<T>, n: number, shared: boolean): T {
  return shared ? new ctor(new SharedArrayBuffer(Math.max(1, n) * ctor.BYTES_PER_ELEMENT)) : new ctor(n);
}

/** Work split for one half-sweep over worker threads: row ranges with about equal entries+rows. */
function splitRows(indptr: Int32Array, rows: number, parts: number): number[] {
  // Per step a row costs ~2f per entry (sparse part) plus ~6f for its vector updates; its dense
  // part is the caller's GEMM. Balance entries + 3 per row.
  const total = indptr[rows]! + 3 * rows;
  const cuts = [0];
  let u = 0;
  for (let p = 1; p < parts; p++) {
    const target = (total * p) / parts;
    while (u < rows && indptr[u]! + 3 * u < target) u++;
    cuts.push(u);
  }
  cuts.push(rows);
  return cuts;
}

/** Messages to als-worker.ts. */
export type AlsWorkerMsg =
  | { op: 'bind'; side: 'users' | 'items'; sweep: HalfSweep }
  | { op: 'init' | 'step'; side: 'users' | 'items'; from: number; to: number }
  | { op: 'exact'; side: 'users' | 'items'; gram: Float64Array; from: number; to: number };

export class Als extends BaseRecommender<AlsConfig> {
  readonly kind = 'als';
  readonly version = 1;
  /** nUsers × factors and nItems × factors, row-major. */
  private userFactors: Float32Array = new Float32Array(0);
  private itemFactors: Float32Array = new Float32Array(0);
  /** YᵀY + λI of the item factors, for folding in new users (computed on first use). */
  private itemGram: Float64Array | null = null;
  /** Folded-in factors per user state, for repeated scoring of the same state (exact; cleared with the factors). */
  private readonly foldIns = new FoldInCache<Float32Array>();

  constructor(config: Partial<AlsConfig> = {}) {
    super(alsConfigSchema.parse({ ...ALS_DEFAULTS, ...config }));
  }

  protected async fitModel(train: Dataset, options: FitOptions): Promise<void> {
    const { factors: f, alpha, values, iterations, solver, seed } = this.config;
    const native = alsSweepKernel();
    let threads = this.config.threads;
    if (threads === 0) threads = train.nInteractions >= (native ? NATIVE_THREADS_MIN_NNZ : THREADS_MIN_NNZ) ? defaultThreads(2) : 1;
    // Only JS worker threads need SharedArrayBuffers; the native kernel's threads share this heap.
    const shared = threads > 1 && !native;
    const ui = implicitMatrix(train, alpha, values, shared);
    const iu = transposeImplicit(ui, shared);
    const nU = ui.rows;
    const nI = ui.cols;
    const rng = new Rng(seed);
    // Small positive start, as implicit: rows of a tiny scale so the first sweep is driven by data.
    const U = alloc(Float32Array, nU * f, shared);
    const V = alloc(Float32Array, nI * f, shared);
    for (let k = 0; k < U.length; k++) U[k] = rng.next() * 0.01;
    for (let k = 0; k < V.length; k++) V[k] = rng.next() * 0.01;
    if (native) {
      // One native call per half-sweep: Gram, then every row's solve, sharded over `threads`.
      const code = solver === 'cg' ? 0 : 1;
      const { regularization: reg, cgSteps } = this.config;
      for (let it = 0; it < iterations; it++) {
        native(f, ui.indptr, ui.indices, ui.cm1, U, V, reg, code, cgSteps, threads);
        native(f, iu.indptr, iu.indices, iu.cm1, V, U, reg, code, cgSteps, threads);
        options.onProgress?.(it + 1, iterations, 'iteration');
        // Each call holds this thread; let timers and I/O run between iterations (a fit inside
        // the server would otherwise stall requests for the whole fit).
        await new Promise<void>((r) => setImmediate(r));
      }
      this.setFactors(U, V);
      return;
    }
    const users = sweepState(ui, U, V, f, shared);
    const items = sweepState(iu, V, U, f, shared);
    let pool: WorkerPool | null = null;
    try {
      if (threads > 1) {
        pool = new WorkerPool(workerUrl(import.meta.url, './als-worker.js'), threads - 1);
        for (let w = 0; w < pool.size; w++) {
          await pool.run(w, { op: 'bind', side: 'users', sweep: users } satisfies AlsWorkerMsg);
          await pool.run(w, { op: 'bind', side: 'items', sweep: items } satisfies AlsWorkerMsg);
        }
      }
      const gramF32 = new Float32Array(f * f);
      const gram64 = new Float64Array(f * f);
      const work = exactWork(f);
      for (let it = 0; it < iterations; it++) {
        for (const [side, s] of [['users', users], ['items', items]] as const) {
          if (solver === 'exact') {
            factorGram(s.y, s.y.length / f, f, this.config.regularization, gramF32, gram64);
            const rows = s.indptr.length - 1;
            if (!pool) exactRows(s, gram64, 0, rows, work);
            else {
              const cuts = splitRows(s.indptr, rows, pool.size + 1);
              const waits: Promise<unknown>[] = [];
              for (let w = 0; w < pool.size; w++) {
                waits.push(pool.run(w, { op: 'exact', side, gram: gram64, from: cuts[w + 1]!, to: cuts[w + 2]! } satisfies AlsWorkerMsg));
              }
              exactRows(s, gram64, cuts[0]!, cuts[1]!, work);
              await Promise.all(waits);
            }
          } else {
            await this.cgHalfSweep(side, s, gramF32, gram64, pool);
          }
        }
        options.onProgress?.(it + 1, iterations, 'iteration');
      }
    } finally {
      await pool?.close();
    }
    // Keep plain (non-shared) arrays on the model: they serialise and transfer like any other.
    this.setFactors(shared ? Float32Array.from(U) : U, shared ? Float32Array.from(V) : V);
  }

  private setFactors(U: Float32Array, V: Float32Array): void {
    this.userFactors = U;
    this.itemFactors = V;
    this.itemGram = null;
    this.foldIns.clear();
  }

  /** One half-sweep of lock-step CG: GEMMs here, sparse row work here and in the workers. */
  private async cgHalfSweep(
    side: 'users' | 'items',
    s: HalfSweep,
    gramF32: Float32Array,
    gram64: Float64Array,
    pool: WorkerPool | null,
  ): Promise<void> {
    const f = s.f;
    const rows = s.indptr.length - 1;
    const k = kernels();
    factorGram(s.y, s.y.length / f, f, this.config.regularization, gramF32, gram64);
    const cuts = splitRows(s.indptr, rows, (pool?.size ?? 0) + 1);
    const phase = async (op: 'init' | 'step'): Promise<void> => {
      const fn = op === 'init' ? cgInit : cgStep;
      if (!pool) {
        fn(s, 0, rows);
        return;
      }
      const waits: Promise<unknown>[] = [];
      for (let w = 0; w < pool.size; w++) {
        waits.push(pool.run(w, { op, side, from: cuts[w + 1]!, to: cuts[w + 2]! } satisfies AlsWorkerMsg));
      }
      fn(s, cuts[0]!, cuts[1]!);
      await Promise.all(waits);
    };
    // AP = X·G (every row's dense part at once), then r = b − A·x, p = r.
    k.sgemm(false, false, rows, f, f, 1, s.x, f, gramF32, f, 0, s.ap, f);
    await phase('init');
    for (let step = 0; step < this.config.cgSteps; step++) {
      k.sgemm(false, false, rows, f, f, 1, s.p, f, gramF32, f, 0, s.ap, f);
      await phase('step');
    }
  }

  /** Factors for a user state: the exact solve against the fixed item factors. */
  foldIn(state: UserState): Float32Array {
    this.assertFitted();
    const f = this.config.factors;
    const n = state.items.length;
    const cols = new Int32Array(n);
    const cm1 = new Float32Array(n);
    // Merge repeats as fit does.
    const seen = new Map<number, number>();
    let m = 0;
    for (let e = 0; e < n; e++) {
      const i = state.items[e]!;
      if (i < 0 || i >= this.nItems) throw new DataError(`item index ${i} is out of range 0..${this.nItems - 1}`, { field: `items[${e}]` });
      const r = this.config.values === 'binary' ? 1 : (state.values?.[e] ?? 1);
      const at = seen.get(i);
      if (at === undefined) {
        seen.set(i, m);
        cols[m] = i;
        cm1[m++] = this.config.alpha * r;
      } else if (this.config.values === 'raw') cm1[at] = cm1[at]! + this.config.alpha * r;
    }
    const x = new Float32Array(f);
    if (m === 0) return x;
    if (!this.itemGram) {
      this.itemGram = gram(this.itemFactors, this.nItems, f, new Float64Array(f * f), this.config.regularization);
    }
    solveRow(this.itemGram, f, this.itemFactors, cols, cm1, 0, m, x, 0, exactWork(f));
    return x;
  }

  scoreAll(user: UserRef, out?: Float32Array): Float32Array {
    this.assertFitted();
    const f = this.config.factors;
    const o = out ?? new Float32Array(this.nItems);
    let x: Float32Array;
    if (typeof user === 'number') {
      if (!(user >= 0 && user < this.nUsers)) {
        // A user with no history has the zero factor vector: every score is 0.
        o.fill(0);
        return o;
      }
      x = this.userFactors.subarray(user * f, (user + 1) * f);
    } else x = this.foldIns.get(user, (s) => this.foldIn(s));
    return scoreAllFactors(x, this.itemFactors, this.nItems, f, o);
  }

  /** Item factors, row-major nItems × factors (a copy; for agents and ANN indexes). */
  itemEmbeddings(): Float32Array {
    this.assertFitted();
    return this.itemFactors.slice();
  }

  /** User factors, row-major nUsers × factors (a copy). */
  userEmbeddings(): Float32Array {
    this.assertFitted();
    return this.userFactors.slice();
  }

  protected getState(): Record<string, unknown> {
    return { factors: this.config.factors, userFactors: this.userFactors, itemFactors: this.itemFactors };
  }

  protected setState(state: Record<string, unknown>): void {
    const f = numberField(state, 'factors');
    if (f !== this.config.factors) throw new DataError(`factors ${f} does not match config.factors ${this.config.factors}`, { field: 'state.factors' }, 'E_MODEL_CORRUPT');
    this.userFactors = typedField(state, 'userFactors', Float32Array, this.nUsers * f);
    this.itemFactors = typedField(state, 'itemFactors', Float32Array, this.nItems * f);
    this.itemGram = null;
    this.foldIns.clear();
  }
}

function sweepState(m: ImplicitMatrix, x: Float32Array, y: Float32Array, f: number, shared: boolean): HalfSweep {
  return {
    f,
    indptr: m.indptr,
    indices: m.indices,
    cm1: m.cm1,
    x,
    y,
    r: alloc(Float32Array, m.rows * f, shared),
    p: alloc(Float32Array, m.rows * f, shared),
    ap: alloc(Float32Array, m.rows * f, shared),
    rs: alloc(Float64Array, m.rows, shared),
  };
}

/** G = YᵀY + λI into both a float32 copy (for the GEMM) and a float64 one (for exact solves). */
function factorGram(y: Float32Array, rows: number, f: number, reg: number, g32: Float32Array, g64: Float64Array): void {
  kernels().sgemm(true, false, f, f, rows, 1, y, f, y, f, 0, g32, f);
  for (let i = 0; i < f; i++) g32[i * f + i] = g32[i * f + i]! + reg;
  for (let k = 0; k < f * f; k++) g64[k] = g32[k]!;
}
