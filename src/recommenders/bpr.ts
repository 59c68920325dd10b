/**
 * BPR-MF (Rendle et al. 2009): learn user and item factors so that a user's interacted item
 * scores above an item they did not interact with, by SGD on −ln σ(x_ui − x_uj).
 *
 * Laid out as implicit's BayesianPersonalizedRanking (the P1 peer): item rows carry one extra
 * column, the item bias, and every user row has a constant 1 there, so score = user · item
 * includes the bias. One epoch draws as many (user, positive) pairs as there are interactions,
 * uniformly over interactions; a negative whose pair the user has is skipped (verifyNegatives).
 * Negatives are drawn uniformly over items with ≥ 1 training interaction ("uniform") or, as
 * implicit does, from the item column of a random interaction ("popularity").
 */
import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { Rng } from '../util/rng.js';
import { scoreAllFactors } from '../util/dot.js';
import { BaseRecommender } from './base.js';
import { typedField } from './saved-state.js';
import { FoldInCache } from './fold-in-cache.js';
import type { FitOptions, UserRef } from './types.js';

export const bprConfigSchema = z.strictObject({
  factors: z.number().int().positive(),
  learningRate: z.number().positive(),
  regularization: z.number().min(0),
  /** Epochs; each draws one sample per training interaction. */
  iterations: z.number().int().positive(),
  negativeSampling: z.enum(['uniform', 'popularity']),
  /** Skip a sampled negative the user actually has (costs a binary search, helps quality). */
  verifyNegatives: z.boolean(),
  /** Epochs over a `UserState`'s items when folding in a new user (item factors frozen). */
  foldInIterations: z.number().int().positive(),
  seed: z.number().int(),
});
export type BprConfig = z.infer<typeof bprConfigSchema>;
export const BPR_DEFAULTS: BprConfig = {
  factors: 64,
  learningRate: 0.01,
  regularization: 0.01,
  iterations: 200,
  negativeSampling: 'uniform',
  verifyNegatives: true,
  foldInIterations: 50,
  seed: 0,
};

/** Binary search for `x` in the sorted `a[lo, hi)`. */
function contains(a: Int32Array, lo: number, hi: number, x: number): boolean {
  hi--;
  while (lo <= hi) {
    const m = (lo + hi) >>> 1;
    const v = a[m]!;
    if (v === x) return true;
    if (v < x) lo = m + 1;
    else hi = m - 1;
  }
  return false;
}

export class Bpr extends BaseRecommender<BprConfig> {
  readonly kind = 'bpr';
  readonly version = 1;
  /** nUsers × (factors + 1); the last column is the constant 1 that multiplies the item bias. */
  private userFactors: Float32Array = new Float32Array(0);
  /** nItems × (factors + 1); the last column is the item bias. */
  private itemFactors: Float32Array = new Float32Array(0);
  private activeItems: Int32Array = new Int32Array(0);
  /** Folded-in factors per user state (fold-in is seeded, so a remembered vector is exact). */
  private readonly foldIns = new FoldInCache<Float32Array>();

  constructor(config: Partial<BprConfig> = {}) {
    super({ ...BPR_DEFAULTS, ...config });
  }

  /** Share of sampled pairs ranked correctly before their update, in the last epoch (a training diagnostic). */
  lastEpochAuc = NaN;

  protected async fitModel(train: Dataset, options: FitOptions): Promise<void> {
    const { factors, learningRate: lr, regularization: reg, iterations, negativeSampling, verifyNegatives, seed } = this.config;
    const F = factors + 1;
    const nU = this.nUsers;
    const nI = this.nItems;
    const indptr = this.seenIndptr;
    const items = this.seenIndices;
    this.foldIns.clear();
    const nnz = items.length;
    const rng = new Rng(seed);

    const counts = new Int32Array(nI);
    for (let p = 0; p < nnz; p++) counts[items[p]!]++;
    this.activeItems = activeFrom(counts);

    // implicit's init: uniform in [−0.5, 0.5) / factors; zero rows for items/users with no data.
    const V = new Float32Array(nI * F);
    for (let i = 0; i < nI; i++) {
      for (let f = 0; f < F; f++) {
        const r = (rng.next() - 0.5) / factors;
        if (counts[i]! > 0) V[i * F + f] = r;
      }
    }
    const U = new Float32Array(nU * F);
    for (let u = 0; u < nU; u++) {
      const has = indptr[u + 1]! > indptr[u]!;
      for (let f = 0; f < factors; f++) {
        const r = (rng.next() - 0.5) / factors;
        if (has) U[u * F + f] = r;
      }
      U[u * F + factors] = 1;
    }

    // Row owner of each interaction, and each user's items sorted for the negative check.
    const userOf = new Int32Array(nnz);
    const sorted = items.slice();
    for (let u = 0; u < nU; u++) {
      userOf.fill(u, indptr[u]!, indptr[u + 1]!);
      sorted.subarray(indptr[u]!, indptr[u + 1]!).sort();
    }
    const active = this.activeItems;
    const nActive = active.length;
    const uniform = negativeSampling === 'uniform';

    const ctx: EpochContext = { U, V, F, factors, lr, reg, userOf, items, sorted, indptr, active, uniform, verifyNegatives, rng };
    for (let epoch = 0; epoch < iterations && nnz > 0 && nActive > 0; epoch++) {
      const { correct, skipped } = bprEpoch(ctx);
      this.lastEpochAuc = correct / Math.max(1, nnz - skipped);
      options.onProgress?.(epoch + 1, iterations, 'epoch');
      // Let timers and I/O run between epochs (a server stays responsive while a model trains).
      if (epoch % 10 === 9) await new Promise((r) => setImmediate(r));
    }
    this.userFactors = U;
    this.itemFactors = V;
  }

  /** Factors of a user given as a state: SGD on the user's row only, item factors frozen, seeded. */
  private foldIn(state: { items: Int32Array }): Float32Array {
    const { factors, learningRate: lr, regularization: reg, foldInIterations, negativeSampling, seed } = this.config;
    const F = factors + 1;
    const x = new Float32Array(F);
    x[factors] = 1;
    const own = new Uint8Array(this.nItems);
    const pos: number[] = [];
    for (const i of state.items) {
      if (i >= 0 && i < this.nItems && own[i] === 0) {
        own[i] = 1;
        pos.push(i);
      }
    }
    if (pos.length === 0) return x;
    const V = this.itemFactors;
    const rng = new Rng(seed);
    const active = this.activeItems;
    const all = this.seenIndices;
    const n = pos.length * foldInIterations;
    for (let s = 0; s < n; s++) {
      const p = pos[rng.int(pos.length)]!;
      const q = negativeSampling === 'uniform' ? active[rng.int(active.length)]! : all[rng.int(all.length)]!;
      if (own[q]) continue;
      let d = 0;
      for (let f = 0; f < F; f++) d += x[f]! * (V[p * F + f]! - V[q * F + f]!);
      const z = 1 / (1 + Math.exp(d));
      for (let f = 0; f < factors; f++) x[f] = x[f]! + lr * (z * (V[p * F + f]! - V[q * F + f]!) - reg * x[f]!);
    }
    return x;
  }

  scoreAll(user: UserRef, out?: Float32Array): Float32Array {
    this.assertFitted();
    const F = this.config.factors + 1;
    const o = out ?? new Float32Array(this.nItems);
    let x: Float32Array;
    if (typeof user === 'number') {
      if (user >= 0 && user < this.nUsers) x = this.userFactors.subarray(user * F, (user + 1) * F);
      else {
        // An unknown user has no preferences: the item bias alone ranks.
        x = new Float32Array(F);
        x[F - 1] = 1;
      }
    } else x = this.foldIns.get({ items: user.items }, (s) => this.foldIn(s));
    // The bias is the last factor column (x[F-1] = 1), so one dot product per item does it all.
    return scoreAllFactors(x, this.itemFactors, this.nItems, F, o);
  }

  /** Item factors without the bias column, row-major nItems × factors (for agents and ANN indexes). */
  itemEmbeddings(): Float32Array {
    this.assertFitted();
    return stripLastColumn(this.itemFactors, this.nItems, this.config.factors + 1);
  }

  userEmbeddings(): Float32Array {
    this.assertFitted();
    return stripLastColumn(this.userFactors, this.nUsers, this.config.factors + 1);
  }

  protected getState(): Record<string, unknown> {
    return { userFactors: this.userFactors, itemFactors: this.itemFactors };
  }

  protected setState(state: Record<string, unknown>): void {
    const F = this.config.factors + 1;
    this.userFactors = typedField(state, 'userFactors', Float32Array, this.nUsers * F);
    this.itemFactors = typedField(state, 'itemFactors', Float32Array, this.nItems * F);
    this.foldIns.clear();
    const counts = new Int32Array(this.nItems);
    for (const i of this.seenIndices) counts[i]++;
    this.activeItems = activeFrom(counts);
  }
}

interface EpochContext {
  U: Float32Array;
  V: Float32Array;
  F: number;
  factors: number;
  lr: number;
  reg: number;
  userOf: Int32Array;
  items: Int32Array;
  sorted: Int32Array;
  indptr: Int32Array;
  active: Int32Array;
  uniform: boolean;
  verifyNegatives: boolean;
  rng: Rng;
}

/**
 * One epoch of SGD: as many samples as interactions. A plain synchronous function so that V8
 * optimises the hot loop as a whole (it allocates nothing).
 */
function bprEpoch(c: EpochContext): { correct: number; skipped: number } {
  const { U, V, F, factors, lr, reg, userOf, items, sorted, indptr, active, uniform, verifyNegatives, rng } = c;
  const nnz = items.length;
  const nActive = active.length;
  let correct = 0;
  let skipped = 0;
  // The generator's sfc32 step inlined on local state (same stream as Rng.int): a method call per
  // draw costs more here than the arithmetic it does.
  let [a, b, cc, d] = rng.getState();
  for (let s = 0; s < nnz; s++) {
    let t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (cc + (cc << 3)) >>> 0;
    cc = (cc << 21) | (cc >>> 11);
    cc = (cc + t) >>> 0;
    const li = Math.floor((t / 4294967296) * nnz);
    t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (cc + (cc << 3)) >>> 0;
    cc = (cc << 21) | (cc >>> 11);
    cc = (cc + t) >>> 0;
    const r = t / 4294967296;
    const u = userOf[li]!;
    const pos = items[li]!;
    const neg = uniform ? active[Math.floor(r * nActive)]! : items[Math.floor(r * nnz)]!;
    if (neg === pos || (verifyNegatives && contains(sorted, indptr[u]!, indptr[u + 1]!, neg))) {
      skipped++;
      continue;
    }
    const uo = u * F;
    const po = pos * F;
    const no = neg * F;
    let x = 0;
    for (let f = 0; f < F; f++) x += U[uo + f]! * (V[po + f]! - V[no + f]!);
    // z = σ(−x) = 1 − σ(x): the gradient weight of −ln σ(x).
    const z = 1 / (1 + Math.exp(x));
    if (z < 0.5) correct++;
    for (let f = 0; f < factors; f++) {
      const uf = U[uo + f]!;
      const pf = V[po + f]!;
      const nf = V[no + f]!;
      U[uo + f] = uf + lr * (z * (pf - nf) - reg * uf);
      V[po + f] = pf + lr * (z * uf - reg * pf);
      V[no + f] = nf + lr * (-z * uf - reg * nf);
    }
    V[po + factors] += lr * (z - reg * V[po + factors]!);
    V[no + factors] += lr * (-z - reg * V[no + factors]!);
  }
  rng.setState([a, b, cc, d]);
  return { correct, skipped };
}

function activeFrom(counts: Int32Array): Int32Array {
  let n = 0;
  for (const c of counts) if (c > 0) n++;
  const a = new Int32Array(n);
  n = 0;
  for (let i = 0; i < counts.length; i++) if (counts[i]! > 0) a[n++] = i;
  return a;
}

function stripLastColumn(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * (cols - 1));
  for (let r = 0; r < rows; r++) out.set(m.subarray(r * cols, r * cols + cols - 1), r * (cols - 1));
  return out;
}
