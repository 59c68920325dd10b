import { Rng } from '../util/rng.js';
import { fnv1a, hashInto } from './features.js';
import { LinUcb, type LinUcbState } from './linucb.js';
import type { ServedModel } from './model.js';
import { recScoreRange, type Candidate, type Choice, type Explanation, type PolicyInput, type PolicyWeights, type ServingPolicy } from './serving-policy.js';

export type { Candidate, Explanation } from './serving-policy.js';

/**
 * The serving policy: a recommender proposes a candidate pool, a shared LinUCB re-ranks it over
 * joint (item ⊗ context) features whose first item feature is the recommender's normalised score
 * (prior weight 1, so before any feedback the policy follows the recommender), and ε-greedy
 * exploration fills each slate position, logging the probability it gave the shown item.
 *
 * Item features f = [1, score, hash(item features)…]; context c = [1, hash(context)…]; x = f ⊗ c.
 */
export interface PolicyConfig {
  /** Share of slate positions filled uniformly at random from the remaining pool. */
  epsilon: number;
  alpha: number;
  lambda: number;
  /** Candidate pool = max(minPool, poolFactor·k) items from the recommender. */
  poolFactor: number;
  minPool: number;
  /** Hashed item-feature buckets. */
  itemDims: number;
  /** Hashed context-feature buckets. */
  contextDims: number;
  /** Root seed of the exploration draws; each event's draws are seeded by (seed, event id). */
  seed: number;
}

export const POLICY_DEFAULTS: PolicyConfig = {
  epsilon: 0.1,
  alpha: 0.1,
  lambda: 1,
  poolFactor: 3,
  minPool: 30,
  itemDims: 10,
  contextDims: 5,
  seed: 42,
};

export interface RankResult {
  /** Candidate positions (into the given list), best first; length k (or all for `single`). */
  order: number[];
  ucb: number[];
  propensities: number[];
  explored: boolean[];
  explanations: Explanation[];
  /** Item block per shown position and the context block: what learning needs later. */
  f: number[][];
  c: number[];
}

/** What a LinUCB decision logs for learning: the context block and each shown item's block. */
interface SlatePayload {
  c: number[];
  f: number[][];
}

export class SlatePolicy implements ServingPolicy {
  readonly name = 'linucb-rerank';
  readonly config: PolicyConfig;
  readonly fDims: number;
  readonly cDims: number;
  readonly bandit: LinUcb;
  private readonly x: Float32Array;
  private readonly cBuf: Float32Array;

  constructor(config: Partial<PolicyConfig> = {}) {
    this.config = { ...POLICY_DEFAULTS, ...config };
    this.fDims = 2 + this.config.itemDims;
    this.cDims = 1 + this.config.contextDims;
    const d = this.fDims * this.cDims;
    const prior = new Float64Array(d);
    prior[1 * this.cDims + 0] = 1; // (score ⊗ context bias): follow the recommender at first
    this.bandit = new LinUcb(d, { alpha: this.config.alpha, lambda: this.config.lambda }, prior);
    this.x = new Float32Array(d);
    this.cBuf = new Float32Array(this.cDims);
  }

  get updates(): number {
    return this.bandit.n;
  }

  bind(_model: ServedModel): void {
    // Nothing per item: the bandit's features are hashed item attributes, not model indices.
  }

  choose(input: PolicyInput): Choice {
    const r = this.rank(input.candidates, input.context, input.k, input.eventId, input.mode, input.model.rec.kind);
    return {
      items: r.order.map((a) => ({ candidate: a, index: input.candidates[a]!.index, id: input.candidates[a]!.id })),
      scores: r.ucb,
      propensities: r.propensities,
      explanations: r.explanations,
      payload: { c: r.c, f: r.f } satisfies SlatePayload,
    };
  }

  learn(payload: unknown, position: number, reward: number): boolean {
    const p = payload as Partial<SlatePayload> | null;
    const f = p?.f?.[position];
    if (!f || !p?.c) return false;
    this.learnRow(f, p.c, reward);
    return true;
  }

  flush(): void {}

  getState(): { policy: string; bandit: LinUcbState } {
    return { policy: this.name, bandit: this.bandit.getState() };
  }

  setState(state: unknown): boolean {
    // Checkpoints written before the policy interface hold the bare LinUCB state.
    const s = state as { policy?: string; bandit?: LinUcbState } & Partial<LinUcbState>;
    const b = s.policy === undefined ? (s as LinUcbState) : s.policy === this.name ? s.bandit : undefined;
    if (!b || b.d !== this.bandit.d) return false;
    this.bandit.setState(b);
    return true;
  }

  poolSize(k: number): number {
    return Math.max(this.config.minPool, Math.ceil(this.config.poolFactor * k));
  }

  /** Hashed item block for `features` (cache it per item: it does not change per request). */
  hashItem(features: unknown): Float32Array {
    const out = new Float32Array(this.config.itemDims);
    hashInto(features, out, 0, this.config.itemDims);
    return out;
  }

  /** The learned coefficient on the recommender's score (1 before any feedback). */
  recommenderWeight(): number {
    this.bandit.evaluate(this.x, 0); // refreshes θ if stale
    return this.bandit.theta[1 * this.cDims]!;
  }

  weights(): PolicyWeights {
    const w = this.recommenderWeight();
    let rest = 0;
    const t = this.bandit.theta;
    for (let i = 0; i < t.length; i++) if (i !== this.cDims) rest += t[i]! * t[i]!;
    return { policy: this.name, recommender: w, bandit: Math.sqrt(rest), exploration: this.config.epsilon, updates: this.bandit.n };
  }

  /**
   * Rank `cands` for a request. `mode: 'slate'` fills k positions ε-greedily (propensity of each
   * shown item given the positions before it); `mode: 'single'` picks one item ε-greedily (the
   * Personalizer rewardActionId) and orders the rest by UCB, with each candidate's probability of
   * being the pick.
   */
  rank(cands: Candidate[], context: unknown, k: number, eventId: string, mode: 'slate' | 'single', recKind: string): RankResult {
    const n = cands.length;
    const { epsilon } = this.config;
    const fD = this.fDims;
    const cD = this.cDims;
    const c = this.cBuf;
    c[0] = 1;
    hashInto(context ?? null, c, 1, this.config.contextDims);
    // Normalise recommender scores to [0, 1] within the pool (their scale differs by model).
    const { lo, hi } = recScoreRange(cands);
    const span = hi > lo ? hi - lo : 1;
    const fAll = new Float32Array(n * fD);
    const ucb = new Float64Array(n);
    const mean = new Float64Array(n);
    const bonus = new Float64Array(n);
    const norm = new Float64Array(n);
    const x = this.x;
    for (let a = 0; a < n; a++) {
      const cd = cands[a]!;
      const off = a * fD;
      fAll[off] = 1;
      const s = Number.isFinite(cd.recScore) ? (hi > lo ? (cd.recScore - lo) / span : 1) : 0;
      norm[a] = s;
      fAll[off + 1] = s;
      if (cd.hashed instanceof Float32Array) fAll.set(cd.hashed, off + 2);
      else hashInto(cd.features ?? null, fAll, off + 2, this.config.itemDims);
      for (let i = 0; i < fD; i++) {
        const fi = fAll[off + i]!;
        for (let j = 0; j < cD; j++) x[i * cD + j] = fi * c[j]!;
      }
      const e = this.bandit.evaluate(x, 0);
      mean[a] = e.mean;
      bonus[a] = e.bonus;
      ucb[a] = e.mean + this.bandit.config.alpha * e.bonus;
    }
    // Remaining candidates sorted by UCB (ties by position, which is the recommender's order).
    const remaining = Array.from({ length: n }, (_, a) => a).sort((p, q) => ucb[q]! - ucb[p]! || p - q);
    const rng = new Rng(fnv1a(eventId, this.config.seed >>> 0));
    const order: number[] = [];
    const props: number[] = [];
    const explored: boolean[] = [];
    const slots = mode === 'slate' ? Math.min(k, n) : Math.min(1, n);
    for (let p = 0; p < slots; p++) {
      const m = remaining.length;
      let pick = 0;
      if (rng.next() < epsilon) pick = rng.int(m);
      const a = remaining[pick]!;
      props.push((pick === 0 ? 1 - epsilon : 0) + epsilon / m);
      explored.push(pick !== 0);
      order.push(a);
      remaining.splice(pick, 1);
    }
    if (mode === 'single') {
      // Personalizer: every action's probability of having been the pick.
      const first = order[0];
      for (const a of remaining) {
        order.push(a);
        explored.push(false);
      }
      props.length = 0;
      const top = Array.from({ length: n }, (_, a) => a).sort((p, q) => ucb[q]! - ucb[p]! || p - q)[0];
      for (const a of order) props.push((a === top ? 1 - epsilon : 0) + epsilon / n);
      if (first !== undefined) explored[0] = first !== top;
    }
    const w = this.recommenderWeight();
    const explanations: Explanation[] = [];
    const f: number[][] = [];
    for (let p = 0; p < order.length; p++) {
      const a = order[p]!;
      const cd = cands[a]!;
      explanations.push({
        policy: this.name,
        recommender: { kind: recKind, score: Number.isFinite(cd.recScore) ? cd.recScore : null, normalized: norm[a]! },
        bandit: { mean: mean[a]!, bonus: bonus[a]!, ucb: ucb[a]!, recommenderWeight: w },
        exploration: { epsilon, explored: explored[p]!, propensity: props[p]! },
      });
      if (mode === 'slate' || p === 0) f.push(Array.from(fAll.subarray(a * fD, a * fD + fD)));
    }
    return { order, ucb: order.map((a) => ucb[a]!), propensities: props, explored, explanations, f, c: Array.from(c) };
  }

  /** Learn reward r for an item block f shown in context c (as logged by `rank`). */
  learnRow(f: ArrayLike<number>, c: ArrayLike<number>, reward: number): void {
    const x = this.x;
    const cD = this.cDims;
    for (let i = 0; i < this.fDims; i++) {
      const fi = f[i] ?? 0;
      for (let j = 0; j < cD; j++) x[i * cD + j] = fi * (c[j] ?? 0);
    }
    this.bandit.observe(x, 0, reward);
  }
}
