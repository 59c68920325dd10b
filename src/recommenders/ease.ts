/**
 * EASE (Steck 2019): a closed-form item-item model. With the Gram matrix G = XᵀX of the (binary or
 * valued) user×item matrix and P = (G + λI)⁻¹, the weights are B = I − P·diag(1/diag P), whose
 * diagonal is zero by construction. A user's scores are x·B, i.e.
 *
 *   score_j = x_j − (x·P)_j / P_jj,
 *
 * which is what `scoreAll` computes from P directly (no separate B is kept).
 *
 * The one expensive step is inverting the n×n SPD matrix G + λI (n = items with ≥ minItemCount
 * training users; every item with an interaction by default, which is exact EASE). It runs as a
 * block-recursive Schur-complement inverse whose work is all GEMM (src/util/linalg.ts), done by
 * src/nn's native kernel when built (~70 GFLOP/s on one core here) and plain JS otherwise. Items
 * left out (no interactions, or under `minItemCount`) score 0 — what exact EASE gives an item with
 * no interactions — and do not act as inputs. Cost: n² float32 of memory (272 MB at P1's
 * n = 8,246) and ≈ n³ flops (≈ 10 CPU-s here at that n); the fit refuses an n whose matrix would
 * not fit in memory, naming `minItemCount`.
 */
import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { ConfigError, DataError } from '../errors.js';
import { kernels } from '../nn/kernels.js';
import { dpCountsConfigSchema, PLAIN_COUNTS, refuseWithDp, type PrivacyReport } from '../privacy/config.js';
import { boundUserItems, gramSensitivity, noisyGram, planCounts, type DpCountsPlan } from '../privacy/dp-counts.js';
import { spdInverseInPlace } from '../util/linalg.js';
import { Rng } from '../util/rng.js';
import { BaseRecommender } from './base.js';
import { checkDenseMemory } from './dense-memory.js';
import { numberField, typedField } from './saved-state.js';
import type { FitOptions, UserRef } from './types.js';

export const easeConfigSchema = z.strictObject({
  /** Ridge λ on the Gram matrix's diagonal. */
  lambda: z.number().positive(),
  /** "binary": X holds 1 per (user, item) pair; "raw": the summed interaction values. */
  values: z.enum(['binary', 'raw']),
  /** Items with fewer distinct training users are left out of the model (score 0). 1 = exact EASE. */
  minItemCount: z.number().int().min(1),
  /**
   * Differential privacy (docs/privacy.md): the Gram matrix of user-bounded binary rows is released
   * with Gaussian noise; items whose noisy count is under 3σ are left out, and λ grows by 3σ√n so
   * that the noisy matrix stays positive definite (both depend on σ only: no extra budget).
   */
  dp: dpCountsConfigSchema.optional(),
});
export type EaseConfig = z.infer<typeof easeConfigSchema>;
/**
 * λ = 200: the best of {50, 100, 200, 500, 1000} on P1's validation split (last 20 % of each
 * user's train rows; NDCG@10 0.1280, 0.1320, 0.1341, 0.1325, 0.1299). Steck's paper used 500.
 */
export const EASE_DEFAULTS: EaseConfig = { lambda: 200, values: 'binary', minItemCount: 1 };

export class Ease extends BaseRecommender<EaseConfig> {
  readonly kind = 'ease';
  readonly version = 1;
  /** Model items (dense 0..n-1) → item index, and item index → model item or −1. */
  private modelItems: Int32Array = new Int32Array(0);
  private itemSlot: Int32Array = new Int32Array(0);
  /** P = (G + λI)⁻¹, n×n symmetric, row-major; and 1/diag(P). */
  private p: Float32Array = new Float32Array(0);
  private invDiag: Float32Array = new Float32Array(0);
  private n = 0;
  /** Scoring scratch (x·P accumulator, the user's row of X, its non-zero slots). */
  private acc = new Float64Array(0);
  private x = new Float64Array(0);
  private rows = new Int32Array(0);

  /** The `dp` option as given: a refit plans its noise again (δ = 1/n of that data). */
  private readonly requestedDp: EaseConfig['dp'];

  constructor(config: Partial<EaseConfig> = {}) {
    super(easeConfigSchema.parse({ ...EASE_DEFAULTS, ...config }));
    this.requestedDp = this.config.dp;
  }


  protected async fitModel(train: Dataset, options: FitOptions): Promise<void> {
    if (this.requestedDp) return this.fitPrivate(train, this.requestedDp, options);
    const { lambda, values, minItemCount } = this.config;
    const csr = train.byUser();
    const nItems = train.nItems;
    // Distinct users per item (repeats of a pair count once).
    const last = new Int32Array(nItems).fill(-1);
    const users = new Int32Array(nItems);
    for (let u = 0; u < csr.rows; u++) {
      for (let e = csr.indptr[u]!; e < csr.indptr[u + 1]!; e++) {
        const i = csr.indices[e]!;
        if (values === 'raw' && !Number.isFinite(csr.values[e]!)) {
          throw new DataError(`EASE needs finite interaction values; user index ${u}, item index ${i} has ${csr.values[e]}`, { field: 'value' });
        }
        if (last[i] !== u) {
          last[i] = u;
          users[i]++;
        }
      }
    }
    const slot = new Int32Array(nItems).fill(-1);
    let n = 0;
    for (let i = 0; i < nItems; i++) if (users[i]! >= minItemCount) slot[i] = n++;
    const modelItems = new Int32Array(n);
    for (let i = 0; i < nItems; i++) if (slot[i]! >= 0) modelItems[slot[i]!] = i;
    options.onProgress?.(0, 3, 'step');

    // G = XᵀX + λI, accumulated user by user over each user's distinct model items.
    // The n×n matrix plus the inverse's temporaries (≤ n²/3 floats) must fit in memory.
    checkDenseMemory('ease', n, 'items', `raise minItemCount (now ${minItemCount}) to model fewer items`, 'minItemCount');
    const g = new Float32Array(n * n);
    const rowItems = new Int32Array(nItems);
    const rowVals = new Float64Array(nItems);
    const at = new Int32Array(nItems).fill(-1);
    for (let u = 0; u < csr.rows; u++) {
      let m = 0;
      for (let e = csr.indptr[u]!; e < csr.indptr[u + 1]!; e++) {
        const s = slot[csr.indices[e]!]!;
        if (s < 0) continue;
        const v = values === 'binary' ? 1 : csr.values[e]!;
        const k = at[s]!;
        if (k >= 0 && k < m && rowItems[k] === s) {
          if (values === 'raw') rowVals[k] = rowVals[k]! + v;
        } else {
          at[s] = m;
          rowItems[m] = s;
          rowVals[m++] = v;
        }
      }
      for (let a = 0; a < m; a++) {
        const ra = rowItems[a]! * n;
        const va = rowVals[a]!;
        for (let b = 0; b < m; b++) g[ra + rowItems[b]!] += va * rowVals[b]!;
      }
      for (let a = 0; a < m; a++) at[rowItems[a]!] = -1;
    }
    for (let j = 0; j < n; j++) g[j * n + j] += lambda;
    options.onProgress?.(1, 3, 'step');

    this.invertInto(g, n, modelItems, slot, options);
    options.onProgress?.(3, 3, 'step');
  }

  /**
   * Inverts the regularised Gram matrix `g` (n × n over `modelItems`; `slot` maps catalogue items
   * to its rows, −1 outside) in place into P, and makes it the fitted model.
   */
  private invertInto(g: Float32Array, n: number, modelItems: Int32Array, slot: Int32Array, options: FitOptions): void {
    spdInverseInPlace(g, n, kernels().sgemm);
    // The leaf inverses are symmetric only up to rounding; make P exactly symmetric from its upper
    // triangle, which is also what a saved model keeps (so a loaded model scores identically).
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) g[j * n + i] = g[i * n + j]!;
    options.onProgress?.(2, 3, 'step');
    this.n = n;
    this.modelItems = modelItems;
    this.itemSlot = slot;
    this.p = g;
    this.invDiag = inverseDiagonal(g, n);
  }

  /**
   * The DP path: the noisy Gram matrix over the whole catalogue (dp-counts.ts), then exact EASE on
   * the items whose noisy count (the diagonal) reaches 3σ, with λ + 3σ√n on the diagonal: the noise
   * matrix's spectral norm is about 2σ√n, so the ridge keeps G + λI positive definite.
   */
  private async fitPrivate(train: Dataset, dp: NonNullable<EaseConfig['dp']>, options: FitOptions): Promise<void> {
    const { lambda, values, minItemCount } = this.config;
    refuseWithDp('ease', [['values', values, values === 'raw'], ['minItemCount', minItemCount, minItemCount !== 1]], PLAIN_COUNTS);
    const nItems = train.nItems;
    // The catalogue's noisy Gram matrix and the kept items' copy are alive together.
    checkDenseMemory('ease', nItems, 'catalogue items (dp releases the Gram matrix of every item)', 'use a smaller catalogue', 'dp', 2);
    const m = dp.maxItemsPerUser;
    const { plan, sigma } = planCounts(dp, gramSensitivity(m), train.nUsers, 'ease');
    const rng = new Rng(dp.seed);
    options.onProgress?.(0, 3, 'step');
    const full = noisyGram(boundUserItems(train.byUser(), nItems, m, rng), nItems, sigma, rng);
    const slot = new Int32Array(nItems).fill(-1);
    let n = 0;
    for (let i = 0; i < nItems; i++) if (full[i * nItems + i]! >= 3 * sigma) slot[i] = n++;
    const modelItems = new Int32Array(n);
    for (let i = 0; i < nItems; i++) if (slot[i]! >= 0) modelItems[slot[i]!] = i;
    const g = new Float32Array(n * n);
    for (let a = 0; a < n; a++) {
      const ra = modelItems[a]! * nItems;
      for (let b = 0; b < n; b++) g[a * n + b] = full[ra + modelItems[b]!]!;
    }
    const ridge = lambda + 3 * sigma * Math.sqrt(n);
    for (let j = 0; j < n; j++) g[j * n + j] += ridge;
    options.onProgress?.(1, 3, 'step');
    this.invertInto(g, n, modelItems, slot, options);
    (this as { config: Readonly<EaseConfig> }).config = Object.freeze({ ...this.config, dp: plan });
    options.onProgress?.(3, 3, 'step');
  }

  scoreAll(user: UserRef, out?: Float32Array): Float32Array {
    this.assertFitted();
    const o = out ?? new Float32Array(this.nItems);
    o.fill(0);
    const n = this.n;
    const items = typeof user === 'number' ? this.seenItems(user) : user.items;
    const vals = typeof user === 'number' ? undefined : user.values;
    const raw = this.config.values === 'raw';
    // x over model items; repeats of an item merge as in fit. Scratch buffers are reused.
    if (this.acc.length !== n) {
      this.acc = new Float64Array(n);
      this.x = new Float64Array(n);
      this.rows = new Int32Array(n);
    }
    const { acc, x, rows } = this;
    acc.fill(0);
    x.fill(0);
    for (let e = 0; e < items.length; e++) {
      const i = items[e]!;
      if (i < 0 || i >= this.nItems) throw new DataError(`item index ${i} is out of range 0..${this.nItems - 1}`, { field: `items[${e}]` });
      const s = this.itemSlot[i]!;
      if (s < 0) continue;
      const v = raw ? (typeof user === 'number' ? this.seenValue(user, e) : (vals?.[e] ?? 1)) : 1;
      x[s] = raw ? x[s]! + v : 1;
    }
    // acc = x·P over the user's rows of P. Each acc[j] adds the rows' terms one at a time in row
    // order, left to right (acc + t_a + t_b + …), however many rows a pass takes, so the grouping
    // below changes no bit: several rows per pass load and store acc once per pass (four rows per
    // pass measured ~2× over one), and with binary values every x is 1, so the term is p itself
    // (1 · p = p exactly) and the multiplications are left out, eight rows per pass (P1 `all`, the
    // whole evaluation of 610 users: 0.87–1.03 → 0.64–0.85 CPU s on a loaded machine, bench/p1-score.ts).
    let nRows = 0;
    for (let s = 0; s < n; s++) if (x[s] !== 0) rows[nRows++] = s;
    const p = this.p;
    let t = 0;
    if (!raw) {
      for (; t + 7 < nRows; t += 8) {
        const ra = rows[t]! * n;
        const rb = rows[t + 1]! * n;
        const rc = rows[t + 2]! * n;
        const rd = rows[t + 3]! * n;
        const re = rows[t + 4]! * n;
        const rf = rows[t + 5]! * n;
        const rg = rows[t + 6]! * n;
        const rh = rows[t + 7]! * n;
        for (let j = 0; j < n; j++) {
          acc[j] = acc[j]! + p[ra + j]! + p[rb + j]! + p[rc + j]! + p[rd + j]! + p[re + j]! + p[rf + j]! + p[rg + j]! + p[rh + j]!;
        }
      }
      for (; t < nRows; t++) {
        const ra = rows[t]! * n;
        for (let j = 0; j < n; j++) acc[j] = acc[j]! + p[ra + j]!;
      }
    }
    for (; t + 3 < nRows; t += 4) {
      const a = rows[t]!;
      const b = rows[t + 1]!;
      const c = rows[t + 2]!;
      const d = rows[t + 3]!;
      const va = x[a]!;
      const vb = x[b]!;
      const vc = x[c]!;
      const vd = x[d]!;
      const ra = a * n;
      const rb = b * n;
      const rc = c * n;
      const rd = d * n;
      for (let j = 0; j < n; j++) acc[j] = acc[j]! + va * p[ra + j]! + vb * p[rb + j]! + vc * p[rc + j]! + vd * p[rd + j]!;
    }
    for (; t < nRows; t++) {
      const a = rows[t]!;
      const va = x[a]!;
      const ra = a * n;
      for (let j = 0; j < n; j++) acc[j] = acc[j]! + va * p[ra + j]!;
    }
    const inv = this.invDiag;
    for (let j = 0; j < n; j++) o[this.modelItems[j]!] = x[j]! - acc[j]! * inv[j]!;
    return o;
  }

  /** The training value of the e-th seen entry of `user` (raw mode only). */
  private seenValue(user: number, e: number): number {
    return this.seenValues[this.seenIndptr[user]! + e]!;
  }

  private seenValues: Float32Array = new Float32Array(0);

  override async fit(train: Dataset, options: FitOptions = {}): Promise<void> {
    await super.fit(train, options);
    this.seenValues = this.config.values === 'raw' ? train.byUser().values : new Float32Array(0);
  }

  protected getState(): Record<string, unknown> {
    const n = this.n;
    const upper = new Float32Array((n * (n + 1)) / 2);
    let k = 0;
    for (let i = 0; i < n; i++) {
      upper.set(this.p.subarray(i * n + i, (i + 1) * n), k);
      k += n - i;
    }
    const state: Record<string, unknown> = { n, modelItems: this.modelItems, pUpper: upper };
    if (this.config.values === 'raw') state.seenValues = this.seenValues;
    return state;
  }

  protected setState(state: Record<string, unknown>): void {
    const n = numberField(state, 'n');
    const modelItems = typedField(state, 'modelItems', Int32Array, n);
    const upper = typedField(state, 'pUpper', Float32Array, (n * (n + 1)) / 2);
    const slot = new Int32Array(this.nItems).fill(-1);
    for (let s = 0; s < n; s++) {
      const i = modelItems[s]!;
      if (!(i >= 0 && i < this.nItems)) throw new DataError(`item index ${i} out of range`, { field: 'state.modelItems' }, 'E_MODEL_CORRUPT');
      slot[i] = s;
    }
    const p = new Float32Array(n * n);
    let k = 0;
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        const v = upper[k++]!;
        p[i * n + j] = v;
        p[j * n + i] = v;
      }
    }
    this.n = n;
    this.modelItems = modelItems;
    this.itemSlot = slot;
    this.p = p;
    this.invDiag = inverseDiagonal(p, n);
    this.seenValues = this.config.values === 'raw' ? typedField(state, 'seenValues', Float32Array, this.seenIndices.length) : new Float32Array(0);
  }
}

function inverseDiagonal(p: Float32Array, n: number): Float32Array {
  const d = new Float32Array(n);
  for (let j = 0; j < n; j++) d[j] = 1 / p[j * n + j]!;
  return d;
}
