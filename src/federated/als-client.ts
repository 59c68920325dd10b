/**
 * A federated ALS client (implicit feedback, Hu, Koren & Volinsky 2008, the objective of
 * ../recommenders/als.ts). The client holds its users' interactions and their factors U_k; neither
 * leaves it. From the global item factors V it runs `localEpochs` local ALS iterations — solve its
 * users' rows against V, then the item rows against its users — and returns V_k − V.
 *
 * The objective splits over clients: L = Σ_k L_k with L_k = Σ_{u∈k} Σ_i c_ui (p_ui − x_u·y_i)²
 * + λ Σ_{u∈k} ‖x_u‖² + λ·w_k ‖Y‖², w_k the client's share of all users (1/N, public, under DP). The local item solve
 * minimises L_k over Y exactly (or by warm-started CG), so with one client it is the centralised
 * item half-sweep and FedAvg is ALS itself. With several, the server's weighted mean of the local
 * item solutions approximates the global solve: an item a client never saw has local solution 0
 * (its users' implicit zeros), so its mean is shrunk by the share of clients without it.
 *
 * Half-sweeps use the native ALS kernel when built (as the centralised model does), else the JS
 * kernels of ../recommenders/als-solve.ts, single-threaded.
 */
import { alsSweepKernel, kernels } from '../nn/kernels.js';
import { cgInit, cgStep, exactRows, exactWork, type HalfSweep } from '../recommenders/als-solve.js';
import { transposeImplicit, type ImplicitMatrix } from '../recommenders/als.js';
import { Rng } from '../util/rng.js';
import type { FederatedClient } from './fedavg.js';

export interface AlsSolveOptions {
  factors: number;
  regularization: number;
  solver: 'cg' | 'exact';
  cgSteps: number;
  /** Native kernel threads (results are bit-identical for any count). */
  threads: number;
}

/** Rows of `m` for the given users, in that order (entries unchanged). */
export function userRows(m: ImplicitMatrix, users: Int32Array): ImplicitMatrix {
  const indptr = new Int32Array(users.length + 1);
  for (let r = 0; r < users.length; r++) indptr[r + 1] = indptr[r]! + m.indptr[users[r]! + 1]! - m.indptr[users[r]!]!;
  const indices = new Int32Array(indptr[users.length]!);
  const cm1 = new Float32Array(indices.length);
  for (let r = 0; r < users.length; r++) {
    const s = m.indptr[users[r]!]!;
    const e = m.indptr[users[r]! + 1]!;
    indices.set(m.indices.subarray(s, e), indptr[r]!);
    cm1.set(m.cm1.subarray(s, e), indptr[r]!);
  }
  return { rows: users.length, cols: m.cols, indptr, indices, cm1 };
}

/**
 * One ALS half-sweep: every row of `x` solved against the fixed `y` with ridge `reg`. `m` is the
 * CSR of x's rows over y's rows.
 */
export function alsHalfSweep(m: ImplicitMatrix, x: Float32Array, y: Float32Array, reg: number, o: AlsSolveOptions): void {
  const f = o.factors;
  const native = alsSweepKernel();
  if (native) {
    native(f, m.indptr, m.indices, m.cm1, x, y, reg, o.solver === 'cg' ? 0 : 1, o.cgSteps, Math.max(1, o.threads));
    return;
  }
  const rows = m.rows;
  const s: HalfSweep = {
    f,
    indptr: m.indptr,
    indices: m.indices,
    cm1: m.cm1,
    x,
    y,
    r: new Float32Array(rows * f),
    p: new Float32Array(rows * f),
    ap: new Float32Array(rows * f),
    rs: new Float64Array(rows),
  };
  // G = YᵀY + λI, in float32 for the GEMM and float64 for exact solves (as Als does).
  const k = kernels();
  const g32 = new Float32Array(f * f);
  k.sgemm(true, false, f, f, y.length / f, 1, y, f, y, f, 0, g32, f);
  for (let i = 0; i < f; i++) g32[i * f + i] = g32[i * f + i]! + reg;
  if (o.solver === 'exact') {
    exactRows(s, Float64Array.from(g32), 0, rows, exactWork(f));
    return;
  }
  k.sgemm(false, false, rows, f, f, 1, s.x, f, g32, f, 0, s.ap, f);
  cgInit(s, 0, rows);
  for (let step = 0; step < o.cgSteps; step++) {
    k.sgemm(false, false, rows, f, f, 1, s.p, f, g32, f, 0, s.ap, f);
    cgStep(s, 0, rows);
  }
}

export class AlsClient implements FederatedClient {
  readonly id: number;
  readonly size: number;
  /** The global user indices this client holds, ascending. */
  readonly users: Int32Array;
  /** Its users' factors, users.length × f: local state, never sent. */
  readonly userFactors: Float32Array;
  private readonly ui: ImplicitMatrix;
  private readonly iu: ImplicitMatrix;
  private readonly local: Float32Array;

  /**
   * `matrix` is the whole user×item confidence matrix: the simulation slices the client's rows
   * out of it (a real client would build them from its own logs). `share` = w_k.
   */
  constructor(
    id: number,
    users: Int32Array,
    matrix: ImplicitMatrix,
    private readonly share: number,
    private readonly solve: AlsSolveOptions,
    private readonly localEpochs: number,
    seed: number,
  ) {
    this.id = id;
    this.users = users;
    this.size = users.length;
    this.ui = userRows(matrix, users);
    this.iu = transposeImplicit(this.ui);
    const f = solve.factors;
    this.userFactors = new Float32Array(users.length * f);
    // Small positive start, as the centralised model's (the first user solve is data-driven).
    const rng = new Rng(seed);
    for (let k = 0; k < this.userFactors.length; k++) this.userFactors[k] = rng.next() * 0.01;
    this.local = new Float32Array(matrix.cols * f);
  }

  localUpdate(global: Float32Array, _round: number, update: Float64Array): void {
    this.local.set(global);
    const reg = this.solve.regularization;
    for (let e = 0; e < this.localEpochs; e++) {
      alsHalfSweep(this.ui, this.userFactors, this.local, reg, this.solve);
      alsHalfSweep(this.iu, this.local, this.userFactors, reg * this.share, this.solve);
    }
    for (let j = 0; j < update.length; j++) update[j] = this.local[j]! - global[j]!;
  }

  /** Refresh the users' factors against final item factors (the client's last local step before serving). */
  solveUsers(items: Float32Array): void {
    alsHalfSweep(this.ui, this.userFactors, items, this.solve.regularization, this.solve);
  }

  /**
   * The client's part of the global objective at item factors `items` (its users' squared errors
   * and their ridge; the item ridge is added once by the caller). `itemGram` = YᵀY (f×f).
   */
  loss(items: Float32Array, itemGram: Float64Array): number {
    const f = this.solve.factors;
    const { indptr, indices, cm1 } = this.ui;
    let total = 0;
    for (let r = 0; r < this.users.length; r++) {
      const o = r * f;
      // Σ_i (x·y_i)² over every item = xᵀ(YᵀY)x; observed entries then swap s² for c(1 − s)².
      let dense = 0;
      let ridge = 0;
      for (let a = 0; a < f; a++) {
        const xa = this.userFactors[o + a]!;
        ridge += xa * xa;
        let row = 0;
        for (let b = 0; b < f; b++) row += itemGram[a * f + b]! * this.userFactors[o + b]!;
        dense += xa * row;
      }
      let sparse = 0;
      for (let e = indptr[r]!; e < indptr[r + 1]!; e++) {
        const yo = indices[e]! * f;
        let s = 0;
        for (let a = 0; a < f; a++) s += this.userFactors[o + a]! * items[yo + a]!;
        sparse += (1 + cm1[e]!) * (1 - s) * (1 - s) - s * s;
      }
      total += dense + sparse + this.solve.regularization * ridge;
    }
    return total;
  }
}
