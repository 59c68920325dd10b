/**
 * The team's configuration: coordination modes, members and every knob with its default.
 */
import type { SeededConfig } from '../agents/base.js';
import type { TeamContext } from './context.js';
import { ConfigError } from '../errors.js';
import type { FusionName } from './fusion.js';
import type { ContentProfile } from './views.js';

/**
 * How the agents learn together (one module each under modes/):
 *  - `weighted-vdn` is the mode that was called `qmix` before the real QMIX mixer existed: the
 *    figures published as `team qmix` in docs/benchmarks.md up to 2026-12-06 are its figures;
 *  - `item-critic` is the mode called `central-critic` until then: its critic scores one item
 *    (from every agent's features), not the joint slate; `central-critic` is now the critic of the
 *    joint slate with COMA's baselines (modes/central-critic.ts), so the figures published as
 *    `team central-critic` are `item-critic`'s;
 *  - `value-sharing` is the mode called `comm` until then: its "message" is the mean of the other
 *    agents' values, with one learned scalar gain per agent; `comm` is now the mode with learned
 *    messages (modes/comm.ts), so the figures published as `team comm` are `value-sharing`'s.
 * A saved team records its mode's name; one saved under an old meaning is refused with the name
 * to restore it with.
 */
export type Coordination = 'independent' | 'vdn' | 'weighted-vdn' | 'qmix' | 'item-critic' | 'central-critic' | 'value-sharing' | 'comm';
export const COORDINATIONS: readonly Coordination[] = ['independent', 'vdn', 'weighted-vdn', 'qmix', 'item-critic', 'central-critic', 'value-sharing', 'comm'];
/** Modes whose actors sample training slates from the fused logits (no position scaling: critic and actors must agree). */
export const SAMPLING_MODES: readonly Coordination[] = ['item-critic', 'central-critic'];
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
   * precision `ridge` and forgetting factor `forget`; VDN, weighted VDN, QMIX and comm fit all
   * agents jointly, QMIX on the mixer's linearisation at the current values). The critics' actors
   * (item-critic, central-critic) learn by policy gradient and ignore it.
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
   * Step size of the weighted-VDN hypernetwork, the QMIX mixing network and the comm messages (both
   * Adam) and the independent learners' fusion weights: an order below auxLr, because these weights
   * scale every agent's value at once and, at auxLr, one or two seeds in five drove the weighted-VDN
   * weights to a corner (return 2.8 vs VDN 5.6, figures published as `qmix`; docs/benchmarks.md).
   */
  mixLr: number;
  /**
   * Initial weight of the user agent's value on its prior-score feature: the team starts from the
   * relevance-dominant policy (the prior's ranking) instead of all-zero values, where one seed in
   * five of the weighted VDN (then `qmix`) drifted onto the item agent's cold proposals and stayed
   * there (every mode but independent).
   */
  relevanceInit: number;
  /** Initial weight of the stake model (and, × λ/K, of the item agent's value) on the item's exposure-value feature. */
  exposureInit: number;
  /** Lower bound of the weighted-VDN weights w_k(s). */
  mixWMin: number;
  /** Hidden ELU units of the QMIX mixing network. */
  mixHidden: number;
  /** Length of each agent's learned message (comm). */
  commDim: number;
  /**
   * Actor step size and critic Adam learning rate of the critics (item-critic, central-critic). At
   * 0.05 the item critic's actors of 4 seeds in 10 on sim-ml-ls-v2 at λ = 1 moved onto cold items
   * faster than the critic learned that nobody clicks them (return 0.7–2.0 against 5.6–6.2); at
   * 0.02 those seeds reached 4.8–6.3.
   */
  actorLr: number;
  criticLr: number;
  /** central-critic: transitions learned from before the actors follow the critic. */
  criticWarmup: number;
  /** Per-position exploration of the value modes while training. */
  epsilon: number;
  /** Softmax temperature of the critics' actors (item-critic, central-critic). */
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
  /**
   * Which shown items the next state's value is credited to in the TD targets: `clicks` or
   * `uniform` (see continuationShares); or `slateq`, SlateQ's decomposition (Ie et al. 2019) for
   * the VDN team: the team's value of showing i is P̂(click i ∣ s)·Q̄(s, i), where P̂ is the user
   * agent's click model (a ridge regression of the click flags on LinUCB's rows, which also
   * retrieves the candidates) and Q̄ = Σ_k Q̄_k the agents' summed values of the session once i is
   * clicked, learned from clicked items only with the target r + γ·Σ_{j ∈ next slate} P̂·Q̄. A
   * single linear value of all impressions must fit the product of a click rate and what follows
   * a click; the decomposition lets the content agent's value of a document's future (its
   * quality, `itemMeanValue`) multiply the click rate instead of being added to it.
   */
  credit: 'clicks' | 'uniform' | 'slateq';
  /**
   * What a clicked item's Q̄ learns toward under SlateQ credit. `td`: r + γ·V(s'), the bootstrap
   * over the next greedy slate. `mc`: the session's actual discounted return from that step (the
   * samples are learned when their session ends; open sessions are saved with the team), as DQN's
   * `target: 'mc'`: no bootstrap through a value that is still being learned.
   */
  target: 'td' | 'mc';
  /**
   * The content agent also reads the item's mean training value (`ItemSpace.meanValue`: public
   * item metadata such as a catalogue's average rating, z-scored) as one more content feature.
   */
  itemMeanValue: boolean;
  /**
   * The content agent's user profile: `recent` (the decayed mean content of the recent items) or
   * `both` (that and the mean content of the user's train items, each its own feature block). `both`
   * needs the context's `trainHistory` (attachTeamContent's `train` option).
   */
  contentProfile: ContentProfile;
  /**
   * SlateQ credit's click model P̂: `user`, the user agent's (a ridge regression of the click flags
   * on LinUCB's rows, which also retrieves the candidates); `team`, one ridge regression on every
   * member's rows side by side (team-click-model.ts), so the item and content agents' views inform
   * it too. Retrieval stays the user agent's either way.
   */
  clickModel: 'user' | 'team';

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
  mixHidden: 4,
  commDim: 4,
  relevanceInit: 0.03,
  exposureInit: 1,
  actorLr: 0.02,
  criticLr: 5e-3,
  criticWarmup: 200,
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
  target: 'td',
  itemMeanValue: false,
  contentProfile: 'recent',
  clickModel: 'user',

  rrfK: 60,
  metaC: 0.5,
};

/** Rejects an unknown coordination with the field named. */
export function checkCoordination(c: string): Coordination {
  if (!(COORDINATIONS as readonly string[]).includes(c)) throw new ConfigError(`unknown coordination "${c}"; expected one of: ${COORDINATIONS.join(', ')}`, 'coordination');
  return c as Coordination;
}

/**
 * The team's member names from the config: the default team (user, item, content) also takes every
 * extra scorer of the context; any other list is the team exactly, so that `members: ['user']`
 * stays a single agent with extras around.
 */
export function resolveMembers(ctx: TeamContext, config: TeamConfig): string[] {
  const extras = ctx.extras ?? [];
  const known = [...BASE_MEMBERS, ...extras.map((e) => e.name)];
  const names = config.members.length > 0 ? [...config.members] : [...BASE_MEMBERS];
  const isDefault = names.length === BASE_MEMBERS.length && BASE_MEMBERS.every((m) => names.includes(m));
  if (isDefault) for (const e of extras) if (!names.includes(e.name)) names.push(e.name);
  for (const n of names) if (!known.includes(n)) throw new ConfigError(`unknown team member "${n}"; expected any of: ${known.join(', ')}`, 'members');
  if (new Set(names).size !== names.length) throw new ConfigError('team members must be distinct', 'members');
  return names;
}

/** Rejects unknown enumerated options with the field named. */
export function checkTeamOptions(config: TeamConfig): void {
  if (config.credit !== 'clicks' && config.credit !== 'uniform' && config.credit !== 'slateq') throw new ConfigError(`unknown credit "${String(config.credit)}"; expected clicks, uniform or slateq`, 'credit');
  if (config.target !== 'td' && config.target !== 'mc') throw new ConfigError(`unknown target "${String(config.target)}"; expected td or mc`, 'target');
  if (config.target === 'mc' && config.credit !== 'slateq') throw new ConfigError('target mc needs credit slateq (the return follows a click)', 'target');
  if (config.credit === 'slateq') {
    // The decomposition multiplies the VDN sum by the click model; the other modes' team values
    // (mixers, critics, messages) are not a sum of per-item values it could multiply.
    if (config.coordination !== 'vdn') throw new ConfigError(`credit slateq needs coordination vdn, not ${config.coordination}`, 'credit');
    if (config.slotting !== 'score') throw new ConfigError('credit slateq ranks by P̂·Q̄; it needs slotting score', 'slotting');
    if (config.fusion !== 'weighted') throw new ConfigError('credit slateq needs fusion weighted', 'fusion');
  }
  if (config.clickModel !== 'user' && config.clickModel !== 'team') throw new ConfigError(`unknown clickModel "${String(config.clickModel)}"; expected user or team`, 'clickModel');
  if (config.clickModel === 'team' && config.credit !== 'slateq') throw new ConfigError("clickModel 'team' is SlateQ credit's click model; it needs credit slateq", 'clickModel');
  if (config.contentProfile !== 'recent' && config.contentProfile !== 'both') throw new ConfigError(`unknown contentProfile "${String(config.contentProfile)}"; expected recent or both`, 'contentProfile');
  if (config.slotting !== 'score' && config.slotting !== 'dcg') throw new ConfigError(`unknown slotting "${String(config.slotting)}"; expected score or dcg`, 'slotting');
}

/** Rejects an unknown learner with the field named (checked after the members, as it always was). */
export function checkLearner(config: TeamConfig): void {
  if (config.learner !== 'lms' && config.learner !== 'rls') throw new ConfigError(`unknown learner "${String(config.learner)}"; expected lms or rls`, 'learner');
}
