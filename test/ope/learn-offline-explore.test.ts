/**
 * The offline agents' optional ε exploration (src/ope/learn/offline-agent.ts): off by default and
 * in evaluation mode; on, each position keeps the greedy item with probability 1 − ε or shows a
 * uniformly drawn showable item with ε / spare, and the written propensities say exactly which.
 */
import { describe, expect, it } from 'vitest';
import type { Observation } from '../../src/env/types.js';
import { BcAgent, BC_DEFAULTS, type BcConfig } from '../../src/ope/learn/bc.js';
import type { LoggedStep } from '../../src/ope/learn/session-log.js';
import { Rng } from '../../src/util/rng.js';
import { toyContext } from '../agents/toy-context.js';

const N = 40;
const K = 5;

function fitted(config: Partial<BcConfig>): BcAgent {
  const ctx = toyContext({ nItems: N, slateSize: K });
  const rng = new Rng(3);
  const steps: LoggedStep[] = Array.from({ length: 60 }, () => {
    const obs: Observation = { user: rng.int(ctx.nUsers), history: new Int32Array(0), t: 0 };
    const order = Array.from({ length: N }, (_, i) => i);
    rng.shuffle(order);
    const items = Int32Array.from(order.slice(0, K));
    return { obs, items, propensities: new Float32Array(K).fill(0.1), rewards: new Float32Array(K), reward: 0, next: obs, done: true };
  });
  return new BcAgent(ctx, { seed: 2, ...BC_DEFAULTS, candidates: 10, randomCandidates: 5, hidden: [8], steps: 20, ...config }).fit({ behaviour: 'random', steps });
}

describe('offline agents with epsilon', () => {
  it('propensity 1 without epsilon and in evaluation mode; exact ε-greedy propensities in training mode', () => {
    const history = Int32Array.from([0, 1, 2]);
    const obs: Observation = { user: 1, history, t: 0 };
    expect(Array.from(fitted({}).act(obs, K).propensities!)).toEqual(new Array(K).fill(1));
    const evalMode = fitted({ epsilon: 0.5 });
    evalMode.setTraining(false);
    expect(Array.from(evalMode.act(obs, K).propensities!)).toEqual(new Array(K).fill(1));

    const greedyTwin = fitted({ randomCandidates: 0 });
    greedyTwin.setTraining(false);
    const greedy = Array.from(greedyTwin.act(obs, K).items);
    const agent = fitted({ epsilon: 0.5 });
    const spare = N - history.length - K;
    let explored = 0;
    for (let r = 0; r < 20; r++) {
      const slate = agent.act(obs, K);
      expect(new Set(slate.items).size).toBe(K);
      slate.items.forEach((i, p) => {
        expect(history.includes(i)).toBe(false);
        if (i === greedy[p]) expect(slate.propensities![p]).toBe(Math.fround(0.5));
        else {
          explored++;
          expect(slate.propensities![p]).toBe(Math.fround(0.5 / spare));
        }
      });
    }
    expect(explored).toBeGreaterThan(20);
    expect(explored).toBeLessThan(80);
  });

  it('refuses an epsilon outside [0, 1], naming the field', () => {
    expect(() => fitted({ epsilon: 1.5 })).toThrow(expect.objectContaining({ location: { field: 'epsilon' } }));
  });
});
