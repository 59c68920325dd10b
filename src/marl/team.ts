/**
 * The multi-agent team: a user agent (relevance), an item agent (fair exposure, cold items) and a
 * content agent (content attractiveness), plus any extra scorers, cooperating on one slate. The
 * team is itself an `Agent` (registered as `team`).
 *
 * One step: candidates = the user's top items by the myopic prior + a few random unseen items +
 * the item agent's, the content agent's and every extra scorer's own best proposals. Every agent scores every candidate
 * from its own observation (views.ts); the coordination mode turns the agents' scores into
 * per-agent weights; fusion (fusion.ts) adds weighted per-agent contributions into one score per
 * item; the top K form the slate (ε-greedy positions, or a Plackett–Luce sample for the
 * actor-critic mode, while training).
 *
 * Team reward and its decomposition over positions. r = R + λ·G + α·A (λ, α as the environment's;
 * G and A are slate means). Each shown item p gets ρ_p = R·click_p/#clicks + (λ·ĝ_p + α·â_p)/K,
 * where ĝ_p, â_p are the item agent's and content agent's per-item estimates of g and a (linear
 * "stake" models fitted to the slate means) shifted by the slate's residual, so Σ_p ρ_p = r
 * exactly. Per-item TD targets are y_p = ρ_p + γ·V(s')/K with V(s') the team value of the slate
 * it would show at s' — the slate value is Σ_p Q(s, i_p), a decomposition over positions.
 *
 * Coordination modes (how the agents learn; all value models are linear in each agent's features):
 *  - independent: each agent learns its own stake (user R, item λG, content αA) with its own
 *    bootstrap; fusion weights are learned by regressing the team reward on the agents' values;
 *  - vdn: Q_team = Σ_k Q_k trained on the team TD error (weights 1);
 *  - qmix: Q_team = Σ_k w_k(s)·Q_k, w_k(s) = |hypernetwork(s)_k| ≥ 0 (mixer.ts; no state bias b(s),
 *    which per-item values cannot identify);
 *  - central-critic: decentralised actors (softmax over their own logits; the slate policy is
 *    their product) and a centralised critic — an MLP over all agents' features — trained by TD;
 *    each actor follows the COMA-style counterfactual advantage Q(s, i) − Σ_j π_k(j|s)·Q(s, j);
 *  - comm: two rounds; in the second each agent adds the message of the others (the mean of
 *    their first-round values) with a learned gain, and each agent learns the shared team value
 *    (team Q = mean of the agents' second-round estimates).
 */
import { BaseAgent, type SeededConfig } from '../agents/base.js';
import { StateFeaturiser } from '../agents/state.js';
import type { Transition } from '../agents/types.js';
import { exploreSlate } from '../agents/explore.js';
import type { Observation, Slate } from '../env/types.js';
import { ConfigError } from '../errors.js';
import { Adam } from '../nn/adam.js';
import { Mlp } from '../nn/mlp.js';
import { topK } from '../util/topk.js';
import type { TeamContext } from './context.js';
import { checkFusion, fuse, MetaFusion, type FusionName } from './fusion.js';
import { LinearValue, QmixMixer, vdnMix } from './mixer.js';
import { JointRls } from './rls.js';
import { CandidateSource } from '../agents/neural.js';
import { ContentView, ITEM_FEATURES, ItemState, ItemView, ScorerView, UserView, type View } from './views.js';
import { evidenceFor, type Evidence } from './explain.js';

export type Coordination = 'independent' | 'vdn' | 'qmix' | 'central-critic' | 'comm';
export const COORDINATIONS: readonly Coordination[] = ['independent', 'vdn', 'qmix', 'central-critic', 'comm'];
export const BASE_MEMBERS = ['user', 'item', 'content'] as const;

export interface TeamConfig extends SeededConfig {
  coordination: Coordination;
  fusion: FusionName;
  /**
   * Agents in the team: any of user, item, content, and the names of the context's extra scorers.
   * The default list (user, item, content) also takes every extra scorer; any other list is exact.
   */
  members: string[];
  /** λ and α of the team reward r = R + λ·G + α·A (use the environment's). */
  lambda: number;
  alpha: number;
  gamma: number;
  /**
   * How the value modes fit their linear values to the TD targets: `lms` (normalised least mean
   * squares, step `lr`) or `rls` (recursive least squares, rls.ts: exact ridge steps with prior
   * precision `ridge` and forgetting factor `forget`; VDN and QMIX fit all agents jointly). The
   * central critic's actors learn by policy gradient and ignore it.
   */
  learner: 'lms' | 'rls';
  ridge: number;
  /**
   * Per-member prior precision overriding `ridge` (RLS), e.g. `{ item: 100 }`. The item agent's
   * features (exposure, CTR, recency) are made by the team's own past slates, so a regression
   * that fits them freely learns the policy's history as if it were the users' taste.
   */
  memberRidge: Record<string, number>;
  forget: number;
  /** Normalised step size of the agents' value models (learner `lms`). */
  lr: number;
  /** Step size of the reward-decomposition (stake) models. */
  auxLr: number;
  /**
   * Step size of the QMIX hypernetwork and the independent learners' fusion weights: an order
   * below auxLr, because these weights scale every agent's value at once and, at auxLr, one or
   * two seeds in five drove them to a corner (QMIX return 2.8 vs VDN 5.6; docs/benchmarks.md).
   */
  mixLr: number;
  /**
   * Initial weight of the user agent's value on its prior-score feature: the team starts from the
   * relevance-dominant policy (the prior's ranking) instead of all-zero values, where one seed in
   * five of QMIX drifted onto the item agent's cold proposals and stayed there (value modes only).
   */
  relevanceInit: number;
  /** Initial weight of the stake model (and, × λ/K, of the item agent's value) on the item's exposure-value feature. */
  exposureInit: number;
  /** Lower bound of the QMIX weights w_k(s). */
  mixWMin: number;
  /**
   * Actor step size (central-critic) and critic Adam learning rate. At 0.05 the actors of 4 seeds
   * in 10 on sim-ml-ls-v2 at λ = 1 moved onto cold items faster than the critic learned that
   * nobody clicks them (return 0.7–2.0 against 5.6–6.2); at 0.02 those seeds reached 4.8–6.3.
   */
  actorLr: number;
  criticLr: number;
  /** Per-position exploration of the value modes while training. */
  epsilon: number;
  /** Softmax temperature of the actors (central-critic). */
  temperature: number;
  /** Candidates per step: top by prior, random unseen, and each proposer's own (item agent, content agent, extra scorers). */
  candidates: number;
  randomCandidates: number;
  proposals: number;
  /**
   * Fair-exposure slots (evaluation/serving): the last `fairSlots` slate positions are filled by
   * the item agent with the user's relevant items by the myopic prior, discounted by what the team
   * has already shown them — score z_prior(i) − fairBeta·ln(1 + exposure_i). Exposure counts update
   * every slate, so the slots rotate through the pool (a marginal-exposure-gain rule, not a static
   * cold flag). 0 turns it off.
   */
  fairSlots: number;
  fairBeta: number;
  /** The fair slots choose among the user's top `fairSlotPool` items by the prior (0: the whole catalogue). */
  fairSlotPool: number;

  /**
   * How the slate is assembled from the fused scores (value modes with weighted fusion):
   *  - `score`: the k best fused scores, best first;
   *  - `dcg`: position by position from the top, each taking the candidate with the best value *at
   *    that position*, where the click-driven agents' values (user agent, extra scorers) are scaled
   *    by the position's examination weight 1/log2(p + 2) and the per-impression agents' (item:
   *    exposure, content: attractiveness) are not. G and A are earned by every impression, R only by
   *    clicks, which fall with position; so lower positions go to under-exposed items exactly when
   *    λ·G outweighs the clicks they would lose. Training uses the same position-scaled values.
   */
  slotting: 'score' | 'dcg';
  /** Which shown items the next state's value is credited to in the TD targets: `clicks` or `uniform` (see continuationShares). */
  credit: 'clicks' | 'uniform';

  /** Reciprocal-rank fusion constant. */
  rrfK: number;
  /** UCB1 exploration constant of the meta-policy. */
  metaC: number;
}

export const TEAM_DEFAULTS: Omit<TeamConfig, 'seed'> = {
  coordination: 'vdn',
  fusion: 'weighted',
  members: ['user', 'item', 'content'],
  lambda: 0.1,
  alpha: 0.1,
  gamma: 0.8,
  learner: 'lms',
  ridge: 1,
  memberRidge: {},
  forget: 1,
  lr: 0.02,
  auxLr: 0.02,
  mixLr: 0.002,
  mixWMin: 0,
  relevanceInit: 0.03,
  exposureInit: 1,
  actorLr: 0.02,
  criticLr: 5e-3,
  epsilon: 0.05,
  temperature: 0.2,
  candidates: 100,
  randomCandidates: 10,
  proposals: 15,
  fairSlots: 0,
  fairBeta: 1,
  fairSlotPool: 0,
  slotting: 'score',
  credit: 'clicks',

  rrfK: 60,
  metaC: 0.5,
};

interface ActRecord {
  cands: Int32Array;
  arm: number;
  /** Per shown item: agent contributions (K × m) and fused score. */
  contrib: Float64Array;
  fused: Float64Array;
  /**
   * The item agent's feature rows as they were when the team acted, for the shown items (K × d) and,
   * for the central critic's actor step, the candidates (n × d). Its features (exposure, CTR, recency, exposure value) change as soon as
   * the slate is shown, and again with every other session's slates before the feedback arrives;
   * learning from the later rows would fit values to states the team never acted in (every shown
   * item would look "just shown", with recency 1). Null when the team has no item agent.
   */
  candRows: Float64Array | null;
  shownRows: Float64Array | null;
}

export interface ItemExplanation {
  item: number;
  /** Fused score = Σ of the contributions. */
  score: number;
  contributions: Record<string, number>;
  evidence: Evidence[];
}

export interface TeamSummary {
  coordination: Coordination;
  fusion: FusionName;
  /** Per agent: mean fusion weight, mean contribution to a shown item's score, share of |contribution|. */
  agents: Record<string, { weight: number; contribution: number; share: number }>;
  /** Slates the statistics cover (evaluation mode). */
  slates: number;
}

/**
 * Which shown items the next state's value is credited to in the TD targets (shares sum to 1).
 * `uniform`: every position gets 1/K. `clicks` (SlateQ's attribution, Ie et al. 2019): the session
 * goes on from what the user chose, so the continuation goes to the clicked items; a slate without
 * a click (the user chose nothing) spreads it evenly. Under `uniform`, features common to a slate's
 * items (cold, never shown) absorb the next slate's value whether or not anyone clicked them, and
 * with γ = 0.8 that loop let some seeds drift onto cold items (docs/benchmarks.md).
 */
export function continuationShares(clicks: ArrayLike<number> | undefined, K: number, credit: 'clicks' | 'uniform'): Float64Array {
  const share = new Float64Array(K).fill(1 / K);
  if (credit !== 'clicks' || !clicks) return share;
  let n = 0;
  for (let p = 0; p < K; p++) n += clicks[p] ? 1 : 0;
  if (n === 0) return share;
  for (let p = 0; p < K; p++) share[p] = clicks[p] ? 1 / n : 0;
  return share;
}

export function checkCoordination(c: string): Coordination {
  if (!(COORDINATIONS as readonly string[]).includes(c)) throw new ConfigError(`unknown coordination "${c}"; expected one of: ${COORDINATIONS.join(', ')}`, 'coordination');
  return c as Coordination;
}

export class TeamAgent extends BaseAgent<TeamConfig> {
  readonly name = 'team';
  readonly version = 1;
  readonly views: View[];
  readonly memberNames: string[];
  readonly m: number;
  readonly itemState: ItemState;
  private readonly tctx: TeamContext;
  private readonly source: CandidateSource;
  private readonly itemView: ItemView;
  private readonly contentView: ContentView;
  private readonly stateF: StateFeaturiser;
  private readonly sVec: Float32Array;
  values: LinearValue[];
  /** RLS fitters of the values (learner `rls`): one joint for VDN/QMIX, one per agent for independent/comm; empty otherwise. */
  rls: JointRls[] = [];
  stakeG: LinearValue;
  stakeA: LinearValue;
  mixer: QmixMixer;
  /** Learned fusion weights (independent mode) and communication gains (comm mode). */
  fusionW: Float64Array;
  commGain: Float64Array;
  meta: MetaFusion;
  critic: Mlp | null = null;
  private criticOpt: Adam | null = null;
  private criticX: number[] = [];
  private criticY: number[] = [];
  private readonly criticDim: number;
  private readonly records = new WeakMap<Slate, ActRecord>();
  // Scratch (sized for the largest candidate set; reused every step).
  private readonly maxN: number;
  private readonly F: Float64Array[];
  private readonly q: Float64Array;
  private readonly q1: Float64Array;
  private readonly c: Float64Array;
  private readonly s: Float64Array;
  private readonly w: Float64Array;
  private readonly rank: Int32Array;
  private readonly order: Int32Array;
  private readonly candMask: Uint8Array;
  private readonly allScores: Float64Array;
  private readonly wBuf: Float64Array;
  private readonly row: Float64Array;
  private b = 0;
  /** Per member: 1 when its value is earned through clicks (scaled by position under `dcg` slotting). */
  private readonly clickDriven: Uint8Array;
  /** Examination weight per slate position (all 1 unless `dcg` slotting applies). */
  private readonly examine: Float64Array;
  /** Largest |team reward| seen so far (scales the bootstrap clip). */
  private rMax = 1;
  // Evaluation statistics for summaries.
  private statW: Float64Array;
  private statC: Float64Array;
  private statAbs: Float64Array;
  private statItems = 0;
  private statSlates = 0;

  constructor(ctx: TeamContext, config: TeamConfig) {
    super(ctx, config);
    checkCoordination(config.coordination);
    checkFusion(config.fusion);
    this.tctx = ctx;
    this.source = new CandidateSource(ctx, config.candidates, config.randomCandidates);
    this.itemState = new ItemState(ctx.items.nItems);
    this.itemView = new ItemView(ctx, this.itemState);
    this.contentView = new ContentView(ctx);
    const extras = ctx.extras ?? [];
    const known = [...BASE_MEMBERS, ...extras.map((e) => e.name)];
    const names = config.members.length > 0 ? [...config.members] : [...BASE_MEMBERS];
    // The default team (user, item, content) takes every extra scorer as a member too; any other
    // list is the team exactly, so that `members: ['user']` stays a single agent with extras around.
    const isDefault = names.length === BASE_MEMBERS.length && BASE_MEMBERS.every((m) => names.includes(m));
    if (isDefault) for (const e of extras) if (!names.includes(e.name)) names.push(e.name);
    for (const n of names) if (!known.includes(n)) throw new ConfigError(`unknown team member "${n}"; expected any of: ${known.join(', ')}`, 'members');
    if (new Set(names).size !== names.length) throw new ConfigError('team members must be distinct', 'members');
    this.memberNames = names;
    if (config.credit !== 'clicks' && config.credit !== 'uniform') throw new ConfigError(`unknown credit "${String(config.credit)}"; expected clicks or uniform`, 'credit');
    if (config.slotting !== 'score' && config.slotting !== 'dcg') throw new ConfigError(`unknown slotting "${String(config.slotting)}"; expected score or dcg`, 'slotting');
    this.clickDriven = Uint8Array.from(names, (n) => (n === 'item' || n === 'content' ? 0 : 1));
    this.examine = new Float64Array(Math.max(1, ctx.slateSize)).fill(1);
    // Central-critic's actors sample slates from the fused scores while training; position scaling
    // would make its critic and actors disagree, so it (and rank fusions) keep score order.
    const positional = config.slotting === 'dcg' && config.coordination !== 'central-critic' && config.fusion !== 'borda' && config.fusion !== 'rrf';
    if (positional) for (let p = 0; p < this.examine.length; p++) this.examine[p] = 1 / Math.log2(p + 2);
    this.views = names.map((n): View => {
      if (n === 'user') return new UserView(ctx, this.source);
      if (n === 'item') return this.itemView;
      if (n === 'content') return this.contentView;
      return new ScorerView(extras.find((e) => e.name === n)!, ctx.items.nItems);
    });
    this.m = this.views.length;
    this.values = this.views.map((v) => new LinearValue(v.dim, config.lr));
    const ku = names.indexOf('user');
    // UserView's last feature is the prior score. Not for independent learners: their user agent
    // learns R alone and their fusion weights start at 1; with the start the toy split task
    // (test/marl) is no longer solved in 400 steps, and the mode is stable without it.
    if (ku >= 0 && config.coordination !== 'independent') this.values[ku]!.theta[this.views[ku]!.dim - 1] = config.relevanceInit;
    if (config.learner !== 'lms' && config.learner !== 'rls') throw new ConfigError(`unknown learner "${String(config.learner)}"; expected lms or rls`, 'learner');
    if (config.learner === 'rls') {
      const mode = config.coordination;
      const mr = config.memberRidge ?? {};
      for (const n of Object.keys(mr)) if (!names.includes(n)) throw new ConfigError(`memberRidge names "${n}", not a member (${names.join(', ')})`, 'memberRidge');
      const ridges = names.map((n) => mr[n] ?? config.ridge);
      if (mode === 'vdn' || mode === 'qmix') this.rls = [new JointRls(this.values, ridges, config.forget)];
      else if (mode === 'independent' || mode === 'comm') this.rls = this.values.map((v, k) => new JointRls([v], ridges[k]!, config.forget));
    }
    this.stakeG = new LinearValue(this.itemView.dim, config.auxLr);
    // The item agent starts from its own stake: G is the team's own definition (b_i shrunk by
    // exposure over the fair share), which its `exposureValue` feature computes from the team's
    // exposure log; the stake model starts there and learns corrections, and the item agent's value
    // starts at its myopic share λ·g_i/K (value modes; like relevanceInit for the user agent).
    const gF = ITEM_FEATURES.indexOf('exposureValue');
    this.stakeG.theta[gF] = config.exposureInit;
    const ki0 = names.indexOf('item');
    if (ki0 >= 0 && config.coordination !== 'independent') this.values[ki0]!.theta[gF] = (config.exposureInit * config.lambda) / ctx.slateSize;
    this.stakeA = new LinearValue(this.contentView.cdim + 1, config.auxLr);
    this.stateF = new StateFeaturiser(ctx);
    this.sVec = new Float32Array(this.stateF.dim);
    this.mixer = new QmixMixer(this.m, this.stateF.dim, config.mixLr, 2, config.mixWMin, false);
    this.fusionW = new Float64Array(this.m).fill(1);
    this.commGain = new Float64Array(this.m);
    this.meta = new MetaFusion(this.m, config.metaC);
    this.criticDim = this.views.reduce((a, v) => a + v.dim, 0);
    if (config.coordination === 'central-critic') {
      this.critic = new Mlp({ sizes: [this.criticDim, 32, 1] }, this.rng);
      this.criticOpt = new Adam(this.critic.params, this.critic.grads, { lr: config.criticLr, maxGradNorm: 5 });
    }
    // Proposers: the item and content agents and every extra scorer (see candidates()).
    const proposers = this.views.filter((v) => v === this.itemView || v === this.contentView || v instanceof ScorerView).length;
    this.maxN = Math.min(ctx.items.nItems, config.candidates + config.randomCandidates + proposers * config.proposals) + ctx.slateSize;
    this.F = this.views.map((v) => new Float64Array(this.maxN * v.dim));
    this.q = new Float64Array(this.maxN * this.m);
    this.q1 = new Float64Array(this.maxN * this.m);
    this.c = new Float64Array(this.maxN * this.m);
    this.s = new Float64Array(this.maxN);
    this.w = new Float64Array(this.m);
    this.rank = new Int32Array(this.maxN * this.m);
    this.order = new Int32Array(this.maxN);
    this.candMask = new Uint8Array(ctx.items.nItems);
    this.allScores = new Float64Array(ctx.items.nItems);
    this.wBuf = new Float64Array(Math.max(this.contentView.cdim, 1));
    this.row = new Float64Array(Math.max(this.criticDim, this.itemView.dim, this.contentView.cdim + 1));
    this.statW = new Float64Array(this.m);
    this.statC = new Float64Array(this.m);
    this.statAbs = new Float64Array(this.m);
  }

  // ---------------------------------------------------------------- candidates and scoring

  /** Candidate items for an observation (never history items). `random` adds the random part. */
  candidates(obs: Observation, random: boolean): Int32Array {
    const base = random ? this.source.get(obs, this.rng) : this.source.top(obs, this.config.candidates);
    const P = this.config.proposals;
    if (P <= 0 || base.length >= this.ctx.items.nItems - obs.history.length) return base;
    const mask = this.candMask;
    const h = obs.history;
    for (let a = 0; a < h.length; a++) if (h[a]! >= 0) mask[h[a]!] = 1;
    for (let r = 0; r < base.length; r++) mask[base[r]!] = 1;
    const extra: number[] = [];
    const add = (scores: Float64Array): void => {
      const top = topK(scores, P, mask);
      for (let r = 0; r < top.items.length; r++) {
        extra.push(top.items[r]!);
        mask[top.items[r]!] = 1;
      }
    };
    const ki = this.memberNames.indexOf('item');
    if (ki >= 0) {
      const th = this.values[ki]!.theta;
      const row = this.row;
      const value = (i: number): number => {
        this.itemView.row(i, row, 0);
        let v = 0;
        for (let j = 0; j < this.itemView.dim; j++) v += th[j]! * row[j]!;
        return v;
      };
      for (let i = 0; i < this.allScores.length; i++) this.allScores[i] = value(i);
      add(this.allScores);
    }
    const kc = this.memberNames.indexOf('content');
    if (kc >= 0) {
      this.contentView.setState(obs);
      this.contentView.scoreAll(this.values[kc]!.theta, this.wBuf, this.allScores);
      add(this.allScores);
    }
    // Extra scorers recommend too: their own top items join the candidates, so a model that ranks
    // differently from the prior can put items on the slate, not only re-rank the prior's.
    for (const v of this.views) {
      if (!(v instanceof ScorerView)) continue;
      const z = v.z(obs);
      for (let i = 0; i < this.allScores.length; i++) this.allScores[i] = z[i]!;
      add(this.allScores);
    }
    for (let a = 0; a < h.length; a++) if (h[a]! >= 0) mask[h[a]!] = 0;
    for (let r = 0; r < base.length; r++) mask[base[r]!] = 0;
    for (const i of extra) mask[i] = 0;
    if (extra.length === 0) return base;
    const out = new Int32Array(base.length + extra.length);
    out.set(base);
    out.set(extra, base.length);
    return out;
  }

  /**
   * Every agent's features and values for `n` items, the mode's weights (times the meta arm's
   * multipliers), contributions `c` and fused scores `s`. Returns n (clipped to the scratch size).
   */
  private evaluate(obs: Observation, items: Int32Array, arm: number, itemRows: Float64Array | null = null): number {
    const n = Math.min(items.length, this.maxN);
    const m = this.m;
    for (let k = 0; k < m; k++) {
      const d = this.views[k]!.dim;
      // The item agent's rows from acting time when given (see ActRecord), else as of now.
      if (itemRows && this.views[k] === this.itemView && itemRows.length >= n * d) this.F[k]!.set(itemRows.subarray(0, n * d));
      else this.views[k]!.features(obs, items, n, this.F[k]!);
      const val = this.values[k]!;
      for (let r = 0; r < n; r++) this.q1[r * m + k] = val.value(this.F[k]!, r * d);
    }
    const mode = this.config.coordination;
    this.b = 0;
    if (mode === 'comm' && m > 1) {
      // Round 2: agent k adds the others' round-1 values (their message) with its learned gain.
      for (let r = 0; r < n; r++) {
        let tot = 0;
        for (let k = 0; k < m; k++) tot += this.q1[r * m + k]!;
        for (let k = 0; k < m; k++) this.q[r * m + k] = this.q1[r * m + k]! + this.commGain[k]! * ((tot - this.q1[r * m + k]!) / (m - 1));
      }
    } else this.q.set(this.q1.subarray(0, n * m));
    if (mode === 'qmix') {
      this.stateF.encode(obs, this.sVec);
      this.b = this.mixer.weights(this.sVec, this.w);
    } else if (mode === 'independent') this.w.set(this.fusionW);
    else if (mode === 'comm') this.w.fill(1 / m);
    else this.w.fill(1);
    const arms = this.config.fusion === 'meta' ? this.meta.arms[arm]! : null;
    if (arms) for (let k = 0; k < m; k++) this.w[k]! *= arms[k]!;
    const kind = this.config.fusion === 'meta' ? 'weighted' : this.config.fusion;
    fuse(kind, this.q, n, m, this.w, this.c, this.s, this.rank, this.order, this.config.rrfK);
    return n;
  }

  /**
   * Indices (into the candidate list) of the slate, top position first, into `out`: the k best
   * fused scores, or under `dcg` slotting the best value at each position in turn. The chosen rows'
   * values, contributions and scores are then those at their positions (`placeRow`).
   */
  private greedy(n: number, k: number, out: Int32Array): number {
    const kk = Math.min(k, n);
    const used = this.order;
    const m = this.m;
    for (let r = 0; r < n; r++) used[r] = 0;
    for (let p = 0; p < kk; p++) {
      const e = this.examine[p] ?? this.examine[this.examine.length - 1]!;
      let best = -1;
      let bestV = -Infinity;
      for (let r = 0; r < n; r++) {
        if (used[r]) continue;
        let v = this.s[r]!;
        if (e !== 1) {
          v = 0;
          for (let a = 0; a < m; a++) v += this.c[r * m + a]! * (this.clickDriven[a] ? e : 1);
        }
        if (best < 0 || v > bestV) (best = r), (bestV = v);
      }
      used[best] = 1;
      out[p] = best;
    }
    for (let p = 0; p < kk; p++) this.placeRow(out[p]!, p);
    return kk;
  }

  /** Scale row r's click-driven values and contributions to position p (no-op at weight 1). */
  private placeRow(r: number, p: number): void {
    const e = this.examine[p] ?? this.examine[this.examine.length - 1]!;
    if (e === 1) return;
    const m = this.m;
    let t = 0;
    for (let a = 0; a < m; a++) {
      if (this.clickDriven[a]) {
        this.q[r * m + a]! *= e;
        this.q1[r * m + a]! *= e;
        this.c[r * m + a]! *= e;
      }
      t += this.c[r * m + a]!;
    }
    this.s[r] = t;
  }

  // ---------------------------------------------------------------- acting

  act(obs: Observation, k: number): Slate {
    // Random candidates are for exploration; in evaluation the long tail comes in through the item
    // and content agents' proposals only.
    let cands = this.candidates(obs, this.training);
    const explore = this.training;
    const arm = this.config.fusion === 'meta' ? this.meta.choose(explore) : 0;
    const n = this.evaluate(obs, cands, arm);
    const kk = Math.min(k, n);
    const pick = new Int32Array(kk);
    const prop = new Float32Array(kk).fill(1);
    if (explore && this.config.coordination === 'central-critic') this.samplePL(n, kk, pick, prop);
    else {
      this.greedy(n, kk, pick);
      const eps = explore ? this.config.epsilon : 0;
      if (eps > 0) {
        // Swap in candidates (positions into `cands`) drawn uniformly from those not in the slate.
        const chosen = new Uint8Array(n);
        for (let p = 0; p < kk; p++) chosen[pick[p]!] = 1;
        exploreSlate(this.rng, eps, pick, prop, n - kk, (current) => {
          let r: number;
          do r = this.rng.int(n);
          while (chosen[r]);
          chosen[current] = 0;
          chosen[r] = 1;
          return r;
        });
      }
    }
    // Evaluation and serving only: trained with the filled positions in its slates, the VDN team
    // learned to chase G with every position and lost most clicks (bench, seed 1: return 2.5 vs 5.4).
    const f = this.training ? 0 : Math.min(this.config.fairSlots, kk);
    if (f > 0) {
      // Fill the last f positions with under-exposed relevant items, then score the final slate so
      // its contributions (explanations) are the agents' own.
      const fill = this.fairFill(obs, cands, pick, kk - f, f);
      const fin = new Int32Array(kk);
      for (let p = 0; p < kk - f; p++) fin[p] = cands[pick[p]!]!;
      fin.set(fill, kk - f);
      this.evaluate(obs, fin, arm);
      for (let p = 0; p < kk; p++) (pick[p] = p), this.placeRow(p, p);
      for (let p = kk - f; p < kk; p++) prop[p] = 1;
      cands = fin;
    }
    const m = this.m;
    const items = new Int32Array(kk);
    const scores = new Float32Array(kk);
    const contrib = new Float64Array(kk * m);
    const fused = new Float64Array(kk);
    for (let p = 0; p < kk; p++) {
      const r = pick[p]!;
      items[p] = cands[r]!;
      scores[p] = this.s[r]!;
      fused[p] = this.s[r]!;
      for (let a = 0; a < m; a++) contrib[p * m + a] = this.c[r * m + a]!;
    }
    if (!this.training) {
      for (let a = 0; a < m; a++) {
        this.statW[a]! += this.w[a]!;
        for (let p = 0; p < kk; p++) {
          this.statC[a]! += contrib[p * m + a]!;
          this.statAbs[a]! += Math.abs(contrib[p * m + a]!);
        }
      }
      this.statItems += kk;
      this.statSlates++;
    }
    let candRows: Float64Array | null = null;
    let shownRows: Float64Array | null = null;
    const ki = this.views.indexOf(this.itemView);
    if (ki >= 0) {
      const d = this.itemView.dim;
      // The candidates' rows feed only the central critic's actor step.
      if (this.config.coordination === 'central-critic') candRows = this.F[ki]!.slice(0, Math.min(cands.length, this.maxN) * d);
      shownRows = new Float64Array(kk * d);
      for (let p = 0; p < kk; p++) shownRows.set(this.F[ki]!.subarray(pick[p]! * d, (pick[p]! + 1) * d), p * d);
    }
    this.itemState.shown(items);
    const slate: Slate = { items, scores, propensities: prop };
    this.records.set(slate, { cands, arm, contrib, fused, candRows, shownRows });
    return slate;
  }

  /**
   * The item agent's fair-exposure picks: f items outside the history and the first `keep` picks,
   * best by z_prior(i) − fairBeta·ln(1 + exposure_i) among the user's top `fairSlotPool` items by
   * the prior (the whole catalogue when 0).
   */
  private fairFill(obs: Observation, cands: Int32Array, pick: Int32Array, keep: number, f: number): Int32Array {
    const z = this.source.zPrior(obs.user);
    const e = this.itemState.exposure;
    const beta = this.config.fairBeta;
    const sc = this.allScores;
    const mask = this.candMask;
    const h = obs.history;
    for (let a = 0; a < h.length; a++) if (h[a]! >= 0) mask[h[a]!] = 1;
    for (let p = 0; p < keep; p++) mask[cands[pick[p]!]!] = 1;
    const P = this.config.fairSlotPool;
    let top: { items: Int32Array };
    if (P > 0) {
      const pool = topK(z, P, mask).items;
      const ps = new Float64Array(pool.length);
      for (let r = 0; r < pool.length; r++) ps[r] = z[pool[r]!]! - beta * Math.log1p(e[pool[r]!]!);
      const best = topK(ps, f);
      top = { items: best.items.map((r) => pool[r]!) };
    } else {
      for (let i = 0; i < sc.length; i++) sc[i] = z[i]! - beta * Math.log1p(e[i]!);
      top = topK(sc, f, mask);
    }
    for (let a = 0; a < h.length; a++) if (h[a]! >= 0) mask[h[a]!] = 0;
    for (let p = 0; p < keep; p++) mask[cands[pick[p]!]!] = 0;
    return Int32Array.from(top.items);
  }

  /** Plackett–Luce sample of kk candidates from softmax(s / T); propensity = probability of each pick. */
  private samplePL(n: number, kk: number, pick: Int32Array, prop: Float32Array): void {
    const T = this.config.temperature;
    const used = new Uint8Array(n);
    let mx = -Infinity;
    for (let r = 0; r < n; r++) mx = Math.max(mx, this.s[r]!);
    const e = new Float64Array(n);
    let tot = 0;
    for (let r = 0; r < n; r++) tot += e[r] = Math.exp((this.s[r]! - mx) / T);
    for (let p = 0; p < kk; p++) {
      let x = this.rng.next() * tot;
      let r = -1;
      for (let j = 0; j < n; j++) {
        if (used[j]) continue;
        r = j;
        x -= e[j]!;
        if (x < 0) break;
      }
      used[r] = 1;
      pick[p] = r;
      prop[p] = Math.min(1, Math.max(1e-12, e[r]! / tot));
      tot -= e[r]!;
    }
  }

  // ---------------------------------------------------------------- learning

  /** Team value per item (the mode's Q_team) of evaluated row r. */
  private teamValue(r: number): number {
    const m = this.m;
    const mode = this.config.coordination;
    if (mode === 'qmix') return QmixMixer.mix(this.q, r * m, this.w, m, this.b);
    const sum = vdnMix(this.q, m, r * m);
    return mode === 'comm' ? sum / m : sum;
  }

  private criticInput(r: number, out: Float32Array, off: number): void {
    let o = off;
    for (let k = 0; k < this.m; k++) {
      const d = this.views[k]!.dim;
      const F = this.F[k]!;
      for (let j = 0; j < d; j++) out[o++] = F[r * d + j]!;
    }
  }

  /** Critic values of evaluated rows 0..n-1 into `out`. */
  private criticValues(n: number, out: Float64Array): void {
    const x = new Float32Array(n * this.criticDim);
    for (let r = 0; r < n; r++) this.criticInput(r, x, r * this.criticDim);
    const y = this.critic!.forward(x, n);
    for (let r = 0; r < n; r++) out[r] = y[r]!;
  }

  /**
   * Per-position shares of the team reward (Σ = R + λG + αA exactly) and the stake parts; also
   * trains the item agent's and content agent's stake models on the slate means of G and A.
   */
  private decompose(t: Transition, rho: Float64Array, stakes: Float64Array, shownRows: Float64Array | null): void {
    const items = t.slate.items;
    const K = items.length;
    const parts = t.parts ?? { R: t.reward, G: 0, A: 0 };
    const { lambda, alpha } = this.config;
    let nClicks = 0;
    if (t.clicks) for (let p = 0; p < K; p++) nClicks += t.clicks[p] ? 1 : 0;
    const gHat = new Float64Array(K);
    const aHat = new Float64Array(K);
    const di = this.itemView.dim;
    const dc = this.contentView.cdim;
    const gm = new Float64Array(di);
    const am = new Float64Array(dc + 1);
    const row = this.row;
    // With the per-item exposure values known (parts.itemG), G is split exactly and the stake model
    // learns g_i item by item; otherwise it is fitted to the slate mean and the residual is shared.
    const exactG = parts.itemG !== undefined && parts.itemG.length >= K;
    for (let p = 0; p < K; p++) {
      // The item's row when the team acted (see ActRecord), else as of now.
      if (shownRows && shownRows.length >= (p + 1) * di) row.set(shownRows.subarray(p * di, (p + 1) * di));
      else this.itemView.row(items[p]!, row, 0);
      gHat[p] = this.stakeG.value(row, 0);
      if (exactG) this.stakeG.accumulate(row, 0, parts.itemG![p]! - gHat[p]!);
      else for (let j = 0; j < di; j++) gm[j]! += row[j]! / K;
      const o = items[p]! * dc;
      let a = this.stakeA.theta[dc]!;
      for (let j = 0; j < dc; j++) {
        const x = this.contentView.vectors[o + j]!;
        a += this.stakeA.theta[j]! * x;
        am[j]! += x / K;
      }
      am[dc]! += 1 / K;
      aHat[p] = a;
    }
    let gMean = 0;
    let aMean = 0;
    for (let p = 0; p < K; p++) (gMean += gHat[p]! / K), (aMean += aHat[p]! / K);
    const dG = parts.G - gMean;
    const dA = parts.A - aMean;
    if (!exactG) this.stakeG.accumulate(gm, 0, dG);
    this.stakeA.accumulate(am, 0, dA);
    this.stakeG.apply();
    this.stakeA.apply();
    let gSum = 0;
    if (exactG) for (let p = 0; p < K; p++) gSum += parts.itemG![p]!;
    for (let p = 0; p < K; p++) {
      const rc = t.clicks && nClicks > 0 && t.clicks[p] ? parts.R / nClicks : t.clicks ? 0 : parts.R / K;
      const g = exactG ? (lambda * parts.G * parts.itemG![p]!) / Math.max(1e-12, gSum) : (lambda * (gHat[p]! + dG)) / K;
      const a = (alpha * (aHat[p]! + dA)) / K;
      rho[p] = rc + g + a;
      stakes[p * 3] = rc;
      stakes[p * 3 + 1] = g;
      stakes[p * 3 + 2] = a;
    }
  }

  override observe(t: Transition): void {
    const items = t.slate.items;
    const K = items.length;
    if (K === 0) return;
    const m = this.m;
    const rec = this.records.get(t.slate);
    const arm = rec?.arm ?? 0;
    if (t.clicks) for (let p = 0; p < K; p++) if (t.clicks[p]) this.itemState.clicks[items[p]!]! += 1;
    const rho = new Float64Array(K);
    const stakes = new Float64Array(K * 3);
    this.decompose(t, rho, stakes, rec?.shownRows ?? null);
    const r = t.reward;
    this.rMax = Math.max(this.rMax, Math.abs(r));
    if (this.config.fusion === 'meta') this.meta.reward(arm, r);
    const mode = this.config.coordination;
    const gamma = this.config.gamma;

    // Bootstrap: value of the slate the team would show at s' (per agent for independent learners).
    const vNext = new Float64Array(m + 1);
    if (!t.done && gamma > 0) {
      const nc = this.candidates(t.next, false);
      const n = this.evaluate(t.next, nc, arm);
      const idx = new Int32Array(K);
      const kk = this.greedy(n, K, idx);
      if (mode === 'central-critic') {
        const cv = new Float64Array(n);
        this.criticValues(n, cv);
        for (let p = 0; p < kk; p++) vNext[m]! += cv[idx[p]!]!;
      } else {
        for (let p = 0; p < kk; p++) {
          vNext[m]! += this.teamValue(idx[p]!);
          for (let a = 0; a < m; a++) vNext[a]! += this.q[idx[p]! * m + a]!;
        }
      }
    }

    // The agents' features and values for the shown items at s, at the positions they were shown.
    this.evaluate(t.observation, items, arm, rec?.shownRows ?? null);
    for (let p = 0; p < K; p++) this.placeRow(p, p);
    // d(value at position p)/dθ_k carries the position's weight for click-driven agents.
    const posScale = (a: number, p: number): number => (this.clickDriven[a] ? (this.examine[p] ?? this.examine[this.examine.length - 1]!) : 1);
    // Bootstrap values are clipped to what a session can return (|step reward| ≤ rMax for 1/(1−γ)
    // steps): with linear values and a max over proposals, an unclipped bootstrap can run away.
    const vMax = this.rMax / Math.max(1e-6, 1 - gamma);
    for (let a = 0; a <= m; a++) vNext[a] = Math.max(-vMax, Math.min(vMax, vNext[a]!));
    const share = continuationShares(t.clicks, K, this.config.credit);
    const y = new Float64Array(K);
    for (let p = 0; p < K; p++) y[p] = rho[p]! + gamma * share[p]! * vNext[m]!;
    switch (mode) {
      case 'vdn':
      case 'qmix': {
        // One joint model (Σ_k w_k·θ_kᵀφ_k): one joint normalisation for its gradient step.
        const qm = mode === 'qmix';
        const joint = this.rls[0];
        if (joint) {
          const offs = new Int32Array(m);
          const sc = new Float64Array(m);
          for (let p = 0; p < K; p++) {
            for (let a = 0; a < m; a++) (offs[a] = p * this.views[a]!.dim), (sc[a] = (qm ? this.w[a]! : 1) * posScale(a, p));
            const err = joint.step(this.F, offs, sc, y[p]! - (qm ? this.b : 0));
            if (qm) this.mixer.step(this.sVec, this.q, p * m, err);
          }
          break;
        }
        for (let p = 0; p < K; p++) {
          const err = y[p]! - this.teamValue(p);
          let norm = 1;
          for (let a = 0; a < m; a++) norm += ((qm ? this.w[a]! : 1) * posScale(a, p)) ** 2 * this.values[a]!.sq(this.F[a]!, p * this.views[a]!.dim);
          for (let a = 0; a < m; a++) this.values[a]!.accumulate(this.F[a]!, p * this.views[a]!.dim, err, (qm ? this.w[a]! : 1) * posScale(a, p), norm);
          if (qm) this.mixer.step(this.sVec, this.q, p * m, err);
        }
        break;
      }
      case 'comm':
        for (let p = 0; p < K; p++) {
          let tot = 0;
          for (let a = 0; a < m; a++) tot += this.q1[p * m + a]!;
          for (let a = 0; a < m; a++) {
            const err = y[p]! - this.q[p * m + a]!;
            // RLS fits θ_a alone: the target less the message part (q − q1) of the prediction.
            if (this.rls[a]) this.rls[a]!.step([this.F[a]!], [p * this.views[a]!.dim], [posScale(a, p)], y[p]! - (this.q[p * m + a]! - this.q1[p * m + a]!));
            else this.values[a]!.accumulate(this.F[a]!, p * this.views[a]!.dim, err, posScale(a, p));
            if (m > 1) {
              const msg = (tot - this.q1[p * m + a]!) / (m - 1);
              this.commGain[a]! += (this.config.auxLr * err * msg) / (1 + msg * msg);
            }
          }
        }
        break;
      case 'independent': {
        const x = new Float64Array(m);
        for (let a = 0; a < m; a++) {
          const stakeIdx = this.memberNames[a] === 'item' ? 1 : this.memberNames[a] === 'content' ? 2 : 0;
          for (let p = 0; p < K; p++) {
            const ya = stakes[p * 3 + stakeIdx]! + gamma * share[p]! * vNext[a]!;
            const err = ya - this.q[p * m + a]!;
            if (this.rls[a]) this.rls[a]!.step([this.F[a]!], [p * this.views[a]!.dim], [posScale(a, p)], ya);
            else this.values[a]!.accumulate(this.F[a]!, p * this.views[a]!.dim, err, posScale(a, p));
            x[a]! += this.q[p * m + a]!;
          }
        }
        // Learned fusion weights: the team's TD target r + γ·Σ_k w_k·V_k(s') ≈ Σ_k w_k·x_k
        // (normalised LMS, kept in [0, 2]). The agents' values hold discounted returns, so
        // regressing the one-step reward on them (as before) shrank every weight toward 1 − γ.
        let pred = 0;
        let xx = 1;
        let tgt = r;
        for (let a = 0; a < m; a++) (pred += this.fusionW[a]! * x[a]!), (xx += x[a]! * x[a]!), (tgt += gamma * this.fusionW[a]! * vNext[a]!);
        const e = tgt - pred;
        for (let a = 0; a < m; a++) this.fusionW[a] = Math.min(2, Math.max(0, this.fusionW[a]! + (this.config.mixLr * e * x[a]!) / xx));
        break;
      }
      case 'central-critic':
        for (let p = 0; p < K; p++) {
          const off = this.criticX.length;
          this.criticX.length = off + this.criticDim;
          const tmp = new Float32Array(this.criticDim);
          this.criticInput(p, tmp, 0);
          for (let j = 0; j < this.criticDim; j++) this.criticX[off + j] = tmp[j]!;
          this.criticY.push(y[p]!);
        }
        this.actorStep(t, rec);
        break;
    }
    // Sequential per-transition steps: summing the normalised steps of a whole vector step (many
    // sessions × K positions) before applying them overshoots.
    for (const v of this.values) v.apply();
  }

  /**
   * COMA-style actor update of every agent. For slate position p the counterfactual baseline is
   * agent k's expected critic value when it alone re-chooses that position from the candidates
   * (the other shown items fixed): b_p = Σ_j π_k(j | not shown elsewhere)·Q(s, j).
   */
  private actorStep(t: Transition, rec: ActRecord | undefined): void {
    const cands = rec?.cands ?? t.slate.items;
    const n = this.evaluate(t.observation, cands, rec?.arm ?? 0, rec?.candRows ?? null);
    const m = this.m;
    const Q = new Float64Array(n);
    this.criticValues(n, Q);
    const T = this.config.temperature;
    const K = t.slate.items.length;
    const rows = new Int32Array(K).fill(-1);
    for (let r = 0; r < n; r++) for (let p = 0; p < K; p++) if (cands[r] === t.slate.items[p]) rows[p] = r;
    for (let a = 0; a < m; a++) {
      const d = this.views[a]!.dim;
      const F = this.F[a]!;
      let mx = -Infinity;
      for (let r = 0; r < n; r++) mx = Math.max(mx, this.q[r * m + a]!);
      const e = new Float64Array(n);
      let z = 0;
      let eq = 0;
      const eF = new Float64Array(d);
      for (let r = 0; r < n; r++) {
        e[r] = Math.exp((this.q[r * m + a]! - mx) / T);
        z += e[r]!;
        eq += e[r]! * Q[r]!;
        for (let j = 0; j < d; j++) eF[j]! += e[r]! * F[r * d + j]!;
      }
      const g = new Float64Array(d);
      for (let p = 0; p < K; p++) {
        const r = rows[p]!;
        if (r < 0) continue;
        // Remove the other shown items from the agent's choice set.
        let zp = z;
        let eqp = eq;
        const mean = new Float64Array(eF);
        for (let o = 0; o < K; o++) {
          const ro = rows[o]!;
          if (o === p || ro < 0) continue;
          zp -= e[ro]!;
          eqp -= e[ro]! * Q[ro]!;
          for (let j = 0; j < d; j++) mean[j]! -= e[ro]! * F[ro * d + j]!;
        }
        if (!(zp > 0)) continue;
        const adv = Q[r]! - eqp / zp;
        for (let j = 0; j < d; j++) g[j]! += (adv * (F[r * d + j]! - mean[j]! / zp)) / T;
      }
      let gg = 1;
      for (let j = 0; j < d; j++) gg += g[j]! * g[j]!;
      const f = this.config.actorLr / Math.sqrt(gg);
      for (let j = 0; j < d; j++) this.values[a]!.grad[j]! += f * g[j]!;
    }
  }

  override update(): void {
    for (const v of this.values) v.apply();
    if (this.critic && this.criticY.length > 0) {
      const n = this.criticY.length;
      const x = Float32Array.from(this.criticX);
      const out = this.critic.forward(x, n);
      const grad = new Float32Array(n);
      for (let r = 0; r < n; r++) grad[r] = (2 * (out[r]! - this.criticY[r]!)) / n;
      this.critic.zeroGrad();
      this.critic.backward(grad);
      this.criticOpt!.step();
      this.criticX = [];
      this.criticY = [];
    }
  }

  // ---------------------------------------------------------------- distributed learners

  private syncBase: Float64Array[] | null = null;

  /** Start a distributed round: remember the value parameters the round's update is measured from. */
  beginRound(): void {
    this.syncBase = this.values.map((v) => Float64Array.from(v.theta));
  }

  /**
   * What a distributed learner sends after a round (distributed.ts): the update its value models
   * made in the round (the sum of its gradient steps since `beginRound`), then the auxiliary
   * parameters (stake models, QMIX hypernetwork, learned fusion weights, communication gains).
   */
  exportSync(): Float64Array {
    const base = this.syncBase ?? this.values.map((v) => new Float64Array(v.dim));
    const deltas = this.values.map((v, k) => v.theta.map((x, j) => x - base[k]![j]!));
    const parts: Float64Array[] = [...deltas, this.stakeG.theta, this.stakeA.theta, this.mixer.W, this.mixer.c, this.mixer.v, this.fusionW, this.commGain];
    const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) (out.set(p, o), (o += p.length));
    return out;
  }

  /** Apply a round's averaged sync vector: θ = round start + mean update, identical in every replica. */
  importSync(avg: Float64Array): void {
    let o = 0;
    this.values.forEach((v, k) => {
      const base = this.syncBase?.[k];
      for (let j = 0; j < v.dim; j++) v.theta[j] = (base ? base[j]! : v.theta[j]!) + avg[o + j]!;
      o += v.dim;
    });
    for (const p of [this.stakeG.theta, this.stakeA.theta, this.mixer.W, this.mixer.c, this.mixer.v, this.fusionW, this.commGain]) {
      p.set(avg.subarray(o, o + p.length));
      o += p.length;
    }
    this.syncBase = null;
  }

  // ---------------------------------------------------------------- explanations and summaries

  /** Per-item contributions (adding up to the fused score) and evidence for a slate this team produced. */
  explain(obs: Observation, slate: Slate): ItemExplanation[] {
    const rec = this.records.get(slate);
    const m = this.m;
    let contrib: Float64Array;
    let fused: Float64Array;
    if (rec) ({ contrib, fused } = rec);
    else {
      // A slate from elsewhere: score just its items.
      const n = this.evaluate(obs, slate.items, 0);
      for (let p = 0; p < n; p++) this.placeRow(p, p);
      contrib = this.c.slice(0, n * m);
      fused = this.s.slice(0, n);
    }
    const out: ItemExplanation[] = [];
    for (let p = 0; p < slate.items.length; p++) {
      const item = slate.items[p]!;
      const contributions: Record<string, number> = {};
      for (let a = 0; a < m; a++) contributions[this.memberNames[a]!] = contrib[p * m + a]!;
      out.push({ item, score: fused[p]!, contributions, evidence: evidenceFor(this.tctx, this.itemState, this.memberNames, obs, item) });
    }
    return out;
  }

  /** Mean weights and contributions per agent over the slates shown in evaluation mode. */
  summary(): TeamSummary {
    const agents: TeamSummary['agents'] = {};
    let abs = 0;
    for (let a = 0; a < this.m; a++) abs += this.statAbs[a]!;
    for (let a = 0; a < this.m; a++) {
      agents[this.memberNames[a]!] = {
        weight: this.statSlates > 0 ? this.statW[a]! / this.statSlates : NaN,
        contribution: this.statItems > 0 ? this.statC[a]! / this.statItems : NaN,
        share: abs > 0 ? this.statAbs[a]! / abs : NaN,
      };
    }
    return { coordination: this.config.coordination, fusion: this.config.fusion, agents, slates: this.statSlates };
  }

  // ---------------------------------------------------------------- persistence

  protected override getState(): Record<string, unknown> {
    return {
      members: this.memberNames,
      values: this.values.map((v) => v.theta),
      stakeG: this.stakeG.theta,
      stakeA: this.stakeA.theta,
      mixer: { W: this.mixer.W, c: this.mixer.c, v: this.mixer.v },
      fusionW: this.fusionW,
      commGain: this.commGain,
      meta: { counts: this.meta.counts, sums: this.meta.sums, total: this.meta.total },
      critic: this.critic ? this.critic.params : null,
      criticOpt: this.criticOpt ? this.criticOpt.toJSON() : null,
      items: this.itemState.toJSON(),
      rMax: this.rMax,
      rls: this.rls.map((f) => f.P),
    };
  }

  protected override setState(s: Record<string, unknown>): void {
    const members = s.members as string[];
    if (members.join() !== this.memberNames.join()) throw new ConfigError(`saved team has members [${members.join(', ')}], this one [${this.memberNames.join(', ')}]`, 'members');
    (s.values as Float64Array[]).forEach((th, k) => this.values[k]!.theta.set(th));
    this.stakeG.theta.set(s.stakeG as Float64Array);
    this.stakeA.theta.set(s.stakeA as Float64Array);
    const mx = s.mixer as { W: Float64Array; c: Float64Array; v: Float64Array };
    this.mixer.W.set(mx.W);
    this.mixer.c.set(mx.c);
    this.mixer.v.set(mx.v);
    this.fusionW.set(s.fusionW as Float64Array);
    this.commGain.set(s.commGain as Float64Array);
    const meta = s.meta as { counts: Float64Array; sums: Float64Array; total: number };
    this.meta.counts.set(meta.counts);
    this.meta.sums.set(meta.sums);
    this.meta.total = meta.total;
    if (this.critic && s.critic) this.critic.params.set(s.critic as Float32Array);
    if (this.criticOpt && s.criticOpt) this.criticOpt.load(s.criticOpt);
    this.itemState.load(s.items as Record<string, unknown>);
    this.rMax = s.rMax as number;
    // States saved before the RLS learner (or by an LMS team) have no P: the fitters keep their prior.
    const P = (s.rls as Float64Array[] | undefined) ?? [];
    this.rls.forEach((f, k) => {
      if (P[k] && P[k]!.length === f.P.length) f.P.set(P[k]!);
    });
  }
}

/** Mean of several teams' summaries (one per seed): weights, contributions and shares averaged per agent. */
export function mergeTeamSummaries(list: TeamSummary[]): TeamSummary {
  if (list.length === 0) throw new ConfigError('no team summaries to merge', 'teams');
  const agents: TeamSummary['agents'] = {};
  for (const name of Object.keys(list[0]!.agents)) {
    const xs = list.map((s) => s.agents[name]!).filter((a) => a !== undefined);
    const avg = (f: (a: { weight: number; contribution: number; share: number }) => number): number => xs.reduce((t, a) => t + f(a), 0) / xs.length;
    agents[name] = { weight: avg((a) => a.weight), contribution: avg((a) => a.contribution), share: avg((a) => a.share) };
  }
  return { coordination: list[0]!.coordination, fusion: list[0]!.fusion, agents, slates: list.reduce((t, s) => t + s.slates, 0) };
}
