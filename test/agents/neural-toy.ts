/**
 * A small episodic task with a known optimum, for the neural agents' learning tests.
 *
 * 24 items in 3 genres of 8. Each session the user has one of 3 types, shown to the agent as a
 * one-hot context; an item is clicked exactly when its genre matches the type. Slates of 2 items,
 * 3 steps per session, reward = clicks, clicked items join the history (and so cannot be shown
 * again). The optimal return is 2 × 3 = 6 per session; a uniformly random slate gets ≈ 2.
 * The agents' prior (popularity) is flat, so they must learn the type → genre rule.
 */
import type { Agent } from '../../src/agents/types.js';
import type { AgentContext } from '../../src/agents/state.js';
import type { Env, Observation, Slate, StepResult } from '../../src/env/types.js';
import { Rng } from '../../src/util/rng.js';

export const N_ITEMS = 24;
export const N_TYPES = 3;
export const K = 2;
export const HORIZON = 3;
export const OPTIMAL_RETURN = K * HORIZON;

export function toyContext(): AgentContext {
  const dim = 4;
  const vectors = new Float32Array(N_ITEMS * dim);
  const rng = new Rng(99);
  const catIndptr = new Int32Array(N_ITEMS + 1);
  const catIndices = new Int32Array(N_ITEMS);
  for (let i = 0; i < N_ITEMS; i++) {
    const g = i % N_TYPES;
    for (let j = 0; j < 3; j++) vectors[i * dim + j] = (j === g ? 1 : 0) + 0.1 * rng.normal();
    vectors[i * dim + 3] = 0.3 * rng.normal();
    catIndptr[i + 1] = i + 1;
    catIndices[i] = g;
  }
  return {
    items: {
      nItems: N_ITEMS,
      dim,
      vectors,
      categoryNames: ['g0', 'g1', 'g2'],
      catIndptr,
      catIndices,
      popularity: new Float32Array(N_ITEMS).fill(10),
      cold: new Uint8Array(N_ITEMS),
    },
    nUsers: 30,
    slateSize: K,
    horizon: HORIZON,
  };
}

export class ToyEnv implements Env {
  readonly nItems = N_ITEMS;
  readonly slateSize = K;
  private rng = new Rng(0);
  private type = 0;
  private user = 0;
  private t = 0;
  private history: number[] = [];

  private obs(): Observation {
    const context = new Float32Array(N_TYPES);
    context[this.type] = 1;
    return { user: this.user, history: Int32Array.from(this.history), t: this.t, context };
  }

  reset(seed: number): Observation {
    this.rng = new Rng(seed);
    this.user = this.rng.int(30);
    this.type = this.user % N_TYPES;
    this.t = 0;
    this.history = [];
    return this.obs();
  }

  step(slate: Slate): StepResult {
    const clicks = new Int32Array(slate.items.length);
    let reward = 0;
    for (let p = 0; p < slate.items.length; p++) {
      const i = slate.items[p]!;
      if (i % N_TYPES === this.type && !this.history.includes(i)) {
        clicks[p] = 1;
        reward += 1;
      }
    }
    for (let p = 0; p < slate.items.length; p++) if (clicks[p]) this.history.push(slate.items[p]!);
    this.t++;
    const done = this.t >= HORIZON;
    return {
      observation: this.obs(),
      reward,
      parts: { R: reward, G: 0, A: 0 },
      done,
      info: { clicks, purchases: new Int32Array(slate.items.length), ratings: new Float32Array(slate.items.length).fill(NaN), propensities: slate.propensities },
    };
  }
}

/** Runs `episodes` sessions (seeds seed0, seed0+1, …) of slates of `k`; trains when `train`. Returns the mean return. */
export function runEpisodes(agent: Agent, env: Env, episodes: number, seed0: number, train: boolean, k = K): number {
  let total = 0;
  for (let e = 0; e < episodes; e++) {
    let obs = env.reset(seed0 + e);
    for (;;) {
      const slate = agent.act(obs, k);
      const r = env.step(slate);
      total += r.reward;
      if (train) {
        agent.observe({ observation: obs, slate, reward: r.reward, parts: r.parts, clicks: r.info.clicks, next: r.observation, done: r.done });
        agent.update();
      }
      obs = r.observation;
      if (r.done) break;
    }
  }
  return total / episodes;
}

/**
 * A task whose reward depends on the ORDER of the recent items, for the history-encoder tests.
 *
 * 8 items with one-hot vectors, no genres, flat popularity: items 0–3 are cues, item 4 + c is cue
 * c's answer. Each session starts with two distinct cues in the history, [x, y] (x older), drawn
 * by the env; the agent shows one item and gets 1 exactly when it is x's answer — the item two
 * steps back decides. One step per session. A state that forgets the order (the plain mean of the
 * recent item vectors, `state.decay` 1) sees {x, y} alike for both orders, so no policy on it
 * beats 1/2 in expectation; a state that reads the order can reach 1.
 */
export const ORDER_CUES = 4;

export function orderContext(): AgentContext {
  const n = 2 * ORDER_CUES;
  const vectors = new Float32Array(n * n);
  for (let i = 0; i < n; i++) vectors[i * n + i] = 1;
  return {
    items: { nItems: n, dim: n, vectors, categoryNames: [], catIndptr: new Int32Array(n + 1), catIndices: new Int32Array(0), popularity: new Float32Array(n).fill(10), cold: new Uint8Array(n) },
    nUsers: 8,
    slateSize: 1,
    horizon: 1,
  };
}

export class OrderEnv implements Env {
  readonly nItems = 2 * ORDER_CUES;
  readonly slateSize = 1;
  private first = 0;
  private obs: Observation = { user: 0, history: new Int32Array(0), t: 0 };

  reset(seed: number): Observation {
    const rng = new Rng(seed);
    const x = rng.int(ORDER_CUES);
    const y = (x + 1 + rng.int(ORDER_CUES - 1)) % ORDER_CUES;
    this.first = x;
    this.obs = { user: rng.int(8), history: Int32Array.from([x, y]), t: 0 };
    return this.obs;
  }

  step(slate: Slate): StepResult {
    const hit = slate.items[0] === ORDER_CUES + this.first ? 1 : 0;
    const k = slate.items.length;
    const next: Observation = { user: this.obs.user, history: Int32Array.from([...this.obs.history, slate.items[0]!]), t: 1 };
    return {
      observation: next,
      reward: hit,
      parts: { R: hit, G: 0, A: 0 },
      done: true,
      info: { clicks: Int32Array.from({ length: k }, (_, p) => (p === 0 ? hit : 0)), purchases: new Int32Array(k), ratings: new Float32Array(k).fill(NaN), propensities: slate.propensities },
    };
  }
}

/** runEpisodes for slates of one item (OrderEnv). */
export function runOrderEpisodes(agent: Agent, env: Env, episodes: number, seed0: number, train: boolean): number {
  let total = 0;
  for (let e = 0; e < episodes; e++) {
    const obs = env.reset(seed0 + e);
    const slate = agent.act(obs, 1);
    const r = env.step(slate);
    total += r.reward;
    if (train) {
      agent.observe({ observation: obs, slate, reward: r.reward, parts: r.parts, clicks: r.info.clicks, next: r.observation, done: r.done });
      agent.update();
    }
  }
  return total / episodes;
}

/**
 * A task whose optimum needs planning (γ > 0), for the planning tests (planning.test.ts).
 *
 * 16 items of two kinds, told apart by their item vectors and genres: even items are "bait"
 * (genre `bait`, vector ≈ [1, 0, ·]), odd items "good" (genre `good`, vector ≈ [0, 1, ·]); flat
 * popularity, no context. Slates of one item; the shown item is always clicked and joins the
 * history (the agents never show a history item again). A bait click pays PLAN_BAIT = 1 and ends
 * the session (the user leaves); a good click pays PLAN_GOOD = 0.4 and the session goes on, up to
 * PLAN_HORIZON = 5 steps. 8 good items cover a whole session.
 *
 * Backward induction, V_H = 0, V_t = max(bait, good + γ V_{t+1}): the optimal policy shows good
 * items while good + γ V_{t+1} > bait and bait at the last step (nothing is lost by ending a
 * session that is over anyway). For γ = PLAN_GAMMA = 0.9 that is good ×4 then bait, worth
 * 0.4 (1 + .9 + .81 + .729) + .6561 ≈ 2.03 discounted (PLAN_OPTIMAL_DISCOUNTED) and
 * 4 × 0.4 + 1 = 2.6 undiscounted (PLAN_OPTIMAL_RETURN, the same policy for every γ > 0.6).
 * The myopic policy (γ = 0: bait pays more now) shows bait at once and gets 1
 * (PLAN_MYOPIC_RETURN); good at every step gets 2.0 (PLAN_ALL_GOOD_RETURN), 77 % of the optimum,
 * so ≥ 90 % needs the step-dependent policy. The step is observable (t / horizon in the state).
 */
export const PLAN_N_ITEMS = 16;
export const PLAN_HORIZON = 5;
export const PLAN_BAIT = 1;
export const PLAN_GOOD = 0.4;
export const PLAN_GAMMA = 0.9;

/** Whether item i is bait (even) rather than good (odd). */
export function isBait(i: number): boolean {
  return i % 2 === 0;
}

/** The optimal expected discounted return from step 0 (backward induction over the steps left). */
export function planningOptimum(gamma: number): number {
  let v = 0;
  for (let t = PLAN_HORIZON - 1; t >= 0; t--) v = Math.max(PLAN_BAIT, PLAN_GOOD + gamma * v);
  return v;
}

/**
 * The undiscounted return of the policy that is optimal for discount `gamma` (ties go to bait, as
 * a myopic learner with γ = 0 breaks them): good while good + γ V_{t+1} > bait, else bait.
 */
export function planningPolicyReturn(gamma: number): number {
  const v = new Array<number>(PLAN_HORIZON + 1).fill(0);
  for (let t = PLAN_HORIZON - 1; t >= 0; t--) v[t] = Math.max(PLAN_BAIT, PLAN_GOOD + gamma * v[t + 1]!);
  let total = 0;
  for (let t = 0; t < PLAN_HORIZON; t++) {
    if (PLAN_GOOD + gamma * v[t + 1]! > PLAN_BAIT) total += PLAN_GOOD;
    else return total + PLAN_BAIT;
  }
  return total;
}

export const PLAN_OPTIMAL_DISCOUNTED = planningOptimum(PLAN_GAMMA);
export const PLAN_OPTIMAL_RETURN = planningPolicyReturn(1);
export const PLAN_MYOPIC_RETURN = planningPolicyReturn(0);
export const PLAN_ALL_GOOD_RETURN = PLAN_HORIZON * PLAN_GOOD;

export function planningContext(): AgentContext {
  const dim = 3;
  const vectors = new Float32Array(PLAN_N_ITEMS * dim);
  const rng = new Rng(17);
  const catIndptr = new Int32Array(PLAN_N_ITEMS + 1);
  const catIndices = new Int32Array(PLAN_N_ITEMS);
  for (let i = 0; i < PLAN_N_ITEMS; i++) {
    const g = isBait(i) ? 0 : 1;
    for (let j = 0; j < 2; j++) vectors[i * dim + j] = (j === g ? 1 : 0) + 0.1 * rng.normal();
    vectors[i * dim + 2] = 0.3 * rng.normal();
    catIndptr[i + 1] = i + 1;
    catIndices[i] = g;
  }
  return {
    items: {
      nItems: PLAN_N_ITEMS,
      dim,
      vectors,
      categoryNames: ['bait', 'good'],
      catIndptr,
      catIndices,
      popularity: new Float32Array(PLAN_N_ITEMS).fill(10),
      cold: new Uint8Array(PLAN_N_ITEMS),
    },
    nUsers: 30,
    slateSize: 1,
    horizon: PLAN_HORIZON,
  };
}

export class PlanningEnv implements Env {
  readonly nItems = PLAN_N_ITEMS;
  readonly slateSize = 1;
  private user = 0;
  private t = 0;
  private history: number[] = [];

  private obs(): Observation {
    return { user: this.user, history: Int32Array.from(this.history), t: this.t };
  }

  reset(seed: number): Observation {
    this.user = new Rng(seed).int(30);
    this.t = 0;
    this.history = [];
    return this.obs();
  }

  /** Only the first slate position counts; an item already consumed (or none) gets no click, pays 0 and the session goes on. */
  step(slate: Slate): StepResult {
    const k = slate.items.length;
    const clicks = new Int32Array(k);
    const i = k > 0 ? slate.items[0]! : -1;
    let reward = 0;
    let left = false;
    if (i >= 0 && i < PLAN_N_ITEMS && !this.history.includes(i)) {
      clicks[0] = 1;
      reward = isBait(i) ? PLAN_BAIT : PLAN_GOOD;
      left = isBait(i);
      this.history.push(i);
    }
    this.t++;
    return {
      observation: this.obs(),
      reward,
      parts: { R: reward, G: 0, A: 0 },
      done: left || this.t >= PLAN_HORIZON,
      info: { clicks, purchases: new Int32Array(k), ratings: new Float32Array(k).fill(NaN), propensities: slate.propensities },
    };
  }
}

/** runEpisodes for PlanningEnv: slates of one item (sessions may end early). */
export function runPlanningEpisodes(agent: Agent, env: Env, episodes: number, seed0: number, train: boolean): number {
  return runEpisodes(agent, env, episodes, seed0, train, 1);
}
