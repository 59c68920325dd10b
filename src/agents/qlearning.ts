import type { Observation, Slate } from '../env/types.js';
import { Rng } from '../util/rng.js';
import { BaseAgent, type SeededConfig } from './base.js';
import { CategorySlater, TabularStateAbstraction, type AgentContext, type TabularConfig } from './state.js';
import type { Transition } from './types.js';

/** A Q table with ε-greedy action choice and the Q-learning / SARSA updates (usable on any small MDP). */
export class TabularQ {
  readonly nStates: number;
  readonly nActions: number;
  q: Float64Array;

  constructor(nStates: number, nActions: number, init = 0) {
    this.nStates = nStates;
    this.nActions = nActions;
    this.q = new Float64Array(nStates * nActions).fill(init);
  }

  /** Greedy action (ties broken uniformly at random) or, with probability ε, a uniform one. */
  choose(s: number, epsilon: number, rng: Rng): number {
    if (epsilon > 0 && rng.next() < epsilon) return rng.int(this.nActions);
    const o = s * this.nActions;
    let best = -Infinity;
    let nBest = 0;
    let pick = 0;
    for (let a = 0; a < this.nActions; a++) {
      const v = this.q[o + a]!;
      if (v > best) (best = v), (nBest = 1), (pick = a);
      else if (v === best && rng.int(++nBest) === 0) pick = a;
    }
    return pick;
  }

  max(s: number): number {
    const o = s * this.nActions;
    let best = -Infinity;
    for (let a = 0; a < this.nActions; a++) best = Math.max(best, this.q[o + a]!);
    return best;
  }

  greedy(s: number): number {
    const o = s * this.nActions;
    let best = 0;
    for (let a = 1; a < this.nActions; a++) if (this.q[o + a]! > this.q[o + best]!) best = a;
    return best;
  }

  /** Q-learning: Q(s,a) += lr·(r + γ·max_a' Q(s',a') − Q(s,a)). */
  learnQ(s: number, a: number, r: number, s2: number, done: boolean, gamma: number, lr: number): void {
    const target = r + (done ? 0 : gamma * this.max(s2));
    this.q[s * this.nActions + a] += lr * (target - this.q[s * this.nActions + a]!);
  }

  /** SARSA: Q(s,a) += lr·(r + γ·Q(s',a') − Q(s,a)), a' the action actually taken next. */
  learnSarsa(s: number, a: number, r: number, s2: number, a2: number, done: boolean, gamma: number, lr: number): void {
    const target = r + (done ? 0 : gamma * this.q[s2 * this.nActions + a2]!);
    this.q[s * this.nActions + a] += lr * (target - this.q[s * this.nActions + a]!);
  }
}

export interface TabularAgentConfig extends SeededConfig {
  epsilon: number;
  /** Learning rate. */
  lr: number;
  /** Discount used for learning. */
  gamma: number;
  /** Initial Q value (optimistic values explore more). */
  init: number;
  state: Partial<TabularConfig>;
}

/**
 * Tabular agent over the documented state abstraction (dominant recent genre × satiation bucket ×
 * step bucket, see `TabularStateAbstraction`). Actions: one per genre plus "any genre"; an
 * action becomes a slate through `CategorySlater` (the best unseen items of that genre for this
 * user's recent items). Propensity of every position = probability of the chosen action.
 */
export abstract class TabularAgent extends BaseAgent<TabularAgentConfig> {
  readonly version = 1;
  protected readonly abstraction: TabularStateAbstraction;
  protected readonly slater: CategorySlater;
  protected table: TabularQ;
  /** Action behind each slate this agent produced (keyed by the slate's item array). */
  protected readonly actionOf = new WeakMap<Int32Array, number>();

  constructor(ctx: AgentContext, config: TabularAgentConfig) {
    super(ctx, config);
    this.abstraction = new TabularStateAbstraction(ctx.items, config.state);
    this.slater = new CategorySlater(ctx.items);
    this.table = new TabularQ(this.abstraction.nStates, ctx.items.categoryNames.length + 1, config.init);
  }

  protected chooseAction(s: number): number {
    return this.table.choose(s, this.training ? this.config.epsilon : 0, this.rng);
  }

  protected slateFor(obs: Observation, a: number, k: number): Slate {
    const items = new Int32Array(k);
    const nA = this.table.nActions;
    const n = this.slater.fill(obs, a === nA - 1 ? -1 : a, k, items);
    const out = n < k ? items.slice(0, n) : items;
    const eps = this.training ? this.config.epsilon : 0;
    const greedy = this.table.greedy(this.abstraction.index(obs)) === a;
    const p = (greedy ? 1 - eps : 0) + eps / nA;
    this.actionOf.set(out, a);
    return { items: out, propensities: new Float32Array(out.length).fill(p) };
  }

  protected override getState(): Record<string, unknown> {
    return { q: this.table.q };
  }

  protected override setState(s: Record<string, unknown>): void {
    this.table.q = s.q as Float64Array;
  }
}

export class QLearningAgent extends TabularAgent {
  readonly name = 'qlearning';

  act(obs: Observation, k: number): Slate {
    return this.slateFor(obs, this.chooseAction(this.abstraction.index(obs)), k);
  }

  override observe(t: Transition): void {
    const a = this.actionOf.get(t.slate.items);
    if (a === undefined || !this.training) return;
    const s = this.abstraction.index(t.observation);
    const s2 = this.abstraction.index(t.next);
    this.table.learnQ(s, a, t.reward, s2, t.done, this.config.gamma, this.config.lr);
  }
}
