/**
 * Planning pays (issue 18): on the bait-or-good task of neural-toy.ts (`PlanningEnv`), whose
 * optimum needs γ > 0 — good items (0.4, the session goes on) until the last step, then bait
 * (1, the user leaves): 2.6 per session — each deep agent trained with γ = 0.9 reaches ≥ 90 % of
 * the optimum on held-out sessions, while the myopic learners (linucb, thompson, and dqn with
 * γ = 0, otherwise configured as the planning dqn) learn that bait pays more now and stay at the
 * myopic return, 1. Showing good items at every step would give 2.0 (77 %), so passing also takes
 * the step-dependent last move. The sessions differ only in the user index, which these agents'
 * features do not use (flat popularity, no user vectors), so a trained greedy policy plays the
 * same session every time; the evaluation seeds are still disjoint from the training ones.
 */
import { describe, expect, it } from 'vitest';
import { createAgent } from '../../src/agents/registry.js';
import type { Agent } from '../../src/agents/types.js';
import type { Observation, Slate } from '../../src/env/types.js';
import {
  PLAN_ALL_GOOD_RETURN,
  PLAN_GAMMA,
  PLAN_MYOPIC_RETURN,
  PLAN_N_ITEMS,
  PLAN_OPTIMAL_DISCOUNTED,
  PLAN_OPTIMAL_RETURN,
  PlanningEnv,
  isBait,
  planningContext,
  planningOptimum,
  planningPolicyReturn,
  runPlanningEpisodes,
} from './neural-toy.js';

const SMALL = { hidden: [32], state: { contextDim: 0 }, gamma: PLAN_GAMMA };

/**
 * Per deep agent: options and the training budget in sessions; each passed on every one of
 * training seeds 7–9 and 11–20 (seed 7 is the one fixed below). Where an option differs from
 * neural.test.ts's toy-task cases, the comment says why.
 */
const CASES: Record<string, { config: Record<string, unknown>; episodes: number }> = {
  // Every item is a bootstrap candidate (nextCandidates 16), so max_j Q(s', j) sees both kinds.
  dqn: { config: { ...SMALL, learningStarts: 50, epsilonStart: 1, epsilonDecaySteps: 800, nextCandidates: 16, trainEvery: 1 }, episodes: 500 },
  // Batches of 4 sessions (default 8): more steps per session; lr 5e-3 made them too noisy
  // (seed 12 was back at all-good, 2.0, after 4,000 sessions).
  reinforce: { config: { ...SMALL, lr: 3e-3, valueLr: 3e-3, batchEpisodes: 4 }, episodes: 3500 },
  // Raw (not standardised) advantages and a faster critic: with the toy-task settings the
  // one-step advantages were slow to learn the last step's bait (seed 7 still at 2.0 after
  // 3,000 sessions); lr 1e-2 was noisier (seed 7 at 2.2 after 4,000 and 6,000).
  a2c: { config: { ...SMALL, lr: 5e-3, valueLr: 1e-2, nSteps: 16, normaliseAdvantage: false }, episodes: 8000 },
  // knn 8 (half the catalogue) and the default slow actor: the critic, a γ-bootstrapped Q, picks
  // among neighbours of both kinds. With knn 4 the neighbours are of one kind and the actor alone
  // must learn the step-dependent choice (it stayed on good items, 2.0, on seeds 7–9); a fast
  // actor (actorLr 1e-3) committed to bait before the critic learned the future value, and the
  // critic's greedy refinement then never showed a good item (1.0 on seeds 14 and 15).
  // No propensity estimate: nothing here reads it, and it would triple the run time.
  ddpg: { config: { ...SMALL, knn: 8, learningStarts: 50, trainEvery: 1, noise: 0.4, lr: 3e-3, nextCandidates: 16, propensitySamples: 0 }, episodes: 800 },
  ppo: { config: { ...SMALL, lr: 3e-3, valueLr: 3e-3 }, episodes: 1500 },
  trpo: { config: { ...SMALL, valueLr: 3e-3, rolloutSteps: 128 }, episodes: 1500 },
};

/** Sessions the myopic learners train on: as many as the median deep agent. */
const MYOPIC_EPISODES = 1500;
const TRAIN_SEED = 7;
const EVAL_SEED0 = 1_000_000;
const EVAL_EPISODES = 100;

function trainAndEvaluate(name: string, config: Record<string, unknown>, episodes: number): number {
  const agent = createAgent(name, planningContext(), { ...config, seed: TRAIN_SEED });
  runPlanningEpisodes(agent, new PlanningEnv(), episodes, 0, true);
  agent.setTraining(false);
  return runPlanningEpisodes(agent, new PlanningEnv(), EVAL_EPISODES, EVAL_SEED0, false);
}

/** A fixed policy: bait at the steps `baitAt` says, else the lowest unseen good item. */
function scripted(baitAt: (t: number) => boolean): Agent {
  return {
    name: 'scripted',
    act(obs: Observation): Slate {
      const want = baitAt(obs.t);
      let i = 0;
      while (i < PLAN_N_ITEMS && (isBait(i) !== want || obs.history.includes(i))) i++;
      return { items: Int32Array.of(i) };
    },
    observe() {},
    update() {},
    toJSON: () => ({ kind: 'scripted', version: 1, config: {}, state: {} }),
  };
}

describe('planning task', () => {
  it('stated returns match backward induction and what fixed policies get', () => {
    expect(PLAN_OPTIMAL_RETURN).toBeCloseTo(2.6, 9);
    expect(PLAN_MYOPIC_RETURN).toBe(1);
    expect(PLAN_ALL_GOOD_RETURN).toBeCloseTo(2, 9);
    expect(PLAN_OPTIMAL_DISCOUNTED).toBeCloseTo(0.4 * (1 + 0.9 + 0.81 + 0.729) + 0.6561, 9);
    // Too little foresight is myopic: below γ = 0.6 the last-but-one step already prefers bait's 1 to 0.4 + γ.
    expect(planningPolicyReturn(0.5)).toBe(PLAN_MYOPIC_RETURN);
    expect(planningPolicyReturn(0.5)).toBeLessThan(planningPolicyReturn(PLAN_GAMMA));
    expect(planningOptimum(0)).toBe(1);
    const env = new PlanningEnv();
    expect(runPlanningEpisodes(scripted((t) => t === 4), env, 5, EVAL_SEED0, false)).toBeCloseTo(PLAN_OPTIMAL_RETURN, 9);
    expect(runPlanningEpisodes(scripted(() => true), env, 5, EVAL_SEED0, false)).toBeCloseTo(PLAN_MYOPIC_RETURN, 9);
    expect(runPlanningEpisodes(scripted(() => false), env, 5, EVAL_SEED0, false)).toBeCloseTo(PLAN_ALL_GOOD_RETURN, 9);
    expect(runPlanningEpisodes(scripted((t) => t === 3), env, 5, EVAL_SEED0, false)).toBeLessThan(0.9 * PLAN_OPTIMAL_RETURN);
  });

  it('a repeated item pays nothing and the session goes on', () => {
    const env = new PlanningEnv();
    env.reset(1);
    expect(env.step({ items: Int32Array.of(1) }).reward).toBeCloseTo(0.4, 9);
    const again = env.step({ items: Int32Array.of(1) });
    expect(again.reward).toBe(0);
    expect(again.done).toBe(false);
    expect(again.info.clicks[0]).toBe(0);
  });
});

describe.each(Object.keys(CASES))('%s with γ = 0.9', (name) => {
  it(`reaches ≥ 90 % of the optimal return (${PLAN_OPTIMAL_RETURN}), far above the myopic ${PLAN_MYOPIC_RETURN}`, () => {
    const r = trainAndEvaluate(name, CASES[name]!.config, CASES[name]!.episodes);
    expect(r).toBeGreaterThanOrEqual(0.9 * PLAN_OPTIMAL_RETURN);
    expect(r).toBeGreaterThan(PLAN_MYOPIC_RETURN + 0.5 * (PLAN_OPTIMAL_RETURN - PLAN_MYOPIC_RETURN));
  });
});

describe("dqn with Monte Carlo targets (target 'mc', credit 'clicked') and γ = 0.9", () => {
  it(`reaches ≥ 90 % of the optimal return (${PLAN_OPTIMAL_RETURN}) from the returns that followed, without bootstrapping`, () => {
    const r = trainAndEvaluate('dqn', { ...CASES.dqn!.config, target: 'mc', credit: 'clicked' }, CASES.dqn!.episodes);
    expect(r).toBeGreaterThanOrEqual(0.9 * PLAN_OPTIMAL_RETURN);
  });
});

describe("dqn with SlateQ's decomposition (credit 'slateq': click model × Q̄ of clicked items) and γ = 0.9", () => {
  it(`reaches ≥ 90 % of the optimal return (${PLAN_OPTIMAL_RETURN})`, () => {
    const r = trainAndEvaluate('dqn', { ...CASES.dqn!.config, retrieval: 'linear', target: 'mc', credit: 'slateq' }, CASES.dqn!.episodes);
    expect(r).toBeGreaterThanOrEqual(0.9 * PLAN_OPTIMAL_RETURN);
  });
});

describe('myopic learners', () => {
  const myopic: [string, string, Record<string, unknown>, number][] = [
    ['linucb', 'linucb', {}, MYOPIC_EPISODES],
    ['thompson', 'thompson', {}, MYOPIC_EPISODES],
    ['dqn with γ = 0', 'dqn', { ...CASES.dqn!.config, gamma: 0 }, CASES.dqn!.episodes],
  ];
  it.each(myopic)('%s stays at the myopic return', (_label, name, config, episodes) => {
    const r = trainAndEvaluate(name, config, episodes);
    expect(Math.abs(r - PLAN_MYOPIC_RETURN)).toBeLessThanOrEqual(0.15);
    expect(r).toBeLessThan(0.6 * PLAN_OPTIMAL_RETURN);
  });
});
