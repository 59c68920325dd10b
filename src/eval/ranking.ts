/**
 * Offline top-K evaluation of a fitted recommender on a train/test split.
 *
 * Default (P1): full-catalogue ranking. The candidates of user u are every item with ≥ 1 training
 * interaction, minus u's training items; items seen only in test cannot be recommended but stay
 * in u's ground truth (as misses). Sampled negatives (rank the user's test items among N random
 * non-interacted items) are available on request and the result says so in `candidates`, because
 * those figures are not comparable with full-catalogue ones.
 */
import type { Dataset } from '../data/dataset.js';
import type { ProgressFn, Recommender } from '../recommenders/types.js';
import { Rng } from '../util/rng.js';
import { topK } from '../util/topk.js';
import {
  coverage,
  emptyUserMetrics,
  exposureGini,
  finiteMean,
  itemCategoriesFrom,
  listDiversity,
  listNovelty,
  selfInformation,
  userMetrics,
  type ItemCategories,
  type UserMetrics,
} from './metrics.js';

export interface RankingEvalOptions {
  /** List length K (default 10). */
  k?: number;
  /**
   * Rank each user's test items among this many sampled negatives instead of the full catalogue.
   * Off by default; when set, `result.candidates.mode` is "sampled".
   */
  sampledNegatives?: number;
  /** Seed of the negative sampler (default 0). */
  seed?: number;
  /** Item categories for intra-list diversity (default: `train.itemMeta[i].categories`). */
  categories?: ItemCategories;
  /**
   * Rank only these items (e.g. P2's cold items). Default: every item with ≥ 1 training
   * interaction. Either way the user's own training items are excluded.
   */
  catalogue?: Int32Array;
  /** Evaluate only these users (default: every user with ≥ 1 test interaction). */
  users?: Int32Array;
  onProgress?: ProgressFn;
}

/** Writes one user's ranking metrics into row j of the per-user arrays. */
function storeUserMetrics(perUser: PerUserResults, j: number, nTruth: number, m: UserMetrics): void {
  perUser.nTest[j] = nTruth;
  perUser.hits[j] = m.hits;
  perUser.precision[j] = m.precision;
  perUser.recall[j] = m.recall;
  perUser.f1[j] = m.f1;
  perUser.ndcg[j] = m.ndcg;
  perUser.ap[j] = m.ap;
  perUser.rr[j] = m.rr;
  perUser.hr[j] = m.hr;
}

/** Per-user results, aligned by position: entry j belongs to user `user[j]`. */
export interface PerUserResults {
  user: Int32Array;
  /** |T_u|: distinct test items. */
  nTest: Int32Array;
  hits: Int32Array;
  precision: Float64Array;
  recall: Float64Array;
  f1: Float64Array;
  ndcg: Float64Array;
  ap: Float64Array;
  rr: Float64Array;
  hr: Float64Array;
  /** Mean self-information of the list (NaN for an empty list). */
  novelty: Float64Array;
  /** Intra-list diversity over categories (NaN when fewer than two categorised items). */
  ild: Float64Array;
}

export type CandidateSpec =
  | { mode: 'full'; catalogueSize: number }
  | { mode: 'sampled'; negatives: number; seed: number; catalogueSize: number };

export interface RankingEvalResult {
  k: number;
  candidates: CandidateSpec;
  /** Users evaluated. */
  users: number;
  /** Means over evaluated users, keyed `name@K`: precision, recall, f1, ndcg, map, mrr, hr, novelty, ild; plus coverage and gini over all lists. */
  metrics: Record<string, number>;
  perUser: PerUserResults;
  /** Top-K lists, row j = user `perUser.user[j]`, padded with −1 when fewer than K candidates. */
  lists: Int32Array;
  /** How many lists hold each item. */
  exposure: Int32Array;
  evalSeconds: number;
}

/** Users with at least one interaction in `test`. */
export function usersWithTest(test: Dataset): Int32Array {
  const { indptr, rows } = test.byUser();
  let n = 0;
  for (let u = 0; u < rows; u++) if (indptr[u + 1]! > indptr[u]!) n++;
  const out = new Int32Array(n);
  let j = 0;
  for (let u = 0; u < rows; u++) if (indptr[u + 1]! > indptr[u]!) out[j++] = u;
  return out;
}

/** Number of distinct users per item in `train` (an item's popularity for novelty). */
export function distinctUsersPerItem(train: Dataset): Int32Array {
  const { indptr, indices, rows } = train.byUser();
  const counts = new Int32Array(train.nItems);
  const last = new Int32Array(train.nItems).fill(-1);
  for (let u = 0; u < rows; u++) {
    for (let p = indptr[u]!; p < indptr[u + 1]!; p++) {
      const i = indices[p]!;
      if (last[i] !== u) {
        last[i] = u;
        counts[i]++;
      }
    }
  }
  return counts;
}

export function evaluateRanking(model: Recommender, train: Dataset, test: Dataset, options: RankingEvalOptions = {}): RankingEvalResult {
  const started = performance.now();
  const k = options.k ?? 10;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  const nItems = train.nItems;
  if (test.nItems !== nItems || test.nUsers !== train.nUsers) {
    throw new RangeError('train and test must share the same user and item id maps (use the split functions of src/data)');
  }
  const trainCsr = train.byUser();
  const testCsr = test.byUser();
  const users = options.users ?? usersWithTest(test);
  const nEval = users.length;

  // Catalogue: items with ≥ 1 training interaction, or the given set. `mask` starts as "not in catalogue".
  const popularity = distinctUsersPerItem(train);
  const inCatalogue = new Uint8Array(nItems);
  if (options.catalogue) {
    for (const i of options.catalogue) {
      if (!(i >= 0 && i < nItems)) throw new RangeError(`catalogue item ${i} is outside 0..${nItems - 1}`);
      inCatalogue[i] = 1;
    }
  } else {
    for (let i = 0; i < nItems; i++) if (popularity[i]! > 0) inCatalogue[i] = 1;
  }
  const mask = new Uint8Array(nItems);
  const catalogue: number[] = [];
  for (let i = 0; i < nItems; i++) {
    if (inCatalogue[i]) catalogue.push(i);
    else mask[i] = 1;
  }
  let nTrainUsers = 0;
  for (let u = 0; u < trainCsr.rows; u++) if (trainCsr.indptr[u + 1]! > trainCsr.indptr[u]!) nTrainUsers++;
  const catalogueSize = catalogue.length;
  const info = selfInformation(popularity, nTrainUsers);
  const cats = options.categories ?? itemCategoriesFrom(train.itemMeta.map((m) => m?.categories), nItems);

  const sampled = options.sampledNegatives !== undefined;
  const nNeg = options.sampledNegatives ?? 0;
  if (sampled && (!Number.isInteger(nNeg) || nNeg < 1)) throw new RangeError(`sampledNegatives must be a positive integer, got ${nNeg}`);
  const seed = options.seed ?? 0;
  const rng = new Rng(seed);
  const catalogueArr = Int32Array.from(catalogue);

  const perUser: PerUserResults = {
    user: Int32Array.from(users),
    nTest: new Int32Array(nEval),
    hits: new Int32Array(nEval),
    precision: new Float64Array(nEval),
    recall: new Float64Array(nEval),
    f1: new Float64Array(nEval),
    ndcg: new Float64Array(nEval),
    ap: new Float64Array(nEval),
    rr: new Float64Array(nEval),
    hr: new Float64Array(nEval),
    novelty: new Float64Array(nEval),
    ild: new Float64Array(nEval),
  };
  const lists = new Int32Array(nEval * k).fill(-1);
  const exposure = new Int32Array(nItems);

  // Buffers reused across users so that the per-user loop allocates only topK's K-sized result.
  const scores = new Float32Array(nItems);
  const truth = new Uint8Array(nItems);
  const picked = new Uint8Array(nItems);
  const candBuf = new Int32Array(sampled ? nItems : 0);
  const m = emptyUserMetrics();
  const progressEvery = Math.max(1, Math.floor(nEval / 100));

  for (let j = 0; j < nEval; j++) {
    const u = users[j]!;
    const t0 = trainCsr.indptr[u]!;
    const t1 = trainCsr.indptr[u + 1]!;
    for (let p = t0; p < t1; p++) mask[trainCsr.indices[p]!] = 1;
    let nTruth = 0;
    const s0 = testCsr.indptr[u]!;
    const s1 = testCsr.indptr[u + 1]!;
    for (let p = s0; p < s1; p++) {
      const i = testCsr.indices[p]!;
      if (!truth[i]) {
        truth[i] = 1;
        nTruth++;
      }
    }

    const out = model.scoreAll(u, scores);
    let ranked: Int32Array;
    if (!sampled) {
      ranked = topK(out, k, mask).items;
    } else {
      // Candidates: the user's rankable test items plus up to nNeg distinct negatives drawn
      // uniformly from the catalogue items the user has in neither train nor test.
      let nc = 0;
      for (let p = s0; p < s1; p++) {
        const i = testCsr.indices[p]!;
        if (!mask[i] && !picked[i]) {
          picked[i] = 1;
          candBuf[nc++] = i;
        }
      }
      let available = 0;
      for (let c = 0; c < catalogueSize; c++) {
        const i = catalogueArr[c]!;
        if (!mask[i] && !truth[i]) available++;
      }
      const want = Math.min(nNeg, available);
      let got = 0;
      while (got < want) {
        const i = catalogueArr[rng.int(catalogueSize)]!;
        if (mask[i] || truth[i] || picked[i]) continue;
        picked[i] = 1;
        candBuf[nc++] = i;
        got++;
      }
      const cands = candBuf.subarray(0, nc);
      ranked = topK(out, k, undefined, cands).items;
      for (let c = 0; c < nc; c++) picked[cands[c]!] = 0;
    }

    userMetrics(ranked, truth, nTruth, k, m);
    storeUserMetrics(perUser, j, nTruth, m);
    perUser.novelty[j] = listNovelty(ranked, info, k);
    perUser.ild[j] = listDiversity(ranked, cats, k);
    for (let r = 0; r < ranked.length; r++) {
      lists[j * k + r] = ranked[r]!;
      exposure[ranked[r]!]++;
    }

    for (let p = s0; p < s1; p++) truth[testCsr.indices[p]!] = 0;
    for (let p = t0; p < t1; p++) {
      const i = trainCsr.indices[p]!;
      mask[i] = inCatalogue[i] ? 0 : 1;
    }
    if (options.onProgress && ((j + 1) % progressEvery === 0 || j + 1 === nEval)) options.onProgress(j + 1, nEval, 'users');
  }

  const metrics: Record<string, number> = {
    [`ndcg@${k}`]: finiteMean(perUser.ndcg),
    [`recall@${k}`]: finiteMean(perUser.recall),
    [`precision@${k}`]: finiteMean(perUser.precision),
    [`hr@${k}`]: finiteMean(perUser.hr),
    [`coverage@${k}`]: coverage(exposure, catalogueSize),
    [`map@${k}`]: finiteMean(perUser.ap),
    [`mrr@${k}`]: finiteMean(perUser.rr),
    [`f1@${k}`]: finiteMean(perUser.f1),
    [`novelty@${k}`]: finiteMean(perUser.novelty),
    [`ild@${k}`]: finiteMean(perUser.ild),
    [`gini@${k}`]: exposureGini(exposure, inCatalogue),
  };
  const candidates: CandidateSpec = sampled ? { mode: 'sampled', negatives: nNeg, seed, catalogueSize } : { mode: 'full', catalogueSize };
  return { k, candidates, users: nEval, metrics, perUser, lists, exposure, evalSeconds: (performance.now() - started) / 1000 };
}

/** The per-user array of a metric by its short name (ndcg, recall, precision, hr, map, mrr, f1, novelty, ild). */
export function perUserMetric(result: RankingEvalResult, name: string): Float64Array | undefined {
  const p = result.perUser;
  const table: Record<string, Float64Array> = {
    ndcg: p.ndcg,
    recall: p.recall,
    precision: p.precision,
    hr: p.hr,
    map: p.ap,
    mrr: p.rr,
    f1: p.f1,
    novelty: p.novelty,
    ild: p.ild,
  };
  return table[name];
}
