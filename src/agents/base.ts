/**
 * Plumbing shared by the agents: seeded generator, train/eval mode, save/load through
 * `toJSON()` + `load()`, and slate helpers that skip items already in the user's history.
 */
import type { Observation, Slate } from '../env/types.js';
import { ModelStateError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { topK } from '../util/topk.js';
import { exploreSlate } from './explore.js';
import type { ActOptions, Agent, Transition } from './types.js';
import type { AgentContext } from './state.js';

export interface SavedAgent {
  kind: string;
  version: number;
  config: unknown;
  state: unknown;
}

/** An agent the registry can restore and the runner can switch between training and evaluation. */
export interface ManagedAgent extends Agent {
  /** In evaluation mode an agent stops exploring where it can (ε → 0, posterior mean …). */
  setTraining(on: boolean): void;
  /** Restore from `toJSON()` output (kind and version are checked). */
  load(saved: SavedAgent): void;
}

export interface SeededConfig {
  seed: number;
}

export abstract class BaseAgent<C extends SeededConfig> implements ManagedAgent {
  abstract readonly name: string;
  /** Bump when the saved state layout changes. */
  abstract readonly version: number;
  readonly config: Readonly<C>;
  protected readonly ctx: AgentContext;
  protected rng: Rng;
  protected training = true;
  /** Scratch: item mask (history items are never re-recommended). */
  private readonly mask: Uint8Array;

  constructor(ctx: AgentContext, config: C) {
    this.ctx = ctx;
    this.config = Object.freeze({ ...config });
    this.rng = new Rng(config.seed);
    this.mask = new Uint8Array(ctx.items.nItems);
  }

  setTraining(on: boolean): void {
    this.training = on;
  }

  abstract act(observation: Observation, k: number, options?: ActOptions): Slate;

  /** Agents that do not learn use nothing (see `Agent.observe`). */
  observe(_transition: Transition): boolean | void {
    return false;
  }

  update(): void {}

  protected getState(): Record<string, unknown> {
    return {};
  }

  protected setState(_state: Record<string, unknown>): void {}

  toJSON(): SavedAgent {
    return { kind: this.name, version: this.version, config: { ...this.config }, state: { rng: this.rng.getState(), training: this.training, ...this.getState() } };
  }

  load(saved: SavedAgent): void {
    if (saved.kind !== this.name) throw new ModelStateError(`saved agent is "${saved.kind}", not "${this.name}"`, 'E_MODEL_KIND');
    if (saved.version !== this.version) {
      throw new ModelStateError(`${this.name} agent file format v${saved.version} is not supported (this build reads v${this.version})`, 'E_MODEL_VERSION');
    }
    const s = saved.state as Record<string, unknown>;
    this.rng.setState(s.rng as number[]);
    this.training = s.training as boolean;
    this.setState(s);
  }

  /**
   * Top-k items by `scores`, skipping the observation's history and what `options` rules out;
   * propensity 1 (a deterministic choice).
   */
  protected greedySlate(scores: Float32Array | Float64Array, obs: Observation, k: number, options?: ActOptions): Slate {
    const top = topK(scores, k, this.markBlocked(obs, options), options?.candidates);
    this.unmarkBlocked(obs, options);
    return { items: top.items, scores: top.scores, propensities: new Float32Array(top.items.length).fill(1) };
  }

  /**
   * The scratch mask with 1 on every item a slate may not show: the history and `options.exclude`.
   * Call `unmarkBlocked` with the same arguments before the next use.
   */
  protected markBlocked(obs: Observation, options?: ActOptions): Uint8Array {
    const m = this.mask;
    const ex = options?.exclude;
    if (ex) m.set(ex.length > m.length ? ex.subarray(0, m.length) : ex);
    const h = obs.history;
    for (let a = 0; a < h.length; a++) if (h[a]! >= 0 && h[a]! < m.length) m[h[a]!] = 1;
    return m;
  }

  protected unmarkBlocked(obs: Observation, options?: ActOptions): void {
    const m = this.mask;
    if (options?.exclude) m.fill(0);
    else {
      const h = obs.history;
      for (let a = 0; a < h.length; a++) if (h[a]! >= 0 && h[a]! < m.length) m[h[a]!] = 0;
    }
  }

  /** The items a slate may show (the candidates when restricted, else the catalogue) minus the blocked ones, in order. */
  protected showable(obs: Observation, options?: ActOptions): Int32Array {
    const m = this.markBlocked(obs, options);
    const out: number[] = [];
    const c = options?.candidates;
    if (c) {
      // Marked as taken so that a repeated candidate counts once; unmarked below.
      for (const i of c) if (i >= 0 && i < m.length && !m[i]) (out.push(i), (m[i] = 1));
      for (const i of out) m[i] = 0;
    } else for (let i = 0; i < m.length; i++) if (!m[i]) out.push(i);
    this.unmarkBlocked(obs, options);
    return Int32Array.from(out);
  }

  /** How many items a slate may show (see `showable`), without listing them when nothing restricts. */
  protected showableCount(obs: Observation, options?: ActOptions): number {
    if (options?.candidates) return this.showable(obs, options).length;
    const m = this.markBlocked(obs, options);
    let blocked = 0;
    for (let i = 0; i < m.length; i++) blocked += m[i]!;
    this.unmarkBlocked(obs, options);
    return m.length - blocked;
  }

  /**
   * ε-greedy exploration of a greedy slate in place, position by position, with exact propensities
   * (./explore.ts). A random draw is uniform over the showable items outside the current slate (the
   * greedy items at every position included), so given the positions before it a position holds its
   * greedy item with probability exactly 1 − ε and any one other showable item with ε / spare. With
   * a tiny catalogue there may be no spare item: then nothing is random, propensity 1. Without
   * restrictions the draw is over the whole catalogue, by rejection (the simulator's streams depend
   * on it); with them, over the showable items. ε = 0 uses no random number.
   */
  protected exploreGreedy(obs: Observation, eps: number, items: Int32Array, propensities: Float32Array, options?: ActOptions): void {
    const restricted = options?.candidates !== undefined || options?.exclude !== undefined;
    const pool = eps > 0 && restricted ? this.showable(obs, options) : null;
    const spare = eps > 0 ? (pool ? pool.length : this.showableCount(obs)) - items.length : 0;
    const nI = this.ctx.items.nItems;
    exploreSlate(this.rng, eps, items, propensities, spare, () => {
      let i: number;
      if (pool) {
        do i = pool[this.rng.int(pool.length)]!;
        while (items.includes(i));
      } else {
        do i = this.rng.int(nI);
        while (this.inHistory(obs, i) || items.includes(i));
      }
      return i;
    });
  }

  /** Is item `i` in the observation's history? (histories are short, so a scan is cheapest). */
  protected inHistory(obs: Observation, i: number): boolean {
    const h = obs.history;
    for (let a = 0; a < h.length; a++) if (h[a] === i) return true;
    return false;
  }
}

/**
 * Per-position reward attribution used by the item-level bandits: the position's own reward when
 * the transition has per-position rewards, else the step reward shared by the clicked position(s).
 */
export function clickedReward(t: Transition, position: number): number {
  if (t.rewards) return t.rewards[position] ?? 0;
  const c = t.clicks;
  if (!c) return 0;
  let n = 0;
  for (let p = 0; p < c.length; p++) n += c[p]!;
  return c[position] ? t.reward / Math.max(1, n) : 0;
}
