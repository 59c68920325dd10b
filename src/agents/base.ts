/**
 * Plumbing shared by the agents: seeded generator, train/eval mode, save/load through
 * `toJSON()` + `load()`, and slate helpers that skip items already in the user's history.
 */
import type { Observation, Slate } from '../env/types.js';
import { ModelStateError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { topK } from '../util/topk.js';
import type { Agent, Transition } from './types.js';
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

  abstract act(observation: Observation, k: number): Slate;

  observe(_transition: Transition): void {}

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

  /** Top-k items by `scores`, skipping the observation's history; propensity 1 (a deterministic choice). */
  protected greedySlate(scores: Float32Array | Float64Array, obs: Observation, k: number, candidates?: Int32Array): Slate {
    const h = obs.history;
    for (let a = 0; a < h.length; a++) if (h[a]! >= 0) this.mask[h[a]!] = 1;
    const top = topK(scores, k, this.mask, candidates);
    for (let a = 0; a < h.length; a++) if (h[a]! >= 0) this.mask[h[a]!] = 0;
    return { items: top.items, scores: top.scores, propensities: new Float32Array(top.items.length).fill(1) };
  }

  /** Is item `i` in the observation's history? (histories are short, so a scan is cheapest). */
  protected inHistory(obs: Observation, i: number): boolean {
    const h = obs.history;
    for (let a = 0; a < h.length; a++) if (h[a] === i) return true;
    return false;
  }
}

/** Per-position reward attribution used by the item-level bandits: the step reward goes to the clicked position(s). */
export function clickedReward(t: Transition, position: number): number {
  const c = t.clicks;
  if (!c) return 0;
  let n = 0;
  for (let p = 0; p < c.length; p++) n += c[p]!;
  return c[position] ? t.reward / Math.max(1, n) : 0;
}
