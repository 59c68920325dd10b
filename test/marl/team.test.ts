import { describe, expect, it } from 'vitest';
import { registerTeam } from '../../src/marl/register.js';
import { createAgent, restoreAgent } from '../../src/agents/registry.js';
import type { AgentContext } from '../../src/agents/state.js';
import type { Observation } from '../../src/env/types.js';
import type { ExtraScorer, TeamContext } from '../../src/marl/context.js';
import { COORDINATIONS, continuationShares, TeamAgent, TEAM_DEFAULTS, type Coordination, type TeamConfig } from '../../src/marl/team.js';
import { FUSIONS, fuse, type FusionName } from '../../src/marl/fusion.js';
import { StateWeightedMixer, vdnMix } from '../../src/marl/mixer.js';
import type { QmixMode, WeightedVdnMode } from '../../src/marl/modes/index.js';
import { Rng } from '../../src/util/rng.js';
import { exposureGini } from '../../src/eval/metrics.js';
import { CandidateSource } from '../../src/agents/neural.js';
import { StateFeaturiser } from '../../src/agents/state.js';
import { topK } from '../../src/util/topk.js';
import { agentContract } from '../agents/contract.js';
import { toyContext } from '../agents/toy-context.js';
import { actUnshown, agentValue } from './team-probe.js';

// The team is not in the agent and recommender registries until asked for (as the CLI does).
registerTeam();

const ctx = toyContext({ nItems: 40, slateSize: 5 });

function team(c: AgentContext, over: Partial<TeamConfig> = {}): TeamAgent {
  return new TeamAgent(c, { seed: 1, ...TEAM_DEFAULTS, ...over });
}

/** A small cooperative task with a known optimum: 12 one-hot items, slates of 2; item 3 is the
 *  only one the user clicks (R = 1), item 7 the only cold one (G = share of cold items shown).
 *  With λ = 1 the best slate is {3, 7}: r = 1 + 1·½ = 1.5; any other slate earns ≤ 1. */
function splitContext(): AgentContext {
  const n = 12;
  const vectors = new Float32Array(n * n);
  for (let i = 0; i < n; i++) vectors[i * n + i] = 1;
  const cold = new Uint8Array(n);
  cold[7] = 1;
  const popularity = new Float32Array(n).fill(5);
  popularity[7] = 0;
  return { items: { nItems: n, dim: n, vectors, categoryNames: [], catIndptr: new Int32Array(n + 1), catIndices: new Int32Array(0), popularity, cold }, nUsers: 1, slateSize: 2, horizon: 1 };
}

function splitReward(items: Int32Array, lambda: number): { R: number; G: number; clicks: Int32Array } {
  const clicks = new Int32Array(items.length);
  let R = 0;
  let G = 0;
  for (let p = 0; p < items.length; p++) {
    if (items[p] === 3) (clicks[p] = 1), (R = 1);
    if (items[p] === 7) G += 1 / items.length;
  }
  return { R, G, clicks };
}

function trainSplit(mode: Coordination, fusion: FusionName, steps: number, seed = 3, slotting: TeamConfig['slotting'] = 'score', learner: TeamConfig['learner'] = 'lms'): { agent: TeamAgent; reward: number } {
  const c = splitContext();
  const lambda = 1;
  const agent = team(c, { seed, coordination: mode, fusion, lambda, alpha: 0, gamma: 0, epsilon: 0.2, temperature: 0.3, lr: 0.05, slotting, learner });
  const obs: Observation = { user: 0, history: new Int32Array(0), t: 0 };
  for (let s = 0; s < steps; s++) {
    const slate = agent.act(obs, 2);
    const { R, G, clicks } = splitReward(slate.items, lambda);
    agent.observe({ observation: obs, slate, reward: R + lambda * G, parts: { R, G, A: 0 }, clicks, next: obs, done: true });
    agent.update();
  }
  agent.setTraining(false);
  let total = 0;
  for (let s = 0; s < 10; s++) {
    const slate = agent.act(obs, 2);
    const { R, G } = splitReward(slate.items, lambda);
    total += R + lambda * G;
  }
  return { agent, reward: total / 10 };
}

describe('value decomposition and mixing', () => {
  it('VDN: the team value is exactly the sum of the agents’ values', () => {
    const q = Float64Array.of(0.25, -1.5, 3.125, 7, 0.5, 0.125);
    expect(vdnMix(q, 3, 0)).toBe(0.25 - 1.5 + 3.125);
    expect(vdnMix(q, 3, 3)).toBe(7 + 0.5 + 0.125);
  });

  it('VDN team: each slate item’s fused score equals Σ_k Q_k(s, i) of its agents', () => {
    const t = team(ctx, { coordination: 'vdn' });
    const rng = new Rng(4);
    for (let s = 0; s < 30; s++) {
      const obs: Observation = { user: rng.int(8), history: Int32Array.of(rng.int(40)), t: s };
      const slate = t.act(obs, 5);
      t.observe({ observation: obs, slate, reward: 1, parts: { R: 1, G: 0.5, A: 0.5 }, clicks: Int32Array.of(1, 0, 0, 0, 0), next: obs, done: false });
      t.update();
    }
    const obs: Observation = { user: 2, history: Int32Array.of(5, 9), t: 3 };
    t.setTraining(false);
    // The item agent's state moves when a slate is shown; score against the state before it.
    const slate = actUnshown(t, obs, 5);
    for (const [p, item] of Array.from(slate.items).entries()) {
      let sum = 0;
      for (let k = 0; k < t.m; k++) sum += agentValue(t, k, obs, item);
      expect(Math.abs(slate.scores![p]! - sum)).toBeLessThan(1e-5 * (1 + Math.abs(sum)));
    }
  });

  it('learns from the item features as they were when the team acted, not as other sessions left them', () => {
    // Two identical teams (γ = 0: no bootstrap from the next state); between acting and feedback,
    // the second one shows 50 slates of other items (other sessions of a VecEnv do that). The
    // item agent's update must not see those impressions.
    const a = team(ctx, { coordination: 'vdn', gamma: 0 });
    const b = team(ctx, { coordination: 'vdn', gamma: 0 });
    const ki = a.memberNames.indexOf('item');
    const rng = new Rng(6);
    for (let s = 0; s < 20; s++) {
      const obs: Observation = { user: rng.int(8), history: Int32Array.of(rng.int(40)), t: s };
      const sa = a.act(obs, 5);
      const sb = b.act(obs, 5);
      expect(Array.from(sb.items)).toEqual(Array.from(sa.items));
      for (let o = 0; o < 50; o++) b.itemState.shown(Int32Array.of(35 + (o % 5), 30 + (o % 5)));
      const fb = { reward: 1, parts: { R: 1, G: 0.4, A: 0.2 }, clicks: Int32Array.of(0, 1, 0, 0, 0), next: obs, done: true };
      a.observe({ observation: obs, slate: sa, ...fb });
      b.observe({ observation: obs, slate: sb, ...fb });
      a.update();
      b.update();
      // The other impressions would change the shown items' exposure value and exposure share.
      for (let j = 0; j < a.values[ki]!.dim; j++) expect(b.values[ki]!.theta[j]).toBeCloseTo(a.values[ki]!.theta[j]!, 12);
      // Keep the two item states apart only by the extra impressions (acting reads them, too).
      b.itemState.load(structuredClone(a.itemState.toJSON()));
    }
  });

  it('credits the next state’s value to the clicked items (SlateQ), evenly without a click, and always sums to 1', () => {
    expect(Array.from(continuationShares(Int32Array.of(0, 1, 0, 1), 4, 'clicks'))).toEqual([0, 0.5, 0, 0.5]);
    expect(Array.from(continuationShares(Int32Array.of(0, 0, 0, 0), 4, 'clicks'))).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(Array.from(continuationShares(undefined, 4, 'clicks'))).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(Array.from(continuationShares(Int32Array.of(0, 1, 0, 1), 4, 'uniform'))).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(() => team(ctx, { credit: 'all' as never })).toThrow(/credit/);
  });

  it('weighted VDN: mixer weights stay non-negative whatever the TD errors', () => {
    const mixer = new StateWeightedMixer(3, 5, 0.5);
    const rng = new Rng(8);
    const w = new Float64Array(3);
    const s = new Float64Array(5);
    const q = new Float64Array(3);
    for (let step = 0; step < 2000; step++) {
      for (let j = 0; j < 5; j++) s[j] = rng.normal();
      for (let k = 0; k < 3; k++) q[k] = rng.normal() * 3;
      mixer.weights(s, w);
      for (let k = 0; k < 3; k++) expect(w[k]).toBeGreaterThanOrEqual(0);
      // Targets that reward a negative weight on agent 0: an unconstrained mixer would go there.
      const target = -2 * q[0]! + q[1]!;
      mixer.step(s, q, 0, target - StateWeightedMixer.mix(q, 0, w, 3, 0));
    }
    // The mixer still fits what a monotone mixer can: agent 1's weight grows toward 1.
    let mean1 = 0;
    for (let t = 0; t < 200; t++) {
      for (let j = 0; j < 5; j++) s[j] = rng.normal();
      mixer.weights(s, w);
      mean1 += w[1]! / 200;
    }
    expect(mean1).toBeGreaterThan(0.5);
  });

  it('weighted VDN without a state bias: b(s) stays 0 however the TD errors push, and the team mixes without it', () => {
    const rng = new Rng(5);
    const s = new Float64Array(4);
    const w = new Float64Array(2);
    const withBias = new StateWeightedMixer(2, 4, 0.5);
    const without = new StateWeightedMixer(2, 4, 0.5, 2, 0, false);
    for (let step = 0; step < 200; step++) {
      for (let j = 0; j < 4; j++) s[j] = rng.normal();
      withBias.weights(s, w);
      withBias.step(s, [1, 1], 0, 3);
      expect(without.weights(s, w)).toBe(0);
      without.step(s, [1, 1], 0, 3);
    }
    expect(Math.hypot(...withBias.v)).toBeGreaterThan(0.1);
    expect(Array.from(without.v).every((x) => x === 0)).toBe(true);
    const t = team(ctx, { coordination: 'weighted-vdn' });
    expect((t.mode as WeightedVdnMode).mixer.stateBias).toBe(false);
  });

  it('weighted VDN: mixer weights stay within [0, wMax] and a clipped weight gets no gradient', () => {
    const mixer = new StateWeightedMixer(2, 3, 0.5, 1.5);
    const rng = new Rng(4);
    const w = new Float64Array(2);
    const s = new Float64Array(3);
    const q = new Float64Array(2);
    for (let step = 0; step < 1000; step++) {
      for (let j = 0; j < 3; j++) s[j] = rng.normal();
      for (let k = 0; k < 2; k++) q[k] = rng.normal() * 3;
      mixer.weights(s, w);
      for (let k = 0; k < 2; k++) {
        expect(w[k]).toBeGreaterThanOrEqual(0);
        expect(w[k]).toBeLessThanOrEqual(1.5);
      }
      // Targets asking for weight 5 on agent 0: unbounded, the mixer would follow.
      mixer.step(s, q, 0, 5 * q[0]! - StateWeightedMixer.mix(q, 0, w, 2, 0));
    }
    let hits = 0;
    for (let t = 0; t < 100; t++) {
      for (let j = 0; j < 3; j++) s[j] = rng.normal();
      mixer.weights(s, w);
      if (w[0] === 1.5) hits++;
    }
    // It does push agent 0's weight to the bound most of the time.
    expect(hits).toBeGreaterThan(50);
  });

  it('weighted-VDN team: the slate scores are Σ_k w_k(s)·Q_k with w ≥ 0', () => {
    const t = team(ctx, { coordination: 'weighted-vdn', fusion: 'weighted', slotting: 'score' });
    const obs: Observation = { user: 1, history: Int32Array.of(2), t: 0 };
    for (let s = 0; s < 40; s++) {
      const slate = t.act(obs, 5);
      t.observe({ observation: obs, slate, reward: slate.items[0]! % 2, parts: { R: slate.items[0]! % 2, G: 0.3, A: 0.1 }, clicks: Int32Array.of(1, 0, 0, 0, 0), next: obs, done: true });
      t.update();
    }
    t.setTraining(false);
    // The item agent's state moves when a slate is shown; score against the state before it.
    const slate = actUnshown(t, obs, 5);
    // The mixer's weights for the state the team acted in (the team encodes it the same way).
    const featuriser = new StateFeaturiser(ctx);
    const w = new Float64Array(t.m);
    expect((t.mode as WeightedVdnMode).mixer.weights(featuriser.encode(obs, new Float32Array(featuriser.dim)), w)).toBe(0);
    for (const x of w) expect(x).toBeGreaterThanOrEqual(0);
    // Trained weights, so a plain sum (VDN) would not pass for the mix below.
    expect(Math.max(...Array.from(w, (x) => Math.abs(x - 1)))).toBeGreaterThan(1e-3);
    for (const [p, item] of Array.from(slate.items).entries()) {
      let mixed = 0;
      for (let k = 0; k < t.m; k++) mixed += w[k]! * agentValue(t, k, obs, item);
      expect(Math.abs(slate.scores![p]! - mixed)).toBeLessThan(1e-5 * (1 + Math.abs(mixed)));
    }
  });
});

describe('fusion and explanations', () => {
  it('every fusion writes contributions that add up to the fused score', () => {
    const n = 7;
    const m = 3;
    const rng = new Rng(2);
    const q = new Float64Array(n * m);
    for (let i = 0; i < q.length; i++) q[i] = rng.normal();
    const c = new Float64Array(n * m);
    const s = new Float64Array(n);
    for (const kind of ['weighted', 'borda', 'rrf'] as const) {
      fuse(kind, q, n, m, [0.5, 1, 2], c, s, new Int32Array(n * m), new Int32Array(n));
      for (let r = 0; r < n; r++) expect(c[r * m]! + c[r * m + 1]! + c[r * m + 2]!).toBe(s[r]);
    }
  });

  for (const fusion of FUSIONS) {
    it(`explanations (${fusion}): per-agent contributions add up to each item's score, with evidence`, () => {
      const c2 = { ...toyContext({ nItems: 40, slateSize: 5 }), titles: Array.from({ length: 40 }, (_, i) => `Movie ${i}`) };
      const t = team(c2, { fusion, coordination: 'vdn' });
      const obs: Observation = { user: 3, history: Int32Array.of(4, 11, 20), t: 2 };
      for (let s = 0; s < 20; s++) {
        const slate = t.act(obs, 5);
        t.observe({ observation: obs, slate, reward: 1, parts: { R: 1, G: 0.2, A: 0.4 }, clicks: Int32Array.of(0, 1, 0, 0, 0), next: obs, done: false });
        t.update();
      }
      const slate = t.act(obs, 5);
      const ex = t.explain(obs, slate);
      for (const e of ex) {
        const sum = Object.values(e.contributions).reduce((a, b) => a + b, 0);
        expect(Math.abs(sum - e.score)).toBeLessThan(1e-12);
        expect(Object.keys(e.contributions)).toEqual(['user', 'item', 'content']);
        const texts = e.evidence.map((x) => x.text).join(' | ');
        expect(texts).toMatch(/because you watched Movie (4|11|20)/);
        expect(texts).toMatch(/shown|never shown|new/);
      }
    });
  }
});

describe('cooperative task with a known optimum (split the slate between the relevant and the cold item)', () => {
  for (const mode of COORDINATIONS) {
    it(`${mode} learns the optimal slate {3, 7} (r = 1.5)`, () => {
      const { reward } = trainSplit(mode, 'weighted', 400);
      expect(reward).toBeGreaterThanOrEqual(1.5 - 1e-9);
    });
  }

  for (const mode of COORDINATIONS) {
    it(`${mode} with dcg slotting learns the optimal slate {3, 7} too, the cold item below the relevant one`, () => {
      const { agent, reward } = trainSplit(mode, 'weighted', 400, 3, 'dcg');
      expect(reward).toBeGreaterThanOrEqual(1.5 - 1e-9);
      const items = agent.act({ user: 0, history: new Int32Array(0), t: 0 }, 2).items;
      // Value modes place by position: the per-impression item goes to the less examined slot.
      if (mode !== 'item-critic' && mode !== 'central-critic') expect(Array.from(items)).toEqual([3, 7]);
    });
  }

  // The RLS learner (rls.ts) for the value modes; the item critic's actors do not use it.
  for (const mode of ['vdn', 'weighted-vdn', 'qmix', 'comm', 'independent', 'value-sharing'] as const) {
    it(`${mode} with the RLS learner learns the optimal slate {3, 7} too`, () => {
      const { agent, reward } = trainSplit(mode, 'weighted', 150, 3, 'score', 'rls');
      expect(reward).toBeGreaterThanOrEqual(1.5 - 1e-9);
      expect(agent.rls.length).toBe(mode === 'independent' || mode === 'value-sharing' ? agent.m : 1);
    });
  }

  it('the user agent alone cannot find the cold item (< optimum), so the team needs the item agent', () => {
    const c = splitContext();
    // Without the item agent nor item-level popularity the cold item looks like any other.
    c.items.popularity.fill(5);
    // Independent: the user agent learns its own stake, the clicks (R); no agent is there to learn G.
    const agent = team(c, { coordination: 'independent', members: ['user'], lambda: 1, alpha: 0, gamma: 0, epsilon: 0.2 });
    expect(agent.memberNames).toEqual(['user']);
    const obs: Observation = { user: 0, history: new Int32Array(0), t: 0 };
    for (let s = 0; s < 400; s++) {
      const slate = agent.act(obs, 2);
      const { R, G, clicks } = splitReward(slate.items, 1);
      agent.observe({ observation: obs, slate, reward: R + G, parts: { R, G, A: 0 }, clicks, next: obs, done: true });
      agent.update();
    }
    agent.setTraining(false);
    const { R, G } = splitReward(agent.act(obs, 2).items, 1);
    expect(R).toBe(1); // it does learn what the user clicks
    expect(R + G).toBeLessThan(1.5);
  });

  it('the same seed gives the same numbers', () => {
    const a = trainSplit('weighted-vdn', 'meta', 150, 9).agent;
    const b = trainSplit('weighted-vdn', 'meta', 150, 9).agent;
    expect(Array.from(a.values[0]!.theta)).toEqual(Array.from(b.values[0]!.theta));
    expect(Array.from((a.mode as WeightedVdnMode).mixer.W)).toEqual(Array.from((b.mode as WeightedVdnMode).mixer.W));
    expect(a.summary()).toEqual(b.summary());
    const c = trainSplit('qmix', 'weighted', 150, 9).agent;
    const d = trainSplit('qmix', 'weighted', 150, 9).agent;
    expect(Array.from((c.mode as QmixMode).net.params)).toEqual(Array.from((d.mode as QmixMode).net.params));
    expect(Array.from(c.values[0]!.theta)).toEqual(Array.from(d.values[0]!.theta));
  });
});

describe('dcg slotting', () => {
  it('scales click-driven contributions by 1/log2(p + 2) at their position, per-impression ones not; they still add up', () => {
    const c = { ...toyContext({ nItems: 40, slateSize: 5 }), titles: Array.from({ length: 40 }, (_, i) => `Movie ${i}`) };
    const dcg = team(c, { coordination: 'vdn', slotting: 'dcg', lambda: 5 });
    const plain = team(c, { coordination: 'vdn', slotting: 'score', lambda: 5 });
    dcg.setTraining(false);
    plain.setTraining(false);
    const obs: Observation = { user: 2, history: Int32Array.of(4, 9), t: 0 };
    const slate = dcg.act(obs, 5);
    const a = dcg.explain(obs, slate);
    // The plain team has the same (untrained, same-seed) values; on a foreign slate it reports them unscaled.
    const b = plain.explain(obs, { items: slate.items });
    for (let p = 0; p < 5; p++) {
      const e = 1 / Math.log2(p + 2);
      expect(a[p]!.contributions.user).toBeCloseTo(e * b[p]!.contributions.user!, 12);
      expect(a[p]!.contributions.item).toBeCloseTo(b[p]!.contributions.item!, 12);
      expect(a[p]!.contributions.content).toBeCloseTo(b[p]!.contributions.content!, 12);
      expect(Object.values(a[p]!.contributions).reduce((x, y) => x + y, 0)).toBeCloseTo(a[p]!.score, 12);
    }
  });

  it('changes the slate only through positions: with no per-impression agents it equals score order', () => {
    const c = toyContext({ nItems: 40, slateSize: 5 });
    const a = team(c, { coordination: 'vdn', members: ['user'], slotting: 'dcg' });
    const b = team(c, { coordination: 'vdn', members: ['user'], slotting: 'score' });
    a.setTraining(false);
    b.setTraining(false);
    for (let u = 0; u < 6; u++) {
      const obs: Observation = { user: u, history: Int32Array.of(u), t: 0 };
      expect(Array.from(a.act(obs, 5).items)).toEqual(Array.from(b.act(obs, 5).items));
    }
  });

  it('rejects an unknown slotting with the field named', () => {
    expect(() => team(ctx, { slotting: 'zigzag' as TeamConfig['slotting'] })).toThrow(/slotting/);
  });
});

describe('fair-exposure slots', () => {
  function run(fairSlots: number): { exposure: Int32Array; slates: Int32Array[] } {
    const c = toyContext({ nItems: 60, slateSize: 5 });
    const t = team(c, { coordination: 'vdn', fairSlots, lambda: 1 });
    t.setTraining(false);
    const exposure = new Int32Array(60);
    const slates: Int32Array[] = [];
    for (let s = 0; s < 60; s++) {
      const obs: Observation = { user: s % 8, history: Int32Array.of(s % 60, (s + 7) % 60), t: 0 };
      const slate = t.act(obs, 5);
      slates.push(slate.items);
      for (const i of slate.items) exposure[i]!++;
      for (const i of obs.history) expect(Array.from(slate.items)).not.toContain(i);
      expect(new Set(slate.items).size).toBe(5);
      // Explanations still add up on a slate with filled positions.
      for (const e of t.explain(obs, slate)) expect(Object.values(e.contributions).reduce((x, y) => x + y, 0)).toBeCloseTo(e.score, 9);
    }
    return { exposure, slates };
  }

  it('spread exposure over the catalogue (lower Gini, more distinct items) and rotate as items get shown', () => {
    const base = run(0);
    const fair = run(2);
    expect(exposureGini(fair.exposure)).toBeLessThan(exposureGini(base.exposure) - 0.1);
    const distinct = (e: Int32Array): number => e.reduce((a, x) => a + (x > 0 ? 1 : 0), 0);
    expect(distinct(fair.exposure)).toBeGreaterThan(distinct(base.exposure));
    // The filled positions change from slate to slate for the same user (exposure counts move).
    const tails = new Set(fair.slates.filter((_, s) => s % 8 === 0).map((x) => `${x[3]},${x[4]}`));
    expect(tails.size).toBeGreaterThan(3);
  });

  it('fill from the user’s top fairSlotPool items by the prior, and only outside training', () => {
    const c = toyContext({ nItems: 60, slateSize: 5 });
    const t = team(c, { coordination: 'vdn', fairSlots: 2, fairSlotPool: 8, lambda: 1 });
    const z = new CandidateSource(c, 100, 10).zPrior(3);
    const obs: Observation = { user: 3, history: Int32Array.of(1), t: 0 };
    t.setTraining(false);
    for (let s = 0; s < 20; s++) {
      const items = t.act(obs, 5).items;
      const mask = new Uint8Array(60);
      mask[1] = 1;
      for (let p = 0; p < 3; p++) mask[items[p]!] = 1;
      const pool = new Set(topK(z, 8, mask).items);
      expect(pool.has(items[3]!) && pool.has(items[4]!)).toBe(true);
    }
    // In training the slate is the team's own (ε-greedy over fused scores): no filled positions.
    const a = team(c, { coordination: 'vdn', fairSlots: 2, epsilon: 0, lambda: 1 });
    const b = team(c, { coordination: 'vdn', fairSlots: 0, epsilon: 0, lambda: 1 });
    for (let s = 0; s < 10; s++) expect(Array.from(a.act(obs, 5).items)).toEqual(Array.from(b.act(obs, 5).items));
  });

  it('the same seed gives the same slates', () => {
    expect(run(2).slates.map((x) => Array.from(x))).toEqual(run(2).slates.map((x) => Array.from(x)));
  });
});

describe('extra scorers as agents', () => {
  // A scorer that likes exactly the items the prior's top list leaves out.
  function outsider(base: Set<number>): ExtraScorer {
    return {
      name: 'outsider',
      scoreUser(_user, _history, out) {
        for (let i = 0; i < out.length; i++) out[i] = base.has(i) ? 0 : 1 + i / 100;
      },
    };
  }
  const obs: Observation = { user: 0, history: new Int32Array(0), t: 0 };

  it('propose their own top items as candidates, so they can put items on the slate that the prior does not rank', () => {
    const base = new Set(Array.from(team(ctx, { members: ['user'], candidates: 10, randomCandidates: 0 }).candidates(obs, false)));
    expect(base.size).toBe(10);
    const c: TeamContext = { ...ctx, extras: [outsider(base)] };
    const agent = team(c, { members: ['user', 'outsider'], candidates: 10, randomCandidates: 0, proposals: 4 });
    const cands = Array.from(agent.candidates(obs, false));
    expect(cands.slice(0, 10).sort((a, b) => a - b)).toEqual([...base].sort((a, b) => a - b));
    // The scorer's four best outside the prior's list: the highest-numbered items not in base.
    const outside = Array.from({ length: 40 }, (_, i) => i).filter((i) => !base.has(i)).slice(-4).reverse();
    expect(cands.slice(10)).toEqual(outside);
  });

  it('join the default team, but not a team whose members are listed', () => {
    const base = new Set(Array.from(team(ctx, { members: ['user'], candidates: 10, randomCandidates: 0 }).candidates(obs, false)));
    const c: TeamContext = { ...ctx, extras: [outsider(base)] };
    expect(team(c, {}).memberNames).toEqual(['user', 'item', 'content', 'outsider']);
    expect(team(c, { members: ['user'] }).memberNames).toEqual(['user']);
    expect(team(c, { members: ['outsider', 'user'] }).memberNames).toEqual(['outsider', 'user']);
  });

  it('score every candidate, the proposers’ ones included, when all of them propose while training', () => {
    const base = new Set(Array.from(team(ctx, { members: ['user'], candidates: 10, randomCandidates: 0 }).candidates(obs, false)));
    const c: TeamContext = { ...ctx, extras: [outsider(base), { ...outsider(base), name: 'outsider2' }] };
    // Four proposers (item, content, two scorers) × 5 items, more than the slate size beyond 2 × 5.
    const agent = team(c, { members: ['user', 'item', 'content', 'outsider', 'outsider2'], candidates: 10, randomCandidates: 2, proposals: 5, epsilon: 0 });
    const n = agent.candidates(obs, true).length;
    expect(n).toBeGreaterThan(10 + 2 + 2 * 5 + ctx.slateSize);
    // A slate as long as the candidate list comes back whole only if none was clipped from scoring.
    const slate = agent.act(obs, n);
    expect(slate.items.length).toBe(n);
    expect(new Set(slate.items).size).toBe(n);
  });
});

describe('registry and summaries', () => {
  it('rejects an unknown learner with the field named', () => {
    expect(() => team(ctx, { learner: 'sgd' as TeamConfig['learner'] })).toThrow(/learner/);
  });

  it('is registered as agent "team" and rejects unknown modes with the field named', () => {
    const a = createAgent('team', ctx, { seed: 2, coordination: 'comm', fusion: 'rrf' });
    expect(a.name).toBe('team');
    expect(() => createAgent('team', ctx, { coordination: 'telepathy' })).toThrow(/coordination/);
    expect(() => createAgent('team', ctx, { fusion: 'vote' })).toThrow(/fusion/);
    expect(() => createAgent('team', ctx, { members: ['user', 'oracle'] })).toThrow(/oracle/);
  });

  it('summarises per-agent weights and contribution shares in evaluation mode', () => {
    const { agent } = trainSplit('independent', 'weighted', 200);
    const s = agent.summary();
    expect(s.slates).toBe(10);
    const shares = Object.values(s.agents).map((a) => a.share);
    expect(shares.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 9);
    for (const a of Object.values(s.agents)) expect(a.weight).toBeGreaterThanOrEqual(0);
  });
});

for (const coordination of COORDINATIONS) {
  agentContract({
    name: `team (${coordination})`,
    ctx,
    make: (seed) => createAgent('team', ctx, { seed, coordination, fusion: coordination === 'vdn' ? 'meta' : 'weighted' }),
    restore: (saved) => restoreAgent(saved, ctx),
  });
}
