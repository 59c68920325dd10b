import { describe, expect, it } from 'vitest';
import { SlateCritic } from '../../src/marl/slate-critic.js';
import type { CentralCriticMode } from '../../src/marl/modes/index.js';
import { TeamAgent, TEAM_DEFAULTS } from '../../src/marl/team.js';
import { createAgent, restoreAgent } from '../../src/agents/registry.js';
import { registerTeam } from '../../src/marl/register.js';
import type { Observation } from '../../src/env/types.js';
import { Rng } from '../../src/util/rng.js';
import { toyContext } from '../agents/toy-context.js';

registerTeam();

function randomMatrix(rng: Rng, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => rng.normal());
}

describe('slate critic', () => {
  it('gradients match finite differences', () => {
    const rng = new Rng(1);
    const critic = new SlateCritic(3, 4, 6, 0.01, rng);
    const X = randomMatrix(rng, 5 * 4);
    const x = new Float64Array(critic.nIn);
    critic.input(randomMatrix(rng, 3), X, [4, 0, 2], 3, x);
    critic.grads.fill(0);
    critic.backward(x, 1);
    const analytic = Float64Array.from(critic.grads);
    const h = 1e-6;
    let worst = 0;
    for (let j = 0; j < critic.params.length; j++) {
      const v = critic.params[j]!;
      critic.params[j] = v + h;
      const lp = critic.forward(x);
      critic.params[j] = v - h;
      const lm = critic.forward(x);
      critic.params[j] = v;
      worst = Math.max(worst, Math.abs(analytic[j]! - (lp - lm) / (2 * h)));
    }
    expect(worst).toBeLessThan(1e-6);
    // Not vacuous: at least one active hidden unit passes gradient to every input weight.
    expect(analytic.filter((g) => g !== 0).length).toBeGreaterThan(critic.nIn);
  });

  it('counterfactual values equal the critic of the slate with that one position swapped', () => {
    const rng = new Rng(2);
    const critic = new SlateCritic(3, 4, 8, 0.01, rng);
    const n = 7;
    const K = 3;
    const X = randomMatrix(rng, n * 4);
    const s = randomMatrix(rng, 3);
    const rows = Int32Array.of(5, 1, 3);
    const x = new Float64Array(critic.nIn);
    critic.input(s, X, rows, K, x);
    const out = new Float64Array(K * n);
    critic.counterfactuals(x, X, n, rows, K, out);
    const xs = new Float64Array(critic.nIn);
    for (let p = 0; p < K; p++) {
      for (let j = 0; j < n; j++) {
        const swapped = Int32Array.from(rows);
        swapped[p] = j;
        critic.input(s, X, swapped, K, xs);
        expect(out[p * n + j]).toBeCloseTo(critic.forward(xs), 10);
      }
      // Swapping an item for itself is the slate's own value.
      expect(out[p * n + rows[p]!]).toBeCloseTo(critic.forward(x), 10);
    }
  });

  /**
   * A slate value that is not a sum over its items: slates of 2 from 6 items in 3 categories, worth 1
   * when the two items' categories differ (a diverse slate) and 0 otherwise. A per-item critic
   * (Σ_p v(i_p), the item-critic's form) can do no better than least squares on item indicators.
   */
  it('fits a joint slate value (diversity) that no sum of per-item values can', () => {
    const nItems = 6;
    const cat = (i: number): number => i % 3;
    const D = 3;
    const X = new Float64Array(nItems * D);
    for (let i = 0; i < nItems; i++) X[i * D + cat(i)] = 1;
    const value = (a: number, b: number): number => (cat(a) !== cat(b) ? 1 : 0);
    const pairs: [number, number][] = [];
    for (let a = 0; a < nItems; a++) for (let b = 0; b < nItems; b++) if (a !== b) pairs.push([a, b]);
    const rng = new Rng(3);
    const critic = new SlateCritic(1, D, 16, 0.01, rng);
    const x = new Float64Array(critic.nIn);
    const s = [1];
    for (let t = 0; t < 6000; t++) {
      const [a, b] = pairs[rng.int(pairs.length)]!;
      critic.input(s, X, [a, b], 2, x);
      critic.backward(x, critic.forward(x) - value(a, b));
      critic.step();
    }
    let mseJoint = 0;
    for (const [a, b] of pairs) {
      critic.input(s, X, [a, b], 2, x);
      mseJoint += (critic.forward(x) - value(a, b)) ** 2 / pairs.length;
    }
    // Best per-item sum: v depends on the category only (by symmetry); fit v_c by least squares
    // over all ordered pairs. Each pair's value is v_ca + v_cb; with every category equally often,
    // the optimum is the constant mean/2 per item, leaving the variance of the value.
    const mean = pairs.reduce((t, [a, b]) => t + value(a, b), 0) / pairs.length;
    const varValue = pairs.reduce((t, [a, b]) => t + (value(a, b) - mean) ** 2, 0) / pairs.length;
    expect(varValue).toBeGreaterThan(0.15);
    expect(mseJoint).toBeLessThan(0.1 * varValue);
  });
});

describe('central-critic team', () => {
  const ctx = toyContext({ nItems: 40, slateSize: 5 });

  it('trains both critic terms by TD and moves every actor', () => {
    // The actors wait criticWarmup transitions; a short run lowers it.
    const t = new TeamAgent(ctx, { seed: 5, ...TEAM_DEFAULTS, coordination: 'central-critic', criticWarmup: 10 });
    const mode = t.mode as CentralCriticMode;
    const critic = mode.critic;
    const i0 = Float64Array.from(mode.itemCritic.params);
    const c0 = Float64Array.from(critic.params);
    const th0 = t.values.map((v) => Float64Array.from(v.theta));
    const rng = new Rng(4);
    for (let s = 0; s < 40; s++) {
      const obs: Observation = { user: rng.int(8), history: Int32Array.of(rng.int(40)), t: s };
      const slate = t.act(obs, 5);
      const clicks = Int32Array.from(slate.items, (i) => (i < 10 ? 1 : 0));
      const R = clicks.reduce((a, b) => a + b, 0);
      t.observe({ observation: obs, slate, reward: R, parts: { R, G: 0, A: 0 }, clicks, next: obs, done: s % 4 === 3 });
      t.update();
    }
    expect(Math.max(...critic.params.map((x, j) => Math.abs(x - c0[j]!)))).toBeGreaterThan(1e-3);
    expect(Math.max(...mode.itemCritic.params.map((x, j) => Math.abs(x - i0[j]!)))).toBeGreaterThan(1e-3);
    t.values.forEach((v, k) => expect(Math.max(...v.theta.map((x, j) => Math.abs(x - th0[k]![j]!)))).toBeGreaterThan(1e-6));
  });

  it('refuses a team saved when "central-critic" named the per-item critic, and says how to load it', () => {
    const saved = createAgent('team', ctx, { seed: 1, coordination: 'item-critic' }).toJSON();
    const renamed = { ...saved, config: { ...(saved.config as Record<string, unknown>), coordination: 'central-critic' } };
    expect(() => restoreAgent(renamed, ctx)).toThrow(/item-critic/);
  });
});
