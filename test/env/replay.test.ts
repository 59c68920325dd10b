import { describe, expect, it } from 'vitest';
import { createAgent } from '../../src/agents/registry.js';
import type { Agent } from '../../src/agents/types.js';
import type { Observation, Slate } from '../../src/env/types.js';
import { LogReplayEnv } from '../../src/env/replay.js';
import { DataError } from '../../src/errors.js';
import { Rng } from '../../src/util/rng.js';
import { oneHotContext } from '../agents/toy-context.js';

const MEANS = [0.1, 0.3, 0.5, 0.2, 0.7];

/** A log collected by a uniformly random policy (the setting where replay is unbiased). */
function uniformLog(n: number, seed: number) {
  const rng = new Rng(seed);
  const user = new Int32Array(n);
  const item = new Int32Array(n);
  const reward = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    user[k] = rng.int(20);
    item[k] = rng.int(MEANS.length);
    reward[k] = rng.next() < MEANS[item[k]!]! ? 1 : 0;
  }
  return { user, item, reward };
}

function fixed(arm: number): Agent {
  return {
    name: 'fixed',
    act: (_o: Observation, k: number): Slate => ({ items: Int32Array.from({ length: k }, (_, p) => (arm + p) % MEANS.length) }),
    observe: () => undefined,
    update: () => undefined,
    toJSON: () => ({ kind: 'fixed', version: 1, config: {}, state: {} }),
  };
}

describe('log replay (Li et al. 2011)', () => {
  const log = uniformLog(20000, 1);

  it('estimates a fixed policy\'s reward without bias on a uniform log', () => {
    for (const arm of [0, 2, 4]) {
      const env = new LogReplayEnv(log, { nItems: MEANS.length, slateSize: 1, historyLength: 0 });
      const est = LogReplayEnv.evaluate(env, fixed(arm));
      expect(est.events).toBe(20000);
      // About 1/5 of the events match; the standard error is ≈ sqrt(p(1−p)/4000) ≤ 0.008.
      expect(est.accepted).toBeGreaterThan(3600);
      expect(est.accepted).toBeLessThan(4400);
      expect(Math.abs(est.value - MEANS[arm]!)).toBeLessThan(0.03);
    }
  });

  it('a learning bandit replayed on the log beats the uniform policy', () => {
    const ctx = oneHotContext(MEANS.length);
    const ucb = LogReplayEnv.evaluate(new LogReplayEnv(log, { nItems: MEANS.length, slateSize: 1, historyLength: 0 }), createAgent('ucb', ctx, { seed: 1, c: 0.5 }), { learn: true });
    const rnd = LogReplayEnv.evaluate(new LogReplayEnv(log, { nItems: MEANS.length, slateSize: 1, historyLength: 0 }), createAgent('random', ctx, { seed: 1 }), { learn: true });
    expect(rnd.value).toBeGreaterThan(0.3);
    expect(rnd.value).toBeLessThan(0.46);
    expect(ucb.value).toBeGreaterThan(0.6);
  });

  it('keeps per-user histories of accepted items and rejects bad logs', () => {
    const env = new LogReplayEnv({ user: Int32Array.of(0, 0, 0), item: Int32Array.of(2, 3, 1), reward: Float32Array.of(1, 0, 1) }, { nItems: 5, slateSize: 1 });
    let obs = env.reset(0);
    expect(obs.history.length).toBe(0);
    let r = env.step({ items: Int32Array.of(2) });
    expect(r.reward).toBe(1);
    expect(Array.from(r.observation.history)).toEqual([2]);
    r = env.step({ items: Int32Array.of(4) });
    expect(r.reward).toBe(0);
    obs = r.observation;
    expect(Array.from(obs.history)).toEqual([2]);
    r = env.step({ items: Int32Array.of(1) });
    expect(r.done).toBe(true);
    expect(env.estimate()).toEqual({ value: 1, accepted: 2, events: 3 });
    expect(() => new LogReplayEnv({ user: Int32Array.of(0), item: Int32Array.of(9), reward: Float32Array.of(1) }, { nItems: 5, slateSize: 1 })).toThrow(DataError);
  });
});
