import { describe, expect, it } from 'vitest';
import { PopularityAgent } from '../../src/agents/popularity.js';
import type { Observation } from '../../src/env/types.js';
import { BcAgent, BC_DEFAULTS } from '../../src/ope/learn/bc.js';
import { CqlAgent, CQL_DEFAULTS } from '../../src/ope/learn/cql.js';
import { privacyUnits } from '../../src/ope/learn/privacy-units.js';
import type { LoggedStep } from '../../src/ope/learn/session-log.js';
import { dpSgdEpsilon } from '../../src/privacy/accountant.js';
import { Rng } from '../../src/util/rng.js';
import { toyContext as banditContext } from '../agents/toy-context.js';

/** A popularity behaviour policy's slates on random states of 200 users (2 steps each). */
function popularityLog() {
  const ctx = banditContext({ nItems: 40, slateSize: 5, nUsers: 200 });
  const order = Array.from({ length: 40 }, (_, i) => i);
  new Rng(11).shuffle(order);
  order.forEach((i, rank) => (ctx.items.popularity[i] = 5 + 3 * rank));
  const behaviour = new PopularityAgent(ctx, { seed: 1 });
  const rng = new Rng(4);
  const state = (user: number): Observation => {
    const h = new Set<number>();
    const len = rng.int(6);
    while (h.size < len) h.add(rng.int(40));
    return { user, history: Int32Array.from(h), t: len };
  };
  const steps: LoggedStep[] = [];
  for (let u = 0; u < 200; u++) {
    for (let t = 0; t < 2; t++) {
      const obs = state(u);
      const sl = behaviour.act(obs, 5);
      steps.push({ obs, items: sl.items, propensities: new Float32Array(5).fill(1), rewards: new Float32Array(5), reward: 0, next: obs, done: t === 1 });
    }
  }
  /** Share of held-out states where the agent's first item is the behaviour's. */
  const agreement = (agent: { act: (o: Observation, k: number) => { items: Int32Array } }): number => {
    let first = 0;
    for (let s = 0; s < 200; s++) {
      const obs = state(rng.int(200));
      if (agent.act(obs, 5).items[0] === behaviour.act(obs, 5).items[0]) first++;
    }
    return first / 200;
  };
  return { ctx, steps, agreement };
}

describe('privacy units of a session log', () => {
  it('are users where the log knows them, and sessions where it does not', () => {
    const step = (user: number, done: boolean): LoggedStep => {
      const obs = { user, history: new Int32Array(0), t: 0 };
      return { obs, items: new Int32Array([1]), propensities: new Float32Array([1]), rewards: new Float32Array(1), reward: 0, next: obs, done };
    };
    const known = privacyUnits([step(3, false), step(5, true), step(3, true)]);
    expect(known.unit).toBe('user');
    expect(known.units.map((u) => [...u])).toEqual([[0, 2], [1]]);
    const mixed = privacyUnits([step(-1, false), step(-1, true), step(-1, true), step(2, true)]);
    expect(mixed.unit).toBe('session');
    expect(mixed.units.map((u) => [...u])).toEqual([[3], [0, 1], [2]]);
  });
});

describe('offline agents with differential privacy (DP-SGD over users)', () => {
  it('BC at ε = 8 still learns the behaviour policy, reports what it spent, and is reproducible', () => {
    const { ctx, steps, agreement } = popularityLog();
    const make = () => new BcAgent(ctx, { seed: 2, ...BC_DEFAULTS, hidden: [16], dp: { epsilon: 8, seed: 3, steps: 150, sampleRate: 0.5, learningRate: 2, clip: 1, maxItemsPerUser: 100, weightDecay: 0 } });
    const dp = make().fit({ behaviour: 'popularity', steps });
    const p = dp.privacy!;
    expect(p.unit).toBe('user');
    expect(p.delta).toBeCloseTo(1 / 200, 12);
    expect(p.epsilon).toBeLessThanOrEqual(8);
    // The accountant's ε for the noise the fit used is the ε it reports.
    expect(dpSgdEpsilon(p.noiseMultiplier, { sampleRate: 0.5, steps: 150, delta: p.delta })).toBeCloseTo(p.epsilon, 6);
    dp.setTraining(false);
    const untrained = new BcAgent(ctx, { seed: 2, ...BC_DEFAULTS, hidden: [16] });
    untrained.setTraining(false);
    // Learned: the popular item first far more often than an untrained network puts it there.
    const learned = agreement(dp);
    expect(learned).toBeGreaterThan(0.6);
    expect(learned).toBeGreaterThan(agreement(untrained) + 0.3);
    // Same seeds, same network.
    const again = make().fit({ behaviour: 'popularity', steps });
    expect(Buffer.from(again.policy.params.buffer).equals(Buffer.from(dp.policy.params.buffer))).toBe(true);
    // A second DP fit of one agent would spend a second budget: refused.
    expect(() => again.fit({ behaviour: 'popularity', steps })).toThrow(/already trained with dp/);
  });

  it('more privacy means more noise: at ε = 0.05 the network is mostly noise, at ε = 8 it is not', () => {
    const { ctx, steps, agreement } = popularityLog();
    const fit = (epsilon: number) => {
      const a = new BcAgent(ctx, { seed: 2, ...BC_DEFAULTS, hidden: [16], dp: { epsilon, seed: 3, steps: 150, sampleRate: 0.5, learningRate: 2, clip: 1, maxItemsPerUser: 100, weightDecay: 0 } }).fit({ behaviour: 'popularity', steps });
      a.setTraining(false);
      return a;
    };
    const tight = fit(0.05);
    const loose = fit(8);
    expect(tight.privacy!.noiseMultiplier).toBeGreaterThan(5 * loose.privacy!.noiseMultiplier);
    expect(agreement(loose)).toBeGreaterThan(agreement(tight));
  });

  it('CQL trains under dp too', () => {
    const { ctx, steps } = popularityLog();
    const a = new CqlAgent(ctx, { seed: 2, ...CQL_DEFAULTS, hidden: [16], nextCandidates: 5, dp: { epsilon: 4, seed: 1, steps: 20, sampleRate: 0.5, learningRate: 1, clip: 1, maxItemsPerUser: 10, weightDecay: 0 } });
    const before = Float32Array.from(a.q.params);
    a.fit({ behaviour: 'popularity', steps });
    expect(a.privacy!.epsilon).toBeLessThanOrEqual(4);
    expect(a.q.params.some((v, i) => v !== before[i])).toBe(true);
  });
});
