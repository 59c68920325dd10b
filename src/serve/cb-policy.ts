import { Rng } from '../util/rng.js';
import { draw, EXPLORATION_KINDS, pickDistribution, type ExplorationConfig } from './exploration.js';
import { fnv1a } from './features.js';
import { buildRow, namespacesOf, parseInteractions, singleFeature, type InteractionSpec, type Namespace, type SparseRow } from './namespaces.js';
import type { ServedModel } from './model.js';
import { REGRESSOR_DEFAULTS, SparseRegressor, validateRegressorConfig, type RegressorConfig, type RegressorState } from './sparse-regressor.js';
import { recScoreRange, type Candidate, type Choice, type Explanation, type PolicyInput, type PolicyWeights, type ServingPolicy } from './serving-policy.js';

/**
 * The default serving policy, a contextual bandit of Vowpal Wabbit's class (`--cb_explore_adf`):
 * every candidate action is a row of hashed namespace features (./namespaces.ts) — the request
 * context, the action's own features, an action-id indicator `_id`, and for catalogue items the
 * recommender's pool score `rec` — with the context × action quadratic features of `interactions`.
 * One reward model (./sparse-regressor.ts: exact ridge while the dimension allows, adaptive SGD
 * beyond) predicts each row's reward; the score is mean + α·width (an optimism bonus, as LinUCB's),
 * and `explore` draws from the scores with exact probabilities (./exploration.ts).
 *
 * The recommender's score starts with weight `recommenderPrior` (1), so before any feedback the
 * policy follows the recommender, and its weight is learned like any other.
 */
export interface CbConfig extends RegressorConfig, ExplorationConfig {
  /** Context × action namespace pairs crossed (`context:action`, `*` for all). */
  interactions: string[];
  /** Optimism: score = mean + α·width. */
  alpha: number;
  /** Prior weight on the recommender's (pool-normalised) score. */
  recommenderPrior: number;
  /** Candidate pool = max(minPool, poolFactor·k) items from the recommender. */
  poolFactor: number;
  minPool: number;
  /** Root seed of the exploration draws; each event's draws are seeded by (seed, event id). */
  seed: number;
}

export const CB_DEFAULTS: CbConfig = {
  ...REGRESSOR_DEFAULTS,
  // ε and α: chosen on bench/online.ts's validation seed 1000 (never an evaluation seed) over
  // ε ∈ {0.01, 0.02, 0.05} × α ∈ {0.1, 0.2, 0.4}, λ ∈ {0.3, 1} and squarecb; ε = 0.01 learned
  // 0.4–2 % more there, 0.02 keeps the smallest propensity twice as large for off-policy estimates.
  explore: 'egreedy',
  epsilon: 0.02,
  temperature: 0.05,
  gamma: 10,
  gammaExponent: 0.5,
  interactions: ['*:*'],
  alpha: 0.2,
  recommenderPrior: 1,
  poolFactor: 3,
  minPool: 30,
  seed: 42,
};

/** What a decision logs for learning: the feature row of each shown position (null: not learnable). */
interface CbPayload {
  cb: 1;
  rows: (SparseRow | null)[];
}

const REC_FEATURE = singleFeature('rec', 'score', 1).hashes[0]!;
const COLD = singleFeature('rec', 'cold', 1);
const REC_NAMES: string[] = ['score'];

/** `singleFeature('rec', 'score', value)` without hashing the name again (REC_FEATURE is its hash). */
function recFeature(value: number): Namespace {
  return { name: 'rec', names: REC_NAMES, hashes: [REC_FEATURE], values: [value] };
}

/** Most action-id features kept (`_id` namespaces, hashed once per id); past it the cache starts over. */
const ID_CACHE_MAX = 100_000;

export function validateCbConfig(c: CbConfig): void {
  if (!EXPLORATION_KINDS.includes(c.explore)) throw new RangeError(`explore: expected one of ${EXPLORATION_KINDS.join(', ')}, got "${c.explore}"`);
  if (!(c.epsilon >= 0 && c.epsilon <= 1)) throw new RangeError(`epsilon: expected a share in [0, 1], got ${c.epsilon}`);
  if (!(c.temperature > 0)) throw new RangeError(`temperature: expected > 0, got ${c.temperature}`);
  if (!(c.gamma > 0) || !(c.gammaExponent >= 0)) throw new RangeError(`gamma, gammaExponent: expected > 0 and >= 0`);
  if (!(c.alpha >= 0)) throw new RangeError(`alpha: expected >= 0, got ${c.alpha}`);
  validateRegressorConfig(c);
  if (!(c.poolFactor > 0) || !Number.isInteger(c.minPool) || c.minPool < 1) throw new RangeError(`poolFactor, minPool: expected > 0 and an integer >= 1`);
}

export class CbPolicy implements ServingPolicy {
  readonly name = 'cb';
  readonly config: CbConfig;
  readonly model: SparseRegressor;
  private readonly spec: InteractionSpec;
  private distBuf = new Float64Array(64);
  /**
   * The `_id` namespace of each action id seen: its hash is two FNV passes over `id=<id>`, done
   * once per id instead of once per candidate per request (issue 22's profile). Read-only once
   * made (buildRow copies hashes and values out), so one object serves every request.
   */
  private readonly idFeatures = new Map<string, Namespace>();

  constructor(config: Partial<CbConfig> = {}) {
    this.config = { ...CB_DEFAULTS, ...config };
    validateCbConfig(this.config);
    this.spec = parseInteractions(this.config.interactions);
    this.model = new SparseRegressor(this.config, new Map([[REC_FEATURE, this.config.recommenderPrior]]));
  }

  get updates(): number {
    return this.model.n;
  }

  poolSize(k: number): number {
    return Math.max(this.config.minPool, Math.ceil(this.config.poolFactor * k));
  }

  /** A catalogue item's namespaces (categories, tags, attributes), parsed once per item. */
  hashItem(features: unknown): Namespace[] {
    return namespacesOf(features);
  }

  bind(_model: ServedModel): void {
    // Nothing per item: features are hashed names, not model indices.
  }

  private buffer(n: number): Float64Array {
    if (this.distBuf.length < n) this.distBuf = new Float64Array(n);
    return this.distBuf;
  }

  private idFeature(id: string): Namespace {
    let ns = this.idFeatures.get(id);
    if (!ns) {
      if (this.idFeatures.size >= ID_CACHE_MAX) this.idFeatures.clear();
      ns = singleFeature('_id', `id=${id}`, 1);
      this.idFeatures.set(id, ns);
    }
    return ns;
  }

  choose(input: PolicyInput): Choice {
    const cands = input.candidates;
    const n = cands.length;
    const cfg = this.config;
    const context = namespacesOf(input.context ?? null);
    // Normalise the recommender's scores to [0, 1] within the pool (their scale differs by model).
    const { lo, hi } = recScoreRange(cands);
    const rows: SparseRow[] = [];
    const mean = new Float64Array(n);
    const width = new Float64Array(n);
    const score = new Float64Array(n);
    const norm = new Float64Array(n);
    for (let a = 0; a < n; a++) {
      const cd = cands[a]!;
      const own = Array.isArray(cd.hashed) ? (cd.hashed as Namespace[]) : namespacesOf(cd.features ?? null);
      const action = [...own, this.idFeature(cd.id)];
      if (Number.isFinite(cd.recScore)) {
        norm[a] = hi > lo ? (cd.recScore - lo) / (hi - lo) : 1;
        action.push(recFeature(norm[a]!));
      } else if (hi >= lo) {
        // An item the recommender cannot score (new since the snapshot) beside items it can: the
        // middle of the pool, plus an indicator whose weight learns how new items really fare.
        norm[a] = 0.5;
        action.push(recFeature(0.5), COLD);
      }
      rows.push(buildRow(context, action, this.spec, { idx: [], val: [] }));
    }
    this.model.predictMany(rows, mean, width);
    for (let a = 0; a < n; a++) score[a] = mean[a]! + cfg.alpha * width[a]!;
    const rng = new Rng(fnv1a(input.eventId, cfg.seed >>> 0));
    const remaining = Array.from({ length: n }, (_, a) => a);
    const p = this.buffer(n);
    const order: number[] = [];
    const props: number[] = [];
    const explored: boolean[] = [];
    if (input.mode === 'single') {
      // Personalizer Rank: one draw; every action's probability of having been it; the rest by score.
      const best = pickDistribution(score, remaining, cfg, this.model.n, p);
      if (n > 0) {
        const pick = draw(p, n, rng);
        const probOf = Float64Array.from(p.subarray(0, n));
        const rest = remaining.filter((a) => a !== pick).sort((x, y) => score[y]! - score[x]! || x - y);
        for (const a of [pick, ...rest]) {
          order.push(a);
          props.push(probOf[a]!);
          explored.push(a !== best);
        }
        explored.fill(false, 1);
      }
    } else {
      const slots = Math.min(input.k, n);
      for (let s = 0; s < slots; s++) {
        const m = remaining.length;
        const best = pickDistribution(score, remaining, cfg, this.model.n, p);
        const at = draw(p, m, rng);
        order.push(remaining[at]!);
        props.push(p[at]!);
        explored.push(at !== best);
        remaining.splice(at, 1);
      }
    }
    const recWeight = this.model.weightOf(REC_FEATURE);
    const explanations: Explanation[] = order.map((a, q) => ({
      policy: this.name,
      recommender: { kind: input.model.rec.kind, score: Number.isFinite(cands[a]!.recScore) ? cands[a]!.recScore : null, normalized: norm[a]! },
      bandit: { mean: mean[a]!, bonus: width[a]!, ucb: score[a]!, recommenderWeight: recWeight },
      exploration: { epsilon: cfg.explore === 'egreedy' ? cfg.epsilon : 0, explored: explored[q]!, propensity: props[q]! },
    }));
    // Only the drawn action of a Rank call gets a reward; a slate's every position may.
    const payload: CbPayload = { cb: 1, rows: order.map((a, q) => (input.mode === 'single' && q > 0 ? null : rows[a]!)) };
    return {
      items: order.map((a) => ({ candidate: a, index: cands[a]!.index, id: cands[a]!.id })),
      scores: order.map((a) => score[a]!),
      propensities: props,
      explanations,
      payload,
    };
  }

  learn(payload: unknown, position: number, reward: number): boolean {
    const p = payload as Partial<CbPayload> | null;
    const row = p?.cb === 1 ? p.rows?.[position] : undefined;
    if (!row || !Array.isArray(row.idx) || !Array.isArray(row.val) || row.idx.length !== row.val.length) return false;
    const before = this.model.n;
    this.model.learn(row, reward);
    return this.model.n > before;
  }

  flush(): void {}

  weights(): PolicyWeights {
    return {
      policy: this.name,
      recommender: this.model.weightOf(REC_FEATURE),
      bandit: this.model.norm(REC_FEATURE),
      exploration: this.config.explore === 'egreedy' ? this.config.epsilon : 0,
      updates: this.model.n,
    };
  }

  getState(): { policy: string; interactions: string[]; model: RegressorState } {
    return { policy: this.name, interactions: this.config.interactions, model: this.model.getState() };
  }

  setState(state: unknown): boolean {
    const s = state as { policy?: string; interactions?: string[]; model?: RegressorState };
    if (s.policy !== this.name || !s.model || JSON.stringify(s.interactions) !== JSON.stringify(this.config.interactions)) return false;
    return this.model.setState(s.model);
  }
}

/** The candidate type the engine hands over, re-exported for tests. */
export type { Candidate };
