/**
 * The one interface the engine serves through. A serving policy turns a request (user state,
 * context, the recommender's candidate pool, what may not be shown) into a slate with a
 * propensity and an explanation per position, and learns from the rewards logged against it.
 * Implementations: `CbPolicy` (the default contextual bandit over namespace features,
 * ./cb-policy.ts), `SlatePolicy` (the recommender's pool re-ranked by a shared LinUCB over hashed
 * buckets with ε-greedy exploration, ./policy.ts) and `AgentPolicy` (any agent of the src/agents
 * registry, or a team, behind the `Agent` contract, ./agent-policy.ts).
 */
import type { ServedModel } from './model.js';

export interface Candidate {
  id: string;
  /** Item index in the active model; -1 for an item the model does not know (cold, or a Personalizer action). */
  index: number;
  /** The recommender's raw score; NaN when it has none (cold item, or no pool was scored). */
  recScore: number;
  /** Hashed into the item block (item attributes or Personalizer action features). */
  features: unknown;
  /** The item's features as the policy prepared them (`hashItem`), used instead of `features` when given. */
  hashed?: unknown;
}

/** The range of the finite recommender scores of a pool (lo > hi when there are none): policies normalise by it. */
export function recScoreRange(cands: readonly Candidate[]): { lo: number; hi: number } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const cd of cands) {
    if (Number.isFinite(cd.recScore)) {
      if (cd.recScore < lo) lo = cd.recScore;
      if (cd.recScore > hi) hi = cd.recScore;
    }
  }
  return { lo, hi };
}

/** Why an item was shown: the recommender's part, the policy's own part, and the exploration draw. */
export interface Explanation {
  /** Which serving policy chose (`linucb-rerank`, or `agent:<name>`). */
  policy: string;
  recommender: { kind: string; score: number | null; normalized: number };
  /** LinUCB re-ranker: mean, confidence bonus, UCB and the learned weight on the recommender. */
  bandit?: { mean: number; bonus: number; ucb: number; recommenderWeight: number };
  /** Agent policy: the agent's own score and where the item came from (its slate, or a fill from the pool). */
  agent?: {
    name: string;
    score: number | null;
    source: 'agent' | 'fill';
    /** A team (or any agent with `explain`): each member agent's contribution to the score. */
    contributions?: Record<string, number>;
    /** … and the evidence behind it ("because you watched …"). */
    evidence?: { agent: string; text: string }[];
  };
  exploration: { epsilon: number; explored: boolean; propensity: number };
}

export interface PolicyInput {
  eventId: string;
  /** External user id; null for the Personalizer API. */
  user: string | null;
  /**
   * The session this request belongs to: the request's `session` field, or one the engine derives
   * from the user and idle time; null for the Personalizer API (each Rank call is its own episode).
   */
  session: string | null;
  /** Unix ms of the request (sessions end after idle time). */
  ts: number;
  /** The user's row in the active model, -1 when the model does not know them. */
  userIndex: number;
  /** Items the user interacted with (training, then online likes), model indices, most recent last. */
  history: Int32Array;
  context: unknown;
  k: number;
  /**
   * `slate`: fill k positions, each with its propensity given the positions before it.
   * `single` (Personalizer Rank): one pick, the rest ordered after it, and every candidate's
   * probability of having been the pick.
   */
  mode: 'slate' | 'single';
  /** The recommender's pool, best first, then cold items (may be empty when the policy asks for no pool). */
  candidates: Candidate[];
  /** Model items that must not be shown (1 = blocked): deleted, excluded, seen when excludeSeen. */
  mask: Uint8Array;
  /** When the request restricts the candidates: the allowed model indices. */
  allowed?: Int32Array;
  model: ServedModel;
}

export interface Choice {
  /** Shown candidates as positions into `input.candidates`, or model item indices for items outside it. */
  items: { candidate: number; index: number; id: string }[];
  scores: number[];
  propensities: number[];
  explanations: Explanation[];
  /** What `learn` needs later; stored (JSON) with the logged decision. */
  payload: unknown;
}

export interface PolicyWeights {
  policy: string;
  /** Learned weight on the recommender's score (LinUCB); 0 when the policy does not use it. */
  recommender: number;
  /** Size of the policy's other learned weights (LinUCB: norm of the rest of θ); 0 when not applicable. */
  bandit: number;
  exploration: number;
  updates: number;
}

export interface ServingPolicy {
  readonly name: string;
  /** Candidate-pool size wanted from the recommender for a slate of k (0: no pool, the policy ranks the catalogue itself). */
  poolSize(k: number): number;
  /** A catalogue item's features, prepared once per item (hashed block, parsed namespaces); opaque to the engine. */
  hashItem(features: unknown): unknown;
  /** A new active model (snapshot): policies with per-item state rebuild or re-align it here. */
  bind(model: ServedModel, catalogue: (id: string) => Record<string, unknown> | undefined): void;
  choose(input: PolicyInput): Choice;
  /** Learn `reward` for the item shown at `position` of a decision that logged `payload`. */
  learn(payload: unknown, position: number, reward: number): boolean;
  /**
   * A logged decision's reward window closed: every shown position has had its `learn` calls (its
   * feedback, or the default reward when none came in time); nothing more will be learned for it.
   * Agents that learn per step (one transition per decision) build the transition here.
   * Returns the number of parameter updates this made (counted in `updates`).
   */
  endDecision?(payload: unknown): number;
  /**
   * Erasure: forget every piece of state kept under this user id (an agent's open sessions and
   * pending steps); returns how many entries went. Shared learned weights are not per user and
   * stay (docs/privacy.md). Policies that keep nothing per user do not implement it.
   */
  forgetUser?(user: string): number;
  /**
   * Erasure: `model` is the bound snapshot with user row `row` scrubbed (same items, same users,
   * that row emptied and its parameters zeroed). Policies whose `bind` is costly re-align only the
   * user side here; without it the engine calls `bind`.
   */
  bindErased?(model: ServedModel, catalogue: (id: string) => Record<string, unknown> | undefined, row: number): void;
  /** After a batch of `learn` calls (agents run `update()` here). */
  flush(): void;
  /** Learning updates actually applied so far (a reward the policy could not use does not count). */
  readonly updates: number;
  weights(): PolicyWeights;
  /** Checkpoint (serialisable with src/util/serialize). */
  getState(): unknown;
  /** Restore a checkpoint; false (and nothing changed) when it does not fit this policy. */
  setState(state: unknown): boolean;
}
