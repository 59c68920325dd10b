import type { Observation, Slate } from '../env/types.js';
import { Rng } from '../util/rng.js';
import { BaseAgent, type SeededConfig } from './base.js';
import { lazyPropensities } from './propensity.js';
import { CategorySlater, TabularStateAbstraction, type AgentContext, type TabularConfig } from './state.js';
import type { ActOptions, Transition } from './types.js';

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

  /** The probability `choose(s, ε)` gives each action: ε/|A| plus (1 − ε) shared by the tied best. */
  probabilities(s: number, epsilon: number, out: Float64Array = new Float64Array(this.nActions)): Float64Array {
    const o = s * this.nActions;
    const best = this.max(s);
    let nBest = 0;
    for (let a = 0; a < this.nActions; a++) if (this.q[o + a] === best) nBest++;
    for (let a = 0; a < this.nActions; a++) out[a] = epsilon / this.nActions + (this.q[o + a] === best ? (1 - epsilon) / nBest : 0);
    return out;
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

/**
 * Exact propensity of each shown position given the positions before it, when action b (drawn
 * with probability pi[b]) would have shown slates[b]. Several actions can lead to the same items
 * (an item carries several genres; "any genre" overlaps them all), so position p's propensity is
 * the mass of the actions whose slate starts with the shown items up to p, divided by that of the
 * actions whose slate starts with the shown items before p.
 */
function prefixPropensities(shown: Int32Array, slates: readonly Int32Array[], pi: Float64Array): Float32Array {
  const props = new Float32Array(shown.length).fill(1);
  let before = 1;
  const alive = new Uint8Array(pi.length).fill(1);
  for (let p = 0; p < shown.length; p++) {
    let mass = 0;
    for (let b = 0; b < pi.length; b++) {
      if (alive[b] && slates[b]![p] !== shown[p]) alive[b] = 0;
      if (alive[b]) mass += pi[b]!;
    }
    props[p] = before > 0 ? Math.min(1, mass / before) : 1;
    before = mass;
  }
  return props;
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
 * user's recent items). Propensity of a position = the probability, given the positions before
 * it, that the ε-greedy action draw led to its item (exact; see `propensities`).
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

  /**
   * The action behind a transition's slate: remembered when this agent acted it (looked up by the
   * acted slate's item array), else inferred from the shown items: the action whose slate for the
   * observation shares most of them (ties: the lower action). A server's transitions carry a
   * filtered copy or come back after a restart, and must still reach the table.
   */
  protected actionFor(t: Transition): number | undefined {
    const known = this.actionOf.get((t.acted ?? t.slate).items);
    return known ?? this.inferAction(t.observation, t.slate.items);
  }

  /** The action whose slate for `obs` shares most items with `shown`; undefined when none shares any. */
  protected inferAction(obs: Observation, shown: Int32Array): number | undefined {
    if (shown.length === 0) return undefined;
    const slates = this.slater.fillAll(obs, shown.length);
    let best: number | undefined;
    let bestOverlap = 0;
    slates.forEach((sl, a) => {
      let overlap = 0;
      for (let q = 0; q < sl.length; q++) if (shown.includes(sl[q]!)) overlap++;
      if (overlap > bestOverlap) (bestOverlap = overlap), (best = a);
    });
    return best;
  }

  protected chooseAction(s: number): number {
    return this.table.choose(s, this.training ? this.config.epsilon : 0, this.rng);
  }

  protected slateFor(obs: Observation, a: number, k: number, options?: ActOptions): Slate {
    const items = new Int32Array(k);
    const nA = this.table.nActions;
    this.slater.restrict(options);
    const n = this.slater.fill(obs, a === nA - 1 ? -1 : a, k, items);
    this.slater.restrict();
    const out = n < k ? items.slice(0, n) : items;
    this.actionOf.set(out, a);
    const slate: Slate = { items: out };
    const pi = this.table.probabilities(this.abstraction.index(obs), this.training ? this.config.epsilon : 0);
    if (pi.includes(1) || out.length === 0) slate.propensities = new Float32Array(out.length).fill(1); // one certain action
    else {
      // Exact, but it costs every action's slate: computed when first read (with this act's
      // observation, action probabilities and restrictions), so the simulator does not pay.
      const seen = { user: obs.user, history: Int32Array.from(obs.history), t: obs.t };
      const opts: ActOptions | undefined = options && { candidates: options.candidates && Int32Array.from(options.candidates), exclude: options.exclude && Uint8Array.from(options.exclude) };
      lazyPropensities(slate, () => {
        this.slater.restrict(opts);
        const slates = this.slater.fillAll(seen, out.length);
        this.slater.restrict();
        return prefixPropensities(out, slates, pi);
      });
    }
    return slate;
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

  act(obs: Observation, k: number, options?: ActOptions): Slate {
    return this.slateFor(obs, this.chooseAction(this.abstraction.index(obs)), k, options);
  }

  override observe(t: Transition): boolean {
    if (!this.training) return false;
    const a = this.actionFor(t);
    if (a === undefined) return false;
    const s = this.abstraction.index(t.observation);
    const s2 = this.abstraction.index(t.next);
    this.table.learnQ(s, a, t.reward, s2, t.done, this.config.gamma, this.config.lr);
    return true;
  }
}
