import { describe, expect, it } from 'vitest';
import { createAgent } from '../../src/agents/registry.js';
import { StateFeaturiser, type AgentContext } from '../../src/agents/state.js';
import type { ManagedAgent } from '../../src/agents/base.js';
import type { Observation } from '../../src/env/types.js';
import { Rng } from '../../src/util/rng.js';
import { toyContext } from './toy-context.js';

describe('state.profile: the user\'s train profile in the state', () => {
  const ctx = toyContext({ nItems: 40, dim: 4, nUsers: 8 });
  const d = ctx.items.dim;
  const obs: Observation = { user: 3, history: Int32Array.of(5, 9, 2), t: 4, context: Float32Array.of(1, 0.5) };

  it('mixes the user vector into the recent-history part only, and leaves the state as it was at 0', () => {
    const plain = new StateFeaturiser(ctx).encode(obs);
    expect(Array.from(new StateFeaturiser(ctx, { profile: 0 }).encode(obs))).toEqual(Array.from(plain));
    const p = 0.3;
    const mixed = new StateFeaturiser(ctx, { profile: p }).encode(obs);
    const u = ctx.userVectors!.subarray(obs.user * d, (obs.user + 1) * d);
    for (let k = 0; k < d; k++) expect(mixed[k]).toBe(Math.fround((1 - p) * plain[k]! + p * u[k]!));
    expect(Array.from(mixed.subarray(d))).toEqual(Array.from(plain.subarray(d)));
    // With profile 1 and no history the state's vector is the user's own.
    const only = new StateFeaturiser(ctx, { profile: 1 }).encode({ ...obs, history: new Int32Array(0) });
    expect(Array.from(only.subarray(0, d))).toEqual(Array.from(u));
  });

  it('keeps h for a user without a vector (outside the context, or an all-zero row: unknown or erased)', () => {
    const zeroed: AgentContext = { ...ctx, userVectors: ctx.userVectors!.slice() };
    zeroed.userVectors!.fill(0, 3 * d, 4 * d);
    const plain = new StateFeaturiser(ctx).encode(obs);
    expect(Array.from(new StateFeaturiser(zeroed, { profile: 0.5 }).encode(obs))).toEqual(Array.from(plain));
    const stranger = { ...obs, user: ctx.nUsers + 2 };
    expect(Array.from(new StateFeaturiser(ctx, { profile: 0.5 }).encode(stranger))).toEqual(Array.from(new StateFeaturiser(ctx).encode(stranger)));
    const { userVectors: _, ...noVectors } = ctx;
    expect(Array.from(new StateFeaturiser(noVectors, { profile: 0.5 }).encode(obs))).toEqual(Array.from(plain));
  });

  it('refuses a weight outside [0, 1], naming the field', () => {
    expect(() => new StateFeaturiser(ctx, { profile: 1.5 })).toThrow(/state\.profile/);
    expect(() => new StateFeaturiser(ctx, { profile: NaN })).toThrow(/state\.profile/);
    expect(() => new StateFeaturiser(ctx, { profile: true as unknown as number })).toThrow(/state\.profile must be a number/);
    for (const name of ['linucb', 'thompson']) {
      expect(() => createAgent(name, ctx, { profile: -0.1 })).toThrow(expect.objectContaining({ location: { field: 'profile' } }));
      expect(() => createAgent(name, ctx, { profile: '0.5' })).toThrow(/profile must be a number/);
    }
    expect(() => createAgent('dqn', ctx, { state: { profile: 2 } })).toThrow(/state\.profile/);
  });

  // Users whose taste is in their profile and nowhere in what they just did (no history): LinUCB
  // over the recent history alone can only learn one ranking for everyone, with the profile it
  // learns each user's.
  it("lets LinUCB, Thompson sampling and a neural agent's linear retrieval learn a per-user taste that the recent history does not show", () => {
    const c = toyContext({ nItems: 30, dim: 4, nUsers: 6, slateSize: 1 });
    const { vectors } = c.items;
    const uv = c.userVectors!;
    const taste = (u: number, i: number): number => {
      let s = 0;
      for (let k = 0; k < d; k++) s += uv[u * d + k]! * vectors[i * d + k]!;
      return s;
    };
    const bestOf = (u: number): number => Math.max(...Array.from({ length: c.items.nItems }, (_, i) => taste(u, i)));
    const run = (agent: ManagedAgent): number => {
      const noise = new Rng(11);
      const pick = new Rng(12);
      for (let t = 0; t < 3000; t++) {
        const o: Observation = { user: Math.floor(pick.next() * c.nUsers), history: new Int32Array(0), t: 0 };
        const slate = agent.act(o, 1);
        const reward = taste(o.user, slate.items[0]!) + 0.1 * noise.normal();
        agent.observe({ observation: o, slate, reward, rewards: Float32Array.of(reward), next: o, done: true });
        agent.update();
      }
      agent.setTraining(false);
      let regret = 0;
      for (let u = 0; u < c.nUsers; u++) regret += bestOf(u) - taste(u, agent.act({ user: u, history: new Int32Array(0), t: 0 }, 1).items[0]!);
      return regret / c.nUsers;
    };
    for (const name of ['linucb', 'thompson']) {
      const without = run(createAgent(name, c, { seed: 1, popularityPrior: 0 }));
      const withProfile = run(createAgent(name, c, { seed: 1, popularityPrior: 0, profile: 1 }));
      expect(without, name).toBeGreaterThan(0.5);
      expect(withProfile, name).toBeLessThan(0.25 * without);
    }
    // A neural agent's `linear` retrieval reads `state.profile` too: with one candidate and no
    // random ones, DQN shows what that retrieval model ranks first.
    const dqn = (state: Record<string, unknown>) => createAgent('dqn', c, { seed: 1, retrieval: 'linear', candidates: 1, randomCandidates: 0, learningStarts: 10_000, state });
    const dqnWithout = run(dqn({}));
    const dqnWith = run(dqn({ profile: 1 }));
    expect(dqnWithout).toBeGreaterThan(0.5);
    expect(dqnWith).toBeLessThan(0.25 * dqnWithout);
  });

  it("gives a neural agent's network the mixed state (its pair rows change with the user's profile)", () => {
    const agent = createAgent('dqn', ctx, { seed: 1, state: { profile: 0.5 } });
    const plain = createAgent('dqn', ctx, { seed: 1 });
    const featuriser = (a: unknown) => (a as { pairs: { featuriser: StateFeaturiser } }).pairs.featuriser;
    expect(Array.from(featuriser(agent).encode(obs))).toEqual(Array.from(new StateFeaturiser(ctx, { profile: 0.5 }).encode(obs)));
    expect(Array.from(featuriser(plain).encode(obs))).toEqual(Array.from(new StateFeaturiser(ctx).encode(obs)));
  });
});
