/**
 * Logged session transitions for offline RL: what a behaviour policy showed at each step of a
 * session (state, slate, each position's logging propensity), the reward each position earned,
 * and the next state. Collected in the simulator (`collectSessionLog`) or written by any other
 * source in the same JSONL format (`writeSessionLog` / `readSessionLog`):
 *
 *   line 1     {"kind":"chorus-session-log","version":1,"behaviour":…,"steps":N}
 *   each step  {"user","t","history","context"?,"items","propensities","rewards","reward",
 *               "nextHistory","nextT","done"}
 *
 * Per-position rewards follow the neural agents' credit rule (src/agents/neural.ts): the step
 * reward shared by the clicked positions, nothing to unclicked ones.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createAgent } from '../../agents/registry.js';
import type { ManagedAgent } from '../../agents/base.js';
import { exploreSlate } from '../../agents/explore.js';
import type { Observation, Slate } from '../../env/types.js';
import { createVecEnv } from '../../env/presets.js';
import { DataError } from '../../errors.js';
import type { SimSetup } from '../../eval/sim/runner.js';
import { Rng } from '../../util/rng.js';

export interface LoggedStep {
  obs: Observation;
  items: Int32Array;
  /** Logging probability of each shown position, given the positions before it. */
  propensities: Float32Array;
  /** Reward credited to each position. */
  rewards: Float32Array;
  /** The step's reward (the sum of `rewards` when a click happened). */
  reward: number;
  next: Observation;
  done: boolean;
}

export interface SessionLog {
  /** Who logged it (agent name and exploration), for reports. */
  behaviour: string;
  steps: LoggedStep[];
}

/**
 * A registered agent, frozen (evaluation mode: no learning, no exploration of its own), with
 * ε-greedy exploration over the catalogue on top, position by position (src/agents/explore.ts):
 * the propensities it writes are exact given the positions before. This is the behaviour policy
 * `collectSessionLog` logs with, and the same object acts when its return is measured on-policy.
 */
export class ExploringBehaviour {
  readonly agent: ManagedAgent;
  private readonly rng: Rng;
  private readonly taken: Uint8Array;

  constructor(
    agent: ManagedAgent,
    readonly epsilon: number,
    readonly nItems: number,
    seed: number,
  ) {
    this.agent = agent;
    this.rng = new Rng(seed);
    this.taken = new Uint8Array(nItems);
    agent.setTraining(false);
  }

  act(obs: Observation, k: number): Slate {
    const base = this.agent.act(obs, k);
    const items = Int32Array.from(base.items.subarray(0, k));
    const props = new Float32Array(items.length);
    const taken = this.taken;
    for (const i of obs.history) if (i >= 0 && i < this.nItems) taken[i] = 1;
    for (const i of items) taken[i] = 1;
    let spare = 0;
    for (let i = 0; i < this.nItems; i++) spare += taken[i] ? 0 : 1;
    exploreSlate(this.rng, this.epsilon, items, props, spare, (current) => {
      let j: number;
      do j = this.rng.int(this.nItems);
      while (taken[j]);
      // The drawn item leaves the spare set and the replaced one joins it: `spare` stays the same.
      taken[j] = 1;
      taken[current] = 0;
      return j;
    });
    taken.fill(0);
    // Base propensities: a deterministic agent's are 1; a stochastic one's multiply in.
    if (base.propensities) for (let p = 0; p < props.length; p++) if (items[p] === base.items[p]) props[p] *= base.propensities[p] ?? 1;
    return { items, propensities: props };
  }
}

export interface CollectOptions {
  /** Registered agent name of the behaviour policy (evaluated frozen: train it first if it learns). */
  agent: string;
  agentConfig?: Record<string, unknown>;
  /** Exploration added on top (default 0.2). */
  epsilon?: number;
  /** User-steps to log. */
  steps: number;
  nEnvs?: number;
  seed: number;
  /** A behaviour already built (overrides `agent`/`agentConfig`). */
  behaviour?: ExploringBehaviour;
}

function copyObs(o: Observation): Observation {
  return { user: o.user, history: Int32Array.from(o.history), t: o.t, context: o.context ? Float32Array.from(o.context) : undefined };
}

/** Log `steps` user-steps of the behaviour policy in the simulator (seeded sessions and exploration). */
export function collectSessionLog(setup: SimSetup, o: CollectOptions): SessionLog {
  const { config, world } = setup.preset;
  const K = config.slateSize;
  const n = Math.max(1, o.nEnvs ?? 16);
  const eps = o.epsilon ?? 0.2;
  const behaviour = o.behaviour ?? new ExploringBehaviour(createAgent(o.agent, setup.ctx, { ...(o.agentConfig ?? {}), seed: o.seed }), eps, world.nItems, o.seed ^ 0x9e3779b9);
  const env = createVecEnv(setup.preset, n);
  let obs = env.reset(o.seed * 7919 + 3);
  const steps: LoggedStep[] = [];
  const buf = new Int32Array(n * K);
  const slates: Slate[] = [];
  while (steps.length < o.steps) {
    buf.fill(-1);
    for (let s = 0; s < n; s++) {
      slates[s] = behaviour.act(obs[s]!, K);
      buf.set(slates[s]!.items.subarray(0, K), s * K);
    }
    const r = env.step(buf);
    for (let s = 0; s < n && steps.length < o.steps; s++) {
      const sl = slates[s]!;
      const done = r.done[s] === 1;
      const m = sl.items.length;
      const rewards = new Float32Array(m);
      let clicks = 0;
      for (let p = 0; p < m; p++) clicks += r.clicks[s * K + p]!;
      for (let p = 0; p < m; p++) rewards[p] = r.clicks[s * K + p] ? r.rewards[s]! / clicks : 0;
      steps.push({
        obs: copyObs(obs[s]!),
        items: Int32Array.from(sl.items),
        propensities: Float32Array.from(sl.propensities ?? new Float32Array(m).fill(1)),
        rewards,
        reward: r.rewards[s]!,
        next: copyObs(done ? r.terminal[s]! : r.observations[s]!),
        done,
      });
    }
    obs = r.observations.slice();
  }
  return { behaviour: `${o.behaviour ? o.behaviour.agent.name : o.agent} ε=${behaviour.epsilon}`, steps };
}

/** Float32 values as the short decimals they stand for (0.8, not 0.800000011920929). */
const f32 = (a: Float32Array): number[] => Array.from(a, (x) => Number(x.toPrecision(7)));

export function writeSessionLog(path: string, log: SessionLog): void {
  const lines = [JSON.stringify({ kind: 'chorus-session-log', version: 1, behaviour: log.behaviour, steps: log.steps.length })];
  for (const s of log.steps) {
    lines.push(
      JSON.stringify({
        user: s.obs.user,
        t: s.obs.t,
        history: [...s.obs.history],
        ...(s.obs.context ? { context: f32(s.obs.context) } : {}),
        items: [...s.items],
        propensities: f32(s.propensities),
        rewards: f32(s.rewards),
        reward: s.reward,
        nextHistory: [...s.next.history],
        nextT: s.next.t,
        done: s.done,
      }),
    );
  }
  writeFileSync(path, lines.join('\n') + '\n');
}

function intList(v: unknown, file: string, line: number, field: string): Int32Array {
  if (!Array.isArray(v) || v.some((x) => !Number.isInteger(x))) throw new DataError('expected a list of integers', { file, line, field });
  return Int32Array.from(v as number[]);
}

function numList(v: unknown, file: string, line: number, field: string): Float32Array {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw new DataError('expected a list of numbers', { file, line, field });
  return Float32Array.from(v as number[]);
}

/** Read a session log; errors name the file, line and field. */
export function readSessionLog(path: string): SessionLog {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError(`cannot read the session log: ${(e as Error).message}`, { file: path });
  }
  const lines = text.split('\n');
  let head: { kind?: unknown; behaviour?: unknown };
  try {
    head = JSON.parse(lines[0] ?? '') as typeof head;
  } catch {
    throw new DataError('the first line is not JSON', { file: path, line: 1 });
  }
  if (head.kind !== 'chorus-session-log') throw new DataError('not a Chorus session log (first line kind "chorus-session-log")', { file: path, line: 1, field: 'kind' });
  const steps: LoggedStep[] = [];
  for (let l = 1; l < lines.length; l++) {
    const raw = lines[l]!.trim();
    if (raw === '') continue;
    const line = l + 1;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      throw new DataError('not JSON', { file: path, line });
    }
    if (!Number.isInteger(o.user) || !Number.isInteger(o.t) || !Number.isInteger(o.nextT)) throw new DataError('user, t and nextT must be integers', { file: path, line, field: 'user' });
    if (typeof o.reward !== 'number' || typeof o.done !== 'boolean') throw new DataError('reward must be a number and done a boolean', { file: path, line, field: 'reward' });
    const items = intList(o.items, path, line, 'items');
    const propensities = numList(o.propensities, path, line, 'propensities');
    const rewards = numList(o.rewards, path, line, 'rewards');
    if (propensities.length !== items.length || rewards.length !== items.length) throw new DataError('items, propensities and rewards differ in length', { file: path, line, field: 'propensities' });
    for (const p of propensities) if (!(p > 0 && p <= 1)) throw new DataError(`propensity ${p} is not in (0, 1]`, { file: path, line, field: 'propensities' });
    const context = o.context === undefined ? undefined : numList(o.context, path, line, 'context');
    const user = o.user as number;
    steps.push({
      obs: { user, t: o.t as number, history: intList(o.history, path, line, 'history'), context },
      items,
      propensities,
      rewards,
      reward: o.reward,
      next: { user, t: o.nextT as number, history: intList(o.nextHistory, path, line, 'nextHistory'), context },
      done: o.done,
    });
  }
  return { behaviour: typeof head.behaviour === 'string' ? head.behaviour : 'unknown', steps };
}
