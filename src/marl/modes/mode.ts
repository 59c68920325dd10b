/**
 * The contract of a coordination mode: how the agents' values become the team's scores, what the
 * team's value of an item is, and how the agents (and the mode's own parameters) learn from one
 * transition's per-position TD targets. One module per mode in this folder; `createMode` picks one.
 */
import type { Transition } from '../../agents/types.js';
import type { Observation } from '../../env/types.js';
import type { Rng } from '../../util/rng.js';
import type { TeamContext } from '../context.js';
import type { LinearValue } from '../mixer.js';
import type { JointRls } from '../rls.js';
import type { TeamScores } from '../scores.js';
import type { ActRecord } from '../slate-assembly.js';
import type { Coordination, TeamConfig } from '../team-config.js';
import type { View } from '../views.js';

/** What a mode sees of the team. */
export interface TeamCore {
  readonly config: TeamConfig;
  readonly ctx: TeamContext;
  readonly rng: Rng;
  readonly views: View[];
  readonly values: LinearValue[];
  readonly memberNames: string[];
  readonly m: number;
  readonly scores: TeamScores;
  /** Prior precision per member for the RLS learner; null under `lms`. */
  readonly ridges: number[] | null;
}

/** One transition, decomposed (reward-split.ts), with the team's shown rows evaluated in `scores`. */
export interface LearnStep {
  t: Transition;
  rec: ActRecord | undefined;
  K: number;
  /** Team TD target per position: ρ_p + γ·share_p·V(s'). */
  y: Float64Array;
  /** Per position: the reward stakes (R, λG, αA) of the user, item and content agents. */
  stakes: Float64Array;
  share: Float64Array;
  /** Per agent (independent learners' own bootstraps) and, at index m, the team's V(s') (clipped). */
  vNext: Float64Array;
  /** The team reward r. */
  r: number;
  gamma: number;
}

export interface CoordinationMode {
  readonly name: Coordination;
  /** RLS fitters of the agents' values (learner `rls`); empty when the mode does not use them. */
  readonly rls: JointRls[];
  /**
   * True when training slates are sampled from the fused scores (Plackett–Luce, the actors'
   * policy) rather than ε-greedy, and the learning step re-scores the candidates the team acted on.
   */
  readonly samplesSlates?: boolean;
  /** True when the mode writes the contributions and fused scores itself (scores.ts ScoreMixer). */
  readonly fusesItself?: boolean;
  /** After the agents' own values q1 are in (scores.ts): write q, the weights w and the state term b. */
  mix(obs: Observation, n: number): void;
  /** Team value of evaluated row r (one item). */
  teamValue(r: number): number;
  /**
   * V(s') of the greedy next slate (rows idx[0..kk) of the evaluated next candidates, n of them)
   * into vNext[m], and each agent's share into vNext[0..m).
   */
  nextValue(n: number, idx: Int32Array, kk: number, vNext: Float64Array): void;
  /** Learn from one transition; the agents' value steps are applied by the team afterwards. */
  learn(step: LearnStep): void;
  /** The batch step of `update()` (the item critic's). */
  update(): void;
  /** The mode's own parameters, for distributed learners to average (same order every time). */
  syncParts(): Float64Array[];
  /** The mode's parameters for the saved agent (keys of the team's state). */
  saveState(): Record<string, unknown>;
  loadState(s: Record<string, unknown>): void;
}

/**
 * Per-agent and team value of the next greedy slate for modes whose team value is per item; under
 * SlateQ credit each item's value is weighted by its click probability (sc.p, else 1): V(s') =
 * Σ_j P̂(j)·Q̄(s', j).
 */
export function itemwiseNextValue(mode: Pick<CoordinationMode, 'teamValue'>, sc: TeamScores, idx: Int32Array, kk: number, vNext: Float64Array): void {
  const m = sc.m;
  for (let p = 0; p < kk; p++) {
    const r = idx[p]!;
    const pr = sc.p[r]!;
    vNext[m]! += pr * mode.teamValue(r);
    for (let a = 0; a < m; a++) vNext[a]! += pr * sc.q[r * m + a]!;
  }
}
