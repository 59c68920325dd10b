/**
 * `ItemSpace.meanValue` (an item's Bayesian-average training value, z-scored) and the agents'
 * `itemMeanValue` option, which puts it into the bandits' φ and the neural agents' pair rows.
 */
import { describe, expect, it } from 'vitest';
import { Dataset, IdMap, interactionsFrom } from '../../src/data/dataset.js';
import { CandidateSource, PairFeatures } from '../../src/agents/neural.js';
import { LinearSlateFeatures } from '../../src/agents/linear-bandit.js';
import { createAgent } from '../../src/agents/registry.js';
import { MEAN_VALUE_PRIOR, itemMeanValues, type AgentContext } from '../../src/agents/state.js';
import type { Observation } from '../../src/env/types.js';
import { toyContext } from './toy-context.js';

describe('itemMeanValues', () => {
  it('is a z-scored Bayesian average: shrunk toward the mean by its pseudo-values, ordered by evidence', () => {
    // Item 0: twenty 5s; item 1: one 5; item 2: twenty 1s; item 3: ten 3s (the global mean is 3).
    const users = new IdMap();
    const items = new IdMap();
    for (let i = 0; i < 4; i++) items.add(`i${i}`);
    const u: number[] = [];
    const it: number[] = [];
    const v: number[] = [];
    const add = (item: number, value: number, n: number) => {
      for (let k = 0; k < n; k++) {
        u.push(users.add(`u${u.length}`));
        it.push(item);
        v.push(value);
      }
    };
    add(0, 5, 20);
    add(1, 5, 1);
    add(2, 1, 20);
    add(3, 3, 10);
    const data = new Dataset({ name: 't', users, items, interactions: interactionsFrom({ user: u, item: it, value: v }) });
    const z = itemMeanValues(data);
    const mu = v.reduce((a, b) => a + b, 0) / v.length;
    const m = [(100 + MEAN_VALUE_PRIOR * mu) / (20 + MEAN_VALUE_PRIOR), (5 + MEAN_VALUE_PRIOR * mu) / (1 + MEAN_VALUE_PRIOR), (20 + MEAN_VALUE_PRIOR * mu) / (20 + MEAN_VALUE_PRIOR), (30 + MEAN_VALUE_PRIOR * mu) / (10 + MEAN_VALUE_PRIOR)];
    const mean = m.reduce((a, b) => a + b, 0) / 4;
    const sd = Math.sqrt(m.reduce((a, b) => a + (b - mean) ** 2, 0) / 4);
    for (let i = 0; i < 4; i++) expect(z[i]!).toBeCloseTo((m[i]! - mean) / sd, 5);
    // Twenty 5s beat one 5, which beats ten 3s, which beat twenty 1s.
    expect(z[0]!).toBeGreaterThan(z[1]!);
    expect(z[1]!).toBeGreaterThan(z[3]!);
    expect(z[3]!).toBeGreaterThan(z[2]!);
  });
});

describe("the agents' itemMeanValue option", () => {
  const base = toyContext({ nItems: 40, dim: 4, nUsers: 8 });
  const meanValue = Float32Array.from({ length: base.items.nItems }, (_, i) => ((i * 7) % 11) / 5 - 1);
  const ctx: AgentContext = { ...base, items: { ...base.items, meanValue } };
  const obs: Observation = { user: 3, history: Int32Array.of(5, 9, 2), t: 4, context: Float32Array.of(1, 0.5) };

  it('adds the value to φ before the popularity feature, and to the pair rows before the linear score', () => {
    const plain = new LinearSlateFeatures(ctx);
    const withMv = new LinearSlateFeatures(ctx, {}, true);
    expect(withMv.dim).toBe(plain.dim + 1);
    expect(withMv.popIndex).toBe(withMv.dim - 1);
    plain.setState(obs);
    withMv.setState(obs);
    const a = new Float64Array(plain.dim);
    const b = new Float64Array(withMv.dim);
    plain.phi(12, a);
    withMv.phi(12, b);
    expect(Array.from(b.subarray(0, plain.dim - 1))).toEqual(Array.from(a.subarray(0, plain.dim - 1)));
    expect(b[withMv.dim - 2]).toBeCloseTo(meanValue[12]!, 6);
    expect(b[withMv.dim - 1]).toBe(a[plain.dim - 1]);
    // scoreAll agrees with θᵀφ, the new column included.
    const theta = Float64Array.from({ length: withMv.dim }, (_, j) => Math.sin(j + 1));
    const all = new Float64Array(ctx.items.nItems);
    withMv.scoreAll(theta, all);
    expect(all[12]).toBeCloseTo(b.reduce((s, x, j) => s + x * theta[j]!, 0), 5);

    const src = new CandidateSource(ctx, 5, 0, 'linear');
    const pf = new PairFeatures(ctx, src, {}, null, true);
    const rows = new Float32Array(2 * pf.dim);
    pf.fill(obs, [12, 30], rows);
    expect(rows[pf.dim - 2]).toBeCloseTo(meanValue[12]!, 6);
    expect(rows[2 * pf.dim - 2]).toBeCloseTo(meanValue[30]!, 6);
    expect(pf.dim).toBe(new PairFeatures(ctx, src).dim + 1);
  });

  it('lets LinUCB rank items it never showed by the value, when clicks follow it', () => {
    // Items 0–19 are shown; a shown item is clicked when its mean value is positive. Items 20–39
    // are never shown: only a model with the value in φ can tell their good ones apart.
    const train = (agent: ReturnType<typeof createAgent>) => {
      for (let s = 0; s < 300; s++) {
        const items = Int32Array.from([s % 20, (s * 3 + 1) % 20]);
        const clicks = Int32Array.from(items, (i) => (meanValue[i]! > 0 ? 1 : 0));
        agent.observe({ observation: obs, slate: { items }, reward: clicks[0]! + clicks[1]!, clicks, next: obs, done: true });
        agent.update();
      }
      agent.setTraining(false);
      return agent.act({ ...obs, history: Int32Array.from({ length: 20 }, (_, i) => i) }, 5).items;
    };
    const good = (items: Int32Array) => [...items].filter((i) => meanValue[i]! > 0).length;
    expect(good(train(createAgent('linucb', ctx, { itemMeanValue: true, seed: 1 })))).toBe(5);
    expect(good(train(createAgent('linucb', ctx, { seed: 1 })))).toBeLessThan(5);
    expect(() => createAgent('linucb', base, { itemMeanValue: true })).toThrow(/meanValue/);
    expect(() => createAgent('dqn', base, { itemMeanValue: true })).toThrow(/meanValue/);
  });
});
