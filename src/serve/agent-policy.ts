/**
 * Serving any agent of the src/agents registry (and, through the same `Agent` contract, a
 * multi-agent team) behind the `ServingPolicy` interface.
 *
 * The agent acts over the active model's item space: `bind` builds its `AgentContext` from the
 * snapshot (implicit-ALS item vectors and user vectors fitted on the snapshot's training
 * interactions with `itemSpaceFromTrain`, genres from the catalogue's `categories`, training
 * popularity; `greedy-als` scores with the served recommender itself). A request becomes an
 * `Observation` (model user index, the user's items most recent last, the step index t within
 * the request's session, context hashed into a few floats); the agent's slate is filtered by what
 * the request may show (deleted, excluded, candidate filter) and topped up from the recommender's
 * candidate order when too short.
 *
 * Learning is per step of a session, as in the simulator: `learn` adds a shown position's reward
 * to its decision, `endDecision` says the decision's reward window closed, and the decision's
 * transition — next state: the session's next decision, done at the session's end — reaches the
 * agent's `observe` once both are known (./agent-sessions.ts). `update` runs once per learning
 * batch (`flush`), off the request path. The logged propensities travel with the transition.
 */
import { createHash } from 'node:crypto';
import type { ManagedAgent, SavedAgent } from '../agents/base.js';
import type { ActOptions } from '../agents/types.js';
import { agentEntry, createAgent, restoreAgent } from '../agents/registry.js';
import { itemSpaceFromTrain, type AgentContext } from '../agents/state.js';
import type { WarmAgent } from '../agents/agent-file.js';
import { AgentSpaceMap } from './agent-space-map.js';
import { Dataset, IdMap, interactionsFrom, type ItemMeta } from '../data/dataset.js';
import type { Observation, Slate } from '../env/types.js';
import { recommenderScorer, type TeamContext } from '../marl/context.js';
import { registerTeam } from '../marl/register.js';
import { ConfigError } from '../errors.js';
import { SessionSteps, type SessionStepsState, type Step } from './agent-sessions.js';
import { hashInto } from './features.js';
import type { ServedModel } from './model.js';
import type { Choice, Explanation, PolicyInput, PolicyWeights, ServingPolicy } from './serving-policy.js';

export interface AgentPolicyConfig {
  /** Registered agent name (see `agentNames()`). */
  agent: string;
  /** Overrides of the agent's defaults (checked by the registry: an unknown key is an error). */
  config: Record<string, unknown>;
  /** Dimension of the ALS item vectors the agent sees. */
  factors: number;
  /** Slate size the agent is told to expect (its features may use it). */
  slateSize: number;
  /** How many of the user's most recent items a logged decision keeps for learning. */
  historyKept: number;
  seed: number;
  /** Typical session length in steps: the agents' state feature for the step is min(1, t / horizon). */
  horizon: number;
  /** A session with no decision for this long ends (its last step becomes terminal); as the engine's `sessionIdleSeconds`. */
  sessionIdleSeconds: number;
  /** Open sessions kept; beyond it the least recently active one ends. */
  maxSessions: number;
  /** Decisions waiting for their reward window or their session's next decision; beyond it sessions end early. */
  maxPendingSteps: number;
  /**
   * A trained agent to serve warm (`chorus serve --policy-file`): it keeps its own item space and
   * learned state, and the snapshot's items and users are matched with its by external id
   * (./agent-space-map.ts). `agent` must be its kind; `config` and `factors` are then the file's.
   */
  warm?: WarmAgent;
}

export const AGENT_POLICY_DEFAULTS: Omit<AgentPolicyConfig, 'agent'> = {
  config: {},
  factors: 16,
  slateSize: 10,
  historyKept: 50,
  seed: 7,
  horizon: 20,
  sessionIdleSeconds: 1800,
  maxSessions: 10_000,
  maxPendingSteps: 50_000,
};

/** What a decision logs so that its feedback can be learned later (model indices of its snapshot). */
interface AgentPayload {
  agent: string;
  snap: string;
  user: number;
  history: number[];
  /** The hashed request context the agent saw. */
  ctx: number[];
  /** Model item index per shown position (-1: an item outside the agent's item space). */
  items: number[];
  /** The decision's event id (absent in decisions logged before sessions: each reward is then its own step). */
  id?: string;
  /** Its session (null: its own one-step episode), the user's external id, its step index and the request time (ms). */
  session?: string | null;
  who?: string | null;
  t?: number;
  ts?: number;
  /** The logged propensity of each shown position. */
  props?: number[];
}

/** Floats the request context is hashed into for the agent (src/cli/commands/train-log.ts hashes logged contexts the same way). */
export const CONTEXT_DIMS = 4;

/**
 * Snapshots before the current one whose bridges a warm agent keeps. A bridge is needed only to
 * rebuild the step of a decision that is no longer pending (a sessionless decision evicted before
 * its first reward, then rewarded): a pending step is in the agent's space already.
 */
const EARLIER_MAPS_KEPT = 4;

/** What an agent that explains its slates offers (src/marl's TeamAgent does). */
interface ExplainingAgent {
  explain(obs: Observation, slate: Slate): { contributions: Record<string, number>; evidence: { agent: string; text: string }[] }[];
}

export class AgentPolicy implements ServingPolicy {
  readonly name: string;
  readonly config: AgentPolicyConfig;
  private agent: ManagedAgent | null = null;
  private ctx: AgentContext | null = null;
  private snap = '';
  /** Snapshots whose item list is the current one (their logged indices still mean the same items). */
  private snaps = new Set<string>();
  private itemIds: string[] = [];
  private n = 0;
  private pendingUpdate = false;
  /** Rewards of decisions without an event id (old logs) seen: each becomes its own step. */
  private legacy = 0;
  private readonly steps: SessionSteps;
  /** The agent keeps to `ActOptions` (registry agents); else its slate is filtered here. */
  private readonly honoursOptions: boolean;
  private readonly contextBuf = new Float32Array(CONTEXT_DIMS);
  /** The agent's ε when it has one (shown in explanations and weights). */
  private readonly epsilon: number;
  private readonly log: (msg: string) => void;
  /** The warm agent's bridge to the current snapshot (null: the agent acts in the snapshot's own space). */
  private map: AgentSpaceMap | null = null;
  /**
   * A warm agent's bridges by snapshot id: the current one and the last few before it, oldest
   * first. A logged decision's indices are those of its own snapshot, so its payload is mapped with
   * that snapshot's bridge, never the current one.
   */
  private readonly maps = new Map<string, AgentSpaceMap>();
  /** Which agent a checkpoint belongs to (warm agents only; see `warmKey`). */
  private readonly spaceKey: string | undefined;
  /** The snapshot being served (a warm agent's scorers read it at call time). */
  private model: ServedModel | null = null;
  /** The item space (and user vectors) fitted at the last cold `bind`, reused by `bindErased`. */
  private space: ReturnType<typeof itemSpaceFromTrain> | null = null;

  constructor(config: Partial<AgentPolicyConfig> & { agent: string }, log: (msg: string) => void = () => {}) {
    registerTeam(); // so that `--policy team` serves the multi-agent team like any agent
    const entry = agentEntry(config.agent); // unknown name → UnknownNameError listing the registered agents, at start
    this.config = { ...AGENT_POLICY_DEFAULTS, ...config };
    this.name = `agent:${config.agent}`;
    const warm = this.config.warm;
    if (warm && warm.agent.kind !== config.agent) {
      throw new ConfigError(`${warm.file} holds a "${warm.agent.kind}" agent, not "${config.agent}"`, 'policy-file');
    }
    const merged = { ...entry.defaults, ...(warm ? (warm.agent.config as Record<string, unknown>) : this.config.config) } as { epsilon?: unknown; propensitySamples?: unknown };
    this.epsilon = typeof merged.epsilon === 'number' ? merged.epsilon : 0;
    // The decision log needs a propensity per shown item; agents that estimate theirs must be asked to.
    if (merged.propensitySamples === 0) {
      throw new ConfigError(`agent "${config.agent}": propensitySamples must be at least 1 when served (the decision log records propensities)`, 'agent.propensitySamples');
    }
    this.honoursOptions = entry.honoursOptions === true;
    this.log = log;
    this.spaceKey = warm ? warmKey(warm) : undefined;
    const { sessionIdleSeconds, maxSessions, maxPendingSteps } = this.config;
    this.steps = new SessionSteps({ idleMs: sessionIdleSeconds * 1000, maxSessions, maxSteps: maxPendingSteps });
  }

  /** The agent being served (after `bind`). */
  get served(): ManagedAgent {
    if (!this.agent) throw new Error('AgentPolicy.bind() must run before the agent is used');
    return this.agent;
  }

  /** Transitions the agent used (`observe` did not refuse them). */
  get updates(): number {
    return this.n;
  }

  /** Decisions waiting for their reward window or their session's next decision, and open sessions. */
  get pending(): { steps: number; sessions: number } {
    return { steps: this.steps.pending, sessions: this.steps.openSessions };
  }

  poolSize(): number {
    return 0; // the agent ranks the catalogue itself
  }

  hashItem(): Float32Array {
    return new Float32Array(0);
  }

  bind(model: ServedModel, catalogue: (id: string) => Record<string, unknown> | undefined): void {
    if (this.config.warm) return this.bindWarm(model, catalogue, this.config.warm);
    const nUsers = model.userIds.length;
    const users: number[] = [];
    const items: number[] = [];
    for (let u = 0; u < nUsers; u++) for (let p = model.seenIndptr[u]!; p < model.seenIndptr[u + 1]!; p++) (users.push(u), items.push(model.seenIndices[p]!));
    const itemMeta: (ItemMeta | undefined)[] = model.itemIds.map((id) => {
      const c = catalogue(id)?.categories;
      return Array.isArray(c) ? { categories: c.filter((x): x is string => typeof x === 'string') } : undefined;
    });
    const ds = new Dataset({
      name: `snapshot ${model.snapshotId}`,
      users: IdMap.from(model.userIds),
      items: IdMap.from(model.itemIds),
      interactions: interactionsFrom({ user: users, item: items }),
      itemMeta,
    });
    const space = itemSpaceFromTrain(ds, { dim: this.config.factors, seed: this.config.seed });
    this.bindSpace(model, catalogue, space);
  }

  /**
   * Erasure: `model` is the bound snapshot with user row `row` scrubbed. The item space fitted at
   * the last bind is kept (item-side state, which an erasure does not refit: docs/privacy.md) and
   * the user's vector is set to 0, which is what a refit gives a user with no items (its right-hand
   * side is 0); the agent is rebuilt on it with its learned state, as `bind` does for the same
   * item list, without the fit that makes `bind` take seconds. Anything else (a warm agent, no
   * earlier cold bind, another item or user list) takes the full `bind`.
   */
  bindErased(model: ServedModel, catalogue: (id: string) => Record<string, unknown> | undefined, row: number): void {
    const space = this.space;
    const nUsers = model.userIds.length;
    const sameItems = this.itemIds.length === model.itemIds.length && this.itemIds.every((id, i) => id === model.itemIds[i]);
    if (this.config.warm || !space || !this.agent || !sameItems || row < 0 || row >= nUsers || space.userVectors.length !== nUsers * this.config.factors) {
      return this.bind(model, catalogue);
    }
    const d = this.config.factors;
    const userVectors = space.userVectors.slice();
    userVectors.fill(0, row * d, (row + 1) * d);
    this.bindSpace(model, catalogue, { items: space.items, userVectors });
  }

  /** `bind`'s second half: the agent rebuilt on `space` (its learned state carried over when the item list is the same). */
  private bindSpace(model: ServedModel, catalogue: (id: string) => Record<string, unknown> | undefined, space: ReturnType<typeof itemSpaceFromTrain>): void {
    const nItems = model.itemIds.length;
    const nUsers = model.userIds.length;
    this.space = space;
    // A TeamContext is an AgentContext; the team also reads titles (its explanations) and joins
    // the served recommender as an extra agent. Plain agents ignore those fields.
    const ctx: TeamContext = {
      titles: titlesOf(model.itemIds, catalogue),
      extras: [recommenderScorer(model.rec.kind, model.rec)],
      items: space.items,
      userVectors: space.userVectors,
      nUsers,
      // The users' snapshot items (scrubbed rows are empty): the content agent's train profile.
      trainHistory: { rows: nUsers, indptr: model.seenIndptr, indices: model.seenIndices },
      slateSize: this.config.slateSize,
      horizon: this.config.horizon,
      scoreUser: (u, out) => void model.rec.scoreAll(u >= 0 && u < nUsers ? u : { items: new Int32Array(0) }, out),
    };
    // Carry the learned state over when the item space is the same list of items; otherwise start fresh.
    const prev = this.agent;
    const same = prev !== null && this.itemIds.length === nItems && this.itemIds.every((id, i) => id === model.itemIds[i]);
    this.ctx = ctx;
    this.agent = createAgent(this.config.agent, ctx, this.config.config);
    if (prev && same) this.agent.load(prev.toJSON() as SavedAgent);
    else if (prev) this.log(`${this.name}: snapshot ${model.snapshotId} has another item list; the agent starts afresh`);
    this.agent.setTraining(true);
    this.adopt(model, same);
  }

  /**
   * Makes `model` the bound snapshot. Unless `keepPending` (the same item list as before, or a warm
   * agent: its pending steps are in its own space), pending steps (they hold indices of the old
   * list) and the acted snapshots (they belong to the old agent) are dropped.
   */
  private adopt(model: ServedModel, keepPending: boolean): void {
    if (!keepPending) {
      this.steps.clear();
      this.snaps = new Set();
    }
    this.snaps.add(model.snapshotId);
    this.snap = model.snapshotId;
    this.itemIds = model.itemIds;
    this.model = model;
  }

  /**
   * A warm agent keeps its own item space and what it learned in it, whatever the snapshot: only
   * the bridge between the snapshot's indices and the agent's is rebuilt. The served recommender
   * reaches the agent (greedy-als's scorer, the team's extra member) through that bridge. Pending
   * steps are kept: they are in the agent's space, and feedback still reaches them whatever the
   * snapshot their decision was made under.
   */
  private bindWarm(model: ServedModel, catalogue: (id: string) => Record<string, unknown> | undefined, warm: WarmAgent): void {
    const map = new AgentSpaceMap(model, warm.space);
    this.map = map;
    this.model = model;
    this.maps.delete(model.snapshotId); // re-inserted last: the order is the order of binding
    this.maps.set(model.snapshotId, map);
    while (this.maps.size > EARLIER_MAPS_KEPT + 1) this.maps.delete(this.maps.keys().next().value as string);
    if (!this.agent) {
      const { space } = warm;
      const scratch = new Float32Array(space.items.nItems);
      const ctx: TeamContext = {
        items: space.items,
        ...(space.userVectors ? { userVectors: space.userVectors } : {}),
        nUsers: space.userIds.length,
        slateSize: space.slateSize,
        horizon: space.horizon,
        titles: titlesOf(space.itemIds, catalogue),
        extras: [
          {
            name: model.rec.kind,
            scoreUser: (u, history, out) => this.map!.scoreInAgentSpace(this.model!.rec, u, history, out),
          },
        ],
      };
      // The served recommender stands in for the myopic scorer the agent learned with, if it had one.
      if (space.scorer !== false) {
        ctx.scoreUser = (u, out) => {
          this.map!.scoreInAgentSpace(this.model!.rec, u, null, scratch);
          out.set(scratch);
        };
      }
      this.ctx = ctx;
      this.agent = restoreAgent(warm.agent, ctx);
      this.agent.setTraining(true);
    }
    this.log(`${this.name}: serving ${warm.file} warm; the agent knows ${map.shared} of snapshot ${model.snapshotId}'s ${model.itemIds.length} items (${warm.space.itemIds.length} in its space)`);
    this.adopt(model, true);
  }

  choose(input: PolicyInput): Choice {
    const agent = this.served;
    const map = this.map;
    const nItems = this.itemIds.length;
    const agentItems = this.ctx!.items.nItems;
    hashInto(input.context ?? null, this.contextBuf, 0, CONTEXT_DIMS);
    const session = input.session;
    const t = this.steps.nextStep(session, input.user, input.ts);
    const context = Float32Array.from(this.contextBuf);
    // The agent sees the request in its own space (a warm agent's may differ from the snapshot's).
    const obs: Observation = map
      ? { user: map.agentUser(input.userIndex), history: map.agentItems(input.history), t, context }
      : { user: input.userIndex, history: input.history, t, context };
    const { mask, allowed } = input;
    const agentMask = map ? map.agentMask(mask) : mask;
    const agentAllowed = map && allowed ? map.agentItems(allowed) : allowed;
    const want = input.mode === 'single' ? input.candidates.length : input.k;
    let ask: number;
    let options: ActOptions | undefined;
    if (this.honoursOptions) {
      // The agent keeps to what the request may show, so its slate is shown as it is, with its
      // own (exact or estimated) propensities.
      options = { exclude: agentMask, candidates: agentAllowed };
      ask = agentAllowed && agentAllowed.length === 0 ? 0 : want;
    } else {
      // A plug-in agent's slate is filtered here. Agents never show history items, so only blocked
      // items outside the history can cost it a position: asking for k + those guarantees k that
      // may be shown. With a candidate filter it ranks everything and the filter keeps its order.
      let blocked = 0;
      for (let i = 0; i < agentItems; i++) blocked += agentMask[i]!;
      const blockedSeen = new Set<number>();
      for (const i of obs.history) if (i >= 0 && i < agentItems && agentMask[i]) blockedSeen.add(i);
      blocked -= blockedSeen.size;
      ask = agentAllowed ? (agentAllowed.length > 0 ? agentItems : 0) : Math.min(agentItems, want + blocked);
      options = agentAllowed ? { candidates: agentAllowed } : undefined;
    }
    const slate: Slate = ask > 0 ? agent.act(obs, ask, options) : { items: new Int32Array(0) };
    // The slate in the snapshot's indices (the same object without a warm agent).
    const shown = map ? map.modelSlate(slate) : slate;
    const allowedSet = allowed ? new Set(allowed) : null;
    const byIndex = new Map<number, number>();
    input.candidates.forEach((c, p) => c.index >= 0 && byIndex.set(c.index, p));
    const chosen: Choice['items'] = [];
    const scores: number[] = [];
    const props: number[] = [];
    const explanations: Explanation[] = [];
    const taken = new Set<number>();
    const epsilon = this.epsilon;
    const explain = (cand: number, source: 'agent' | 'fill', score: number | null, propensity: number): Explanation => {
      const c = cand >= 0 ? input.candidates[cand] : undefined;
      const rs = c && Number.isFinite(c.recScore) ? c.recScore : null;
      return {
        policy: this.name,
        recommender: { kind: input.model.rec.kind, score: rs, normalized: 0 },
        agent: { name: agent.name, score, source },
        exploration: { epsilon, explored: false, propensity },
      };
    };
    for (let p = 0; p < shown.items.length && chosen.length < want; p++) {
      const i = shown.items[p]!;
      if (i < 0 || i >= nItems || mask[i] || taken.has(i) || (allowedSet && !allowedSet.has(i))) continue;
      taken.add(i);
      const cand = byIndex.get(i) ?? -1;
      const score = slate.scores ? slate.scores[p]! : null;
      // Every registry agent gives its propensities (the served ones that estimate them are made to, see the constructor).
      const prop = slate.propensities ? slate.propensities[p]! : 1;
      chosen.push({ candidate: cand, index: i, id: this.itemIds[i]! });
      // Without agent scores the slate order is the score: 1 for the first position, 1/2 for the next …
      scores.push(score ?? 1 / chosen.length);
      props.push(prop);
      explanations.push(explain(cand, 'agent', score, prop));
    }
    // Top up from the candidate order (the filter's list, cold items) when the agent's slate ran
    // short. A fill is a deterministic function of the agent's slate: it happens only when the
    // agent had no more showable items to give (how many it can give does not depend on its draw:
    // the showable part of the catalogue or of the filter, or its fixed-size candidate set). So
    // given the positions before it a fill position has probability 1, exactly.
    for (let c = 0; c < input.candidates.length && chosen.length < want; c++) {
      const cd = input.candidates[c]!;
      if (cd.index >= 0 && (mask[cd.index] || taken.has(cd.index))) continue;
      if (cd.index >= 0) taken.add(cd.index);
      chosen.push({ candidate: c, index: cd.index, id: cd.id });
      scores.push(0);
      props.push(1);
      explanations.push(explain(c, 'fill', null, 1));
    }
    // Agents that can explain a slate (the team: per-member contributions and evidence) do so
    // for the items they chose.
    const explainer = agent as Partial<ExplainingAgent>;
    if (typeof explainer.explain === 'function') {
      const own = chosen.flatMap((x, q) => (explanations[q]!.agent!.source === 'agent' ? [q] : []));
      if (own.length > 0) {
        // Explain the agent's own slate object: the team then reports the contributions it scored
        // when acting (re-scoring would see the exposure counts that act() has just updated).
        const ex = explainer.explain(obs, slate);
        const byItem = new Map<number, (typeof ex)[number]>();
        ex.forEach((x, p) => byItem.set(shown.items[p]!, x));
        for (const q of own) {
          const x = byItem.get(chosen[q]!.index);
          if (x) Object.assign(explanations[q]!.agent!, { contributions: x.contributions, evidence: x.evidence });
        }
      }
    }
    // What the agent learns from: its own propensities, before Personalizer's view below replaces them.
    const stepProps = props.slice();
    if (input.mode === 'single') {
      // Personalizer: each action's probability of having been the pick; the agent's choice is the pick.
      for (let q = 1; q < props.length; q++) props[q] = 0;
      for (let q = 0; q < explanations.length; q++) explanations[q]!.exploration.propensity = props[q]!;
    }
    const history = Array.from(input.history.subarray(Math.max(0, input.history.length - this.config.historyKept)));
    const payload: AgentPayload = {
      agent: this.config.agent,
      snap: this.snap,
      user: input.userIndex,
      history,
      ctx: Array.from(context),
      items: chosen.map((x) => x.index),
      id: input.eventId,
      session,
      who: input.user,
      t,
      ts: input.ts,
      props: stepProps,
    };
    const step = this.stepOf(payload, input.eventId);
    step.acted = slate;
    this.steps.add(step);
    // Transitions that the new step completed are learned in the background loop (endDecision,
    // learn, flush); only if that loop does not come for long are they learned here.
    if (this.steps.readyCount > 256) this.drain();
    return { items: chosen, scores, propensities: props, explanations, payload };
  }

  /**
   * Adds `reward` to the shown position's part of its decision's transition. Nothing is learned
   * yet — the agent learns the transition once the decision's reward window closed and its
   * session's next decision (or end) is known — so this returns whether any transition was
   * learned now: with no reward windows (no `endDecision` seen yet), a decision without a
   * session is learned at its first reward.
   */
  learn(payload: unknown, position: number, reward: number): boolean {
    const p = this.payloadOf(payload);
    if (!p) return false;
    const id = p.id ?? `legacy:${this.legacy++}`;
    if (this.steps.wasEmitted(id)) return this.drain() > 0; // feedback after its step was learned: too late
    let step = this.steps.get(id);
    if (!step) {
      const rebuilt = this.rebuild(p.id ? p : { ...p, session: null }, id);
      if (!rebuilt) return this.drain() > 0;
      this.steps.add((step = rebuilt));
    }
    const q = step.positions.indexOf(position);
    if (q >= 0) this.steps.reward(step, q, reward);
    if (!p.id) this.steps.emitNow(step); // an old decision: its reward is its transition, as before sessions
    return this.drain() > 0;
  }

  /** The decision's reward window closed: its transition is learned once its next state is known. Returns the transitions learned now. */
  endDecision(payload: unknown): number {
    const p = this.payloadOf(payload);
    if (p?.id !== undefined && !this.steps.wasEmitted(p.id)) {
      const step = this.steps.get(p.id) ?? this.rebuild(p, p.id);
      if (step) {
        if (!this.steps.has(p.id)) this.steps.add(step);
        this.steps.end(step);
      }
    }
    return this.drain();
  }

  /** End a session now (an explicit logout, a client's "session over"): its last step becomes terminal. Returns the transitions learned now. */
  endSession(session: string): number {
    this.steps.endSession(session);
    return this.drain();
  }

  flush(): void {
    this.drain();
    if (!this.pendingUpdate || !this.agent) return;
    this.pendingUpdate = false;
    this.agent.update();
  }

  weights(): PolicyWeights {
    return { policy: this.name, recommender: 0, bandit: 0, exploration: this.epsilon, updates: this.n };
  }

  /** A checkpoint. Transitions already complete are learned first: they are not part of the saved steps. */
  /** Erasure: the user's open sessions and pending steps (./agent-sessions.ts). */
  forgetUser(user: string): number {
    return this.steps.forgetUser(user);
  }

  getState(): { policy: string; snap: string; n: number; agent: SavedAgent; sessions: SessionStepsState; space?: string } {
    this.drain();
    const state = { policy: this.name, snap: this.snap, n: this.n, agent: this.served.toJSON() as SavedAgent, sessions: this.steps.getState() };
    return this.spaceKey !== undefined ? { ...state, space: this.spaceKey } : state;
  }

  /**
   * Restore a checkpoint. An agent learned in the snapshot's space needs the checkpoint's snapshot;
   * a warm agent's checkpoint fits whatever the snapshot (it learned in its own space), but only
   * the agent of the same file: its key covers the saved agent and its item list, so a new
   * `--policy-file` (retrained, same items) starts from the file, not from the old checkpoint.
   * Which of the two a warm agent starts from is logged.
   */
  setState(state: unknown): boolean {
    const s = state as { policy?: string; snap?: string; n?: number; agent?: SavedAgent; sessions?: SessionStepsState; space?: string };
    if (s.policy !== this.name || !s.agent || !this.ctx) return false;
    const warm = this.config.warm;
    if (warm) {
      if (s.space !== this.spaceKey) {
        this.log(`${this.name}: the checkpoint was saved serving another agent file (or item list); starting from ${warm.file}`);
        return false;
      }
    } else if (s.snap !== this.snap || s.space !== undefined) return false;
    try {
      const a = restoreAgent(s.agent, this.ctx);
      a.setTraining(true);
      this.agent = a;
    } catch (e) {
      this.log(`${this.name}: checkpoint does not fit (${(e as Error).message}); relearning from the log`);
      return false;
    }
    this.n = s.n ?? 0;
    if (s.sessions) this.steps.setState(s.sessions);
    if (warm) this.log(`${this.name}: resuming from the checkpoint of ${warm.file} (${this.n} transitions learned while served)`);
    return true;
  }

  /** Observe the transitions that became ready; returns how many the agent used. */
  private drain(): number {
    const ready = this.steps.take();
    if (ready.length === 0 || !this.agent) return 0;
    let used = 0;
    for (const t of ready) if (this.agent.observe(t) !== false) used++;
    this.n += used;
    this.pendingUpdate = true;
    return used;
  }

  /**
   * A logged payload of the served agent whose indices can still be read, or null: made under a
   * snapshot with the current item list (a warm agent: a snapshot whose bridge is kept), or — a
   * warm agent — a decision still pending, whose step is in the agent's space already.
   */
  private payloadOf(payload: unknown): AgentPayload | null {
    const p = payload as Partial<AgentPayload> | null;
    if (!this.agent || !p || p.agent !== this.config.agent || typeof p.snap !== 'string' || !Array.isArray(p.items) || !Array.isArray(p.history)) return null;
    const known = this.config.warm ? this.maps.has(p.snap) || (typeof p.id === 'string' && this.steps.has(p.id)) : this.snaps.has(p.snap);
    return known ? (p as AgentPayload) : null;
  }

  /** The step of a decision no longer pending, rebuilt from its payload (null: a warm agent without its snapshot's bridge). */
  private rebuild(p: AgentPayload, id: string): Step | null {
    if (this.config.warm && !this.maps.has(p.snap)) return null;
    return this.stepOf(p, id);
  }

  /** A decision's step, from its payload: the shown positions inside the agent's item space, in slate order. */
  private stepOf(p: AgentPayload, id: string): Step {
    const items: number[] = [];
    const positions: number[] = [];
    const props: number[] = [];
    // Payloads hold their snapshot's indices; a warm agent learns in its own, through that snapshot's bridge.
    const map = this.config.warm ? (this.maps.get(p.snap) ?? null) : null;
    p.items.forEach((m, q) => {
      const i = map ? (m >= 0 && m < map.toAgentItem.length ? map.toAgentItem[m]! : -1) : m;
      if (i < 0) return;
      items.push(i);
      positions.push(q);
      props.push(p.props?.[q] ?? NaN);
    });
    const obs: Observation = {
      user: map ? map.agentUser(p.user ?? -1) : (p.user ?? -1),
      history: map ? map.agentItems(p.history) : Int32Array.from(p.history),
      t: p.t ?? 0,
      context: Float32Array.from(p.ctx ?? []),
    };
    return {
      id,
      session: p.session ?? null,
      who: p.who ?? null,
      t: p.t ?? 0,
      ts: p.ts ?? 0,
      obs,
      items: Int32Array.from(items),
      positions: Int32Array.from(positions),
      // Decisions logged before propensities were kept in the payload have none: the agent then assumes its own.
      propensities: p.props ? Float32Array.from(props) : null,
      rewards: new Float32Array(items.length),
      learned: 0,
      ended: false,
      acted: null,
    };
  }
}

/** Each item's catalogue title, or its id where the catalogue has none (the team's explanations name items by it). */
function titlesOf(ids: readonly string[], catalogue: (id: string) => Record<string, unknown> | undefined): string[] {
  return ids.map((id) => {
    const t = catalogue(id)?.title;
    return typeof t === 'string' ? t : id;
  });
}

/**
 * A warm agent's checkpoint key: sha256 over its file's saved agent document (as read) and its
 * full item list. Two files of the same kind and items but other learned parameters (an agent
 * retrained on a newer log) get other keys.
 */
function warmKey(warm: WarmAgent): string {
  return createHash('sha256').update(warm.agentSha256).update('\n').update(JSON.stringify(warm.space.itemIds)).digest('hex');
}
