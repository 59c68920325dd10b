/**
 * Serving any agent of the src/agents registry (and, through the same `Agent` contract, a
 * multi-agent team) behind the `ServingPolicy` interface.
 *
 * The agent acts over the active model's item space: `bind` builds its `AgentContext` from the
 * snapshot (implicit-ALS item vectors and user vectors fitted on the snapshot's training
 * interactions with `itemSpaceFromTrain`, genres from the catalogue's `categories`, training
 * popularity; `greedy-als` scores with the served recommender itself). A request becomes an
 * `Observation` (model user index, the user's items most recent last, context hashed into a few
 * floats); the agent's slate is filtered by what the request may show (deleted, excluded,
 * candidate filter) and topped up from the recommender's candidate order when too short.
 * Feedback becomes a one-step `Transition` (the reward on the clicked position), passed to
 * `observe`; `update` runs once per learning batch, off the request path.
 */
import type { ManagedAgent, SavedAgent } from '../agents/base.js';
import { agentEntry, createAgent, restoreAgent } from '../agents/registry.js';
import { itemSpaceFromTrain, type AgentContext } from '../agents/state.js';
import type { Transition } from '../agents/types.js';
import { Dataset, IdMap, interactionsFrom, type ItemMeta } from '../data/dataset.js';
import type { Observation, Slate } from '../env/types.js';
import { recommenderScorer, type TeamContext } from '../marl/context.js';
// Registers the multi-agent team as agent `team`, so that `--policy team` serves it like any agent.
import '../marl/register.js';
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
}

export const AGENT_POLICY_DEFAULTS: Omit<AgentPolicyConfig, 'agent'> = { config: {}, factors: 16, slateSize: 10, historyKept: 50, seed: 7 };

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
}

const CONTEXT_DIMS = 4;

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
  private itemIds: string[] = [];
  private n = 0;
  private pendingUpdate = false;
  private readonly contextBuf = new Float32Array(CONTEXT_DIMS);
  /** The agent's ε when it has one (shown in explanations and weights). */
  private readonly epsilon: number;
  private readonly log: (msg: string) => void;

  constructor(config: Partial<AgentPolicyConfig> & { agent: string }, log: (msg: string) => void = () => {}) {
    agentEntry(config.agent); // unknown name → UnknownNameError listing the registered agents, at start
    this.config = { ...AGENT_POLICY_DEFAULTS, ...config };
    this.name = `agent:${config.agent}`;
    const eps = ({ ...agentEntry(config.agent).defaults, ...this.config.config } as { epsilon?: unknown }).epsilon;
    this.epsilon = typeof eps === 'number' ? eps : 0;
    this.log = log;
  }

  /** The agent being served (after `bind`). */
  get served(): ManagedAgent {
    if (!this.agent) throw new Error('AgentPolicy.bind() must run before the agent is used');
    return this.agent;
  }

  get updates(): number {
    return this.n;
  }

  poolSize(): number {
    return 0; // the agent ranks the catalogue itself
  }

  hashItem(): Float32Array {
    return new Float32Array(0);
  }

  bind(model: ServedModel, catalogue: (id: string) => Record<string, unknown> | undefined): void {
    const nItems = model.itemIds.length;
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
    // A TeamContext is an AgentContext; the team also reads titles (its explanations) and joins
    // the served recommender as an extra agent. Plain agents ignore those fields.
    const ctx: TeamContext = {
      titles: model.itemIds.map((id) => {
        const t = catalogue(id)?.title;
        return typeof t === 'string' ? t : id;
      }),
      extras: [recommenderScorer(model.rec.kind, model.rec)],
      items: space.items,
      userVectors: space.userVectors,
      nUsers,
      slateSize: this.config.slateSize,
      horizon: 1,
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
    this.snap = model.snapshotId;
    this.itemIds = model.itemIds;
  }

  choose(input: PolicyInput): Choice {
    const agent = this.served;
    const nItems = this.ctx!.items.nItems;
    hashInto(input.context ?? null, this.contextBuf, 0, CONTEXT_DIMS);
    const obs: Observation = { user: input.userIndex, history: input.history, t: 0, context: this.contextBuf };
    const { mask, allowed } = input;
    const want = input.mode === 'single' ? input.candidates.length : input.k;
    // Agents never show history items; asking for k + (blocked items) guarantees k that may be shown.
    // With a candidate filter the agent ranks everything and the filter keeps its order.
    let blocked = 0;
    for (let i = 0; i < nItems; i++) blocked += mask[i]!;
    const ask = allowed ? (allowed.length > 0 ? nItems : 0) : Math.min(nItems, want + blocked);
    const slate = ask > 0 ? agent.act(obs, ask) : { items: new Int32Array(0) };
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
    for (let p = 0; p < slate.items.length && chosen.length < want; p++) {
      const i = slate.items[p]!;
      if (i < 0 || i >= nItems || mask[i] || taken.has(i) || (allowedSet && !allowedSet.has(i))) continue;
      taken.add(i);
      const cand = byIndex.get(i) ?? -1;
      const score = slate.scores ? slate.scores[p]! : null;
      const prop = slate.propensities ? slate.propensities[p]! : 1;
      chosen.push({ candidate: cand, index: i, id: this.itemIds[i]! });
      // Without agent scores the slate order is the score: 1 for the first position, 1/2 for the next …
      scores.push(score ?? 1 / (chosen.length));
      props.push(prop);
      explanations.push(explain(cand, 'agent', score, prop));
    }
    // Top up from the candidate order (the filter's list, cold items) when the agent's slate ran short.
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
        const ex = explainer.explain(obs, slate as Slate);
        const byItem = new Map<number, (typeof ex)[number]>();
        ex.forEach((x, p) => byItem.set(slate.items[p]!, x));
        for (const q of own) {
          const x = byItem.get(chosen[q]!.index);
          if (x) Object.assign(explanations[q]!.agent!, { contributions: x.contributions, evidence: x.evidence });
        }
      }
    }
    if (input.mode === 'single') {
      // Personalizer: each action's probability of having been the pick; the agent's choice is the pick.
      for (let q = 1; q < props.length; q++) props[q] = 0;
      for (let q = 0; q < explanations.length; q++) explanations[q]!.exploration.propensity = props[q]!;
    }
    const payload: AgentPayload = {
      agent: this.config.agent,
      snap: this.snap,
      user: input.userIndex,
      history: Array.from(input.history.subarray(Math.max(0, input.history.length - this.config.historyKept))),
      ctx: Array.from(this.contextBuf),
      items: chosen.map((x) => x.index),
    };
    return { items: chosen, scores, propensities: props, explanations, payload };
  }

  learn(payload: unknown, position: number, reward: number): boolean {
    const p = payload as Partial<AgentPayload> | null;
    // Indices are those of the snapshot the decision was made under; after a switch they mean other items.
    if (!this.agent || !p || p.agent !== this.config.agent || p.snap !== this.snap || !p.items || !p.history) return false;
    // The agent sees the positions it can know (items inside its item space), in slate order.
    const items: number[] = [];
    let at = -1;
    p.items.forEach((i, q) => {
      if (i < 0) return;
      if (q === position) at = items.length;
      items.push(i);
    });
    if (at < 0) return false;
    const history = Int32Array.from(p.history);
    const context = Float32Array.from(p.ctx ?? []);
    const clicks = new Int32Array(items.length);
    clicks[at] = 1;
    const next = new Int32Array(history.length + 1);
    next.set(history);
    next[history.length] = items[at]!;
    const t: Transition = {
      observation: { user: p.user ?? -1, history, t: 0, context },
      slate: { items: Int32Array.from(items) },
      reward,
      clicks,
      next: { user: p.user ?? -1, history: next, t: 1, context },
      done: true,
    };
    this.agent.observe(t);
    this.n++;
    this.pendingUpdate = true;
    return true;
  }

  flush(): void {
    if (!this.pendingUpdate || !this.agent) return;
    this.pendingUpdate = false;
    this.agent.update();
  }

  weights(): PolicyWeights {
    return { policy: this.name, recommender: 0, bandit: 0, exploration: this.epsilon, updates: this.n };
  }

  getState(): { policy: string; snap: string; n: number; agent: SavedAgent } {
    return { policy: this.name, snap: this.snap, n: this.n, agent: this.served.toJSON() as SavedAgent };
  }

  setState(state: unknown): boolean {
    const s = state as { policy?: string; snap?: string; n?: number; agent?: SavedAgent };
    if (s.policy !== this.name || s.snap !== this.snap || !s.agent || !this.ctx) return false;
    try {
      const a = restoreAgent(s.agent, this.ctx);
      a.setTraining(true);
      this.agent = a;
    } catch (e) {
      this.log(`${this.name}: checkpoint does not fit (${(e as Error).message}); relearning from the log`);
      return false;
    }
    this.n = s.n ?? 0;
    return true;
  }
}
