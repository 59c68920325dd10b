/**
 * The team with SlateQ's decomposition (`credit: 'slateq'`, VDN): the team's score of an item is
 * the user agent's click model P̂ times the agents' summed values of a click, Q̄ = Σ_k Q̄_k, and Q̄
 * learns from clicked items only. On the bait-or-good planning task (test/agents/neural-toy.ts)
 * the team with γ = 0.9 learns to keep the user (good items), where the same team with γ = 0
 * takes the bait.
 */
import { describe, expect, it } from 'vitest';
import type { Observation } from '../../src/env/types.js';
import { TeamAgent, TEAM_DEFAULTS, type TeamConfig } from '../../src/marl/team.js';
import type { ContentView } from '../../src/marl/views.js';
import type { AgentContext } from '../../src/agents/state.js';
import { restoreAgent } from '../../src/agents/registry.js';
import { registerTeam } from '../../src/marl/register.js';
import { Rng } from '../../src/util/rng.js';
import { toyContext } from '../agents/toy-context.js';
import { actUnshown, agentValue } from './team-probe.js';
import { PLAN_ALL_GOOD_RETURN, PLAN_MYOPIC_RETURN, PLAN_OPTIMAL_RETURN, PlanningEnv, planningContext, runPlanningEpisodes } from '../agents/neural-toy.js';

registerTeam();

const base = toyContext({ nItems: 40, slateSize: 5 });
const meanValue = Float32Array.from({ length: base.items.nItems }, (_, i) => ((i * 7) % 11) / 5 - 1);
const ctx: AgentContext = { ...base, items: { ...base.items, meanValue } };

function team(c: AgentContext, over: Partial<TeamConfig> = {}): TeamAgent {
  return new TeamAgent(c, { seed: 1, ...TEAM_DEFAULTS, coordination: 'vdn', learner: 'rls', credit: 'slateq', itemMeanValue: true, ...over });
}

/** Train on random users; the user clicks the slate's first item whose index is a multiple of 3. */
function train(t: TeamAgent, steps: number, seed = 4): void {
  const rng = new Rng(seed);
  for (let s = 0; s < steps; s++) {
    const obs: Observation = { user: rng.int(8), history: Int32Array.of(rng.int(40)), t: 0 };
    const slate = t.act(obs, 5);
    const clicks = new Int32Array(5);
    const p = Array.from(slate.items).findIndex((i) => i % 3 === 0);
    if (p >= 0) clicks[p] = 1;
    const R = p >= 0 ? 1 : 0;
    t.observe({ observation: obs, slate, reward: R, parts: { R, G: 0, A: 0 }, clicks, next: { ...obs, t: 1 }, done: rng.next() < 0.3 });
    t.update();
  }
}

describe("team with SlateQ credit (credit 'slateq')", () => {
  it('scores each slate item P̂(click) × Σ_k Q̄_k, and explains it with contributions that add up', () => {
    const t = team(ctx);
    train(t, 60);
    t.setTraining(false);
    const obs: Observation = { user: 2, history: Int32Array.of(5, 9), t: 3 };
    const slate = actUnshown(t, obs, 5);
    const p = t.clickProbabilities(obs, slate.items)!;
    const expl = t.explain(obs, slate);
    let distinct = 0;
    for (const [r, item] of Array.from(slate.items).entries()) {
      let qbar = 0;
      for (let k = 0; k < t.m; k++) qbar += agentValue(t, k, obs, item);
      expect(p[r]!).toBeGreaterThan(0);
      expect(p[r]!).toBeLessThanOrEqual(1);
      if (Math.abs(p[r]! - p[0]!) > 1e-3) distinct++;
      expect(Math.abs(slate.scores![r]! - p[r]! * qbar)).toBeLessThan(1e-5 * (1 + Math.abs(qbar)));
      const sum = Object.values(expl[r]!.contributions).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(expl[r]!.score, 9);
    }
    // The click model has learned: the slate's items do not all get the same P̂.
    expect(distinct).toBeGreaterThan(0);
  });

  it('learns Q̄ from clicked items only: a slate nobody clicked moves no value (it does under click credit), a clicked one does', () => {
    const obs: Observation = { user: 1, history: Int32Array.of(3), t: 0 };
    const moves = (t: TeamAgent, clicks: Int32Array): boolean => {
      const theta = t.values.map((v) => Float64Array.from(v.theta));
      const slate = t.act(obs, 5);
      t.observe({ observation: obs, slate, reward: 0.3, parts: { R: 0, G: 0.3, A: 0 }, clicks, next: obs, done: false });
      t.update();
      return t.values.some((v, k) => v.theta.some((x, j) => x !== theta[k]![j]));
    };
    for (const credit of ['slateq', 'clicks'] as const) {
      const t = team(ctx, { credit });
      train(t, 30);
      expect(moves(t, new Int32Array(5))).toBe(credit === 'clicks');
      expect(moves(t, Int32Array.of(0, 0, 1, 0, 0))).toBe(true);
    }
  });

  it('the content agent reads the item’s mean value as one more feature, and refuses a context without it', () => {
    const t = team(ctx);
    const kc = t.memberNames.indexOf('content');
    const v = t.views[kc]!;
    const x = new Float64Array(v.dim);
    v.features({ user: 0, history: new Int32Array(0), t: 0 }, Int32Array.of(12), 1, x);
    expect(x[v.dim - 1]).toBeCloseTo(meanValue[12]!, 6);
    // The content agent's proposals (scoreAll) rank by the same value, m_i's weight included.
    const cv = v as ContentView;
    const theta = Float64Array.from({ length: v.dim }, (_, j) => Math.sin(j + 1));
    const obs: Observation = { user: 0, history: Int32Array.of(4, 9), t: 0 };
    const all = new Float64Array(base.items.nItems);
    cv.setState(obs);
    cv.scoreAll(theta, new Float64Array(cv.cdim), all);
    for (let i = 0; i < base.items.nItems; i++) {
      cv.features(obs, Int32Array.of(i), 1, x);
      let dot = 0;
      for (let j = 0; j < v.dim; j++) dot += theta[j]! * x[j]!;
      expect(all[i]).toBeCloseTo(dot, 9);
    }
    expect(() => team(base)).toThrow(/meanValue/);
  });

  it('Monte Carlo targets: Q̄ learns when the session ends, toward the discounted return from the click', () => {
    const t = team(ctx, { target: 'mc', gamma: 0.5, members: ['user'] });
    const theta0 = Float64Array.from(t.values[0]!.theta);
    const obs0: Observation = { user: 1, history: Int32Array.of(3), t: 0 };
    const s0 = t.act(obs0, 5);
    const obs1: Observation = { user: 1, history: Int32Array.of(3, s0.items[2]!), t: 1 };
    t.observe({ observation: obs0, slate: s0, reward: 1, parts: { R: 1, G: 0, A: 0 }, clicks: Int32Array.of(0, 0, 1, 0, 0), next: obs1, done: false });
    // Nothing is learned while the session is open.
    expect(Array.from(t.values[0]!.theta)).toEqual(Array.from(theta0));
    const s1 = t.act(obs1, 5);
    t.observe({ observation: obs1, slate: s1, reward: 2, parts: { R: 2, G: 0, A: 0 }, clicks: Int32Array.of(1, 0, 0, 0, 0), next: obs1, done: true });
    // The first click's target is 1 + 0.5·2 = 2, the second's 2: with one RLS step each from a
    // weak prior, both rows' values move most of the way there.
    expect(agentValue(t, 0, obs0, s0.items[2]!)).toBeGreaterThan(1.5);
    expect(agentValue(t, 0, obs1, s1.items[0]!)).toBeGreaterThan(1.5);
  });

  it('a saved team with sessions still open finishes them as the original does', () => {
    const a = team(ctx, { target: 'mc' });
    train(a, 40);
    const obs0: Observation = { user: 6, history: Int32Array.of(1), t: 0 };
    const s0 = a.act(obs0, 5);
    a.observe({ observation: obs0, slate: s0, reward: 1, parts: { R: 1, G: 0, A: 0 }, clicks: Int32Array.of(0, 1, 0, 0, 0), next: { ...obs0, t: 1 }, done: false });
    const saved = a.toJSON();
    const state = saved.state as { openSessions?: { user: number }[] };
    expect(state.openSessions!.some((o) => o.user === 6)).toBe(true);
    const b = restoreAgent(structuredClone(saved), ctx) as TeamAgent;
    // The same file without its open session: the first step's click is never learned.
    const lost = structuredClone(saved);
    delete (lost.state as { openSessions?: unknown }).openSessions;
    const c = restoreAgent(lost, ctx) as TeamAgent;
    const obs1: Observation = { user: 6, history: Int32Array.of(1, s0.items[1]!), t: 1 };
    for (const x of [a, b, c]) {
      const s1 = x.act(obs1, 5);
      x.observe({ observation: obs1, slate: s1, reward: 0.5, parts: { R: 0.5, G: 0, A: 0 }, clicks: Int32Array.of(1, 0, 0, 0, 0), next: obs1, done: true });
    }
    for (let k = 0; k < a.m; k++) expect(Array.from(b.values[k]!.theta)).toEqual(Array.from(a.values[k]!.theta));
    expect(Array.from(c.values[0]!.theta)).not.toEqual(Array.from(a.values[0]!.theta));
  });

  it('rejects the options it cannot honour with the field named', () => {
    expect(() => team(ctx, { credit: 'clicks', target: 'mc' })).toThrow(/target/);
    expect(() => team(ctx, { coordination: 'qmix' })).toThrow(/credit/);
    expect(() => team(ctx, { slotting: 'dcg' })).toThrow(/slotting/);
    expect(() => team(ctx, { fusion: 'rrf' })).toThrow(/fusion/);
    expect(() => team(ctx).beginRound()).toThrow(/click model/);
  });

  it('a saved team restores its click model and scores the same', () => {
    const t = team(ctx);
    train(t, 40);
    t.setTraining(false);
    const copy = restoreAgent(structuredClone(t.toJSON()), ctx);
    copy.setTraining(false);
    const obs: Observation = { user: 3, history: Int32Array.of(7, 11), t: 2 };
    const a = t.act(obs, 5);
    const b = (copy as TeamAgent).act(obs, 5);
    expect(Array.from(b.items)).toEqual(Array.from(a.items));
    expect(Array.from(b.scores!)).toEqual(Array.from(a.scores!));
  });
});

describe('team with SlateQ credit on the bait-or-good planning task', () => {
  const config = { members: ['user', 'content'], gamma: 0.9, epsilon: 0.2, itemMeanValue: false, candidates: 16, randomCandidates: 0, proposals: 0 };
  const run = (gamma: number, target: TeamConfig['target'] = 'td'): number => {
    const t = team(planningContext(), { ...config, gamma, target });
    runPlanningEpisodes(t, new PlanningEnv(), 600, 0, true);
    t.setTraining(false);
    return runPlanningEpisodes(t, new PlanningEnv(), 100, 1_000_000, false);
  };
  it(`with γ = 0.9 keeps the user with good items (≥ ${PLAN_ALL_GOOD_RETURN}), far above the myopic ${PLAN_MYOPIC_RETURN}`, () => {
    expect(run(0.9)).toBeGreaterThanOrEqual(PLAN_ALL_GOOD_RETURN - 1e-9);
  });
  it('with γ = 0 takes the bait (the myopic return)', () => {
    expect(run(0)).toBeCloseTo(PLAN_MYOPIC_RETURN, 6);
  });
  // From the returns its own ε-greedy sessions had, it sometimes takes the bait one step early
  // (seeds 1–6: 1.8 or 2.6, the optimum); never at once.
  it(`with Monte Carlo targets and γ = 0.9 closes at least half the gap from the myopic ${PLAN_MYOPIC_RETURN} to the optimum ${PLAN_OPTIMAL_RETURN}`, () => {
    expect(run(0.9, 'mc')).toBeGreaterThanOrEqual(PLAN_MYOPIC_RETURN + 0.5 * (PLAN_OPTIMAL_RETURN - PLAN_MYOPIC_RETURN) - 1e-9);
  });
});
