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
 *
 * The SGD loop is one kernel call per epoch (src/nn/bpr-kernel.ts; native in src/nn/native/bpr.c),
 * the same arithmetic in the same order in both, so a seed gives the same factors with either.
 * `threads` > 1 trains Hogwild-style (Niu et al. 2011): worker threads share the factor matrices
 * (SharedArrayBuffers) and update them without locks, each claiming chunks of every epoch's
 * samples and drawing them from its own seeded stream. The interleaving of those updates changes from run to run,
 * so that mode is not reproducible (nor comparable across thread counts) and the default is 1
 * thread, the deterministic mode.
 */
import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import {
  BPR_UNIFORM,
  BPR_VERIFY,
  bprEpochJs,
  runBprChunks,
  runBprSamples,
  type BprBuffers,
  type BprChunkPlan,
  type BprStepParams,
} from '../nn/bpr-kernel.js';
import { bprEpochKernel } from '../nn/kernels.js';
import { dpSgdConfigSchema, parseDp, refuseWithDp, type PrivacyReport } from '../privacy/config.js';
import { planDpSgd, trainDpSgd, type DpSgdPlan, type UserGradient } from '../privacy/dp-sgd.js';
import { Rng } from '../util/rng.js';
import { scoreAllFactors } from '../util/dot.js';
import { WorkerPool, workerUrl } from '../util/workers.js';
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
  /**
   * Training threads. 1 (default): deterministic, the same seed gives the same factors. More:
   * Hogwild (lock-free shared updates), faster, not reproducible from run to run.
   */
  threads: z.number().int().min(1).max(64),
  /**
   * Differential privacy (docs/privacy.md): DP-SGD (user-level, or interaction-level with `dp.unit`) on the item factors and biases, the
   * released part (src/privacy/dp-sgd.ts). Each user's vector is fitted from their own data only.
   */
  dp: dpSgdConfigSchema.optional(),
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
  threads: 1,
};

/** Messages to bpr-worker.ts. */
export type BprWorkerMsg =
  /** counters: runBprChunks's shared counters (chunks claimed, chunks done). */
  | ({ op: 'bind'; buffers: BprBuffers; counters: Int32Array; seed: number; native: boolean } & BprStepParams)
  /** Claim and run chunks until none is left; answers runBprChunks's acc (4 numbers). */
  | { op: 'run'; plan: BprChunkPlan };

/** Standard deviation of the DP path's initial factors (uniform). */
const DP_INIT_STD = 0.1;
/**
 * On each visit the user's vector takes this many passes over the visit's pairs, at this multiple
 * of `learningRate`, before the item gradient is taken (P1 validation, ε = 1000, DP learning rate
 * 3: NDCG@10 0.092; without these passes the best learning rate tried gave 0.083).
 */
const DP_USER_PASSES = 3;
const DP_USER_LR_SCALE = 5;

function int32(n: number, shared: boolean): Int32Array {
  return shared ? new Int32Array(new SharedArrayBuffer(Math.max(1, n) * 4), 0, n) : new Int32Array(n);
}

function float32(n: number, shared: boolean): Float32Array {
  return shared ? new Float32Array(new SharedArrayBuffer(Math.max(1, n) * 4), 0, n) : new Float32Array(n);
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

  /** The `dp` option as given: a refit plans its noise again (δ = 1/n of that data). */
  private readonly requestedDp: BprConfig['dp'];

  constructor(config: Partial<BprConfig> = {}) {
    super({ ...BPR_DEFAULTS, ...config });
    this.requestedDp = this.config.dp && parseDp(dpSgdConfigSchema, this.config.dp, 'bpr');
  }

  /** Share of sampled pairs ranked correctly before their update, in the last epoch (a training diagnostic). */
  lastEpochAuc = NaN;
  /** CPU seconds each training thread spent in the native SGD kernel during the last fit (0s with the JS kernel). */
  threadCpuSeconds: number[] = [];
  /**
   * SGD samples (skipped negatives included) each training thread ran during the last fit, the
   * calling thread first: with `threads` > 1 the share each claimed, summing to iterations × interactions.
   */
  threadSamples: number[] = [];


  protected async fitModel(_train: Dataset, options: FitOptions): Promise<void> {
    if (this.requestedDp) return this.fitPrivate(options);
    // More threads than samples would leave some with nothing to do.
    const threads = Math.max(1, Math.min(this.config.threads, this.seenIndices.length));
    // The workers boot (module loading) while this thread initialises the factors.
    const pool = threads > 1 ? new WorkerPool(workerUrl(import.meta.url, './bpr-worker.js'), threads - 1) : null;
    try {
      await this.sgd(options, threads, pool);
    } finally {
      await pool?.close();
    }
  }

  /** What both fit paths start from: the factor width F (factors + bias), sizes, the users' items; fold-ins of the old factors are dropped. */
  private startFit(): { F: number; nU: number; nI: number; indptr: Int32Array; items: Int32Array } {
    this.foldIns.clear();
    return { F: this.config.factors + 1, nU: this.nUsers, nI: this.nItems, indptr: this.seenIndptr, items: this.seenIndices };
  }

  /** Initialise the factors and run the epochs, on this thread and the pool's. */
  private async sgd(options: FitOptions, threads: number, pool: WorkerPool | null): Promise<void> {
    const { factors, learningRate: lr, regularization: reg, iterations, negativeSampling, verifyNegatives, seed } = this.config;
    const { F, nU, nI, indptr, items } = this.startFit();
    const nnz = items.length;
    const shared = pool !== null;
    const rng = new Rng(seed);

    const counts = new Int32Array(nI);
    for (let p = 0; p < nnz; p++) counts[items[p]!]++;
    this.activeItems = activeFrom(counts);

    // implicit's init: uniform in [−0.5, 0.5) / factors; zero rows for items/users with no data.
    const V = float32(nI * F, shared);
    for (let i = 0; i < nI; i++) {
      for (let f = 0; f < F; f++) {
        const r = (rng.next() - 0.5) / factors;
        if (counts[i]! > 0) V[i * F + f] = r;
      }
    }
    const U = float32(nU * F, shared);
    for (let u = 0; u < nU; u++) {
      const has = indptr[u + 1]! > indptr[u]!;
      for (let f = 0; f < factors; f++) {
        const r = (rng.next() - 0.5) / factors;
        if (has) U[u * F + f] = r;
      }
      U[u * F + factors] = 1;
    }

    const b: BprBuffers = {
      U,
      V,
      userOf: int32(nnz, shared),
      items: int32(nnz, shared),
      sorted: int32(nnz, shared),
      indptr: int32(nU + 1, shared),
      active: int32(this.activeItems.length, shared),
    };
    b.items.set(items);
    b.sorted.set(items);
    b.indptr.set(indptr.subarray(0, nU + 1));
    b.active.set(this.activeItems);
    for (let u = 0; u < nU; u++) {
      b.userOf.fill(u, indptr[u]!, indptr[u + 1]!);
      b.sorted.subarray(indptr[u]!, indptr[u + 1]!).sort();
    }
    const params: BprStepParams = {
      factors,
      lr,
      reg,
      flags: (negativeSampling === 'uniform' ? BPR_UNIFORM : 0) | (verifyNegatives ? BPR_VERIFY : 0),
    };
    const native = bprEpochKernel();
    const kernel = native ?? bprEpochJs;
    const state = Uint32Array.from(rng.getState());
    const cpu = new Array<number>(threads).fill(0);
    const ran = new Array<number>(threads).fill(0);
    if (nnz === 0 || b.active.length === 0) {
      // Nothing to learn from: the factors stay as initialised.
    } else if (!pool) {
      const stats = new Float64Array(3);
      for (let epoch = 0; epoch < iterations; epoch++) {
        stats.fill(0);
        runBprSamples(kernel, b, params, state, nnz, stats);
        cpu[0]! += stats[2]!;
        ran[0]! += nnz;
        this.lastEpochAuc = stats[0]! / Math.max(1, nnz - stats[1]!);
        options.onProgress?.(epoch + 1, iterations, 'epoch');
        // Let timers and I/O run between epochs (a server stays responsive while a model trains).
        if (epoch % 10 === 9) await new Promise((r) => setImmediate(r));
      }
    } else {
      // Hogwild: every thread claims chunks of the whole fit (about 16 per thread per epoch) from
      // shared counters; no barrier between epochs.
      const counters = new Int32Array(new SharedArrayBuffer(8));
      const chunk = Math.max(256, Math.ceil(nnz / (16 * threads)));
      const plan: BprChunkPlan = { chunk, nnz, chunksPerEpoch: Math.ceil(nnz / chunk), iterations };
      // Each worker gets its own stream, seeded from the fit's generator (drawn only when
      // threads > 1, so that the single-thread stream stays that of the deterministic mode).
      const binds: Promise<unknown>[] = [];
      for (let w = 0; w < threads - 1; w++) {
        binds.push(pool.run(w, { op: 'bind', buffers: b, counters, ...params, seed: rng.nextUint32(), native: native !== null } satisfies BprWorkerMsg));
      }
      await Promise.all(binds);
      const runs = Promise.all(Array.from({ length: threads - 1 }, (_, w) => pool.run<number[]>(w, { op: 'run', plan } satisfies BprWorkerMsg)));
      runs.catch(() => {}); // awaited below; a failure must not go unhandled meanwhile
      let reported = 0;
      const report = (): void => {
        const done = Math.floor(Atomics.load(counters, 1) / plan.chunksPerEpoch);
        // The loop advances `reported` itself: `?.` skips evaluating the arguments when there is no onProgress.
        for (; reported < done; reported++) options.onProgress?.(reported + 1, iterations, 'epoch');
      };
      // This thread claims chunks too, an epoch's worth at a time; between those it reports the
      // epochs completed and lets timers and I/O run.
      const acc = new Float64Array(4);
      while (runBprChunks(kernel, b, params, state, counters, plan, plan.chunksPerEpoch, acc)) {
        report();
        await new Promise((r) => setImmediate(r));
      }
      let correct = acc[0]!;
      let skipped = acc[1]!;
      cpu[0] = acc[2]!;
      ran[0] = acc[3]!;
      (await runs).forEach((r, w) => {
        correct += r[0]!;
        skipped += r[1]!;
        cpu[w + 1] = r[2]!;
        ran[w + 1] = r[3]!;
      });
      report();
      this.lastEpochAuc = correct / Math.max(1, nnz - skipped);
    }
    this.threadCpuSeconds = cpu;
    this.threadSamples = ran;
    // The model keeps plain (unshared) arrays, as after a load.
    this.userFactors = shared ? U.slice() : U;
    this.itemFactors = shared ? V.slice() : V;
  }

  /**
   * The DP path: item factors and biases (the released part) by DP-SGD, protecting a user or (with
   * `dp.unit` 'interaction') one (user, item) pair; each user's
   * vector is updated from their own pairs while training, then refitted by fold-in against the
   * final item factors. Nothing is derived from the raw data outside a user's own gradient:
   * factors start from the seed alone and negatives are drawn from the whole catalogue.
   */
  private async fitPrivate(options: FitOptions): Promise<void> {
    const { factors, learningRate: lr, regularization: reg, seed, negativeSampling } = this.config;
    // implicit's popularity negatives would sample other users' interactions outside the accounting.
    refuseWithDp('bpr', [['negativeSampling', negativeSampling, negativeSampling === 'popularity']], 'its negatives are uniform over the catalogue');
    const { F, nU, nI, indptr, items } = this.startFit();
    // δ = 1/n over the protected units: users, or (user, item) pairs at interaction level.
    const plan = planDpSgd(this.requestedDp!, this.requestedDp!.unit === 'interaction' ? indptr[nU]! : nU, 'bpr');
    const init = new Rng(seed);
    // Larger than the plain path's init: the item factors' gradients scale with the user factors,
    // and with implicit's 1/factors they would be lost under the clipped bias terms and the noise.
    const w = DP_INIT_STD * Math.sqrt(12);
    const V = new Float32Array(nI * F);
    for (let i = 0; i < nI; i++) for (let f = 0; f < factors; f++) V[i * F + f] = (init.next() - 0.5) * w;
    const U = new Float32Array(nU * F);
    for (let u = 0; u < nU; u++) {
      for (let f = 0; f < factors; f++) U[u * F + f] = (init.next() - 0.5) * w;
      U[u * F + factors] = 1;
    }
    this.activeItems = Int32Array.from({ length: nI }, (_, i) => i);
    const own = new Uint8Array(nI);
    const maxPairs = plan.maxItemsPerUser;
    let longest = 0;
    for (let u = 0; u < nU; u++) longest = Math.max(longest, indptr[u + 1]! - indptr[u]!);
    const pos = new Int32Array(Math.max(maxPairs, longest));
    const neg = new Int32Array(pos.length);
    const passes = DP_USER_PASSES;
    const ulr = lr * DP_USER_LR_SCALE;
    // A negative for user u (whose items are marked in `own`): uniform over the catalogue, never the user's own.
    const negative = (rng: Rng): number => {
      let j = rng.int(nI);
      while (own[j]) j = rng.int(nI);
      return j;
    };
    const markOwn = (u: number, v: 0 | 1): void => {
      for (let e = indptr[u]!; e < indptr[u + 1]!; e++) own[items[e]!] = v;
    };
    // The user's own vector first catches up with the current item factors on pairs from their
    // own data (pos/neg[0..np)), so that the item gradient below points where this user's ranking wants it to.
    const catchUp = (uo: number, np: number): void => {
      for (let pass = 0; pass < passes; pass++) {
        for (let s = 0; s < np; s++) {
          const io = pos[s]! * F;
          const jo = neg[s]! * F;
          const z = pairWeight(U, uo, V, io, jo, F);
          for (let f = 0; f < factors; f++) U[uo + f] = U[uo + f]! + ulr * (z * (V[io + f]! - V[jo + f]!) - reg * U[uo + f]!);
        }
      }
    };
    // Pair s's gradient of the item parameters: d(−ln σ(x))/dv_i = −z·x_u, /dv_j = +z·x_u (the
    // last column: the biases, x_u's constant 1).
    const pairGradient = (uo: number, s: number, grad: UserGradient): void => {
      const g = grad.g;
      const z = pairWeight(U, uo, V, pos[s]! * F, neg[s]! * F, F);
      const gi = grad.at(pos[s]!);
      const gj = grad.at(neg[s]!);
      for (let f = 0; f < F; f++) {
        g[gi + f] = g[gi + f]! - z * U[uo + f]!;
        g[gj + f] = g[gj + f]! + z * U[uo + f]!;
      }
    };
    const userGradient = (u: number, grad: UserGradient, rng: Rng): void => {
      const a = indptr[u]!;
      const n = indptr[u + 1]! - a;
      if (n === 0 || n >= nI) return;
      markOwn(u, 1);
      const np = Math.min(n, maxPairs);
      for (let s = 0; s < np; s++) {
        pos[s] = items[a + rng.int(n)]!;
        neg[s] = negative(rng);
      }
      markOwn(u, 0);
      const uo = u * F;
      catchUp(uo, np);
      for (let s = 0; s < np; s++) pairGradient(uo, s, grad);
    };
    // Interaction-level: each sampled interaction is one pair (the positive, a fresh negative) and one clipped gradient.
    const interactionGradients = (u: number, sampled: Int32Array, k: number, grad: UserGradient, emit: () => void, rng: Rng): void => {
      const a = indptr[u]!;
      if (indptr[u + 1]! - a >= nI) return;
      markOwn(u, 1);
      for (let s = 0; s < k; s++) {
        pos[s] = items[a + sampled[s]!]!;
        neg[s] = negative(rng);
      }
      markOwn(u, 0);
      const uo = u * F;
      catchUp(uo, k);
      for (let s = 0; s < k; s++) {
        pairGradient(uo, s, grad);
        emit();
      }
    };
    await trainDpSgd({
      plan,
      nUsers: nU,
      params: V,
      nRows: nI,
      width: F,
      rng: new Rng(plan.seed),
      ...(plan.unit === 'interaction' ? { interactions: { indptr, gradients: interactionGradients } } : { userGradient }),
      onStep: (d, t) => options.onProgress?.(d, t, 'step'),
    });
    this.itemFactors = V;
    // Each user's final vector from their own items against the released item factors.
    for (let u = 0; u < nU; u++) {
      if (indptr[u + 1]! > indptr[u]!) U.set(this.foldIn({ items: items.subarray(indptr[u]!, indptr[u + 1]!) }), u * F);
    }
    this.userFactors = U;
    this.lastEpochAuc = NaN;
    this.threadCpuSeconds = [];
    this.threadSamples = [];
    // The stamp prints `config`: it must show the budget spent and the noise used.
    (this as { config: Readonly<BprConfig> }).config = Object.freeze({ ...this.config, dp: plan });
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
    // The DP path draws fold-in negatives from the whole catalogue, as its fit did.
    this.activeItems = this.config.dp ? Int32Array.from({ length: this.nItems }, (_, i) => i) : activeFrom(counts);
  }
}

/**
 * z = σ(−x) with x = x_u·(v_i − v_j) over all F columns (the bias included): the weight of the
 * pair (i ≻ j) in the gradient of −ln σ(x). U's row at uo, V's rows at io and jo.
 */
function pairWeight(U: Float32Array, uo: number, V: Float32Array, io: number, jo: number, F: number): number {
  let x = 0;
  for (let f = 0; f < F; f++) x += U[uo + f]! * (V[io + f]! - V[jo + f]!);
  return 1 / (1 + Math.exp(x));
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
