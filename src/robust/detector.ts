/**
 * A detector of fake profiles from profile-level features (Chirita et al. 2005; Burke et al. 2006)
 * and a small classifier trained on synthetic attacks that are never the attack under test.
 *
 * Features, one value per user (`r̄_i` item mean, `n_i` item count, `P_u` the user's items):
 * - rdma   Σ_i |r_ui − r̄_i| / n_i / |P_u|       ratings far from consensus on rarely rated items
 * - wdma   Σ_i |r_ui − r̄_i| / n_i² / |P_u|      the same, rarity weighted harder
 * - wda    Σ_i |r_ui − r̄_i| / n_i               not normalised by length
 * - lengthVar (|P_u| − mean length)² / Σ_v (|P_v| − mean length)²
 * - degSim mean similarity to the user's k nearest neighbours (Pearson on co-rated items with
 *          significance weighting; cosine on implicit data): fakes from one attack resemble each other
 * - fmtd   |mean of the top-rated items − mean of the rest| (filler mean target difference)
 * - fillerVar variance of the ratings below the top (segment filler is constant)
 * - rarity mean 1/n_i over the profile: filler drawn from the catalogue hits rarely rated items
 *          (the only rating-free signal besides length and degSim, so it carries implicit data)
 * The rating-based features are 0 on implicit data.
 *
 * Classifier: each feature, logged, becomes a robust z-score over the dataset's users; a
 * class-balanced logistic regression over those is trained on validation attacks (every attack type,
 * other seeds, targets, sizes and filler) injected into trusted reference data (the log before the
 * period under suspicion), and its threshold is the one with the best F1 there. The attack being
 * evaluated is never seen in training.
 */
import type { Dataset } from '../data/dataset.js';
import { ConfigError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { ATTACK_TYPES, attackScale, injectAttack, pickTargets, type AttackType } from './attacks.js';

export const FEATURE_NAMES = ['rdma', 'wdma', 'wda', 'lengthVar', 'degSim', 'fmtd', 'fillerVar', 'rarity'] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];
const Z_CAP = 10;

export interface ProfileFeatures {
  users: number;
  /** One Float64Array per feature, indexed by user. */
  values: Record<FeatureName, Float64Array>;
}

export interface FeatureOptions {
  /** Neighbours for degSim (default 25). */
  k?: number;
  /** Co-rated items at which a similarity counts fully; fewer scale it down (default 10). */
  significance?: number;
}

/**
 * Compute every feature for every user of `ds`. degSim costs Σ_i n_i² (all co-rating pairs): fine
 * for MovieLens-small/1M-sized data, slow for tens of millions of ratings.
 */
export function profileFeatures(ds: Dataset, options: FeatureOptions = {}): ProfileFeatures {
  const kNn = options.k ?? 25;
  const sig = options.significance ?? 10;
  const nU = ds.nUsers;
  const nI = ds.nItems;
  const scale = attackScale(ds);
  const byUser = ds.byUser();
  const byItem = ds.byItem();
  const count = new Int32Array(nI);
  const mean = new Float64Array(nI);
  for (let i = 0; i < nI; i++) {
    const a = byItem.indptr[i]!;
    const b = byItem.indptr[i + 1]!;
    count[i] = b - a;
    let s = 0;
    for (let e = a; e < b; e++) s += byItem.values[e]!;
    mean[i] = b > a ? s / (b - a) : 0;
  }
  const f = Object.fromEntries(FEATURE_NAMES.map((n) => [n, new Float64Array(nU)])) as Record<FeatureName, Float64Array>;
  const userMean = new Float64Array(nU);
  let lenSum = 0;
  for (let u = 0; u < nU; u++) lenSum += byUser.indptr[u + 1]! - byUser.indptr[u]!;
  const lenMean = nU > 0 ? lenSum / nU : 0;
  let lenDev = 0;
  for (let u = 0; u < nU; u++) {
    const d = byUser.indptr[u + 1]! - byUser.indptr[u]! - lenMean;
    lenDev += d * d;
  }
  for (let u = 0; u < nU; u++) {
    const a = byUser.indptr[u]!;
    const b = byUser.indptr[u + 1]!;
    const len = b - a;
    if (len === 0) continue;
    let rd = 0;
    let wd = 0;
    let wda = 0;
    let rar = 0;
    let vs = 0;
    let topS = 0;
    let topN = 0;
    let restS = 0;
    let restQ = 0;
    let restN = 0;
    for (let e = a; e < b; e++) {
      const i = byUser.indices[e]!;
      const r = byUser.values[e]!;
      const n = count[i]!;
      const dev = Math.abs(r - mean[i]!);
      rd += dev / n;
      wd += dev / (n * n);
      wda += dev / n;
      rar += 1 / n;
      vs += r;
      if (r >= scale.hi) {
        topS += r;
        topN++;
      } else {
        restS += r;
        restQ += r * r;
        restN++;
      }
    }
    userMean[u] = vs / len;
    f.rdma[u] = rd / len;
    f.wdma[u] = wd / len;
    f.wda[u] = wda;
    f.rarity[u] = rar / len;
    const d = len - lenMean;
    f.lengthVar[u] = lenDev > 0 ? (d * d) / lenDev : 0;
    if (scale.explicit && topN > 0 && restN > 0) f.fmtd[u] = Math.abs(topS / topN - restS / restN);
    if (scale.explicit && restN > 1) {
      const m = restS / restN;
      f.fillerVar[u] = Math.max(0, restQ / restN - m * m);
    } else {
      // Nothing below the top to vary: a profile of only top ratings is as uniform as it gets.
      f.fillerVar[u] = scale.explicit ? 0 : 1;
    }
  }
  degSim(ds, scale.explicit, userMean, kNn, sig, f.degSim);
  return { users: nU, values: f };
}

/** degSim into `out`: mean of each user's top-k neighbour similarities (see the module comment). */
function degSim(ds: Dataset, explicit: boolean, userMean: Float64Array, k: number, sig: number, out: Float64Array): void {
  const nU = ds.nUsers;
  const byUser = ds.byUser();
  const byItem = ds.byItem();
  const num = new Float64Array(nU);
  const su = new Float64Array(nU);
  const sv = new Float64Array(nU);
  const co = new Int32Array(nU);
  const touched = new Int32Array(nU);
  const len = new Int32Array(nU);
  for (let u = 0; u < nU; u++) len[u] = byUser.indptr[u + 1]! - byUser.indptr[u]!;
  const top = new Float64Array(k);
  for (let u = 0; u < nU; u++) {
    let nt = 0;
    const a = byUser.indptr[u]!;
    const b = byUser.indptr[u + 1]!;
    if (a === b) continue;
    for (let e = a; e < b; e++) {
      const i = byUser.indices[e]!;
      const du = byUser.values[e]! - userMean[u]!;
      for (let x = byItem.indptr[i]!; x < byItem.indptr[i + 1]!; x++) {
        const v = byItem.indices[x]!;
        if (v === u) continue;
        if (co[v] === 0) touched[nt++] = v;
        co[v]++;
        if (explicit) {
          const dv = byItem.values[x]! - userMean[v]!;
          num[v] += du * dv;
          su[v] += du * du;
          sv[v] += dv * dv;
        }
      }
    }
    // Keep the k largest similarities in `top` (a small sorted buffer; k is tens).
    let size = 0;
    for (let t = 0; t < nt; t++) {
      const v = touched[t]!;
      const c = co[v]!;
      let s: number;
      if (explicit) {
        const den = Math.sqrt(su[v]! * sv[v]!);
        s = den > 0 ? num[v]! / den : 0;
      } else {
        s = c / Math.sqrt(len[u]! * len[v]!);
      }
      s *= Math.min(c, sig) / sig;
      if (size < k) {
        let p = size++;
        while (p > 0 && top[p - 1]! < s) {
          top[p] = top[p - 1]!;
          p--;
        }
        top[p] = s;
      } else if (s > top[k - 1]!) {
        let p = k - 1;
        while (p > 0 && top[p - 1]! < s) {
          top[p] = top[p - 1]!;
          p--;
        }
        top[p] = s;
      }
      num[v] = 0;
      su[v] = 0;
      sv[v] = 0;
      co[v] = 0;
    }
    let sum = 0;
    for (let p = 0; p < size; p++) sum += top[p]!;
    // Fewer than k neighbours count as zeros: an isolated profile is not similar to anyone.
    out[u] = sum / k;
  }
}

function median(xs: Float64Array): number {
  const s = Float64Array.from(xs).sort();
  const n = s.length;
  if (n === 0) return 0;
  return n % 2 ? s[(n - 1) >> 1]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/**
 * The classifier's inputs: per feature, log(x + ε) (the features are heavy-tailed ratios) as a
 * robust z-score (median, 1.4826·MAD) over the users of this dataset, so a detector trained on
 * one dataset's validation attacks reads another dataset's features on the same footing.
 * Row-major, `FEATURE_NAMES.length` columns; users with no interactions get zeros.
 */
export function featureMatrix(ds: Dataset, features: ProfileFeatures): Float64Array {
  const nU = features.users;
  const nF = FEATURE_NAMES.length;
  const counts = ds.userCounts();
  const active: number[] = [];
  for (let u = 0; u < nU; u++) if (counts[u]! > 0) active.push(u);
  const X = new Float64Array(nU * nF);
  FEATURE_NAMES.forEach((name, j) => {
    const x = features.values[name];
    const lx = Float64Array.from(active, (u) => Math.log(Math.max(0, x[u]!) + 1e-9));
    const med = median(lx);
    let spread = 1.4826 * median(lx.map((v) => Math.abs(v - med)));
    // A feature constant over most users (MAD 0): fall back to the mean absolute deviation, and
    // leave the column at 0 when even that is 0 (it carries no information here).
    if (!(spread > 0)) {
      let s = 0;
      for (const v of lx) s += Math.abs(v - med);
      spread = lx.length > 0 ? (1.2533 * s) / lx.length : 0;
    }
    if (!(spread > 0)) return;
    active.forEach((u, a) => {
      X[u * nF + j] = Math.max(-Z_CAP, Math.min(Z_CAP, (lx[a]! - med) / spread));
    });
  });
  return X;
}

export interface DetectorConfig {
  /** Seed of the validation attacks (never the evaluated attack's). */
  seed: number;
  /** Attack types to train on (default: all four; segment only where items have categories). */
  types?: readonly AttackType[];
  /** Validation attack sizes (default [0.01, 0.03, 0.1]): a detector trained at one size misses others. */
  sizes?: readonly number[];
  /** Validation filler fractions (default [0.005, 0.02, 0.05]): the defender does not know the attacker's. */
  fillers?: readonly number[];
  /** Targets per validation attack (default 3). */
  targets?: number;
  features?: FeatureOptions;
  /** L2 penalty of the logistic regression (default 0.01). */
  l2?: number;
}

/** A logistic-regression detector over `featureMatrix` columns and its decision threshold. */
export interface DetectorModel {
  weights: Float64Array;
  bias: number;
  /** Flag a user when its probability exceeds this (chosen for the best F1 on the validation attacks). */
  threshold: number;
  /** Precision, recall and F1 on the validation attacks at that threshold (in-sample). */
  training: { precision: number; recall: number; f1: number; attacks: number; profiles: number };
}

/**
 * Train the detector on validation attacks injected into `ds` (each type × size × filler, fresh
 * targets and seeds drawn from `config.seed`). `ds` should be data the defender trusts (the log
 * before the period under suspicion): profiles of an unknown attack already in it count as
 * genuine here, and on ml-latest-small a 5 % attack left in the training data pulled recall on
 * that attack well down, since its profiles outnumbered the validation fakes as negatives.
 */
export function trainDetector(ds: Dataset, config: DetectorConfig): DetectorModel {
  const rng = new Rng(config.seed);
  const types = config.types ?? ATTACK_TYPES;
  const sizes = config.sizes ?? [0.01, 0.03, 0.1];
  const fillers = config.fillers ?? [0.005, 0.02, 0.05];
  const hasCategories = ds.itemMeta.some((m) => (m?.categories?.length ?? 0) > 0);
  const nF = FEATURE_NAMES.length;
  const rows: Float64Array[] = [];
  const labels: number[] = [];
  let attacks = 0;
  for (const type of types) {
    if (type === 'segment' && !hasCategories) continue;
    for (const size of sizes) {
      for (const filler of fillers) {
        const seed = rng.nextUint32();
        const targets = pickTargets(ds, config.targets ?? 3, seed);
        const atk = injectAttack(ds, { type, targets, size, filler, seed, idPrefix: 'validation-' });
        const X = featureMatrix(atk.dataset, profileFeatures(atk.dataset, config.features));
        const counts = atk.dataset.userCounts();
        for (let u = 0; u < atk.dataset.nUsers; u++) {
          if (counts[u]! === 0) continue;
          rows.push(X.subarray(u * nF, (u + 1) * nF));
          labels.push(u >= atk.genuineUsers ? 1 : 0);
        }
        attacks++;
      }
    }
  }
  if (attacks === 0) throw new ConfigError('detector training ran no validation attack (segment needs item categories)', 'types');
  const { weights, bias } = fitLogistic(rows, labels, config.l2 ?? 0.01);
  const p = rows.map((x) => sigmoid(dot(weights, x) + bias));
  const best = bestF1(p, labels);
  return { weights, bias, threshold: best.threshold, training: { precision: best.precision, recall: best.recall, f1: best.f1, attacks, profiles: rows.length } };
}

function dot(w: Float64Array, x: Float64Array): number {
  let s = 0;
  for (let j = 0; j < w.length; j++) s += w[j]! * x[j]!;
  return s;
}

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

/**
 * Class-balanced L2 logistic regression by Newton's method (a handful of features: the Hessian is
 * tiny, and Newton converges in a few steps where gradient descent needs thousands). Each class
 * carries half the total weight, so the few fakes are not drowned by the many genuine users. The
 * penalty keeps the weights finite when the validation attacks are perfectly separable.
 */
function fitLogistic(rows: Float64Array[], labels: number[], l2: number): { weights: Float64Array; bias: number } {
  const nF = rows[0]?.length ?? 0;
  const d = nF + 1; // the bias is the last coordinate, unpenalised
  const pos = labels.reduce((a, b) => a + b, 0);
  const neg = labels.length - pos;
  const wPos = pos > 0 ? 0.5 / pos : 0;
  const wNeg = neg > 0 ? 0.5 / neg : 0;
  const w = new Float64Array(d);
  const g = new Float64Array(d);
  const H = new Float64Array(d * d);
  const xb = new Float64Array(d);
  xb[nF] = 1;
  for (let it = 0; it < 50; it++) {
    g.fill(0);
    H.fill(0);
    for (let j = 0; j < nF; j++) {
      g[j] = l2 * w[j]!;
      H[j * d + j] = l2;
    }
    for (let r = 0; r < rows.length; r++) {
      xb.set(rows[r]!);
      const c = labels[r]! ? wPos : wNeg;
      const p = sigmoid(dot(w, xb));
      const e = c * (p - labels[r]!);
      const h = c * p * (1 - p);
      for (let j = 0; j < d; j++) {
        g[j] += e * xb[j]!;
        for (let l = 0; l <= j; l++) H[j * d + l] += h * xb[j]! * xb[l]!;
      }
    }
    for (let j = 0; j < d; j++) for (let l = j + 1; l < d; l++) H[j * d + l] = H[l * d + j]!;
    const step = solve(H, g, d);
    let norm = 0;
    for (let j = 0; j < d; j++) {
      w[j] -= step[j]!;
      norm += step[j]! * step[j]!;
    }
    if (norm < 1e-16) break;
  }
  return { weights: w.slice(0, nF), bias: w[nF]! };
}

/** Solve A x = b (A d×d, symmetric positive definite here) by Gaussian elimination with partial pivoting. */
function solve(A: Float64Array, b: Float64Array, d: number): Float64Array {
  const M = Float64Array.from(A);
  const x = Float64Array.from(b);
  for (let c = 0; c < d; c++) {
    let p = c;
    for (let r = c + 1; r < d; r++) if (Math.abs(M[r * d + c]!) > Math.abs(M[p * d + c]!)) p = r;
    if (p !== c) {
      for (let l = 0; l < d; l++) [M[c * d + l], M[p * d + l]] = [M[p * d + l]!, M[c * d + l]!];
      [x[c], x[p]] = [x[p]!, x[c]!];
    }
    const piv = M[c * d + c]!;
    if (Math.abs(piv) < 1e-300) continue; // a column with no information: leave its step at 0
    for (let r = c + 1; r < d; r++) {
      const f = M[r * d + c]! / piv;
      if (f === 0) continue;
      for (let l = c; l < d; l++) M[r * d + l] -= f * M[c * d + l]!;
      x[r] -= f * x[c]!;
    }
  }
  for (let c = d - 1; c >= 0; c--) {
    let s = x[c]!;
    for (let l = c + 1; l < d; l++) s -= M[c * d + l]! * x[l]!;
    const piv = M[c * d + c]!;
    x[c] = Math.abs(piv) < 1e-300 ? 0 : s / piv;
  }
  return x;
}

/** The threshold with the best F1 (cut halfway between distinct neighbouring scores). */
function bestF1(scores: number[], labels: number[]): { threshold: number; precision: number; recall: number; f1: number } {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const positives = labels.reduce((a, b) => a + b, 0);
  let tp = 0;
  let best = { threshold: Infinity, precision: 0, recall: 0, f1: 0 };
  for (let j = 0; j < order.length; j++) {
    tp += labels[order[j]!]!;
    const s = scores[order[j]!]!;
    const next = j + 1 < order.length ? scores[order[j + 1]!]! : s - 1;
    if (next === s) continue; // equal scores cannot be split
    const precision = tp / (j + 1);
    const recall = positives > 0 ? tp / positives : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    if (f1 > best.f1) best = { threshold: (s + next) / 2, precision, recall, f1 };
  }
  return best;
}

export interface Detection {
  /** Probability of being fake, per user of the data under test (0 for users with no interactions). */
  scores: Float64Array;
  /** 1 where the user is flagged as suspicious. */
  flagged: Uint8Array;
  /** Flagged user indices, most suspicious first. */
  suspects: Int32Array;
  model: DetectorModel;
}

/** Score and flag the users of `ds` with a trained detector. */
export function applyDetector(ds: Dataset, model: DetectorModel, features?: FeatureOptions): Omit<Detection, 'model'> {
  const nF = FEATURE_NAMES.length;
  const X = featureMatrix(ds, profileFeatures(ds, features));
  const counts = ds.userCounts();
  const scores = new Float64Array(ds.nUsers);
  const flagged = new Uint8Array(ds.nUsers);
  const list: number[] = [];
  for (let u = 0; u < ds.nUsers; u++) {
    if (counts[u]! === 0) continue;
    scores[u] = sigmoid(dot(model.weights, X.subarray(u * nF, (u + 1) * nF)) + model.bias);
    if (scores[u]! > model.threshold) {
      flagged[u] = 1;
      list.push(u);
    }
  }
  list.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return { scores, flagged, suspects: Int32Array.from(list) };
}

/** Train on validation attacks injected into `reference` (trusted data), then score and flag the users of `observed`. */
export function detectShills(reference: Dataset, observed: Dataset, config: DetectorConfig): Detection {
  const model = trainDetector(reference, config);
  return { ...applyDetector(observed, model, config.features), model };
}

/** Precision and recall of `flagged` against the known fake users. */
export function detectionQuality(flagged: Uint8Array, fake: Int32Array): { precision: number; recall: number; flagged: number; truePositives: number } {
  let n = 0;
  for (let u = 0; u < flagged.length; u++) n += flagged[u]!;
  let tp = 0;
  for (const u of fake) tp += flagged[u] ?? 0;
  return { precision: n > 0 ? tp / n : NaN, recall: fake.length > 0 ? tp / fake.length : NaN, flagged: n, truePositives: tp };
}
