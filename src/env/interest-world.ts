/**
 * The static part of the interest-evolution family (RecSim-style, Ie et al. 2019), calibrated on
 * any interaction data: per document a topic distribution θ_i over T topics, a quality q_i, an
 * appeal a_i and a length ℓ_i; per user an initial interest vector x_u ∈ [−1, 1]^T. Sessions
 * (interest-env.ts) only read it. Nothing here uses the rating family's hidden factor model, so
 * the two families share data but not their user model.
 */
import { categoryCsr } from '../data/categories.js';
import type { Dataset } from '../data/dataset.js';
import { ConfigError } from '../errors.js';
import { Rng } from '../util/rng.js';
import type { InterestParams, SimConfig } from './config.js';
import { noClickForFirstStepCtr, type SimWorld } from './world.js';

export interface InterestWorld {
  nItems: number;
  nUsers: number;
  /** Topic count T. */
  nTopics: number;
  /** Where the topics came from: the data's genres, or an NMF of the user–item incidence matrix. */
  topicSource: 'genres' | 'nmf';
  topicNames: string[];
  /** nItems × T, each row on the simplex. */
  topics: Float32Array;
  /** q_i = tanh(z) of the item's shrunk mean value, z standardised over the catalogue. */
  quality: Float32Array;
  /** a_i = standardised ln(1 + interactions): immediate appeal, blind to quality. */
  appeal: Float32Array;
  /** ℓ_i in minutes. */
  length: Float32Array;
  /** nUsers × T initial interests from the train split, before the per-session noise. */
  interest0: Float32Array;
}

/** Build the interest world: documents from the full data, users' interests from the train split. */
export function buildInterestWorld(full: Dataset, train: Dataset, config: SimConfig): InterestWorld {
  const p = interestParams(config);
  const nI = full.nItems;
  const nU = full.nUsers;
  const { topics, nTopics, topicSource, topicNames } = itemTopics(full, p.topics);
  const counts = full.itemCounts();

  // Quality: the item's value shrunk toward the global mean, so a single 5-star rating is no proof.
  const it = full.interactions;
  let mu = 0;
  for (let k = 0; k < it.length; k++) mu += it.value[k]!;
  mu /= Math.max(1, it.length);
  const sum = new Float64Array(nI);
  for (let k = 0; k < it.length; k++) sum[it.item[k]!] += it.value[k]!;
  const shrunk = new Float64Array(nI);
  const logPop = new Float64Array(nI);
  for (let i = 0; i < nI; i++) {
    shrunk[i] = (sum[i]! + p.quality.shrinkage * mu) / (counts[i]! + p.quality.shrinkage);
    logPop[i] = Math.log1p(counts[i]!);
  }
  const quality = new Float32Array(nI);
  const zq = standardise(shrunk);
  for (let i = 0; i < nI; i++) quality[i] = Math.tanh(zq[i]!);
  const appeal = Float32Array.from(standardise(logPop));

  // Lengths: the data carry none, so a seeded log-normal with mean ℓ̄ (its own seed: the world
  // does not depend on the session seed).
  const lrng = new Rng(p.length.seed);
  const length = new Float32Array(nI);
  const s = p.length.spread;
  for (let i = 0; i < nI; i++) length[i] = p.length.mean * Math.exp(s * lrng.normal() - (s * s) / 2);

  // Initial interests: over- or under-consumption of each topic relative to the catalogue's share.
  const tr = train.byUser();
  const trCounts = train.itemCounts();
  const share = new Float64Array(nTopics);
  let total = 0;
  for (let i = 0; i < nI; i++) for (let t = 0; t < nTopics; t++) share[t] += trCounts[i]! * topics[i * nTopics + t]!;
  for (let t = 0; t < nTopics; t++) total += share[t]!;
  const interest0 = new Float32Array(nU * nTopics);
  const nut = new Float64Array(nTopics);
  for (let u = 0; u < nU; u++) {
    nut.fill(0);
    const e0 = tr.indptr[u]!;
    const e1 = tr.indptr[u + 1]!;
    for (let e = e0; e < e1; e++) {
      const i = tr.indices[e]!;
      for (let t = 0; t < nTopics; t++) nut[t] += topics[i * nTopics + t]!;
    }
    for (let t = 0; t < nTopics; t++) {
      const expected = ((e1 - e0) * share[t]!) / Math.max(1e-12, total);
      interest0[u * nTopics + t] = Math.tanh(p.interest.scale * Math.log((nut[t]! + 1) / (expected + 1)));
    }
  }
  return { nItems: nI, nUsers: nU, nTopics, topicSource, topicNames, topics, quality, appeal, length, interest0 };
}

/** The family's parameters, or a ConfigError naming the preset that lacks them. */
export function interestParams(config: SimConfig): InterestParams {
  if (!config.interest) throw new ConfigError(`preset ${config.preset} is not an interest-evolution preset (no "interest" section)`, 'interest');
  return config.interest;
}

/** s_ui = x · θ_i, with x held in `x` from `xOff` (T values). */
export function interestScore(w: InterestWorld, x: Float32Array, xOff: number, i: number): number {
  const T = w.nTopics;
  let s = 0;
  for (let t = 0; t < T; t++) s += x[xOff + t]! * w.topics[i * T + t]!;
  return s;
}

/** Click utility of item i at slate position `pos` for interests x (before the no-click comparison). */
export function interestUtility(w: InterestWorld, p: InterestParams, x: Float32Array, xOff: number, i: number, pos: number): number {
  return p.choice.interestWeight * interestScore(w, x, xOff, i) + p.choice.appealWeight * w.appeal[i]! - p.choice.positionDecay * Math.log1p(pos);
}

/**
 * Sets the no-click utility so that the popularity slate (the K most-interacted items not in the
 * opening history) gets a first-step click probability of `target`, averaged over users with their
 * noise-free initial interests. The click probability falls monotonically in it, so bisection finds it.
 */
export function calibrateInterestNoClick(iw: InterestWorld, world: SimWorld, config: SimConfig, target: number): number {
  const p = interestParams(config);
  const T = iw.nTopics;
  return noClickForFirstStepCtr(world, config.slateSize, target, (u) => (i, pos) => interestUtility(iw, p, iw.interest0, u * T, i, pos));
}

/** z-scores over the catalogue (all zeros when the values do not vary). */
function standardise(v: Float64Array): Float64Array {
  let m = 0;
  for (let i = 0; i < v.length; i++) m += v[i]!;
  m /= Math.max(1, v.length);
  let s2 = 0;
  for (let i = 0; i < v.length; i++) s2 += (v[i]! - m) ** 2;
  const sd = Math.sqrt(s2 / Math.max(1, v.length)) || 1;
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = (v[i]! - m) / sd;
  return out;
}

interface ItemTopics {
  topics: Float32Array;
  nTopics: number;
  topicSource: 'genres' | 'nmf';
  topicNames: string[];
}

/** θ_i from the genres when the data have them (and `source` allows), else from an NMF. */
function itemTopics(full: Dataset, o: InterestParams['topics']): ItemTopics {
  const cats = categoryCsr(full);
  const nI = full.nItems;
  let withGenre = 0;
  for (let i = 0; i < nI; i++) if (cats.indptr[i + 1]! > cats.indptr[i]!) withGenre++;
  // Genres only describe the catalogue when most items carry one and there are at least two.
  const genresUsable = cats.names.length >= 2 && withGenre >= nI / 2;
  if (o.source === 'genres' && !genresUsable) {
    throw new ConfigError(`topics.source "genres": only ${withGenre} of ${nI} items have a genre`, 'interest.topics.source');
  }
  if (o.source === 'genres' || (o.source === 'auto' && genresUsable)) {
    const T = cats.names.length;
    const topics = new Float32Array(nI * T);
    for (let i = 0; i < nI; i++) {
      const c0 = cats.indptr[i]!;
      const c1 = cats.indptr[i + 1]!;
      if (c1 === c0) topics.fill(1 / T, i * T, (i + 1) * T);
      else for (let c = c0; c < c1; c++) topics[i * T + cats.indices[c]!] = 1 / (c1 - c0);
    }
    return { topics, nTopics: T, topicSource: 'genres', topicNames: cats.names };
  }
  if (!(Number.isInteger(o.count) && o.count >= 2)) throw new ConfigError(`topics.count must be an integer ≥ 2, got ${o.count}`, 'interest.topics.count');
  const topics = nmfItemTopics(full, o.count, o.iterations, 23);
  return { topics, nTopics: o.count, topicSource: 'nmf', topicNames: Array.from({ length: o.count }, (_, t) => `topic-${t + 1}`) };
}

/**
 * Topics of a catalogue without genres: X ≈ W·H for the binary user × item incidence matrix X
 * (Lee–Seung multiplicative updates on the Frobenius loss, seeded), so items consumed by the
 * same users share topics; θ_i is H's column i scaled to sum 1 (uniform if it is all zero).
 * Returns nItems × T.
 */
export function nmfItemTopics(data: Dataset, T: number, iterations: number, seed: number): Float32Array {
  const nU = data.nUsers;
  const nI = data.nItems;
  const byUser = data.byUser();
  const byItem = data.byItem();
  const rng = new Rng(seed);
  const W = new Float64Array(nU * T);
  const H = new Float64Array(nI * T); // item-major: row i is H's column i
  for (let k = 0; k < W.length; k++) W[k] = 0.1 + rng.next();
  for (let k = 0; k < H.length; k++) H[k] = 0.1 + rng.next();
  const gram = new Float64Array(T * T);
  const num = new Float64Array(T);
  const den = new Float64Array(T);
  const eps = 1e-9;
  // One side's update given the other: F_r ∘= (Σ_{c ∈ row r} G_c) / (F_r · GᵀG).
  const side = (F: Float64Array, G: Float64Array, nRows: number, nOther: number, csr: { indptr: Int32Array; indices: Int32Array }): void => {
    gram.fill(0);
    for (let c = 0; c < nOther; c++) {
      for (let a = 0; a < T; a++) {
        const ga = G[c * T + a]!;
        if (ga === 0) continue;
        for (let b = 0; b < T; b++) gram[a * T + b] += ga * G[c * T + b]!;
      }
    }
    for (let r = 0; r < nRows; r++) {
      num.fill(0);
      for (let e = csr.indptr[r]!; e < csr.indptr[r + 1]!; e++) {
        const c = csr.indices[e]!;
        for (let a = 0; a < T; a++) num[a] += G[c * T + a]!;
      }
      // Denominators from the row before its update, then the update.
      for (let a = 0; a < T; a++) {
        let d = 0;
        for (let b = 0; b < T; b++) d += F[r * T + b]! * gram[b * T + a]!;
        den[a] = d;
      }
      for (let a = 0; a < T; a++) F[r * T + a] = (F[r * T + a]! * num[a]!) / (den[a]! + eps);
    }
  };
  for (let it = 0; it < iterations; it++) {
    side(H, W, nI, nU, byItem);
    side(W, H, nU, nI, byUser);
  }
  const topics = new Float32Array(nI * T);
  for (let i = 0; i < nI; i++) {
    let s = 0;
    for (let t = 0; t < T; t++) s += H[i * T + t]!;
    for (let t = 0; t < T; t++) topics[i * T + t] = s > 0 ? H[i * T + t]! / s : 1 / T;
  }
  return topics;
}
