/**
 * The static part of a simulator: hidden user and item parameters fitted on the full data,
 * item genres, cold flags, exposure values g_i, content attractiveness a_i, and each user's
 * opening history (most recent *train* items). Built once per preset; sessions (vec-env.ts)
 * only read it, so many environments and workers can share one world.
 */
import { categoryCsr } from '../data/categories.js';
import type { Dataset } from '../data/dataset.js';
import { DataError } from '../errors.js';
import type { SimConfig } from './config.js';
import { fitExplicitMf, ridgePredict } from './calibrate.js';

export interface SimWorld {
  name: string;
  nUsers: number;
  nItems: number;
  /** Hidden factor dimension. */
  dim: number;
  mu: number;
  userBias: Float32Array;
  itemBias: Float32Array;
  userFactors: Float32Array;
  itemFactors: Float32Array;
  categoryNames: string[];
  catIndptr: Int32Array;
  catIndices: Int32Array;
  /** nUsers × nCategories genre affinity (log over-/under-consumption, clipped to ±2). */
  affinity: Float32Array;
  /** Ratings per item in the full data. */
  itemCounts: Int32Array;
  cold: Uint8Array;
  /** g_i: exposure value (1 for cold items, 0.5·(1 − popularity percentile) otherwise). */
  exposureValue: Float32Array;
  /** a_i ∈ (0, 1): content attractiveness from content vectors (embeddings or genres + year). */
  attract: Float32Array;
  /** Opening history per user (CSR over users; most recent last). */
  histIndptr: Int32Array;
  histItems: Int32Array;
  /** Users who can start a session (≥ 1 train interaction). */
  users: Int32Array;
  /** Full-data popularity order (most rated first); used by calibration. */
  popularOrder: Int32Array;
  /** Fit diagnostics. */
  stats: { ratings: number; trainRmse: number; meanRating: number };
}

export interface BuildWorldOptions {
  /** Optional item content vectors (nItems × dim), e.g. text embeddings of title + genres. */
  content?: { dim: number; vectors: Float32Array };
  /** Hidden factor dimension and fit settings. */
  mf?: { dim?: number; iterations?: number; reg?: number; seed?: number };
}

/** Build the hidden world from the full data (preferences) and the train split (opening histories). */
export function buildWorld(full: Dataset, train: Dataset, config: SimConfig, options: BuildWorldOptions = {}): SimWorld {
  if (train.items !== full.items && train.nItems !== full.nItems) {
    throw new DataError('simulator: train split must share the full dataset\'s item index', { field: 'train' });
  }
  const mf = fitExplicitMf(full, { dim: options.mf?.dim ?? 16, iterations: options.mf?.iterations ?? 8, reg: options.mf?.reg ?? 8, seed: options.mf?.seed ?? 11 });
  const nU = full.nUsers;
  const nI = full.nItems;

  // Genres.
  const cats = categoryCsr(full);
  const { indptr: catIndptr, indices: catIndices } = cats;
  const nC = cats.names.length;

  // Genre affinity: how much more (or less) a user rates a genre than the catalogue-wide share.
  const it = full.interactions;
  const share = new Float64Array(nC);
  const nUc = new Float64Array(nU * nC);
  const nUser = new Float64Array(nU);
  for (let k = 0; k < it.length; k++) {
    const u = it.user[k]!;
    const i = it.item[k]!;
    nUser[u] += 1;
    const c0 = catIndptr[i]!;
    const c1 = catIndptr[i + 1]!;
    for (let c = c0; c < c1; c++) {
      share[catIndices[c]!] += 1 / (c1 - c0);
      nUc[u * nC + catIndices[c]!] += 1 / (c1 - c0);
    }
  }
  let total = 0;
  for (let c = 0; c < nC; c++) total += share[c]!;
  const affinity = new Float32Array(nU * nC);
  for (let u = 0; u < nU; u++) {
    for (let c = 0; c < nC; c++) {
      const expected = (nUser[u]! * share[c]!) / Math.max(1, total);
      affinity[u * nC + c] = Math.max(-2, Math.min(2, Math.log((nUc[u * nC + c]! + 1) / (expected + 1))));
    }
  }

  // Popularity, cold items, exposure value.
  const counts = full.itemCounts();
  const order = Int32Array.from({ length: nI }, (_, i) => i).sort((a, b) => counts[b]! - counts[a]! || a - b);
  const pct = new Float32Array(nI);
  for (let r = 0; r < nI; r++) pct[order[r]!] = 1 - r / Math.max(1, nI - 1);
  const cold = new Uint8Array(nI);
  const g = new Float32Array(nI);
  for (let i = 0; i < nI; i++) {
    cold[i] = counts[i]! < config.coldThreshold ? 1 : 0;
    g[i] = cold[i] ? 1 : 0.5 * (1 - pct[i]!);
  }

  // Content attractiveness: ridge from content vectors to the item's shrunk mean rating.
  let cdim: number;
  let X: Float32Array;
  if (options.content) {
    cdim = options.content.dim;
    X = options.content.vectors;
  } else {
    cdim = nC + 2;
    X = new Float32Array(nI * cdim);
    for (let i = 0; i < nI; i++) {
      for (let c = catIndptr[i]!; c < catIndptr[i + 1]!; c++) X[i * cdim + catIndices[c]!] = 1;
      const m = /\((\d{4})\)\s*$/.exec(full.itemMeta[i]?.title ?? '');
      const year = m ? (Number(m[1]) - 1995) / 20 : 0;
      X[i * cdim + nC] = year;
      X[i * cdim + nC + 1] = year * year;
    }
  }
  const sum = new Float64Array(nI);
  for (let k = 0; k < it.length; k++) sum[it.item[k]!] += it.value[k]!;
  const y = new Float64Array(nI);
  const w = new Float64Array(nI);
  for (let i = 0; i < nI; i++) {
    y[i] = (sum[i]! + 5 * mf.mu) / (counts[i]! + 5);
    w[i] = counts[i]! > 0 ? 1 : 0;
  }
  const pred = ridgePredict(X, nI, cdim, y, w, 1);
  let pm = 0;
  let pv = 0;
  for (let i = 0; i < nI; i++) pm += pred[i]!;
  pm /= nI;
  for (let i = 0; i < nI; i++) pv += (pred[i]! - pm) ** 2;
  const sd = Math.sqrt(pv / nI) || 1;
  const attract = new Float32Array(nI);
  for (let i = 0; i < nI; i++) attract[i] = 1 / (1 + Math.exp(-(pred[i]! - pm) / sd));

  // Opening histories from the train split.
  const tr = train.byUser();
  const H = config.initialHistory;
  const histIndptr = new Int32Array(nU + 1);
  const hist: number[] = [];
  const users: number[] = [];
  for (let u = 0; u < nU; u++) {
    const s = tr.indptr[u]!;
    const e = tr.indptr[u + 1]!;
    for (let p = Math.max(s, e - H); p < e; p++) hist.push(tr.indices[p]!);
    histIndptr[u + 1] = hist.length;
    if (e > s) users.push(u);
  }
  if (users.length === 0) throw new DataError('simulator: the train split has no users', { field: 'train' });
  return {
    name: full.name,
    nUsers: nU,
    nItems: nI,
    dim: mf.dim,
    mu: mf.mu,
    userBias: mf.userBias,
    itemBias: mf.itemBias,
    userFactors: mf.users,
    itemFactors: mf.items,
    categoryNames: cats.names,
    catIndptr,
    catIndices,
    affinity,
    itemCounts: counts,
    cold,
    exposureValue: g,
    attract,
    histIndptr,
    histItems: Int32Array.from(hist),
    users: Int32Array.from(users),
    popularOrder: order,
    stats: { ratings: it.length, trainRmse: mf.trainRmse, meanRating: mf.mu },
  };
}

/** Hidden predicted rating of item i for user u with preference offset `drift` (length dim, at `off`). */
export function hiddenRating(w: SimWorld, u: number, i: number, drift: Float32Array, off: number): number {
  const d = w.dim;
  let s = w.mu + w.userBias[u]! + w.itemBias[i]!;
  const uo = u * d;
  const io = i * d;
  for (let a = 0; a < d; a++) s += (w.userFactors[uo + a]! + drift[off + a]!) * w.itemFactors[io + a]!;
  return s < 0.5 ? 0.5 : s > 5 ? 5 : s;
}

/** Mean satiation over item i's genres (`sat` holds nCategories values from `off`). */
export function itemSatiation(w: SimWorld, i: number, sat: Float32Array, off: number): number {
  const c0 = w.catIndptr[i]!;
  const c1 = w.catIndptr[i + 1]!;
  if (c1 === c0) return 0;
  let s = 0;
  for (let c = c0; c < c1; c++) s += sat[off + w.catIndices[c]!]!;
  return s / (c1 - c0);
}

/** Probability that a click rated `rating` ends in a purchase: sigmoid(bias + slope·(rating − 3.5)). */
export function purchaseProbability(cfg: SimConfig, rating: number): number {
  return 1 / (1 + Math.exp(-(cfg.purchase.bias + cfg.purchase.slope * (rating - 3.5))));
}

/** Click utility of item i at slate position `pos` (before the no-click comparison). */
export function clickUtility(w: SimWorld, cfg: SimConfig, u: number, i: number, pos: number, drift: Float32Array, dOff: number, sat: Float32Array, sOff: number): number {
  const ch = cfg.choice;
  const nC = w.categoryNames.length;
  let aff = 0;
  const c0 = w.catIndptr[i]!;
  const c1 = w.catIndptr[i + 1]!;
  for (let c = c0; c < c1; c++) aff += w.affinity[u * nC + w.catIndices[c]!]!;
  if (c1 > c0) aff /= c1 - c0;
  return (
    ch.ratingWeight * (hiddenRating(w, u, i, drift, dOff) - w.mu) +
    ch.genreWeight * aff -
    ch.satiationWeight * itemSatiation(w, i, sat, sOff) +
    ch.attractWeight * (w.attract[i]! - 0.5) -
    ch.positionDecay * Math.log1p(pos)
  );
}

/**
 * Sets `noClickUtility` so that the popularity slate (the K most-rated items the user has not in
 * the opening history) gets a first-step click probability of `target`, averaged over users.
 * The choice model is monotone in the no-click utility, so bisection finds it.
 */
export function calibrateNoClick(w: SimWorld, cfg: SimConfig, target: number): number {
  const drift = new Float32Array(w.dim);
  const sat = new Float32Array(w.categoryNames.length);
  return noClickForFirstStepCtr(w, cfg.slateSize, target, (u) => {
    initialSatiation(w, cfg, u, sat, 0);
    return (i, pos) => clickUtility(w, cfg, u, i, pos, drift, 0, sat, 0);
  });
}

/**
 * The no-click utility at which the popularity slate (the K most-interacted items not in each
 * user's opening history) has a mean first-step click probability of `target` under a
 * multinomial logit, found by bisection (the click probability falls monotonically in it).
 * `utilityFor(u)` prepares user u's step-0 state and returns the utility of item i at position pos.
 * Shared by both simulator families' calibrations.
 */
export function noClickForFirstStepCtr(w: SimWorld, K: number, target: number, utilityFor: (u: number) => (i: number, pos: number) => number): number {
  // Σ_k exp(u_k) per user at step 0 (independent of the no-click utility).
  const S = new Float64Array(w.users.length);
  for (let x = 0; x < w.users.length; x++) {
    const u = w.users[x]!;
    const utility = utilityFor(u);
    const h0 = w.histIndptr[u]!;
    const h1 = w.histIndptr[u + 1]!;
    let pos = 0;
    for (let r = 0; r < w.nItems && pos < K; r++) {
      const i = w.popularOrder[r]!;
      let seen = false;
      for (let h = h0; h < h1; h++) if (w.histItems[h] === i) seen = true;
      if (seen) continue;
      S[x] += Math.exp(utility(i, pos));
      pos++;
    }
  }
  const ctr = (u0: number): number => {
    const e0 = Math.exp(u0);
    let m = 0;
    for (let x = 0; x < S.length; x++) m += S[x]! / (S[x]! + e0);
    return m / Math.max(1, S.length);
  };
  let lo = -30;
  let hi = 30;
  for (let it = 0; it < 100; it++) {
    const mid = (lo + hi) / 2;
    if (ctr(mid) > target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Satiation a session opens with: `fromHistory` per genre occurrence in the opening history. */
export function initialSatiation(w: SimWorld, cfg: SimConfig, u: number, sat: Float32Array, off: number): void {
  const nC = w.categoryNames.length;
  for (let c = 0; c < nC; c++) sat[off + c] = 0;
  for (let h = w.histIndptr[u]!; h < w.histIndptr[u + 1]!; h++) {
    const i = w.histItems[h]!;
    const c0 = w.catIndptr[i]!;
    const c1 = w.catIndptr[i + 1]!;
    for (let c = c0; c < c1; c++) sat[off + w.catIndices[c]!] += cfg.satiation.fromHistory / (c1 - c0);
  }
}
