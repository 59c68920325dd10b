/**
 * Q-learning and SARSA reach the optimal policy of a small known MDP: a 5-state chain where
 * "right" (action 1) costs −0.1 per step except the step into the last state (+10, terminal),
 * and "left" (action 0) gives +1 and ends the episode at once. With γ = 0.9 the optimal policy
 * is "right" everywhere: from state 0, 10·0.9^4 − 0.1·(1+0.9+0.81+0.729) ≈ 6.22 > 1.
 */
import { describe, expect, it } from 'vitest';
import { TabularQ } from '../../src/agents/qlearning.js';
import { Rng } from '../../src/util/rng.js';

const N = 5;
function envStep(s: number, a: number): { s2: number; r: number; done: boolean } {
  if (a === 0) return { s2: s, r: 1, done: true };
  if (s === N - 2) return { s2: N - 1, r: 10, done: true };
  return { s2: s + 1, r: -0.1, done: false };
}

function optimalValues(gamma: number): number[] {
  const v = new Array(N).fill(0);
  for (let it = 0; it < 200; it++) {
    for (let s = 0; s < N - 1; s++) {
      const q = [0, 1].map((a) => {
        const { s2, r, done } = envStep(s, a);
        return r + (done ? 0 : gamma * v[s2]);
      });
      v[s] = Math.max(...q);
    }
  }
  return v;
}

function train(kind: 'q' | 'sarsa', seed: number): TabularQ {
  const rng = new Rng(seed);
  const table = new TabularQ(N, 2);
  const gamma = 0.9;
  for (let ep = 0; ep < 3000; ep++) {
    let s = rng.int(N - 1);
    let a = table.choose(s, 0.2, rng);
    for (let t = 0; t < 50; t++) {
      const { s2, r, done } = envStep(s, a);
      const a2 = done ? 0 : table.choose(s2, 0.2, rng);
      if (kind === 'q') table.learnQ(s, a, r, s2, done, gamma, 0.1);
      else table.learnSarsa(s, a, r, s2, a2, done, gamma, 0.1);
      if (done) break;
      s = s2;
      a = a2;
    }
  }
  return table;
}

describe('tabular learners on a 5-state chain', () => {
  const v = optimalValues(0.9);
  it('the chain has the documented optimum', () => {
    expect(v[0]).toBeCloseTo(10 * 0.9 ** 3 - 0.1 * (1 + 0.9 + 0.81), 6);
    expect(v[0]).toBeGreaterThan(1);
  });
  for (const kind of ['q', 'sarsa'] as const) {
    it(`${kind === 'q' ? 'Q-learning' : 'SARSA'} learns the optimal policy (go right) in every state`, () => {
      for (const seed of [1, 2, 3]) {
        const table = train(kind, seed);
        for (let s = 0; s < N - 1; s++) expect(table.greedy(s)).toBe(1);
      }
    });
  }
  it('Q-learning values approach the optimal values', () => {
    const table = train('q', 4);
    for (let s = 0; s < N - 1; s++) expect(Math.abs(table.max(s) - v[s]!)).toBeLessThan(0.3);
  });
});
