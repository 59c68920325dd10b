/**
 * Hybrid recommender: fuses any set of recommenders (collaborative and content) into one ranking.
 * - `score` fusion: each member's scores are normalised per user (z-score or min-max over the
 *   known items) and summed with weights;
 * - `borda` / `rrf` rank fusion: each member contributes by the rank of an item in its top-`depth`
 *   list, (depth − r)/depth for Borda, 1/(rrfK + r) for reciprocal-rank fusion.
 * With `tune`, the weights are chosen on a validation split cut from the training data by P1's
 * rule (the last 20 % of each user's rows): members are fitted on the rest, every weight vector
 * on a simplex grid is scored by NDCG@K there, the best is kept, and the members are refitted on
 * all of the training data. Never on test. A member with its own 'auto' options (a trending
 * popularity, `{ kind: 'popularity', config: { windowDays: 'auto' } }`) chooses them inside each
 * of its fits, on a validation split of the data that fit is given.
 * Cold start: a new item (no training interaction) is scored only by the members that can score
 * new items (content); a new or nearly-new user gets popularity blended in by those members.
 * Threads: with `threads` > 1 every member fit (tuning fits and refits) is a job for a pool of
 * worker threads (./hybrid-worker.ts), tuning fits first and longest first within each; each returns its member's saved state, restored
 * here. Members are seeded and independent, so the weights and scores are those of the one-thread
 * path, which fits them one after another in this thread.
 */
import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { P1_SPLIT, validationSplit } from '../data/split.js';
import { packDataset } from '../data/dataset-pack.js';
import { ConfigError, ModelStateError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { topK } from '../util/topk.js';
import { defaultThreads, WorkerPool, workerUrl } from '../util/workers.js';
import { BaseRecommender } from './base.js';
import type { HybridWorkerData, HybridWorkerRequest, MemberFitResult } from './hybrid-worker.js';
import { WeightGridSearch } from './hybrid-search.js';
import type { FitOptions, Recommender, SavedModel, UserRef } from './types.js';

const memberSchema = z.strictObject({
  kind: z.string().min(1),
  config: z.record(z.string(), z.unknown()).optional(),
  /** Fixed weight (used when `tune` is false; default 1). */
  weight: z.number().min(0).optional(),
});
export type HybridMember = z.infer<typeof memberSchema>;

export const hybridConfigSchema = z.strictObject({
  members: z.array(memberSchema).min(1),
  fusion: z.enum(['score', 'borda', 'rrf']),
  normalization: z.enum(['zscore', 'minmax']),
  /** Reciprocal-rank constant (60 in Cormack et al. 2009). */
  rrfK: z.number().positive(),
  /** List depth per member for rank fusion. */
  depth: z.number().int().min(1),
  /** Tune the weights on a validation split of the training data. */
  tune: z.boolean(),
  /** Simplex grid step for the weight search (coarsened automatically for many members). */
  tuneStep: z.number().gt(0).max(1),
  /** At most this many validation users (a seeded sample) score each weight vector. */
  tuneUsers: z.number().int().min(1),
  /** Cut-off of the validation NDCG. */
  tuneK: z.number().int().min(1),
  /** Encoder spec given to every content member that does not set one ('' keeps theirs). */
  embedder: z.string(),
  seed: z.number().int(),
  /**
   * Worker threads fitting the members, one member fit each at a time: 0 = automatic (up to 2 on
   * the core count when the training data has ≥ 20 000 interactions, else 1: a worker's start costs
   * more than the whole fit of a small hybrid); 1 = every fit in this thread, one after another.
   */
  threads: z.number().int().min(0).max(16),
});
export type HybridConfig = z.infer<typeof hybridConfigSchema>;
export const HYBRID_DEFAULTS: HybridConfig = {
  // Chosen on P1's validation split (never test): of the member sets tried (docs/benchmarks.md,
  // bench/embed.ts) this one had the best tuned validation NDCG@10 — collaborative models of
  // three kinds plus content profiles with a short (3 interactions) and a long (20) half-life.
  members: [
    { kind: 'ease' },
    { kind: 'bpr' },
    { kind: 'itemknn' },
    { kind: 'content', config: { halfLife: 3 } },
    { kind: 'content', config: { halfLife: 20 } },
  ],
  fusion: 'score',
  normalization: 'zscore',
  rrfK: 60,
  depth: 100,
  tune: true,
  tuneStep: 0.1,
  tuneUsers: 1000,
  tuneK: 10,
  embedder: '',
  seed: 42,
  threads: 0,
};

/** Below this many training interactions `threads: 0` fits in this thread (see `threads`). */
const THREADS_MIN_INTERACTIONS = 20_000;

/**
 * Relative fit time of a member kind, to hand the worker threads the longest fits first (P1 `pos4`
 * fit seconds, docs/benchmarks.md: SASRec ~100, GRU4Rec ~58, a hybrid ~100, BPR 6, EASE 4, ALS
 * 1.4, content a few, kNN and popularity < 1). Only the order matters; unknown kinds count 1.
 */
const FIT_COST: Readonly<Record<string, number>> = {
  sasrec: 100,
  gru4rec: 60,
  hybrid: 100,
  'hybrid-seq': 300,
  bpr: 6,
  ease: 4,
  content: 3,
  als: 1.5,
  mf: 1,
};

/**
 * `hybrid-seq` (registry name): BPR, content (half-life 3), SASRec (dropout 0.4, 1,024 negatives)
 * and GRU4Rec (dropout 0.4), weights tuned as usual. The member set with the best validation
 * NDCG@10 on P1, averaged over `all` and `pos4` (one preset for both; bench/p1-member-search.ts,
 * 2026-12-06, validation split only), `all` / `pos4`:
 * - the default members + SASRec (dropout 0.4) + GRU4Rec (the earlier preset): 0.1678 / 0.1300;
 * - BPR + content(3) + SASRec (dropout 0.4) + GRU4Rec: 0.1749 / 0.1302;
 * - the same with GRU4Rec dropout 0.4: 0.1816 / 0.1329 (best on `pos4` alone);
 * - the default members + SASRec (1,024 negatives) + GRU4Rec (dropout 0.4): 0.1746 / 0.1328;
 * - **this set: 0.1843 / 0.1323** (mean 0.1583, against 0.1573 for the runner-up).
 * Dropping EASE, item-kNN and the half-life-20 content member costs nothing: the tuned weights
 * gave them 0 in the earlier preset. SASRec's own defaults stay (dropout 0.2, 256 negatives):
 * those are the best single model; these are the best member of the fusion. Each sequence model is
 * fitted twice (tuning split, then all of train), so this is the slow hybrid. Test NDCG@10
 * (measured once after the choice, bench/p1-paired.ts): `all` 0.1485, `pos4` 0.104992. Chosen on
 * `pos4`'s validation split alone, the set is the one with SASRec at its default 256 negatives
 * (0.1329 above), a `hybrid` configuration rather than this preset: `pos4` test 0.1127
 * (docs/sequence-models.md gives the command).
 */
export const HYBRID_SEQ_DEFAULTS: HybridConfig = {
  ...HYBRID_DEFAULTS,
  members: [
    { kind: 'bpr' },
    { kind: 'content', config: { halfLife: 3 } },
    { kind: 'sasrec', config: { dropout: 0.4, negatives: 1024 } },
    { kind: 'gru4rec', config: { dropout: 0.4 } },
  ],
};

/** How the hybrid builds and restores its members (the registry's functions, injected to avoid an import cycle). */
export interface MemberFactory {
  create(kind: string, config?: Record<string, unknown>): Recommender;
  restore(saved: SavedModel): Recommender;
}

/** Members that can score items nobody has interacted with declare it (content does). */
function coversNewItems(r: Recommender): boolean {
  return (r as { coversNewItems?: boolean }).coversNewItems === true;
}

export class HybridRecommender extends BaseRecommender<HybridConfig> {
  readonly kind = 'hybrid';
  readonly version = 1;
  readonly coversNewItems: boolean;
  private members: Recommender[] = [];
  private weightsV: Float64Array = new Float64Array(0);
  /** 1 for items with ≥ 1 training interaction. */
  private warm: Uint8Array = new Uint8Array(0);
  /** Validation NDCG of the chosen weights (NaN when not tuned). */
  private validationNdcg = NaN;
  private readonly factory: MemberFactory;
  private bufs: Float32Array[] = [];
  private contribBufs: Float32Array[] = [];
  /** Every member's index, in order, and whether each scores new items (fixed once the members are). */
  private allMembers: Int32Array = new Int32Array(0);
  private covers: Uint8Array = new Uint8Array(0);
  /**
   * The members with a non-zero weight, in order: the only ones `scoreAll` scores. A member of
   * weight 0 adds w · c = ±0 to a fused sum that starts at +0, which leaves the sum unchanged, so
   * skipping it gives the same scores to the last bit whenever c is finite. Rank fusion's votes
   * always are; a z-score or min-max score is, except a z-score beyond float32's range (3.4e38
   * standard deviations from the mean; a known item's z-score is at most √n, so only an item with
   * no training interaction could get there), where 0 · ∞ made the full fusion NaN. On P1 `all`
   * three of the earlier `hybrid-seq`'s seven members (EASE, item-kNN, content with half-life 20)
   * got weight 0; leaving them out halved its evaluation's CPU time (bench/p1-score.ts).
   */
  private activeMembers: Int32Array = new Int32Array(0);

  constructor(config: Partial<HybridConfig>, factory: MemberFactory) {
    super({ ...HYBRID_DEFAULTS, ...config });
    this.factory = factory;
    this.coversNewItems = this.config.members.some((m) => m.kind === 'content' || m.kind === 'hybrid');
  }

  /** The fused weights, in member order (normalised to sum 1). */
  get weights(): number[] {
    return Array.from(this.weightsV);
  }

  /** Validation NDCG@tuneK of the chosen weights (NaN when the weights were not tuned). */
  get tunedNdcg(): number {
    return this.validationNdcg;
  }

  protected async fitModel(train: Dataset, options: FitOptions): Promise<void> {
    const specs = this.config.members.map((m) =>
      m.kind === 'content' && this.config.embedder && m.config?.embedder === undefined ? { ...m, config: { ...m.config, embedder: this.config.embedder } } : m,
    );
    const fixed = Float64Array.from(specs.map((m) => m.weight ?? 1));
    const threads = await this.fitThreads(specs.length, train);
    if (threads > 1) {
      await this.fitInWorkers(specs, fixed, train, threads, options);
      return;
    }
    if (this.config.tune && specs.length > 1) {
      const { train: fitPart, validation } = validationSplit(train, P1_SPLIT);
      const tuning = specs.map((m) => this.factory.create(m.kind, m.config));
      for (let m = 0; m < tuning.length; m++) {
        await tuning[m]!.fit(fitPart);
        options.onProgress?.(m + 1, 2 * specs.length, 'member fits');
      }
      this.adopt(tuning, fitPart, fixed);
      const { weights, ndcg } = this.tuneWeights(fitPart, validation);
      this.weightsV = weights;
      this.validationNdcg = ndcg;
    } else {
      this.weightsV = normalizeWeights(fixed);
    }
    const members = specs.map((m) => this.factory.create(m.kind, m.config));
    for (let m = 0; m < members.length; m++) {
      await members[m]!.fit(train);
      options.onProgress?.(specs.length + m + 1, 2 * specs.length, 'member fits');
    }
    this.adopt(members, train, this.weightsV);
  }

  /** Worker threads for the member fits (1: all in this thread, the sequential path). */
  private async fitThreads(nMembers: number, train: Dataset): Promise<number> {
    let threads = this.config.threads;
    if (threads === 0) threads = train.nInteractions >= THREADS_MIN_INTERACTIONS ? defaultThreads(2) : 1;
    threads = Math.min(threads, (this.config.tune && nMembers > 1 ? 2 : 1) * nMembers);
    if (threads <= 1) return 1;
    // Workers build members with the registry, so only a hybrid whose factory is the registry's
    // (the registry's entries, marl's team) may send them its fits; an injected factory
    // (bench/p1-member-search.ts hands out pre-fitted members) keeps them here. Imported at run
    // time: the registry imports this module.
    const registry = await import('./registry.js');
    return this.factory.create === registry.createRecommender && this.factory.restore === registry.restoreRecommender ? threads : 1;
  }

  /**
   * `fitModel` with the member fits on `threads` worker threads: the tuning fits and the refits are
   * all jobs from the start (a refit does not depend on the weights), the tuning fits first, each
   * group longest first. The weight search runs here once the tuning fits are in, while the
   * workers refit the heavy members (it blocks this thread: a worker that finishes meanwhile waits
   * for its next job until the search ends). Ordered heaviest first over both groups, the search
   * came last, a serial tail (P1 `pos4`, the earlier seven-member `hybrid-seq`: ~100 s after ~115 CPU s of fits per worker,
   * docs/benchmarks.md, measured before ./hybrid-search.ts made the search cheaper). A kind
   * this thread registered at run time (marl's `team-item`) is unknown to the workers: those fits
   * run here, one after another, meanwhile.
   */
  private async fitInWorkers(specs: HybridMember[], fixed: Float64Array, train: Dataset, threads: number, options: FitOptions): Promise<void> {
    const tune = this.config.tune && specs.length > 1;
    const split = tune ? validationSplit(train, P1_SPLIT) : undefined;
    const parts = tune ? (['tune', 'full'] as const) : (['full'] as const);
    const fitted = { tune: new Array<Recommender>(specs.length), full: new Array<Recommender>(specs.length) };
    const total = parts.length * specs.length;
    let done = 0;
    interface Job {
      m: number;
      part: 'tune' | 'full';
      result: Promise<void>;
      settle: (e?: Error) => void;
    }
    const jobs: Job[] = [];
    for (const part of parts) {
      for (let m = 0; m < specs.length; m++) {
        let settle: Job['settle'] = () => undefined;
        const result = new Promise<void>((resolve, reject) => {
          settle = (e) => (e ? reject(e) : resolve());
        });
        result.catch(() => undefined); // a failure is reported once, by the loop that met it
        jobs.push({ m, part, result, settle });
      }
    }
    const data: HybridWorkerData = { train: packDataset(train) };
    const pool = new WorkerPool(workerUrl(import.meta.url, './hybrid-worker.js'), threads, data);
    try {
      const known = new Set(await pool.run<string[]>(0, { op: 'kinds' } satisfies HybridWorkerRequest));
      const cost = (j: Job): number => FIT_COST[specs[j.m]!.kind] ?? 1;
      const phase = (j: Job): number => (j.part === 'tune' ? 0 : 1);
      const remote = jobs.filter((j) => known.has(specs[j.m]!.kind)).sort((a, b) => phase(a) - phase(b) || cost(b) - cost(a));
      const local = jobs.filter((j) => !known.has(specs[j.m]!.kind));
      const finish = (j: Job, rec: Recommender): void => {
        fitted[j.part][j.m] = rec;
        j.settle();
        options.onProgress?.(++done, total, 'member fits');
      };
      let next = 0;
      let failed = false;
      const worker = async (w: number): Promise<void> => {
        while (next < remote.length && !failed) {
          const j = remote[next++]!;
          const spec = specs[j.m]!;
          try {
            const r = await pool.run<MemberFitResult>(w, { op: 'fit', kind: spec.kind, config: spec.config, part: j.part } satisfies HybridWorkerRequest);
            finish(j, this.factory.restore(r.saved));
          } catch (e) {
            failed = true;
            j.settle(e as Error);
            throw e;
          }
        }
      };
      const here = async (): Promise<void> => {
        for (const j of local) {
          const spec = specs[j.m]!;
          const rec = this.factory.create(spec.kind, spec.config);
          try {
            await rec.fit(j.part === 'tune' ? split!.train : train);
          } catch (e) {
            failed = true;
            j.settle(e as Error);
            throw e;
          }
          finish(j, rec);
        }
      };
      const weights = async (): Promise<void> => {
        if (!split) {
          this.weightsV = normalizeWeights(fixed);
          return;
        }
        await Promise.all(jobs.filter((j) => j.part === 'tune').map((j) => j.result));
        this.adopt(fitted.tune, split.train, fixed);
        const { weights: w, ndcg } = this.tuneWeights(split.train, split.validation);
        this.weightsV = w;
        this.validationNdcg = ndcg;
      };
      await Promise.all([...Array.from({ length: threads }, (_, w) => worker(w)), here(), weights()]);
    } finally {
      await pool.close();
    }
    this.adopt(fitted.full, train, this.weightsV);
  }

  private adopt(members: Recommender[], train: Dataset, weights: Float64Array): void {
    this.members = members;
    this.weightsV = normalizeWeights(weights);
    const counts = train.itemCounts();
    this.warm = new Uint8Array(train.nItems);
    for (let i = 0; i < counts.length; i++) this.warm[i] = counts[i]! > 0 ? 1 : 0;
    this.bufs = members.map(() => new Float32Array(train.nItems));
    this.contribBufs = members.map(() => new Float32Array(train.nItems));
    this.indexMembers();
  }

  /** `allMembers`, `covers` and `activeMembers` for the current members and weights. */
  private indexMembers(): void {
    const M = this.members.length;
    this.allMembers = Int32Array.from({ length: M }, (_, m) => m);
    this.covers = Uint8Array.from(this.members, (r) => (coversNewItems(r) ? 1 : 0));
    this.activeMembers = this.allMembers.filter((m) => this.weightsV[m] !== 0);
  }

  /** Fill `out[m]` with member m's normalised (or rank-fused) contribution for `user`, for each m of `which` (default: every member). */
  private memberContributions(user: UserRef, out: Float32Array[], seen: Int32Array, which: Int32Array = this.allMembers): void {
    const n = this.warm.length;
    const rank = this.config.fusion !== 'score';
    for (const m of which) {
      const s = this.members[m]!.scoreAll(user, this.bufs[m]);
      const o = out[m]!;
      if (!rank) {
        normalizeScores(s, this.warm, this.config.normalization, o);
        continue;
      }
      o.fill(0);
      const mask = new Uint8Array(n);
      for (const i of seen) mask[i] = 1;
      // Ranks among known items, and (for members that cover them) among new items separately.
      for (const newItems of coversNewItems(this.members[m]!) ? [false, true] : [false]) {
        for (let i = 0; i < n; i++) mask[i] = (this.warm[i] === (newItems ? 1 : 0) ? 1 : 0) | mask[i]!;
        const list = topK(s, this.config.depth, mask).items;
        for (let r = 0; r < list.length; r++) {
          o[list[r]!] = this.config.fusion === 'borda' ? (this.config.depth - r) / this.config.depth : 1 / (this.config.rrfK + r + 1);
        }
        mask.fill(0);
        for (const i of seen) mask[i] = 1;
      }
    }
  }

  /**
   * out[i] = Σ_m weights[m] · contrib[m][i] over the members `which` (ascending), summed in float64
   * from +0 and rounded once to float32; a new item sums only the members that cover new items,
   * scaled by coldScale. `which` = every member is the fusion as defined; `activeMembers` leaves
   * out only terms that are ±0 (see there). Up to four members get unrolled loops that do the same
   * additions in the same order.
   */
  private fuse(contrib: Float32Array[], weights: Float64Array, out: Float32Array, which: Int32Array = this.allMembers): void {
    const n = out.length;
    const M = contrib.length;
    const covers = this.covers;
    let coverW = 0;
    let totalW = 0;
    for (let m = 0; m < M; m++) {
      totalW += weights[m]!;
      if (covers[m]) coverW += weights[m]!;
    }
    const coldScale = coverW > 0 ? totalW / coverW : 1;
    const warm = this.warm;
    const allWarm = coverW === 0;
    const L = which.length;
    const ca = contrib[which[0]!]!;
    const wa = weights[which[0]!]!;
    const cb = L > 1 ? contrib[which[1]!]! : ca;
    const wb = L > 1 ? weights[which[1]!]! : 0;
    const cc = L > 2 ? contrib[which[2]!]! : ca;
    const wc = L > 2 ? weights[which[2]!]! : 0;
    const cd = L > 3 ? contrib[which[3]!]! : ca;
    const wd = L > 3 ? weights[which[3]!]! : 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      if (warm[i] || allWarm) {
        if (L === 4) s = 0 + wa * ca[i]! + wb * cb[i]! + wc * cc[i]! + wd * cd[i]!;
        else if (L === 3) s = 0 + wa * ca[i]! + wb * cb[i]! + wc * cc[i]!;
        else if (L === 2) s = 0 + wa * ca[i]! + wb * cb[i]!;
        else if (L === 1) s = 0 + wa * ca[i]!;
        else for (let t = 0; t < L; t++) s += weights[which[t]!]! * contrib[which[t]!]![i]!;
      } else {
        for (let t = 0; t < L; t++) {
          const m = which[t]!;
          if (covers[m]) s += weights[m]! * contrib[m]![i]!;
        }
        s *= coldScale;
      }
      out[i] = s;
    }
  }

  scoreAll(user: UserRef, out?: Float32Array): Float32Array {
    this.assertFitted();
    const o = out ?? new Float32Array(this.nItems);
    this.memberContributions(user, this.contribBufs, this.seenItems(user), this.activeMembers);
    this.fuse(this.contribBufs, this.weightsV, o, this.activeMembers);
    return o;
  }

  /** The fitted members, in config order (read-only use: explanations look inside them). */
  get memberModels(): readonly Recommender[] {
    this.assertFitted();
    return this.members;
  }

  /**
   * What each member adds to the fused score of `items` for `user`: `terms[p * M + m]` is member
   * m's weight × its normalised score (or × its rank vote for borda/rrf) for item `items[p]`; for
   * an item with no training interaction only the members that cover new items count, scaled as
   * in the fusion. So each item's terms add up to its fused score `scores[p]` (up to float32
   * rounding of the fused score, which is what `scoreAll` returns). `raw[m]` holds member m's
   * unnormalised scores over all items (fresh arrays, the caller may keep them).
   */
  scoreTerms(user: UserRef, items: ArrayLike<number>): { terms: Float64Array; scores: Float32Array; raw: Float32Array[] } {
    this.assertFitted();
    const M = this.members.length;
    const contrib = this.members.map(() => new Float32Array(this.nItems));
    this.memberContributions(user, contrib, this.seenItems(user));
    const raw = this.bufs.map((b) => b.slice());
    const fused = new Float32Array(this.nItems);
    this.fuse(contrib, this.weightsV, fused);
    let coverW = 0;
    let totalW = 0;
    for (let m = 0; m < M; m++) {
      totalW += this.weightsV[m]!;
      if (coversNewItems(this.members[m]!)) coverW += this.weightsV[m]!;
    }
    const coldScale = coverW > 0 ? totalW / coverW : 1;
    const terms = new Float64Array(items.length * M);
    const scores = new Float32Array(items.length);
    for (let p = 0; p < items.length; p++) {
      const i = items[p]!;
      scores[p] = fused[i]!;
      const warm = this.warm[i] === 1 || coverW === 0;
      for (let m = 0; m < M; m++) {
        const w = warm ? this.weightsV[m]! : coversNewItems(this.members[m]!) ? this.weightsV[m]! * coldScale : 0;
        terms[p * M + m] = w === 0 ? 0 : w * contrib[m]![i]!; // no −0 from a zero weight
      }
    }
    return { terms, scores, raw };
  }

  /**
   * Simplex-grid search of the weights by NDCG@tuneK on the validation split. Each user's member
   * contributions are computed once and every grid vector is scored on them (./hybrid-search.ts,
   * which gives the NDCG of fusing all items and ranking P1's candidates, bit for bit).
   */
  private tuneWeights(fitPart: Dataset, validation: Dataset): { weights: Float64Array; ndcg: number } {
    const M = this.members.length;
    const vCsr = validation.byUser();
    const users: number[] = [];
    for (let u = 0; u < vCsr.rows; u++) if (vCsr.indptr[u + 1]! > vCsr.indptr[u]!) users.push(u);
    const rng = new Rng(this.config.seed);
    if (users.length > this.config.tuneUsers) rng.shuffle(users).splice(this.config.tuneUsers);
    users.sort((a, b) => a - b);
    const n = fitPart.nItems;
    const fCsr = fitPart.byUser();
    const search = new WeightGridSearch(simplexGrid(M, this.config.tuneStep), M, n, this.config.tuneK);
    const contrib = this.members.map(() => new Float32Array(n));
    const mask = new Uint8Array(n);
    const candidates = new Int32Array(n);
    for (const u of users) {
      const seen = fCsr.indices.subarray(fCsr.indptr[u]!, fCsr.indptr[u + 1]!);
      this.memberContributions(u, contrib, seen);
      // P1 candidates: known items, minus the user's.
      for (let i = 0; i < n; i++) mask[i] = this.warm[i] ? 0 : 1;
      for (const i of seen) mask[i] = 1;
      let nc = 0;
      for (let i = 0; i < n; i++) if (!mask[i]) candidates[nc++] = i;
      search.addUser(contrib, candidates.subarray(0, nc), vCsr.indices.subarray(vCsr.indptr[u]!, vCsr.indptr[u + 1]!));
    }
    return search.best({ weights: normalizeWeights(new Float64Array(M).fill(1)), ndcg: -1 });
  }

  protected getState(): Record<string, unknown> {
    return { weights: this.weightsV, warm: this.warm, validationNdcg: this.validationNdcg, members: this.members.map((m) => m.toJSON()) };
  }

  protected setState(state: Record<string, unknown>): void {
    const saved = state.members;
    if (!Array.isArray(saved) || saved.length !== this.config.members.length) {
      throw new ModelStateError(`hybrid: saved state holds ${Array.isArray(saved) ? saved.length : 0} members, config names ${this.config.members.length}`, 'E_MODEL_CORRUPT');
    }
    this.members = saved.map((s) => this.factory.restore(s as SavedModel));
    this.weightsV = state.weights as Float64Array;
    this.warm = state.warm as Uint8Array;
    this.validationNdcg = Number(state.validationNdcg);
    this.bufs = this.members.map(() => new Float32Array(this.nItems));
    this.contribBufs = this.members.map(() => new Float32Array(this.nItems));
    this.indexMembers();
  }
}

/** Per-user normalisation of one member's scores, statistics over known items. */
function normalizeScores(s: Float32Array, warm: Uint8Array, how: 'zscore' | 'minmax', out: Float32Array): void {
  let n = 0;
  let mean = 0;
  let m2 = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < s.length; i++) {
    const x = s[i]!;
    if (!warm[i] || !Number.isFinite(x)) continue;
    n++;
    const d = x - mean;
    mean += d / n;
    m2 += d * (x - mean);
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (n === 0) {
    // No known item scored (a model that only scores new items): min-max over everything finite.
    lo = Infinity;
    hi = -Infinity;
    for (let i = 0; i < s.length; i++) if (Number.isFinite(s[i]!)) { lo = Math.min(lo, s[i]!); hi = Math.max(hi, s[i]!); }
    mean = lo;
  }
  const std = n > 1 ? Math.sqrt(m2 / (n - 1)) : 0;
  const useZ = how === 'zscore' && std > 0;
  const range = hi - lo;
  const floor = useZ ? (lo - mean) / std : 0;
  for (let i = 0; i < s.length; i++) {
    const x = s[i]!;
    if (!Number.isFinite(x)) out[i] = floor; // an excluded item ranks with the worst
    else if (useZ) out[i] = (x - mean) / std;
    else out[i] = range > 0 ? (x - lo) / range : 0;
  }
}

function normalizeWeights(w: Float64Array): Float64Array {
  let s = 0;
  for (const x of w) s += x;
  if (!(s > 0)) throw new ConfigError('hybrid: the member weights must not all be 0', 'members');
  return w.map((x) => x / s);
}

/** All weight vectors on the simplex with the given step (coarsened so there are at most ~300). */
export function simplexGrid(m: number, step: number): Float64Array[] {
  let steps = Math.max(1, Math.round(1 / step));
  const count = (s: number): number => binomial(s + m - 1, m - 1);
  while (steps > 1 && count(steps) > 300) steps--;
  const out: Float64Array[] = [];
  const cur = new Int32Array(m);
  const rec = (pos: number, left: number): void => {
    if (pos === m - 1) {
      cur[pos] = left;
      if (cur.some((x) => x > 0)) out.push(Float64Array.from(cur, (x) => x / steps));
      return;
    }
    for (let v = left; v >= 0; v--) {
      cur[pos] = v;
      rec(pos + 1, left - v);
    }
  };
  rec(0, steps);
  return out;
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}
