/**
 * The `Env` contract (one user session at a time; `VecEnv` steps many sessions in one call).
 * Reward r = R + λ·G + α·A, with the parts reported separately.
 */
export interface RewardParts {
  /** Relevance: clicks, watches, purchases, ratings. */
  R: number;
  /** Exposure value of the shown items (cold and under-exposed items earn more). */
  G: number;
  /** Content attractiveness of the shown items, from embeddings. */
  A: number;
  /**
   * Exposure value of each shown item, by slate position (G is their mean). A live system knows it
   * (it computes G from its own exposure log), so learners may use it for exact credit assignment.
   */
  itemG?: Float32Array;
}

export interface Observation {
  user: number;
  /** Recent items of the session/user, most recent last. */
  history: Int32Array;
  /** Step index inside the session. */
  t: number;
  /** Optional context features. */
  context?: Float32Array;
}

export interface StepInfo {
  clicks: Int32Array;
  purchases: Int32Array;
  /** Rating per clicked item (NaN where none). */
  ratings: Float32Array;
  /** Propensity with which each slate position was chosen by the agent (echoed from the slate). */
  propensities?: Float32Array;
}

export interface StepResult {
  observation: Observation;
  reward: number;
  parts: RewardParts;
  done: boolean;
  info: StepInfo;
}

export interface Slate {
  items: Int32Array;
  /** Probability the policy gave each shown item (for off-policy evaluation). */
  propensities?: Float32Array;
  /** Per-position scores the policy used (optional, for explanations and logging). */
  scores?: Float32Array;
}

export interface Env {
  readonly nItems: number;
  readonly slateSize: number;
  reset(seed: number): Observation;
  step(slate: Slate): StepResult;
}
