/**
 * Exact slate distributions of the agents whose draw has a closed form, for off-policy evaluation
 * (src/ope/sim-study.ts): what a logging or target policy would show for one observation, as
 * probabilities of whole ordered slates and of each slot's item. Agents expose them through
 * `Agent.slateDistribution`; those whose draw has no closed form (Thompson sampling's posterior
 * draw, DDPG's noise, softmax policies over a randomly drawn candidate set) leave it out.
 */
import type { SlateDistribution, SlotSupport } from './types.js';

/** A deterministic ranker: slot j shows `mode[j]` with probability 1. */
export class DeterministicSlate implements SlateDistribution {
  constructor(readonly mode: Int32Array) {}

  slateProbability(items: ArrayLike<number>): number {
    if (items.length !== this.mode.length) return 0;
    for (let p = 0; p < items.length; p++) if (items[p] !== this.mode[p]) return 0;
    return 1;
  }

  slotProbability(slot: number, item: number): number {
    return slot < this.mode.length && this.mode[slot] === item ? 1 : 0;
  }

  support(slot: number): SlotSupport {
    const has = slot < this.mode.length;
    return { items: has ? Int32Array.of(this.mode[slot]!) : new Int32Array(0), probs: has ? Float64Array.of(1) : new Float64Array(0), restProbability: 0, restCount: 0 };
  }
}

/**
 * The ε-greedy slate of src/agents/explore.ts: the greedy ranking `mode`, each position in turn
 * replaced with probability ε by a uniform draw over the `spare` showable items not in the slate as
 * it stands (the later greedy items included). Given the positions before it a position is its greedy
 * item with probability 1 − ε, any one other eligible item with ε / spare, so a whole slate's
 * probability is that product. A slot's marginal also counts the ways an item can be taken earlier:
 * P(a at j) = ε / spare · (1 − P(a in a slot before j)), and an earlier greedy item g_q can come back
 * at j only after it was replaced at q.
 */
export class EpsilonGreedySlate implements SlateDistribution {
  private readonly rank = new Map<number, number>();

  constructor(
    readonly mode: Int32Array,
    private readonly epsilon: number,
    private readonly spare: number,
    /** Whether item i may be shown at all (not in the history, allowed by the caller's options). */
    private readonly showable: (item: number) => boolean,
  ) {
    mode.forEach((i, p) => this.rank.set(i, p));
  }

  /** No exploration happens (ε = 0, or no item to explore with): the slate is the greedy one. */
  private get fixed(): boolean {
    return !(this.epsilon > 0 && this.spare > 0);
  }

  slateProbability(items: ArrayLike<number>): number {
    const m = this.mode.length;
    if (items.length !== m) return 0;
    let prob = 1;
    for (let p = 0; p < m; p++) {
      const a = items[p]!;
      if (a === this.mode[p]) {
        prob *= this.fixed ? 1 : 1 - this.epsilon;
        continue;
      }
      if (this.fixed || !this.showable(a)) return 0;
      // The draw at p excludes the slate as it stands: the drawn items before p and the greedy
      // items from p on.
      const r = this.rank.get(a);
      if (r !== undefined && r >= p) return 0;
      for (let q = 0; q < p; q++) if (items[q] === a) return 0;
      prob *= this.epsilon / this.spare;
    }
    return prob;
  }

  slotProbability(slot: number, item: number): number {
    if (slot >= this.mode.length) return 0;
    if (item === this.mode[slot]) return this.fixed ? 1 : 1 - this.epsilon;
    if (this.fixed) return 0;
    const r = this.rank.get(item);
    if (r !== undefined && r > slot) return 0;
    if (r === undefined && !this.showable(item)) return 0;
    return this.marginal(slot, r ?? -1);
  }

  /** P(slot j shows an item whose greedy position is r, −1 for an item outside the greedy slate). */
  private marginal(j: number, r: number): number {
    const e = this.epsilon;
    let before = 0;
    let pq = 0;
    for (let q = 0; q <= j; q++) {
      if (r === q) pq = 1 - e;
      else if (r > q) pq = 0;
      else pq = (e / this.spare) * (1 - before);
      before += pq;
    }
    return pq;
  }

  support(slot: number): SlotSupport {
    if (slot >= this.mode.length) return { items: new Int32Array(0), probs: new Float64Array(0), restProbability: 0, restCount: 0 };
    if (this.fixed) return { items: Int32Array.of(this.mode[slot]!), probs: Float64Array.of(1), restProbability: 0, restCount: 0 };
    const items = this.mode.slice(0, slot + 1);
    const probs = Float64Array.from(items, (_, q) => this.marginal(slot, q));
    return { items, probs, restProbability: this.marginal(slot, -1), restCount: this.spare };
  }
}

/**
 * A uniform random slate of `size` distinct items out of `available` showable ones: position p
 * given the positions before it 1 / (available − p), so every slot's marginal is 1 / available.
 */
export class UniformSlate implements SlateDistribution {
  readonly mode: Int32Array;

  constructor(
    private readonly size: number,
    private readonly available: number,
    private readonly showable: (item: number) => boolean,
  ) {
    // No slate is likelier than another; `mode` is empty to say so.
    this.mode = new Int32Array(0);
  }

  slateProbability(items: ArrayLike<number>): number {
    if (items.length !== this.size) return 0;
    let prob = 1;
    for (let p = 0; p < items.length; p++) {
      if (!this.showable(items[p]!)) return 0;
      for (let q = 0; q < p; q++) if (items[q] === items[p]) return 0;
      prob /= this.available - p;
    }
    return prob;
  }

  slotProbability(slot: number, item: number): number {
    return slot < this.size && this.showable(item) ? 1 / this.available : 0;
  }

  support(slot: number): SlotSupport {
    return { items: new Int32Array(0), probs: new Float64Array(0), restProbability: slot < this.size ? 1 / this.available : 0, restCount: slot < this.size ? this.available : 0 };
  }
}
