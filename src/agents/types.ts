import type { Observation, RewardParts, Slate } from '../env/types.js';

export interface Transition {
  observation: Observation;
  /**
   * The shown slate. `slate.propensities`, when given, are the logged probabilities of each shown
   * position (the behaviour policy's, given the positions before it); learners that correct for
   * the behaviour policy use them instead of assuming one.
   */
  slate: Slate;
  reward: number;
  parts?: RewardParts;
  /** Per-position click (1) or not (0). */
  clicks?: Int32Array;
  /**
   * Reward per slate position when it is known (a server logs feedback per shown item; `reward` is
   * then their sum). Per-position credit uses it instead of sharing `reward` among clicked positions.
   */
  rewards?: Float32Array;
  /**
   * The slate object this agent's `act` returned for `observation`, when the shown `slate` is not
   * that object (a server filtered it or topped it up). Agents that remember per-act state (the
   * tabular action, the softmax step) look it up by this object; the shown items are in `slate`.
   */
  acted?: Slate;
  next: Observation;
  done: boolean;
  /**
   * The slate acted at `next`, when it is already known (a server emits a step's transition once
   * the session's next decision exists): on-policy learners (SARSA) take their next action from it.
   */
  nextSlate?: Slate;
}

/**
 * What a caller (a server) may restrict a slate to. Agents treat it like the history: they never
 * show a ruled-out item, and their propensities are those of the draw over what remains. An
 * agent that ignores it (a plug-in) leaves the caller to filter its slate.
 */
export interface ActOptions {
  /** Only these items may be shown (a request's candidate filter). */
  candidates?: Int32Array;
  /** 1 where an item may not be shown (deleted, excluded by the request); one byte per item. */
  exclude?: Uint8Array;
}

/**
 * Slot j's distribution in a `SlateDistribution`: the listed items with their probabilities, and
 * every other showable item (`restCount` of them) with the same `restProbability` each.
 */
export interface SlotSupport {
  items: Int32Array;
  probs: Float64Array;
  restProbability: number;
  restCount: number;
}

/**
 * The exact distribution of the slate an agent shows for one observation, in its current mode
 * (training or evaluation). Off-policy evaluation reads it for the logging and the target policy.
 */
export interface SlateDistribution {
  /** The likeliest slate (the greedy ranking); empty when no slate is likelier than another. */
  readonly mode: Int32Array;
  /** P(the agent shows exactly `items`, in this order). */
  slateProbability(items: ArrayLike<number>): number;
  /** π_j(item): the probability that slot `slot` shows `item` (marginal over the slots before it). */
  slotProbability(slot: number, item: number): number;
  support(slot: number): SlotSupport;
}

/** The `Agent` contract. A multi-agent team (src/marl) is itself an Agent. */
export interface Agent {
  readonly name: string;
  act(observation: Observation, k: number, options?: ActOptions): Slate;
  /**
   * The exact distribution `act` draws from for this observation, without drawing (the agent's
   * random stream is not touched). Only agents whose draw has a closed form have it; off-policy
   * evaluation refuses the others.
   */
  slateDistribution?(observation: Observation, k: number, options?: ActOptions): SlateDistribution;
  /**
   * Learn from (or store for learning) one step. Returns false when the transition was not used
   * (evaluation mode, a slate the agent cannot attribute, an agent that does not learn); true, or
   * nothing (older agents), when it was.
   */
  observe(transition: Transition): boolean | void;
  /** Learn from what was observed (a gradient step, a statistics refresh); may be a no-op. */
  update(): void;
  toJSON(): { kind: string; version: number; config: unknown; state: unknown };
}
