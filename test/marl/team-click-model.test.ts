/**
 * The SlateQ team's click model over every member's rows (`clickModel: 'team'`) and the content
 * agent's train profile (`contentProfile: 'both'`). The task: each user has a long-term taste, one
 * of two content kinds, that only their train history shows (the session's history is one random
 * item, and the toy CF vectors are unrelated to it); the user looks at the slate's first item
 * only and clicks it when it is of their kind. The user agent's click model cannot tell a user's kind from its rows; the team's
 * model reads the content agent's train-profile block and can.
 */
import { describe, expect, it } from 'vitest';
import type { Observation } from '../../src/env/types.js';
import { TeamAgent, TEAM_DEFAULTS, type TeamConfig } from '../../src/marl/team.js';
import { withContent, type TeamContext } from '../../src/marl/context.js';
import type { ContentView } from '../../src/marl/views.js';
import { restoreAgent } from '../../src/agents/registry.js';
import { registerTeam } from '../../src/marl/register.js';
import { Rng } from '../../src/util/rng.js';
import { toyContext } from '../agents/toy-context.js';

registerTeam();

const N_ITEMS = 40;
const N_USERS = 8;
const kindOf = (i: number): number => i % 2;
const tasteOf = (u: number): number => u % 2;

function tasteContext(withHistory = true): TeamContext {
  const base = toyContext({ nItems: N_ITEMS, nUsers: N_USERS, slateSize: 5 });
  // Content: the item's kind, one-hot, plus a constant component.
  const vectors = new Float32Array(N_ITEMS * 3);
  for (let i = 0; i < N_ITEMS; i++) {
    vectors[i * 3 + kindOf(i)] = 1;
    vectors[i * 3 + 2] = 0.5;
  }
  const ctx = withContent(base, { dim: 3, vectors });
  if (!withHistory) return ctx;
  // Each user's train history: six items of their kind and one of the other.
  const indptr = new Int32Array(N_USERS + 1);
  const indices: number[] = [];
  for (let u = 0; u < N_USERS; u++) {
    for (let k = 0; k < 6; k++) indices.push(2 * (u + k) + tasteOf(u));
    indices.push(2 * u + 1 - tasteOf(u));
    indptr[u + 1] = indices.length;
  }
  return { ...ctx, trainHistory: { rows: N_USERS, indptr, indices: Int32Array.from(indices) } };
}

function team(ctx: TeamContext, over: Partial<TeamConfig> = {}): TeamAgent {
  return new TeamAgent(ctx, { seed: 1, ...TEAM_DEFAULTS, coordination: 'vdn', learner: 'rls', credit: 'slateq', epsilon: 0.2, proposals: 0, ...over });
}

const observation = (rng: Rng): Observation => ({ user: rng.int(N_USERS), history: Int32Array.of(rng.int(N_ITEMS)), t: 0 });

/** Train for `steps` slates; returns the click rate of the last half. */
function train(t: TeamAgent, steps: number, seed = 5): number {
  const rng = new Rng(seed);
  let clicked = 0;
  for (let s = 0; s < steps; s++) {
    const obs = observation(rng);
    const slate = t.act(obs, 5);
    const clicks = new Int32Array(5);
    const p = kindOf(slate.items[0]!) === tasteOf(obs.user) ? 0 : -1;
    if (p >= 0) clicks[p] = 1;
    if (p >= 0 && s >= steps / 2) clicked++;
    const R = p >= 0 ? 1 : 0;
    t.observe({ observation: obs, slate, reward: R, parts: { R, G: 0, A: 0 }, clicks, next: { ...obs, t: 1 }, done: true });
    t.update();
  }
  return clicked / (steps / 2);
}

/** Mean P̂ of the user's kind minus mean P̂ of the other kind, over every user and item. */
function tasteGap(t: TeamAgent): number {
  const items = Int32Array.from({ length: N_ITEMS }, (_, i) => i);
  let gap = 0;
  for (let u = 0; u < N_USERS; u++) {
    const p = t.clickProbabilities({ user: u, history: Int32Array.of(39 - u), t: 0 }, items)!;
    let mine = 0;
    let other = 0;
    for (let i = 0; i < N_ITEMS; i++) (kindOf(i) === tasteOf(u) ? (mine += p[i]!) : (other += p[i]!));
    gap += (mine - other) / (N_ITEMS / 2);
  }
  return gap / N_USERS;
}

describe("the content agent's train profile (contentProfile 'both')", () => {
  it('adds e_i ⊙ p_train(u), the mean content of the user’s train items, and ranks its proposals by the same value', () => {
    const ctx = tasteContext();
    const t = team(ctx, { contentProfile: 'both' });
    const cv = t.views[t.memberNames.indexOf('content')]! as ContentView;
    const plain = team(ctx).views[t.memberNames.indexOf('content')]!;
    expect(cv.dim).toBe(plain.dim + 3);
    const obs: Observation = { user: 3, history: Int32Array.of(4), t: 0 };
    const x = new Float64Array(cv.dim);
    // User 3's train items: six of kind 1 and one of kind 0, so p_train = (1/7, 6/7, 0.5).
    const pTrain = [1 / 7, 6 / 7, 0.5];
    for (const item of [10, 11]) {
      cv.features(obs, Int32Array.of(item), 1, x);
      for (let j = 0; j < 3; j++) expect(x[plain.dim + j]).toBeCloseTo((j === kindOf(item) ? 1 : j === 2 ? 0.5 : 0) * pTrain[j]!, 6);
    }
    const theta = Float64Array.from({ length: cv.dim }, (_, j) => Math.cos(j + 2));
    const all = new Float64Array(N_ITEMS);
    cv.setState(obs);
    cv.scoreAll(theta, new Float64Array(cv.cdim), all);
    for (let i = 0; i < N_ITEMS; i++) {
      cv.features(obs, Int32Array.of(i), 1, x);
      let dot = 0;
      for (let j = 0; j < cv.dim; j++) dot += theta[j]! * x[j]!;
      expect(all[i]).toBeCloseTo(dot, 9);
    }
    // A user beyond the train split reads a zero profile.
    cv.features({ user: N_USERS + 2, history: Int32Array.of(4), t: 0 }, Int32Array.of(11), 1, x);
    for (let j = 0; j < 3; j++) expect(x[plain.dim + j]).toBe(0);
  });

  it('refuses a context without the users’ train items, naming the option', () => {
    expect(() => team(tasteContext(false), { contentProfile: 'both' })).toThrow(/contentProfile/);
    expect(() => team(tasteContext(), { contentProfile: 'all' as never })).toThrow(/contentProfile/);
  });
});

describe("the team's click model (clickModel 'team')", () => {
  it('learns the users’ long-term taste that the user agent’s click model cannot see, and clicks more for it', () => {
    const ctx = tasteContext();
    const own = team(ctx, { contentProfile: 'both' });
    const shared = team(ctx, { contentProfile: 'both', clickModel: 'team' });
    const ctrOwn = train(own, 400);
    const ctrShared = train(shared, 400);
    own.setTraining(false);
    shared.setTraining(false);
    // Half the items are of the user's kind, and the user clicks only those (when first): a model
    // that knows the kind gives them more P̂ (about 0.1 here, the first position's share of the
    // impressions); the user agent's rows carry no sign of it.
    expect(tasteGap(shared)).toBeGreaterThan(0.05);
    expect(Math.abs(tasteGap(own))).toBeLessThan(0.01);
    // Ranked by P̂·Q̄, the team that knows the taste puts the user's kind first far more often
    // than the coin flip (about 0.5, less ε's random slates) the user agent's model is left with.
    expect(ctrOwn).toBeLessThan(0.65);
    expect(ctrShared).toBeGreaterThan(ctrOwn + 0.2);
  });

  it('is saved with the team: a restored team scores the same', () => {
    const ctx = tasteContext();
    const t = team(ctx, { contentProfile: 'both', clickModel: 'team' });
    train(t, 60);
    t.setTraining(false);
    const copy = restoreAgent(structuredClone(t.toJSON()), ctx) as TeamAgent;
    copy.setTraining(false);
    const obs: Observation = { user: 5, history: Int32Array.of(2), t: 0 };
    const items = Int32Array.from({ length: N_ITEMS }, (_, i) => i);
    const p = t.clickProbabilities(obs, items)!;
    // The model has learned (P̂ differs across items), so an equal copy is not two untrained ones.
    expect(new Set(p).size).toBeGreaterThan(1);
    expect(Array.from(copy.clickProbabilities(obs, items)!)).toEqual(Array.from(p));
    const a = t.act(obs, 5);
    const b = copy.act(obs, 5);
    expect(Array.from(b.items)).toEqual(Array.from(a.items));
    expect(Array.from(b.scores!)).toEqual(Array.from(a.scores!));
    const broken = structuredClone(t.toJSON());
    delete (broken.state as { teamClick?: unknown }).teamClick;
    expect(() => restoreAgent(broken, ctx)).toThrow(/team click model/);
  });

  it('gives P̂ for more items than the scoring buffers hold, each as when asked alone', () => {
    // 5 candidates and no proposals: the buffers hold 10 rows; 40 items take four passes.
    const t = team(tasteContext(), { contentProfile: 'both', clickModel: 'team', candidates: 5, randomCandidates: 0 });
    train(t, 60);
    const obs: Observation = { user: 4, history: Int32Array.of(7), t: 0 };
    const items = Int32Array.from({ length: N_ITEMS }, (_, i) => N_ITEMS - 1 - i);
    const all = t.clickProbabilities(obs, items)!;
    expect(all.length).toBe(N_ITEMS);
    for (let r = 0; r < N_ITEMS; r++) expect(all[r]).toBe(t.clickProbabilities(obs, items.subarray(r, r + 1))![0]);
    expect(new Set(all).size).toBeGreaterThan(1);
  });

  it('needs SlateQ credit', () => {
    expect(() => team(tasteContext(), { credit: 'clicks', clickModel: 'team' })).toThrow(/clickModel/);
  });
});
