/**
 * The multi-agent team: a user agent (relevance), an item agent (fair exposure, cold items) and a
 * content agent (content attractiveness), plus any extra scorers, cooperating on one slate. The
 * team is itself an `Agent` (registered as `team`).
 *
 * One step: candidates (candidates.ts) = the user's top items by the myopic prior + a few random
 * unseen items + the item agent's, the content agent's and every extra scorer's own best proposals.
 * Every agent scores every candidate from its own observation (views.ts); the coordination mode
 * (modes/) turns the agents' values into per-item team scores with each agent's contribution
 * (scores.ts, fusion.ts); the slate is assembled from them (slate-assembly.ts: top K or position by
 * position, ε-greedy or a Plackett–Luce sample while training; the item agent's fair-exposure
 * slots in evaluation).
 *
 * Learning (observe): the team reward is split over the shown positions (reward-split.ts) into
 * per-position TD targets y_p = ρ_p + γ·share_p·V(s'), V(s') the team value of the slate the team
 * would show at s'; the mode learns from them. Under SlateQ credit (VDN only) the team scores
 * P̂(click)·Σ_k Q̄_k instead, P̂ the user agent's click model, and Q̄ learns from clicked items only,
 * by TD or from the session's return (click-returns.ts). Modes (team-config.ts lists them):
 *  - independent: each agent learns its own stake with its own bootstrap; fusion weights learned;
 *  - vdn: Q_team = Σ_k Q_k trained on the team TD error;
 *  - weighted-vdn: Σ_k w_k(s)·Q_k with w ≥ 0 from a linear hypernetwork (called qmix before);
 *  - qmix: a QMIX mixing network (hypernetworks, ELU hidden layer, V(s) once per slate);
 *  - item-critic (called central-critic before): softmax actors and an MLP critic over all
 *    agents' features of one item, COMA-style per-position baselines;
 *  - central-critic: softmax actors and a critic of the joint slate with COMA's counterfactual
 *    baseline per agent;
 *  - value-sharing (called comm before): each agent adds the others' first-round values with a
 *    learned scalar gain;
 *  - comm: agents exchange learned messages about each item (messages.ts) before valuing it.
 * Explanations and summaries: team-explain.ts; saved state and distributed sync: team-persistence.ts.
 */
import { BaseAgent } from '../agents/base.js';
import type { Transition } from '../agents/types.js';
import { CandidateSource } from '../agents/neural.js';
import type { Observation, Slate } from '../env/types.js';
import { ConfigError } from '../errors.js';
import { TeamCandidates } from './candidates.js';
import { ClickReturns } from './click-returns.js';
import { joinedRow, TeamClickModel } from './team-click-model.js';
import type { TeamContext } from './context.js';
import { evidenceFor } from './explain.js';
import { checkFusion, MetaFusion } from './fusion.js';
import { LinearValue } from './mixer.js';
import { createMode, type CoordinationMode, type TeamCore, type VdnMode } from './modes/index.js';
import { continuationShares, RewardSplit } from './reward-split.js';
import type { JointRls } from './rls.js';
import { TeamScores } from './scores.js';
import { exploreGreedySlate, greedySlate, samplePlackettLuce, type ActRecord } from './slate-assembly.js';
import { checkCoordination, checkLearner, checkTeamOptions, resolveMembers, SAMPLING_MODES, type TeamConfig } from './team-config.js';
import { SummaryStats, type ItemExplanation, type TeamSummary } from './team-explain.js';
import { exportSync, importSync, loadTeamState, saveTeamState, type TeamParts } from './team-persistence.js';
import { ContentView, ITEM_FEATURES, ItemState, ItemView, ScorerView, UserView, type View } from './views.js';

export * from './team-config.js';
export { continuationShares } from './reward-split.js';
export { mergeTeamSummaries, type ItemExplanation, type TeamSummary } from './team-explain.js';

export class TeamAgent extends BaseAgent<TeamConfig> {
  readonly name = 'team';
  readonly version = 1;
  readonly views: View[];
  readonly memberNames: string[];
  readonly m: number;
  readonly itemState: ItemState;
  readonly values: LinearValue[];
  readonly meta: MetaFusion;
  /** How the agents learn together (modes/). */
  readonly mode: CoordinationMode;
  private readonly tctx: TeamContext;
  private readonly itemView: ItemView;
  private readonly cands: TeamCandidates;
  /** Retrieval (the myopic prior, or under SlateQ credit the user agent's linear click model). */
  private readonly source: CandidateSource;
  private readonly scores: TeamScores;
  private readonly split: RewardSplit;
  private readonly stats: SummaryStats;
  private readonly records = new WeakMap<Slate, ActRecord>();
  /** Largest |team reward| seen so far (scales the bootstrap clip). */
  private rMax = 1;
  private syncBase: Float64Array[] | null = null;
  /** Clicked samples waiting for their session's return (SlateQ credit, `target: 'mc'`). */
  private readonly returns: ClickReturns;
  /** The click model over every member's rows (`clickModel: 'team'`), else null (the user agent's). */
  private readonly teamClick: TeamClickModel | null;

  constructor(ctx: TeamContext, config: TeamConfig) {
    super(ctx, config);
    checkCoordination(config.coordination);
    checkFusion(config.fusion);
    this.tctx = ctx;
    checkTeamOptions(config);
    // SlateQ credit: the user agent's click model is a ridge regression on LinUCB's rows, which is
    // what CandidateSource's linear retrieval keeps; it then also retrieves the candidates.
    const slateq = config.credit === 'slateq';
    const source = new CandidateSource(ctx, config.candidates, config.randomCandidates, slateq ? 'linear' : 'prior');
    this.source = source;
    this.itemState = new ItemState(ctx.items.nItems);
    this.itemView = new ItemView(ctx, this.itemState);
    const contentView = new ContentView(ctx, config.itemMeanValue ?? false, config.contentProfile ?? 'recent');
    const extras = ctx.extras ?? [];
    const names = resolveMembers(ctx, config);
    this.memberNames = names;
    this.views = names.map((n): View => {
      if (n === 'user') return new UserView(ctx, source);
      if (n === 'item') return this.itemView;
      if (n === 'content') return contentView;
      return new ScorerView(extras.find((e) => e.name === n)!, ctx.items.nItems);
    });
    this.m = this.views.length;
    this.values = this.views.map((v) => new LinearValue(v.dim, config.lr));
    // Value modes start from the relevance-dominant policy (UserView's last feature is the prior
    // score) and the item agent's myopic share λ·g_i/K of its exposure value, not from all-zero
    // values. Not for independent learners: their user agent learns R alone and their fusion
    // weights start at 1; with the start the toy split task (test/marl) is no longer solved in
    // 400 steps, and the mode is stable without it.
    const warm = config.coordination !== 'independent';
    const ku = names.indexOf('user');
    if (ku >= 0 && warm) this.values[ku]!.theta[this.views[ku]!.dim - 1] = config.relevanceInit;
    checkLearner(config);
    let ridges: number[] | null = null;
    if (config.learner === 'rls') {
      const mr = config.memberRidge ?? {};
      for (const n of Object.keys(mr)) if (!names.includes(n)) throw new ConfigError(`memberRidge names "${n}", not a member (${names.join(', ')})`, 'memberRidge');
      ridges = names.map((n) => mr[n] ?? config.ridge);
    }
    this.split = new RewardSplit(config, this.itemView, contentView);
    const ki = names.indexOf('item');
    if (ki >= 0 && warm) this.values[ki]!.theta[ITEM_FEATURES.indexOf('exposureValue')] = (config.exposureInit * config.lambda) / ctx.slateSize;
    this.meta = new MetaFusion(this.m, config.metaC);
    // Proposers: the item and content agents and every extra scorer (see TeamCandidates.get).
    const proposers = this.views.filter((v) => v === this.itemView || v === contentView || v instanceof ScorerView).length;
    const maxN = Math.min(ctx.items.nItems, config.candidates + config.randomCandidates + proposers * config.proposals) + ctx.slateSize;
    // The critics' actors sample slates from the fused scores while training; position scaling
    // would make critic and actors disagree, so they (and rank fusions) keep score order.
    const positional = config.slotting === 'dcg' && !SAMPLING_MODES.includes(config.coordination) && config.fusion !== 'borda' && config.fusion !== 'rrf';
    const teamClick = slateq && config.clickModel === 'team' ? new TeamClickModel(this.views.map((v) => v.dim)) : null;
    this.teamClick = teamClick;
    // The team's model reads the members' rows TeamScores.evaluate has just computed for `items`.
    const clickModel = !slateq
      ? null
      : teamClick
        ? (_obs: Observation, items: Int32Array, out: Float32Array): void => teamClick.probabilities(this.scores.F, items.length, out)
        : (obs: Observation, items: Int32Array, out: Float32Array): void => void source.clickProbabilities(obs, items, out);
    this.scores = new TeamScores(this.views, this.values, this.itemView, this.meta, config, names, maxN, ctx.slateSize, positional, clickModel);
    const core: TeamCore = { config, ctx, rng: this.rng, views: this.views, values: this.values, memberNames: names, m: this.m, scores: this.scores, ridges };
    this.mode = createMode(core);
    this.scores.mixer = this.mode;
    this.cands = new TeamCandidates(config, ctx.items.nItems, source, this.views, names, this.values, this.itemView, contentView);
    this.stats = new SummaryStats(names);
    this.returns = new ClickReturns(this.views.reduce((a, v) => a + v.dim, 0), config.gamma);
  }

  /** RLS fitters of the values (learner `rls`): one joint for VDN, weighted VDN and QMIX, one joint for comm, one per agent for independent/value-sharing; empty otherwise. */
  get rls(): JointRls[] {
    return this.mode.rls;
  }

  /** The item agent's stake model ĝ (reward-split.ts). */
  get stakeG(): LinearValue {
    return this.split.stakeG;
  }

  /** The content agent's stake model â (reward-split.ts). */
  get stakeA(): LinearValue {
    return this.split.stakeA;
  }

  /** The click model's P̂(click ∣ obs) of each item (SlateQ credit only; null otherwise): the team's or the user agent's (`clickModel`). */
  clickProbabilities(obs: Observation, items: ArrayLike<number>): Float32Array | null {
    if (this.config.credit !== 'slateq') return null;
    const out = new Float32Array(items.length);
    if (!this.teamClick) return this.source.clickProbabilities(obs, items, out);
    // The team's model reads the members' rows, which the scoring buffers hold maxN items at a time.
    const all = Int32Array.from(items);
    for (let a = 0; a < all.length; a += this.scores.maxN) {
      const n = this.scores.evaluate(obs, all.subarray(a, a + this.scores.maxN), 0);
      for (let r = 0; r < n; r++) out[a + r] = this.scores.p[r]!;
    }
    return out;
  }

  /** Candidate items for an observation (never history items). `random` adds the random part. */
  candidates(obs: Observation, random: boolean): Int32Array {
    return this.cands.get(obs, random, this.rng);
  }

  // ---------------------------------------------------------------- acting

  act(obs: Observation, k: number): Slate {
    // Random candidates are for exploration; in evaluation the long tail comes in through the item
    // and content agents' proposals only.
    let cands = this.candidates(obs, this.training);
    const explore = this.training;
    const arm = this.config.fusion === 'meta' ? this.meta.choose(explore) : 0;
    const sc = this.scores;
    const n = sc.evaluate(obs, cands, arm);
    const kk = Math.min(k, n);
    const pick = new Int32Array(kk);
    const prop = new Float32Array(kk).fill(1);
    if (explore && this.mode.samplesSlates) samplePlackettLuce(this.rng, sc.s, this.config.temperature, n, kk, pick, prop);
    else {
      greedySlate(sc, n, kk, pick);
      const eps = explore ? this.config.epsilon : 0;
      if (eps > 0) exploreGreedySlate(this.rng, eps, n, pick, prop);
    }
    // Evaluation and serving only: trained with the filled positions in its slates, the VDN team
    // learned to chase G with every position and lost most clicks (bench, seed 1: return 2.5 vs 5.4).
    const f = this.training ? 0 : Math.min(this.config.fairSlots, kk);
    if (f > 0) {
      // Fill the last f positions with under-exposed relevant items, then score the final slate so
      // its contributions (explanations) are the agents' own.
      const fill = this.cands.fairFill(obs, this.itemState, cands, pick, kk - f, f);
      const fin = new Int32Array(kk);
      for (let p = 0; p < kk - f; p++) fin[p] = cands[pick[p]!]!;
      fin.set(fill, kk - f);
      sc.evaluate(obs, fin, arm);
      for (let p = 0; p < kk; p++) (pick[p] = p), sc.placeRow(p, p);
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
      scores[p] = sc.s[r]!;
      fused[p] = sc.s[r]!;
      for (let a = 0; a < m; a++) contrib[p * m + a] = sc.c[r * m + a]!;
    }
    if (!this.training) this.stats.record(sc.w, contrib, kk);
    let candRows: Float64Array | null = null;
    let shownRows: Float64Array | null = null;
    const ki = this.views.indexOf(this.itemView);
    if (ki >= 0) {
      const d = this.itemView.dim;
      // The candidates' rows feed only the actors' step of a mode that samples its slates.
      if (this.mode.samplesSlates) candRows = sc.F[ki]!.slice(0, Math.min(cands.length, sc.maxN) * d);
      shownRows = new Float64Array(kk * d);
      for (let p = 0; p < kk; p++) shownRows.set(sc.F[ki]!.subarray(pick[p]! * d, (pick[p]! + 1) * d), p * d);
    }
    this.itemState.shown(items);
    const slate: Slate = { items, scores, propensities: prop };
    this.records.set(slate, { cands, arm, contrib, fused, candRows, shownRows });
    return slate;
  }

  // ---------------------------------------------------------------- learning

  override observe(t: Transition): void {
    const items = t.slate.items;
    const K = items.length;
    if (K === 0) return;
    const m = this.m;
    const sc = this.scores;
    const rec = this.records.get(t.slate);
    const arm = rec?.arm ?? 0;
    if (t.clicks) for (let p = 0; p < K; p++) if (t.clicks[p]) this.itemState.clicks[items[p]!]! += 1;
    const rho = new Float64Array(K);
    const stakes = new Float64Array(K * 3);
    this.split.decompose(t, rho, stakes, rec?.shownRows ?? null);
    const r = t.reward;
    this.rMax = Math.max(this.rMax, Math.abs(r));
    const slateq = this.config.credit === 'slateq';
    // The click model learns from every impression, before the values read it at s'.
    if (slateq) this.source.learn(t);
    // The team's click model learns from the shown items' rows as when the team acted; under
    // Monte Carlo targets the clicked ones' rows are then read from the same evaluation.
    if (this.teamClick) {
      sc.evaluate(t.observation, items, arm, rec?.shownRows ?? null);
      this.teamClick.learn(sc.F, K, t.clicks);
    }
    if (this.config.fusion === 'meta') this.meta.reward(arm, r);
    const gamma = this.config.gamma;

    if (slateq && this.config.target === 'mc') return this.observeReturn(t, rec?.shownRows ?? null, arm, this.teamClick !== null);

    // Bootstrap: value of the slate the team would show at s' (per agent for independent learners).
    const vNext = new Float64Array(m + 1);
    if (!t.done && gamma > 0) {
      const nc = this.candidates(t.next, false);
      const n = sc.evaluate(t.next, nc, arm);
      const idx = new Int32Array(K);
      const kk = greedySlate(sc, n, K, idx);
      this.mode.nextValue(n, idx, kk, vNext);
    }

    // The agents' features and values for the shown items at s, at the positions they were shown.
    sc.evaluate(t.observation, items, arm, rec?.shownRows ?? null);
    for (let p = 0; p < K; p++) sc.placeRow(p, p);
    // Bootstrap values are clipped to what a session can return (|step reward| ≤ rMax for 1/(1−γ)
    // steps): with linear values and a max over proposals, an unclipped bootstrap can run away.
    const vMax = this.rMax / Math.max(1e-6, 1 - gamma);
    for (let a = 0; a <= m; a++) vNext[a] = Math.max(-vMax, Math.min(vMax, vNext[a]!));
    const share = continuationShares(t.clicks, K, slateq ? 'clicks' : this.config.credit);
    const y = new Float64Array(K);
    if (slateq) {
      // Q̄(s, i) is the value of the session once i is clicked: the step's whole team reward and
      // what follows go to the clicked items (shared when several are); the others learn nothing.
      let clicked = 0;
      for (let p = 0; p < K; p++) clicked += t.clicks?.[p] ? 1 : 0;
      for (let p = 0; p < K; p++) y[p] = clicked > 0 && t.clicks![p] ? (r + gamma * vNext[m]!) / clicked : NaN;
    } else for (let p = 0; p < K; p++) y[p] = rho[p]! + gamma * share[p]! * vNext[m]!;
    this.mode.learn({ t, rec, K, y, stakes, share, vNext, r, gamma });
    // Sequential per-transition steps: summing the normalised steps of a whole vector step (many
    // sessions × K positions) before applying them overshoots.
    for (const v of this.values) v.apply();
  }

  /**
   * SlateQ credit with Monte Carlo targets: keep the clicked items' rows until the session ends,
   * then move Q̄ of each toward its share of the discounted return from its step. `evaluated`: the
   * scoring buffers already hold the shown items' rows (the team's click model has just learned from them).
   */
  private observeReturn(t: Transition, shownRows: Float64Array | null, arm: number, evaluated: boolean): void {
    const sc = this.scores;
    const dims = this.views.map((v) => v.dim);
    const samples = this.returns.record(t, (p, out) => {
      // The agents' rows of the shown items as when the team acted (evaluated once per transition).
      if (!evaluated) (sc.evaluate(t.observation, t.slate.items, arm, shownRows), (evaluated = true));
      joinedRow(sc.F, dims, p, out);
    });
    const vdn = this.mode as VdnMode;
    for (const { row, y } of samples) {
      let o = 0;
      vdn.learnRows(this.views.map((v) => row.subarray(o, (o += v.dim))), y);
      for (const v of this.values) v.apply();
    }
  }

  override update(): void {
    for (const v of this.values) v.apply();
    this.mode.update();
  }

  // ---------------------------------------------------------------- distributed learners

  private parts(): TeamParts {
    return { memberNames: this.memberNames, values: this.values, split: this.split, mode: this.mode, meta: this.meta, itemState: this.itemState, rls: this.rls };
  }

  /** Start a distributed round: remember the value parameters the round's update is measured from. */
  beginRound(): void {
    // Each replica's click model would learn from its own shard only and never be averaged.
    if (this.config.credit === 'slateq') throw new ConfigError('distributed team learners do not sync the SlateQ click model; use credit clicks or uniform', 'credit');
    this.syncBase = this.values.map((v) => Float64Array.from(v.theta));
  }

  /** What a distributed learner sends after a round (team-persistence.ts). */
  exportSync(): Float64Array {
    return exportSync(this.parts(), this.syncBase);
  }

  /** Apply a round's averaged sync vector: θ = round start + mean update, identical in every replica. */
  importSync(avg: Float64Array): void {
    importSync(this.parts(), this.syncBase, avg);
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
      const sc = this.scores;
      const n = sc.evaluate(obs, slate.items, 0);
      for (let p = 0; p < n; p++) sc.placeRow(p, p);
      contrib = sc.c.slice(0, n * m);
      fused = sc.s.slice(0, n);
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
    return this.stats.summary(this.config.coordination, this.config.fusion);
  }

  // ---------------------------------------------------------------- persistence

  protected override getState(): Record<string, unknown> {
    const s = saveTeamState(this.parts(), this.rMax);
    const retrieval = this.source.retrievalState();
    if (retrieval) s.retrieval = retrieval;
    // Sessions still open under Monte Carlo targets are saved, so a restored team finishes them.
    const open = this.returns.save();
    if (open) s.openSessions = open;
    if (this.teamClick) s.teamClick = this.teamClick.save();
    return s;
  }

  protected override setState(s: Record<string, unknown>): void {
    this.rMax = loadTeamState(this.parts(), s);
    this.source.loadRetrievalState(s.retrieval as Record<string, unknown> | undefined);
    this.returns.load(s.openSessions);
    this.teamClick?.load(s.teamClick);
  }
}
