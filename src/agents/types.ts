import type { Observation, RewardParts, Slate } from '../env/types.js';

export interface Transition {
  observation: Observation;
  slate: Slate;
  reward: number;
  parts?: RewardParts;
  /** Per-position click (1) or not (0). */
  clicks?: Int32Array;
  next: Observation;
  done: boolean;
}

/** The `Agent` contract. A multi-agent team (src/marl) is itself an Agent. */
export interface Agent {
  readonly name: string;
  act(observation: Observation, k: number): Slate;
  observe(transition: Transition): void;
  /** Learn from what was observed (a gradient step, a statistics refresh); may be a no-op. */
  update(): void;
  toJSON(): { kind: string; version: number; config: unknown; state: unknown };
}
