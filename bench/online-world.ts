/**
 * Seeded synthetic populations for the online-learning benchmark (bench/online.ts, issue 15): a
 * Personalizer-shaped workload with a known click model, so that every policy's expected
 * click-through rate can be computed exactly and the oracles are exact.
 *
 * The generator, for a configuration (see CONFIGS) and a seed:
 *
 *   - S segments, each with a taste embedding g_s ~ N(0, I_m) (m = tasteDims).
 *   - A population of U users: segment s_u uniform over S; two observed traits t_u ~ N(0, I_2),
 *     rounded to 2 decimals; an unobserved part z_u ~ N(0, I_m).
 *   - Taste τ_u = √o · (√(1−q) · g_s + √q · T t_u) + √(1−o) · z_u, with T ~ N(0, 1/2) (m × 2), so
 *     that every part has unit variance per dimension: o = `observed` is the share of the taste
 *     variance the sent context (segment and traits) explains; q = `traitShare` is the share of
 *     that observed part carried by the traits (the rest by the segment, which a segment-only
 *     policy can see).
 *   - A actions, each with a feature vector v_a ~ N(0, I_8) rounded to 3 decimals and a bias
 *     b_a ~ N(0, biasSd²). A taste-to-item map W ~ N(0, 1/8) (m × 8).
 *   - Click probability p(u, a) = σ(β + b_a + γ · τ_uᵀ W v_a / √m), σ the logistic function,
 *     γ = `interaction`, and β found by bisection so that the mean of p over the population and
 *     all actions (the uniform-random policy's CTR) equals `randomCtr`.
 *   - The round stream: round t draws a user uniformly from the population and a uniform c_t in
 *     [0, 1); the action a shown in round t is clicked when c_t < p(u_t, a). Every policy run on
 *     the same seed sees the same users and the same c_t (paired comparisons).
 *
 * What a learner is told: the context `[{ user: { segment: 'seg3', traits: [0.4, -1.2] } }]` and
 * the actions `[{ id: 'a7', features: [{ item: { vec: [8 numbers] } }] }]` (shape 'array': arrays
 * of numbers, which Personalizer treats as indexed features), or with shape 'named' the same
 * numbers as named keys: `{ user: { segment, t0, t1 } }` and `{ item: { v0, …, v7 } }`. Never the
 * user's id or z_u.
 *
 * The world (segments, population, actions, W, β) comes from the seed and the configuration's
 * name; the round stream from a generator forked from the same seed.
 */
import { Rng } from '../src/util/rng.js';

export interface WorldConfig {
  name: string;
  /** One line for tables. */
  description: string;
  actions: number;
  segments: number;
  /** Users in the population (each round draws one uniformly). */
  users: number;
  /** Dimension of the latent taste τ. */
  tasteDims: number;
  /** Dimension of the action feature vectors. */
  actionDims: number;
  /** Share of the taste variance explained by the observed context (segment + traits). */
  observed: number;
  /** Share of the observed taste carried by the traits (the rest by the segment). */
  traitShare: number;
  /** γ: scale of the taste × item term in the logit. */
  interaction: number;
  /** Standard deviation of the per-action logit bias. */
  biasSd: number;
  /** The uniform-random policy's CTR (sets the logit offset β). */
  randomCtr: number;
}

export const CONFIGS: Readonly<Record<string, WorldConfig>> = Object.freeze({
  // The setting: context × action interactions matter beyond the segment (the reference
  // LinUCB about 1.1× the segment oracle, closing most of the random → oracle gap); moderate base rate.
  base40: {
    name: 'base40',
    description: '40 actions, 8 segments, observed context explains 90 % of taste (45 % of it in the traits), random CTR 10 %',
    actions: 40,
    segments: 8,
    users: 5000,
    tasteDims: 4,
    actionDims: 8,
    observed: 0.9,
    traitShare: 0.45,
    interaction: 2.5,
    biasSd: 0.5,
    randomCtr: 0.1,
  },
  // Many actions, rare clicks: exploration is expensive.
  rare100: {
    name: 'rare100',
    description: '100 actions, 8 segments, observed context explains 70 % of taste (50 % of it in the traits), random CTR 5 %',
    actions: 100,
    segments: 8,
    users: 5000,
    tasteDims: 4,
    actionDims: 8,
    observed: 0.7,
    traitShare: 0.5,
    interaction: 2.5,
    biasSd: 0.5,
    randomCtr: 0.05,
  },
  // Few actions, frequent clicks, most of the taste unobserved: little to gain from context.
  hidden10: {
    name: 'hidden10',
    description: '10 actions, 8 segments, observed context explains 40 % of taste (50 % of it in the traits), random CTR 30 %',
    actions: 10,
    segments: 8,
    users: 5000,
    tasteDims: 4,
    actionDims: 8,
    observed: 0.4,
    traitShare: 0.5,
    interaction: 2.5,
    biasSd: 0.5,
    randomCtr: 0.3,
  },
});

/** How numeric features are sent: arrays (indexed features) or one named key per number. */
export type FeatureShape = 'array' | 'named';

export interface PersonalizerAction {
  id: string;
  features: unknown[];
}

/** A generated world: population, actions, exact click probabilities. */
export class World {
  readonly config: WorldConfig;
  readonly seed: number;
  readonly nUsers: number;
  readonly nActions: number;
  /** Segment of each user. */
  readonly segment: Int32Array;
  /** Traits, 2 per user (row-major). */
  readonly traits: Float64Array;
  /** Action feature vectors, actionDims per action (row-major). */
  readonly vec: Float64Array;
  /** p(u, a), row-major users × actions. */
  readonly p: Float64Array;
  /** The logit offset β found by calibration. */
  readonly offset: number;

  constructor(config: WorldConfig, seed: number) {
    this.config = config;
    this.seed = seed;
    const { users: U, actions: A, segments: S, tasteDims: m, actionDims: k } = config;
    this.nUsers = U;
    this.nActions = A;
    const rng = new Rng((hashString(config.name) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0);
    const g = normals(rng, S * m, 1);
    const T = normals(rng, m * 2, Math.SQRT1_2);
    const W = normals(rng, m * k, 1 / Math.sqrt(k));
    this.segment = new Int32Array(U);
    this.traits = new Float64Array(U * 2);
    const taste = new Float64Array(U * m);
    const so = Math.sqrt(config.observed);
    const sh = Math.sqrt(1 - config.observed);
    const sq = Math.sqrt(config.traitShare);
    const sg = Math.sqrt(1 - config.traitShare);
    for (let u = 0; u < U; u++) {
      const s = rng.int(S);
      this.segment[u] = s;
      const t0 = round(rng.normal(), 2);
      const t1 = round(rng.normal(), 2);
      this.traits[2 * u] = t0;
      this.traits[2 * u + 1] = t1;
      for (let j = 0; j < m; j++) {
        const obs = sg * g[s * m + j]! + sq * (T[j * 2]! * t0 + T[j * 2 + 1]! * t1);
        taste[u * m + j] = so * obs + sh * rng.normal();
      }
    }
    this.vec = new Float64Array(A * k);
    for (let i = 0; i < A * k; i++) this.vec[i] = round(rng.normal(), 3);
    const bias = normals(rng, A, config.biasSd);
    // W v_a per action (m numbers each).
    const wv = new Float64Array(A * m);
    for (let a = 0; a < A; a++) {
      for (let j = 0; j < m; j++) {
        let s = 0;
        for (let i = 0; i < k; i++) s += W[j * k + i]! * this.vec[a * k + i]!;
        wv[a * m + j] = s;
      }
    }
    const logit = new Float64Array(U * A);
    const scale = config.interaction / Math.sqrt(m);
    for (let u = 0; u < U; u++) {
      for (let a = 0; a < A; a++) {
        let s = 0;
        for (let j = 0; j < m; j++) s += taste[u * m + j]! * wv[a * m + j]!;
        logit[u * A + a] = bias[a]! + scale * s;
      }
    }
    // β by bisection: mean σ(β + logit) = randomCtr (monotone in β).
    let lo = -30;
    let hi = 30;
    for (let it = 0; it < 60; it++) {
      const mid = (lo + hi) / 2;
      let sum = 0;
      for (let i = 0; i < logit.length; i++) sum += sigmoid(mid + logit[i]!);
      if (sum / logit.length < config.randomCtr) lo = mid;
      else hi = mid;
    }
    this.offset = (lo + hi) / 2;
    this.p = new Float64Array(U * A);
    for (let i = 0; i < logit.length; i++) this.p[i] = sigmoid(this.offset + logit[i]!);
  }

  prob(user: number, action: number): number {
    return this.p[user * this.nActions + action]!;
  }

  /** The round stream: user of each round and the uniform its click is drawn with. */
  stream(rounds: number): { users: Int32Array; uniforms: Float64Array } {
    const rng = new Rng((hashString(`${this.config.name}/stream`) ^ Math.imul(this.seed >>> 0, 0x85ebca6b)) >>> 0);
    const users = new Int32Array(rounds);
    const uniforms = new Float64Array(rounds);
    for (let t = 0; t < rounds; t++) {
      users[t] = rng.int(this.nUsers);
      uniforms[t] = rng.next();
    }
    return { users, uniforms };
  }

  /** Best context-free action: highest mean click probability over the population. */
  bestFixed(): number {
    const A = this.nActions;
    const mean = new Float64Array(A);
    for (let u = 0; u < this.nUsers; u++) for (let a = 0; a < A; a++) mean[a] += this.p[u * A + a]!;
    return argmax(mean);
  }

  /** Per segment, the action with the highest mean click probability over that segment's users. */
  segmentBest(): Int32Array {
    const A = this.nActions;
    const S = this.config.segments;
    const sum = new Float64Array(S * A);
    for (let u = 0; u < this.nUsers; u++) {
      const s = this.segment[u]!;
      for (let a = 0; a < A; a++) sum[s * A + a] += this.p[u * A + a]!;
    }
    const best = new Int32Array(S);
    for (let s = 0; s < S; s++) best[s] = argmax(sum.subarray(s * A, (s + 1) * A));
    return best;
  }

  /** Each user's best action. */
  userBest(): Int32Array {
    const A = this.nActions;
    const best = new Int32Array(this.nUsers);
    for (let u = 0; u < this.nUsers; u++) best[u] = argmax(this.p.subarray(u * A, (u + 1) * A));
    return best;
  }

  /** Mean click probability of a uniformly random action for user u. */
  randomProb(u: number): number {
    const A = this.nActions;
    let s = 0;
    for (let a = 0; a < A; a++) s += this.p[u * A + a]!;
    return s / A;
  }

  /** The context a learner is sent for user u (Personalizer contextFeatures). */
  contextFeatures(u: number, shape: FeatureShape = 'array'): unknown[] {
    const segment = `seg${this.segment[u]}`;
    const t0 = this.traits[2 * u]!;
    const t1 = this.traits[2 * u + 1]!;
    return [{ user: shape === 'array' ? { segment, traits: [t0, t1] } : { segment, t0, t1 } }];
  }

  /** The actions, as sent in every Rank call (the same list every round). */
  actionList(shape: FeatureShape = 'array'): PersonalizerAction[] {
    const k = this.config.actionDims;
    return Array.from({ length: this.nActions }, (_, a) => {
      const v = Array.from(this.vec.subarray(a * k, (a + 1) * k));
      const item = shape === 'array' ? { vec: v } : Object.fromEntries(v.map((x, i) => [`v${i}`, x]));
      return { id: `a${a}`, features: [{ item }] };
    });
  }
}

function normals(rng: Rng, n: number, sd: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = sd * rng.normal();
  return out;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Index of the largest entry (the first on ties). */
export function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}

/** FNV-1a, 32-bit (a configuration's name → part of its world seed). */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
