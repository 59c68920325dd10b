import { axpy } from '../util/linalg.js';
import { loadChorusAddon } from '../util/native-addon.js';
import type { SparseRow } from './namespaces.js';

/** A[i·lda + j] −= c·u[i]·u[j] for i, j < d: the O(d²) step of every update, in JS. */
export function rank1SubJs(A: Float64Array, lda: number, u: Float64Array, d: number, c: number): void {
  for (let i = 0; i < d; i++) {
    const ui = u[i]! * c;
    if (ui === 0) continue;
    const r = i * lda;
    for (let j = 0; j < d; j++) A[r + j] -= ui * u[j]!;
  }
}

/*
 * The hot loops below run in the native kernels (src/nn/native, vectorised) when they are built,
 * as the other hot loops do; CHORUS_NN_BACKEND=js keeps the JS ones. Both do the same operations
 * in the same order; the C ones may fuse multiply and add, so the two can differ in the last bits.
 */
const addon = process.env.CHORUS_NN_BACKEND === 'js' ? null : loadChorusAddon();
const rank1Sub: typeof rank1SubJs = addon?.rank1Sub ? addon.rank1Sub.bind(addon) : rank1SubJs;

/** out[r] = x_rᵀA x_r for sparse rows r (slots idx, values x, row r at start[r] .. start[r+1]), in JS. */
export function quadFormsJs(A: Float64Array, lda: number, idx: Int32Array, x: Float64Array, start: Int32Array, rows: number, out: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    const b1 = start[r + 1]!;
    let q = 0;
    // A is symmetric: each off-diagonal pair counts twice.
    for (let a = start[r]!; a < b1; a++) {
      const ra = idx[a]! * lda;
      let acc = 0.5 * A[ra + idx[a]!]! * x[a]!;
      for (let b = a + 1; b < b1; b++) acc += A[ra + idx[b]!]! * x[b]!;
      q += 2 * x[a]! * acc;
    }
    out[r] = q;
  }
}
const quadForms: typeof quadFormsJs = addon?.quadForms ? addon.quadForms.bind(addon) : quadFormsJs;

/**
 * The serving bandit's reward model: an online linear regression over hashed sparse features
 * (./namespaces.ts), with a confidence width for exploration. Two parts, one prediction:
 *
 * - **Ridge** (exact): features get a dense slot the first time the learner sees them, up to
 *   `ridgeDims` slots, with θ and A⁻¹ = (λI + Σ w·xxᵀ)⁻¹ kept exactly by recursive least squares
 *   (Sherman–Morrison on A⁻¹, θ += k·(y − xᵀθ)), as LinUCB does. The slot dictionary is exact, so
 *   two features collide only when their 32-bit hashes reduced to `bits` bits do.
 * - **Adaptive SGD** (VW's default update, for what does not fit): features without a slot (all of
 *   them when `ridgeDims` is 0, the `sgd` learner) learn the ridge part's residual in a 2^bits weight
 *   table by AdaGrad on inputs normalised by the largest |x| seen per weight (VW's `--adaptive
 *   --normalized`). Their confidence width is diagonal: Σ x²/(λ + Σ seen x²).
 *
 * A new slot of the ridge part starts at θ = prior (0 unless given) with A⁻¹ row and column
 * (1/λ)·eᵢ: exactly what a full-dimension ridge would hold for a feature it has never seen.
 */
export interface RegressorConfig {
  /** Hash bits: weights of the SGD part and the reduction of every feature hash. */
  bits: number;
  /** Most features fitted exactly (dense A⁻¹: ridgeDims² doubles; O(ridgeDims²) per update). 0: SGD only. */
  ridgeDims: number;
  /** Ridge λ (prior precision of every weight). */
  lambda: number;
  /** AdaGrad step of the SGD part. */
  learningRate: number;
}

export const REGRESSOR_DEFAULTS: RegressorConfig = { bits: 18, ridgeDims: 1024, lambda: 1, learningRate: 0.1 };

/** Throws a RangeError naming the first setting out of range. */
export function validateRegressorConfig(c: RegressorConfig): void {
  if (!Number.isInteger(c.bits) || c.bits < 4 || c.bits > 28) throw new RangeError(`bits: expected an integer in [4, 28], got ${c.bits}`);
  if (!Number.isInteger(c.ridgeDims) || c.ridgeDims < 0 || c.ridgeDims > 4096) throw new RangeError(`ridgeDims: expected an integer in [0, 4096], got ${c.ridgeDims}`);
  if (!(c.lambda > 0)) throw new RangeError(`lambda: expected > 0, got ${c.lambda}`);
  if (!(c.learningRate > 0)) throw new RangeError(`learningRate: expected > 0, got ${c.learningRate}`);
}

export interface RegressorState {
  bits: number;
  /** Hashed index (reduced) of each dense slot, slot order. */
  slotKeys: Int32Array;
  /** A⁻¹ over the used slots, row-major d×d. */
  ainv: Float64Array;
  theta: Float64Array;
  /** SGD part, sparse: weight indices and their (w, Σg², max|x|, Σx²). */
  sgdIdx: Int32Array;
  sgdVals: Float32Array;
  n: number;
}

/**
 * Reduced hash → dense slot (−1: none). A direct table (4 bytes per possible index) up to 22 bits,
 * where a lookup is one array read on the serving hot path; a Map beyond.
 */
class SlotIndex {
  private readonly table: Int32Array | null;
  private readonly map = new Map<number, number>();

  constructor(bits: number) {
    this.table = bits <= 22 ? new Int32Array(1 << bits).fill(-1) : null;
  }

  get(key: number): number {
    return this.table ? this.table[key]! : (this.map.get(key) ?? -1);
  }

  set(key: number, slot: number): void {
    if (this.table) this.table[key] = slot;
    else this.map.set(key, slot);
  }

  clear(): void {
    if (this.table) this.table.fill(-1);
    else this.map.clear();
  }
}

export class SparseRegressor {
  readonly config: RegressorConfig;
  readonly mask: number;
  /** Hashed index → dense slot. */
  private readonly slots: SlotIndex;
  private slotKeys: number[] = [];
  /** Allocated slot capacity (grows by doubling up to ridgeDims). */
  private cap = 0;
  private ainv = new Float64Array(0);
  private theta = new Float64Array(0);
  private u = new Float64Array(0);
  /** Prior means by hashed index (the recommender's score starts at weight 1). */
  private readonly prior = new Map<number, number>();
  // SGD part, allocated on first use (2^bits floats each).
  private w: Float32Array | null = null;
  private g2: Float32Array | null = null;
  private scale: Float32Array | null = null;
  private seen2: Float32Array | null = null;
  // Scratch for one row: slot or -1 per feature, reduced index per feature.
  private rowSlot: number[] = [];
  private rowKey: number[] = [];
  // Scratch of predictMany: the dense features of all rows, and each row's start.
  private gIdx = new Int32Array(0);
  private gX = new Float64Array(0);
  private gStart = new Int32Array(0);
  private gQ = new Float64Array(0);
  /** Examples learned. */
  n = 0;

  constructor(config: Partial<RegressorConfig> = {}, prior: ReadonlyMap<number, number> = new Map()) {
    this.config = { ...REGRESSOR_DEFAULTS, ...config };
    validateRegressorConfig(this.config);
    const { bits } = this.config;
    this.mask = (1 << bits) - 1;
    this.slots = new SlotIndex(bits);
    // Prior features get their slots first, so that they are fitted exactly whatever comes later.
    for (const [h, m] of prior) {
      const key = h & this.mask;
      this.prior.set(key, m);
      this.slotFor(key);
    }
  }

  get dims(): number {
    return this.slotKeys.length;
  }

  /** Reduce the row's hashes and find their slots (−1: no slot); `create` gives new features one. */
  private locate(row: SparseRow, create: boolean): number {
    const m = row.idx.length;
    const slot = this.rowSlot;
    const key = this.rowKey;
    slot.length = m;
    key.length = m;
    for (let a = 0; a < m; a++) {
      const k = row.idx[a]! & this.mask;
      key[a] = k;
      slot[a] = create ? this.slotFor(k) : this.slots.get(k);
    }
    return m;
  }

  private slotFor(key: number): number {
    const s = this.slots.get(key);
    if (s >= 0) return s;
    const d = this.slotKeys.length;
    if (d >= this.config.ridgeDims) return -1;
    if (d >= this.cap) this.grow(Math.min(this.config.ridgeDims, Math.max(64, this.cap * 2)));
    this.slots.set(key, d);
    this.slotKeys.push(key);
    this.ainv[d * this.cap + d] = 1 / this.config.lambda;
    this.theta[d] = this.prior.get(key) ?? 0;
    return d;
  }

  private grow(cap: number): void {
    const old = this.cap;
    const a = new Float64Array(cap * cap);
    for (let i = 0; i < old; i++) a.set(this.ainv.subarray(i * old, i * old + old), i * cap);
    const t = new Float64Array(cap);
    t.set(this.theta);
    this.ainv = a;
    this.theta = t;
    this.u = new Float64Array(cap);
    this.cap = cap;
  }

  private sgdArrays(): { w: Float32Array; g2: Float32Array; scale: Float32Array; seen2: Float32Array } {
    if (!this.w) {
      const n = this.mask + 1;
      this.w = new Float32Array(n);
      this.g2 = new Float32Array(n);
      this.scale = new Float32Array(n);
      this.seen2 = new Float32Array(n);
      // Prior means of features without a slot (all of them for the SGD learner) start the table.
      for (const [k, m] of this.prior) {
        if (this.slots.get(k) >= 0) continue;
        this.w[k] = m;
        this.scale[k] = 1;
      }
    }
    return { w: this.w, g2: this.g2!, scale: this.scale!, seen2: this.seen2! };
  }

  /**
   * Mean prediction and confidence width √(xᵀA⁻¹x) (+ the SGD part's diagonal width) of a row.
   * Features the learner has never seen count with their prior (weight 0 or the prior mean,
   * variance 1/λ), as a full ridge would.
   */
  predict(row: SparseRow): { mean: number; width: number } {
    const mean = new Float64Array(1);
    const width = new Float64Array(1);
    this.predictMany([row], mean, width);
    return { mean: mean[0]!, width: width[0]! };
  }

  /** `predict` for every row of a request at once (one native call for all the quadratic forms). */
  predictMany(rows: readonly SparseRow[], mean: Float64Array, width: Float64Array): void {
    const n = rows.length;
    let total = 0;
    for (const r of rows) total += r.idx.length;
    if (this.gIdx.length < total) {
      this.gIdx = new Int32Array(2 * total);
      this.gX = new Float64Array(2 * total);
    }
    if (this.gStart.length < n + 1) {
      this.gStart = new Int32Array(2 * n + 1);
      this.gQ = new Float64Array(2 * n);
    }
    const gIdx = this.gIdx;
    const gX = this.gX;
    const gStart = this.gStart;
    const lambda = this.config.lambda;
    let at = 0;
    for (let r = 0; r < n; r++) {
      const row = rows[r]!;
      const m = this.locate(row, false);
      const slot = this.rowSlot;
      const key = this.rowKey;
      gStart[r] = at;
      let mu = 0;
      let q = 0;
      for (let a = 0; a < m; a++) {
        const s = slot[a]!;
        const x = row.val[a]!;
        if (s >= 0) {
          mu += this.theta[s]! * x;
          gIdx[at] = s;
          gX[at++] = x;
        } else if (this.w) {
          const k = key[a]!;
          const sc = this.scale![k]!;
          if (sc > 0) mu += this.w[k]! * (x / sc);
          q += (x * x) / (lambda + this.seen2![k]!);
        } else {
          mu += (this.prior.get(key[a]!) ?? 0) * x;
          q += (x * x) / lambda;
        }
      }
      mean[r] = mu;
      width[r] = q;
    }
    gStart[n] = at;
    // xᵀA⁻¹x over the dense slots of each row.
    const quad = this.gQ;
    if (at > 0) quadForms(this.ainv, this.cap, gIdx, gX, gStart, n, quad);
    else quad.fill(0, 0, n);
    for (let r = 0; r < n; r++) width[r] = Math.sqrt(Math.max(0, width[r]! + quad[r]!));
  }

  /** Learn target y for a row, with importance weight `weight` (1: an ordinary example). */
  learn(row: SparseRow, y: number, weight = 1): void {
    if (!Number.isFinite(y) || !(weight > 0)) return;
    const m = this.locate(row, true);
    const slot = this.rowSlot;
    const key = this.rowKey;
    const cap = this.cap;
    const A = this.ainv;
    const u = this.u;
    // Prediction of each part before the update.
    let dense = 0;
    let sparse = 0;
    let overflow = false;
    for (let a = 0; a < m; a++) {
      const s = slot[a]!;
      if (s >= 0) dense += this.theta[s]! * row.val[a]!;
      else {
        overflow = true;
        const k = key[a]!;
        const sc = this.w ? this.scale![k]! : 0;
        if (sc > 0) sparse += this.w![k]! * (row.val[a]! / sc);
      }
    }
    // Ridge part: RLS on the residual the SGD part leaves. u = A⁻¹x over the dense slots.
    const d = this.slotKeys.length;
    let any = false;
    for (let a = 0; a < m; a++) if (slot[a]! >= 0) any = true;
    if (any) {
      u.fill(0, 0, d);
      for (let a = 0; a < m; a++) {
        const t = slot[a]!;
        if (t < 0) continue;
        const x = row.val[a]!;
        // A⁻¹ is symmetric: column t is row t.
        if (x !== 0) axpy(x, A, t * cap, u, 0, d);
      }
      let xu = 0;
      for (let a = 0; a < m; a++) if (slot[a]! >= 0) xu += row.val[a]! * u[slot[a]!]!;
      const denom = 1 / weight + xu;
      const err = y - sparse - dense;
      const g = err / denom;
      for (let i = 0; i < d; i++) this.theta[i] += g * u[i]!;
      rank1Sub(A, cap, u, d, 1 / denom);
    }
    if (overflow) {
      const { w, g2, scale, seen2 } = this.sgdArrays();
      // The residual after the ridge step, so both parts fit one prediction.
      let densePost = 0;
      for (let a = 0; a < m; a++) if (slot[a]! >= 0) densePost += this.theta[slot[a]!]! * row.val[a]!;
      const err = y - densePost - sparse;
      // Per-weight input scales first (VW's --normalized): a weight whose input grew is rescaled
      // to keep w·x/scale, and the example's squared norm in those units divides the step, so
      // that a row with many features moves the prediction as much as a row with few.
      let norm2 = 0;
      for (let a = 0; a < m; a++) {
        if (slot[a]! >= 0) continue;
        const k = key[a]!;
        const ax = Math.abs(row.val[a]!);
        if (ax === 0) continue;
        if (ax > scale[k]!) {
          if (scale[k]! > 0) w[k] *= ax / scale[k]!;
          scale[k] = ax;
        }
        norm2 += (ax / scale[k]!) ** 2;
      }
      for (let a = 0; a < m; a++) {
        if (slot[a]! >= 0) continue;
        const k = key[a]!;
        const x = row.val[a]!;
        if (x === 0) continue;
        const xn = x / scale[k]!;
        // AdaGrad (VW's --adaptive) on the normalised input.
        const grad = -weight * err * xn;
        g2[k] += grad * grad;
        w[k] -= (this.config.learningRate * grad) / (Math.sqrt(g2[k]!) + 1e-12) / norm2;
        seen2[k] += weight * x * x;
      }
    }
    this.n++;
  }

  getState(): RegressorState {
    const d = this.slotKeys.length;
    const ainv = new Float64Array(d * d);
    for (let i = 0; i < d; i++) ainv.set(this.ainv.subarray(i * this.cap, i * this.cap + d), i * d);
    const idx: number[] = [];
    const vals: number[] = [];
    if (this.w) {
      for (let k = 0; k < this.w.length; k++) {
        if (this.scale![k] === 0) continue;
        idx.push(k);
        vals.push(this.w[k]!, this.g2![k]!, this.scale![k]!, this.seen2![k]!);
      }
    }
    return {
      bits: this.config.bits,
      slotKeys: Int32Array.from(this.slotKeys),
      ainv,
      theta: this.theta.slice(0, d),
      sgdIdx: Int32Array.from(idx),
      sgdVals: Float32Array.from(vals),
      n: this.n,
    };
  }

  /** Restore a checkpoint; false (nothing changed) when it was written with other bits or more slots. */
  setState(s: RegressorState): boolean {
    const d = s.slotKeys.length;
    if (s.bits !== this.config.bits || d > this.config.ridgeDims || s.ainv.length !== d * d || s.theta.length !== d) return false;
    this.slots.clear();
    this.slotKeys = [];
    this.cap = 0;
    this.grow(Math.min(this.config.ridgeDims, Math.max(64, d)));
    for (let i = 0; i < d; i++) {
      const key = s.slotKeys[i]! >>> 0;
      this.slots.set(key & this.mask, i);
      this.slotKeys.push(key & this.mask);
      this.ainv.set(s.ainv.subarray(i * d, i * d + d), i * this.cap);
      this.theta[i] = s.theta[i]!;
    }
    this.w = this.g2 = this.scale = this.seen2 = null;
    if (s.sgdIdx.length > 0) {
      const { w, g2, scale, seen2 } = this.sgdArrays();
      for (let a = 0; a < s.sgdIdx.length; a++) {
        const k = s.sgdIdx[a]!;
        w[k] = s.sgdVals[4 * a]!;
        g2[k] = s.sgdVals[4 * a + 1]!;
        scale[k] = s.sgdVals[4 * a + 2]!;
        seen2[k] = s.sgdVals[4 * a + 3]!;
      }
    }
    this.n = s.n;
    return true;
  }

  /** The learned weight of a hashed feature (its prior when never seen). */
  weightOf(hash: number): number {
    const key = hash & this.mask;
    const s = this.slots.get(key);
    if (s >= 0) return this.theta[s]!;
    if (this.w && this.scale![key]! > 0) return this.w[key]! / this.scale![key]!;
    return this.prior.get(key) ?? 0;
  }

  /** √(Σθ²) over every learned weight except `exclude` (the dashboard's "bandit" size). */
  norm(exclude?: number): number {
    const ex = exclude === undefined ? -1 : exclude & this.mask;
    let s = 0;
    for (let i = 0; i < this.slotKeys.length; i++) if (this.slotKeys[i] !== ex) s += this.theta[i]! * this.theta[i]!;
    if (this.w) for (let k = 0; k < this.w.length; k++) if (this.w[k] !== 0 && k !== ex) s += (this.w[k]! / this.scale![k]!) ** 2;
    return Math.sqrt(s);
  }
}
