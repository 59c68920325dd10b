/**
 * The neural agents (dqn, reinforce, a2c, ddpg, ppo, trpo) each learn the toy task of neural-toy.ts —
 * optimum 6 per session, uniform random ≈ 2 — to at least 90 % of the optimum, measured on
 * sessions whose seeds were not used in training, with a fixed seed; same seed → same numbers;
 * save/load round trip.
 */
import { describe, expect, it } from 'vitest';
import { createAgent, restoreAgent } from '../../src/agents/registry.js';
import type { Agent } from '../../src/agents/types.js';
import type { Observation, Slate } from '../../src/env/types.js';
import { Rng } from '../../src/util/rng.js';
import { parse, stringify } from '../../src/util/serialize.js';
import { N_ITEMS, OPTIMAL_RETURN, ToyEnv, runEpisodes, toyContext } from './neural-toy.js';

const SMALL = { hidden: [32], state: { contextDim: 3 } };

/** Per agent: options for the toy task and the training budget in sessions. */
const CASES: Record<string, { config: Record<string, unknown>; episodes: number }> = {
  dqn: { config: { ...SMALL, learningStarts: 50, epsilonStart: 1, epsilonDecaySteps: 450, nextCandidates: 8 }, episodes: 250 },
  reinforce: { config: { ...SMALL, lr: 3e-3, valueLr: 3e-3 }, episodes: 1200 },
  a2c: { config: { ...SMALL, lr: 3e-3, valueLr: 3e-3, nSteps: 16 }, episodes: 1000 },
  ddpg: { config: { ...SMALL, knn: 4, learningStarts: 50, trainEvery: 1, noise: 0.4, lr: 3e-3 }, episodes: 400 },
  ppo: { config: { ...SMALL, lr: 1e-3, valueLr: 3e-3 }, episodes: 1000 },
  trpo: { config: { ...SMALL, valueLr: 3e-3, rolloutSteps: 128 }, episodes: 400 },
};

const EVAL_SEED0 = 1_000_000;

function randomAgent(seed: number): Agent {
  const rng = new Rng(seed);
  return {
    name: 'uniform',
    act(obs: Observation, k: number): Slate {
      const items = new Int32Array(k);
      for (let s = 0; s < k; s++) {
        let i: number;
        do i = rng.int(N_ITEMS);
        while (items.subarray(0, s).includes(i));
        items[s] = i;
      }
      void obs;
      return { items };
    },
    observe() {},
    update() {},
    toJSON: () => ({ kind: 'uniform', version: 1, config: {}, state: {} }),
  };
}

function trained(name: string, seed: number, episodes = CASES[name]!.episodes) {
  const agent = createAgent(name, toyContext(), { ...CASES[name]!.config, seed });
  runEpisodes(agent, new ToyEnv(), episodes, 0, true);
  agent.setTraining(false);
  return agent;
}

describe('toy task baseline', () => {
  it('a uniformly random slate policy is far from the optimum', () => {
    const r = runEpisodes(randomAgent(1), new ToyEnv(), 300, EVAL_SEED0, false);
    expect(r).toBeGreaterThan(1.5);
    expect(r).toBeLessThan(2.6);
  });
});

describe.each(Object.keys(CASES))('%s', (name) => {
  it(`learns the toy task to ≥ 90 % of the optimal return (${OPTIMAL_RETURN}) on held-out sessions`, () => {
    const agent = createAgent(name, toyContext(), { ...CASES[name]!.config, seed: 7 });
    agent.setTraining(false);
    const before = runEpisodes(agent, new ToyEnv(), 200, EVAL_SEED0, false);
    agent.setTraining(true);
    runEpisodes(agent, new ToyEnv(), CASES[name]!.episodes, 0, true);
    agent.setTraining(false);
    const after = runEpisodes(agent, new ToyEnv(), 200, EVAL_SEED0, false);
    expect(after).toBeGreaterThanOrEqual(0.9 * OPTIMAL_RETURN);
    expect(after).toBeGreaterThan(before);
  });

  it('same seed → same weights and slates; another seed differs', () => {
    const short = Math.min(60, CASES[name]!.episodes);
    const a = trained(name, 3, short);
    const b = trained(name, 3, short);
    const c = trained(name, 4, short);
    expect(stringify(a.toJSON())).toBe(stringify(b.toJSON()));
    expect(stringify(a.toJSON())).not.toBe(stringify(c.toJSON()));
  });

  it('save/load round trip acts identically', () => {
    const a = trained(name, 5, 40);
    const saved = parse(stringify(a.toJSON())) as ReturnType<Agent['toJSON']>;
    const b = restoreAgent(saved, toyContext());
    const env = new ToyEnv();
    for (let s = 0; s < 10; s++) {
      const obs = env.reset(EVAL_SEED0 + s);
      expect([...b.act(obs, 2).items]).toEqual([...a.act(obs, 2).items]);
    }
    // Also mid-training state: both continue to the same numbers.
    const t1 = createAgent(name, toyContext(), { ...CASES[name]!.config, seed: 9 });
    runEpisodes(t1, new ToyEnv(), 30, 0, true);
    const t2 = restoreAgent(parse(stringify(t1.toJSON())) as ReturnType<Agent['toJSON']>, toyContext());
    t1.setTraining(false);
    t2.setTraining(false);
    expect(runEpisodes(t2, new ToyEnv(), 20, EVAL_SEED0, false)).toBe(runEpisodes(t1, new ToyEnv(), 20, EVAL_SEED0, false));
  });
});

describe('neural agent config errors', () => {
  it('names the bad option', () => {
    expect(() => createAgent('dqn', toyContext(), { gamma: 2 })).toThrow(/gamma/);
    expect(() => createAgent('ppo', toyContext(), { clip: 0 })).toThrow(/clip/);
    expect(() => createAgent('ddpg', toyContext(), { knn: 0 })).toThrow(/knn/);
    expect(() => createAgent('reinforce', toyContext(), { hidden: [0] })).toThrow(/hidden/);
  });

  it('refuses a saved agent whose networks have another shape', () => {
    const a = createAgent('a2c', toyContext(), { ...SMALL, seed: 1 });
    const b = createAgent('a2c', toyContext(), { ...SMALL, hidden: [16], seed: 1 });
    expect(() => b.load(a.toJSON())).toThrow(/shape/);
  });
});
