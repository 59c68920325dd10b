/**
 * Bandits against their known regret behaviour. Bernoulli problem: 10 arms (one-hot items, slate
 * of one), means 0.1..0.55 with one best arm at 0.7. UCB1 and Thompson sampling have logarithmic
 * regret, ε-greedy linear regret with a small slope — all far below the uniform policy's linear
 * regret; their regret grows more slowly in the second half than in the first (sub-linear).
 * LinUCB on a linear problem (reward = θ*·x + noise, 30 arms in 5 dimensions) finds the best arm.
 */
import { describe, expect, it } from 'vitest';
import { createAgent } from '../../src/agents/registry.js';
import type { AgentContext } from '../../src/agents/state.js';
import type { Agent } from '../../src/agents/types.js';
import { Rng } from '../../src/util/rng.js';
import { oneHotContext } from './toy-context.js';

const MEANS = [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.55, 0.7];
const BEST = Math.max(...MEANS);

function bernoulliRegret(agent: Agent, T: number, seed: number): { total: number; firstHalf: number; secondHalf: number } {
  const rng = new Rng(seed);
  let regret = 0;
  let firstHalf = 0;
  const obs = { user: 0, history: new Int32Array(0), t: 0 };
  for (let t = 0; t < T; t++) {
    const slate = agent.act(obs, 1);
    const arm = slate.items[0]!;
    const reward = rng.next() < MEANS[arm]! ? 1 : 0;
    agent.observe({ observation: obs, slate, reward, clicks: Int32Array.of(reward), next: obs, done: true });
    agent.update();
    regret += BEST - MEANS[arm]!;
    if (t === T / 2 - 1) firstHalf = regret;
  }
  return { total: regret, firstHalf, secondHalf: regret - firstHalf };
}

describe('bandits on a 10-armed Bernoulli problem (T = 4000)', () => {
  const ctx = oneHotContext(MEANS.length);
  const T = 4000;
  const random = bernoulliRegret(createAgent('random', ctx, { seed: 1 }), T, 100);

  it('the uniform policy has linear regret (sanity of the harness)', () => {
    const perStep = MEANS.reduce((a, m) => a + (BEST - m), 0) / MEANS.length;
    expect(random.total / T).toBeCloseTo(perStep, 1);
  });

  const cases: [string, Record<string, unknown>, number][] = [
    ['ucb', { c: 1 }, 0.3],
    ['thompson', { v: 0.5, popularityPrior: 0 }, 0.15],
  ];
  for (const [name, cfg, maxShare] of cases) {
    it(`${name}: regret far below uniform and sub-linear`, () => {
      for (const seed of [1, 2, 3]) {
        const r = bernoulliRegret(createAgent(name, ctx, { ...cfg, seed }), T, 200 + seed);
        expect(r.total).toBeLessThan(maxShare * random.total);
        expect(r.secondHalf).toBeLessThan(0.8 * r.firstHalf);
      }
    });
  }

  it('egreedy (ε = 0.1): regret far below uniform; late regret per step about ε × mean gap (linear, small slope)', () => {
    const meanGap = MEANS.reduce((a, m) => a + (BEST - m), 0) / MEANS.length;
    for (const seed of [1, 2, 3]) {
      const r = bernoulliRegret(createAgent('egreedy', ctx, { epsilon: 0.1, priorWeight: 1, priorScale: 0, seed }), T, 200 + seed);
      expect(r.total).toBeLessThan(0.2 * random.total);
      expect(r.secondHalf / (T / 2)).toBeLessThan(2 * 0.1 * meanGap);
    }
  });
});

describe('LinUCB on a linear problem', () => {
  it('finds the best arm: late regret near zero, total far below uniform', () => {
    const d = 5;
    const nArms = 30;
    const rng = new Rng(8);
    const vectors = new Float32Array(nArms * d);
    for (let k = 0; k < vectors.length; k++) vectors[k] = rng.normal() / Math.sqrt(d);
    const theta = [0.5, -0.3, 0.8, 0.1, -0.6];
    const mean = Array.from({ length: nArms }, (_, i) => theta.reduce((s, w, j) => s + w * vectors[i * d + j]!, 0));
    const best = Math.max(...mean);
    const ctx: AgentContext = {
      items: { nItems: nArms, dim: d, vectors, categoryNames: [], catIndptr: new Int32Array(nArms + 1), catIndices: new Int32Array(0), popularity: new Float32Array(nArms), cold: new Uint8Array(nArms) },
      nUsers: 1,
      slateSize: 1,
      horizon: 1,
    };
    const run = (agent: Agent, seed: number) => {
      const noise = new Rng(seed);
      const obs = { user: 0, history: new Int32Array(0), t: 0 };
      let regret = 0;
      let late = 0;
      const T = 2000;
      for (let t = 0; t < T; t++) {
        const slate = agent.act(obs, 1);
        const arm = slate.items[0]!;
        const reward = mean[arm]! + 0.1 * noise.normal();
        agent.observe({ observation: obs, slate, reward, clicks: Int32Array.of(1), next: obs, done: true });
        agent.update();
        regret += best - mean[arm]!;
        if (t >= T - 500) late += best - mean[arm]!;
      }
      return { regret, late };
    };
    const lin = run(createAgent('linucb', ctx, { seed: 1, alpha: 1, popularityPrior: 0, shortlist: 30 }), 5);
    const rnd = run(createAgent('random', ctx, { seed: 1 }), 5);
    expect(lin.regret).toBeLessThan(0.1 * rnd.regret);
    expect(lin.late / 500).toBeLessThan(0.01);
  });
});
