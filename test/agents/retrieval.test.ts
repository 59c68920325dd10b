/**
 * The neural agents' learned retrieval stage (`retrieval: 'linear'`) and DQN's residual Q
 * (`residual`): the retrieval model learns from transitions and changes which items are
 * candidates; a residual DQN still learns the toy task; both survive save/load.
 */
import { describe, expect, it } from 'vitest';
import { CandidateSource } from '../../src/agents/neural.js';
import { createAgent, restoreAgent } from '../../src/agents/registry.js';
import type { Agent, Transition } from '../../src/agents/types.js';
import { Rng } from '../../src/util/rng.js';
import { parse, stringify } from '../../src/util/serialize.js';
import { N_TYPES, OPTIMAL_RETURN, ToyEnv, runEpisodes, toyContext } from './neural-toy.js';

const obs = { user: 0, history: new Int32Array(0), t: 0, context: new Float32Array(N_TYPES) };

/** Plays `episodes` toy sessions (seeds 0, 1, …) with `actor`'s two-item slates; every transition goes to each of `learners`. */
function playToySessions(actor: Agent, episodes: number, learners: ((t: Transition) => void)[]): void {
  const env = new ToyEnv();
  for (let e = 0; e < episodes; e++) {
    let o = env.reset(e);
    for (;;) {
      const slate = actor.act(o, 2);
      const r = env.step(slate);
      const t: Transition = { observation: o, slate, reward: r.reward, parts: r.parts, clicks: r.info.clicks, next: r.observation, done: r.done };
      for (const learn of learners) learn(t);
      o = r.observation;
      if (r.done) break;
    }
  }
}

/**
 * Two untrained DQN agents (the caller keeps learningStarts out of reach) and a linear
 * CandidateSource that observed the same 30 toy sessions, played by `second`; both agents then
 * rank 24 candidates for one fixed observation, so their scores can be compared item by item.
 */
function actSideBySide(first: Record<string, unknown>, second: Record<string, unknown>) {
  const a = createAgent('dqn', toyContext(), first);
  const b = createAgent('dqn', toyContext(), second);
  const src = new CandidateSource(toyContext(), 100, 0, 'linear');
  playToySessions(b, 30, [(t) => a.observe(t), (t) => b.observe(t), (t) => src.learn(t)]);
  a.setTraining(false);
  b.setTraining(false);
  const o = new ToyEnv().reset(99);
  return { o, src, a: a.act(o, 24), b: b.act(o, 24) };
}

describe("retrieval 'linear'", () => {
  it('learns from clicks which items to retrieve; prior retrieval does not move', () => {
    const ctx = toyContext();
    const lin = new CandidateSource(ctx, 3, 0, 'linear');
    const prior = new CandidateSource(ctx, 3, 0, 'prior');
    const rng = new Rng(1);
    // Flat popularity: before any feedback both retrieve the first items by index (mixed genres).
    const genres = (items: Int32Array) => [...items].map((i) => i % N_TYPES);
    expect(new Set(genres(lin.get(obs, rng))).size).toBeGreaterThan(1);
    // Slates of a genre-1 and a genre-2 item; only the genre-1 item is ever clicked.
    for (let s = 0; s < 200; s++) {
      const a = 1 + N_TYPES * (s % 8);
      const b = 2 + N_TYPES * ((s + 3) % 8);
      const t = { observation: obs, slate: { items: Int32Array.from([a, b]) }, reward: 1, parts: { R: 1, G: 0, A: 0 }, clicks: Int32Array.from([1, 0]), next: obs, done: true };
      lin.learn(t);
      prior.learn(t);
    }
    expect(genres(lin.get(obs, rng))).toEqual([1, 1, 1]);
    expect(genres(lin.top(obs, 3))).toEqual([1, 1, 1]);
    expect(new Set(genres(prior.get(obs, rng))).size).toBeGreaterThan(1);
    // Its score of a genre-1 item is now above a genre-2 item's.
    const sc = lin.linearScores(obs, [1, 2], new Float32Array(2));
    expect(sc[0]!).toBeGreaterThan(sc[1]! + 0.3);
  });

  it('its click model learns click rates, apart from how much a click pays', () => {
    const ctx = toyContext();
    const lin = new CandidateSource(ctx, 3, 0, 'linear');
    // Genre-1 items are clicked 3 times in 4 and pay 0.2 a click; genre-2 items once in 4 and pay 4.
    for (let s = 0; s < 400; s++) {
      const a = 1 + N_TYPES * (s % 8);
      const b = 2 + N_TYPES * ((s + 3) % 8);
      // Each item sees every phase of the pattern (the items cycle with period 8, the clicks with 4 rounds of it).
      const phase = Math.floor(s / 8) % 4;
      const ca = phase !== 0 ? 1 : 0;
      const cb = phase === 0 ? 1 : 0;
      lin.learn({ observation: obs, slate: { items: Int32Array.from([a, b]) }, reward: 0.2 * ca + 4 * cb, rewards: Float32Array.from([0.2 * ca, 4 * cb]), clicks: Int32Array.from([ca, cb]), next: obs, done: true });
    }
    const p = lin.clickProbabilities(obs, [1, 2], new Float32Array(2));
    expect(p[0]!).toBeCloseTo(0.75, 1);
    expect(p[1]!).toBeCloseTo(0.25, 1);
    // The reward model ranks the other way: genre 2 pays more per impression (1 against 0.15).
    const r = lin.linearScores(obs, [1, 2], new Float32Array(2));
    expect(r[1]!).toBeGreaterThan(r[0]! + 0.5);
    expect(() => new CandidateSource(ctx, 3, 0, 'prior').clickProbabilities(obs, [1], new Float32Array(1))).toThrow(/retrieval/);
  });
});

describe('dqn with linear retrieval and a residual Q', () => {
  const config = { hidden: [32], state: { contextDim: 3 }, learningStarts: 50, epsilonStart: 1, epsilonDecaySteps: 450, nextCandidates: 8, retrieval: 'linear', residual: true, huberDelta: 100 };

  it(`learns the toy task to ≥ 90 % of the optimal return (${OPTIMAL_RETURN}) on held-out sessions`, () => {
    const agent = createAgent('dqn', toyContext(), { ...config, seed: 7 });
    runEpisodes(agent, new ToyEnv(), 250, 0, true);
    agent.setTraining(false);
    expect(runEpisodes(agent, new ToyEnv(), 200, 1_000_000, false)).toBeGreaterThanOrEqual(0.9 * OPTIMAL_RETURN);
  });

  it('save/load keeps the retrieval model: the restored agent acts and continues identically', () => {
    const a = createAgent('dqn', toyContext(), { ...config, seed: 5 });
    runEpisodes(a, new ToyEnv(), 40, 0, true);
    const b = restoreAgent(parse(stringify(a.toJSON())) as ReturnType<Agent['toJSON']>, toyContext());
    runEpisodes(a, new ToyEnv(), 20, 100, true);
    runEpisodes(b, new ToyEnv(), 20, 100, true);
    expect(stringify(b.toJSON())).toBe(stringify(a.toJSON()));
    const saved = a.toJSON() as { state: { retrieval?: { b: Float64Array; clickB: Float64Array } } };
    expect(saved.state.retrieval?.b.some((x) => x !== 0)).toBe(true);
    expect(saved.state.retrieval?.clickB.some((x) => x !== 0)).toBe(true);
  });

  it('residual: Q is the retrieval model\'s score plus the network\'s output', () => {
    // Same seed and features, no gradient step (learningStarts out of reach): the two agents'
    // networks are equal, so their Q values differ by exactly the linear score.
    const base = { ...config, learningStarts: 1_000_000, bufferSize: 1_000_000, seed: 11 };
    const { o, src, a, b } = actSideBySide(base, { ...base, residual: false });
    const expected = src.linearScores(o, a.items, new Float32Array(a.items.length));
    expect(new Set(expected).size).toBeGreaterThan(3); // the linear part tells items apart
    for (let p = 0; p < a.items.length; p++) {
      const q = [...b.items].indexOf(a.items[p]!);
      expect(a.scores![p]! - b.scores![q]!).toBeCloseTo(expected[p]!, 4);
    }
  });

  it('refuses residual without linear retrieval, and an unknown credit, naming the field', () => {
    expect(() => createAgent('dqn', toyContext(), { residual: true })).toThrow(/residual/);
    expect(() => createAgent('dqn', toyContext(), { credit: 'items' })).toThrow(/credit/);
  });

  it("credit 'clicked' gives the future to the clicked item only; 'slate' to every shown item", () => {
    // One two-step session, replayed: at o the slate [A, B] pays nothing now and A is clicked;
    // at o2 the clicked C pays 1. With 'clicked' only A inherits o2's value; with 'slate' B does too.
    const [A, B, C, D] = [0, 4, 1, 2];
    const o = { user: 0, history: new Int32Array(0), t: 0, context: Float32Array.from([1, 0, 0]) };
    const o2 = { user: 0, history: Int32Array.from([A]), t: 1, context: Float32Array.from([1, 0, 0]) };
    const step = (obs: typeof o, items: number[], reward: number, next: typeof o, done: boolean) => ({
      observation: obs, slate: { items: Int32Array.from(items) }, reward, parts: { R: reward, G: 0, A: 0 }, clicks: Int32Array.from([1, 0]), next, done,
    });
    const gap = (credit: string) => {
      const agent = createAgent('dqn', toyContext(), { hidden: [32], state: { contextDim: 3 }, learningStarts: 10, batchSize: 8, trainEvery: 1, lr: 3e-3, gamma: 0.9, nextCandidates: 8, credit, seed: 3 });
      for (let e = 0; e < 600; e++) {
        agent.observe(step(o, [A, B], 0, o2, false));
        agent.observe(step(o2, [C, D], 1, o2, true));
        agent.update();
      }
      agent.setTraining(false);
      const s = agent.act(o, 24);
      const q = (i: number) => s.scores![[...s.items].indexOf(i)]!;
      return q(A) - q(B);
    };
    expect(gap('clicked')).toBeGreaterThan(0.5);
    expect(Math.abs(gap('slate'))).toBeLessThan(0.2);
  });

  it("target 'mc' credits the return that actually followed, and keeps an open session through save/load", () => {
    // The same two-step session as above, but the second step's reward alternates 0 and 2: a
    // bootstrap reads one value for o2 (its mean, 1) while Monte Carlo targets carry what each
    // session got. With credit 'clicked', Q(A) → γ·E[future] = 0.9 and Q(B) → 0 either way; the
    // samples enter the replay buffer only when their session ends, each with its own future.
    const [A, B, C, D] = [0, 4, 1, 2];
    const o = { user: 0, history: new Int32Array(0), t: 0, context: Float32Array.from([1, 0, 0]) };
    const o2 = { user: 0, history: Int32Array.from([A]), t: 1, context: Float32Array.from([1, 0, 0]) };
    const step = (obs: typeof o, items: number[], reward: number, next: typeof o, done: boolean) => ({
      observation: obs, slate: { items: Int32Array.from(items) }, reward, parts: { R: reward, G: 0, A: 0 }, clicks: Int32Array.from([1, 0]), next, done,
    });
    const cfg = { hidden: [32], state: { contextDim: 3 }, learningStarts: 10, batchSize: 8, trainEvery: 1, lr: 3e-3, gamma: 0.9, nextCandidates: 8, credit: 'clicked', target: 'mc', seed: 3 };
    const agent = createAgent('dqn', toyContext(), cfg);
    for (let e = 0; e < 600; e++) {
      agent.observe(step(o, [A, B], 0, o2, false));
      agent.observe(step(o2, [C, D], e % 2 === 0 ? 0 : 2, o2, true));
      agent.update();
    }
    const saved = agent.toJSON() as { state: { extra: { replay: { future?: Float64Array } } } };
    const futures = new Set(Array.from(saved.state.extra.replay.future ?? [], (f) => Math.round(f * 1000) / 1000));
    // First steps carry the second step's reward (0 or 2), last steps 0.
    expect([...futures].sort()).toEqual([0, 2]);
    agent.setTraining(false);
    const s = agent.act(o, 24);
    const q = (i: number) => s.scores![[...s.items].indexOf(i)]!;
    expect(q(A)).toBeGreaterThan(0.6);
    expect(q(A)).toBeLessThan(1.2);
    expect(Math.abs(q(B))).toBeLessThan(0.3);
    agent.setTraining(true);
    // Saved between a session's two steps, a restored agent finishes it as the original does.
    agent.observe(step(o, [A, B], 0, o2, false));
    const restored = restoreAgent(parse(stringify(agent.toJSON())) as ReturnType<Agent['toJSON']>, toyContext());
    for (const x of [agent, restored]) {
      x.observe({ ...step(o2, [C, D], 2, o2, true), observation: { ...o2 } });
      x.update();
    }
    expect(stringify(restored.toJSON())).toBe(stringify(agent.toJSON()));
    expect(() => createAgent('dqn', toyContext(), { target: 'nstep' })).toThrow(/target/);
    for (const bad of [{ retrieval: 'prior', target: 'mc' }, { retrieval: 'linear', target: 'td' }, { retrieval: 'linear', target: 'mc', residual: true }]) {
      expect(() => createAgent('dqn', toyContext(), { credit: 'slateq', ...bad })).toThrow(/slateq/);
    }
  });

  it("credit 'slateq' scores P̂(click)·Q̄ and learns Q̄ from clicked items only", () => {
    // Untrained (learningStarts out of reach), the slateq agent's scores are the click model's P̂
    // times the same network's output that an undecomposed agent ranks by.
    const base = { hidden: [32], state: { contextDim: 3 }, retrieval: 'linear', target: 'mc', learningStarts: 1_000_000, bufferSize: 1_000_000, seed: 11 };
    const { o, src, a, b } = actSideBySide({ ...base, credit: 'slateq' }, { ...base, credit: 'clicked' });
    const p = src.clickProbabilities(o, a.items, new Float32Array(a.items.length));
    expect(new Set(p).size).toBeGreaterThan(3); // the click model tells items apart
    for (let k = 0; k < a.items.length; k++) {
      const q = [...b.items].indexOf(a.items[k]!);
      expect(a.scores![k]!).toBeCloseTo(p[k]! * b.scores![q]!, 5);
    }

    // Learning: A is clicked in half the sessions, and a click is followed by a reward of 1; an
    // unclicked slate ends the session. Q̄(A) is the value once A is clicked, γ·1 = 0.9, so the
    // score P̂·Q̄ ≈ 0.45; 'clicked' credit learns the unconditional 0.45 into its one Q instead.
    const [A, B, C, D] = [0, 4, 1, 2];
    const o0 = { user: 0, history: new Int32Array(0), t: 0, context: Float32Array.from([1, 0, 0]) };
    const o2 = { user: 0, history: Int32Array.from([A]), t: 1, context: Float32Array.from([1, 0, 0]) };
    const step = (obs: typeof o0, items: number[], clicks: number[], reward: number, next: typeof o0, done: boolean) => ({
      observation: obs, slate: { items: Int32Array.from(items) }, reward, parts: { R: reward, G: 0, A: 0 }, clicks: Int32Array.from(clicks), next, done,
    });
    const train = (credit: string) => {
      const agent = createAgent('dqn', toyContext(), { hidden: [32], state: { contextDim: 3 }, retrieval: 'linear', learningStarts: 10, batchSize: 8, trainEvery: 1, lr: 3e-3, gamma: 0.9, credit, target: 'mc', seed: 3 });
      for (let e = 0; e < 800; e++) {
        if (e % 2 === 0) {
          agent.observe(step(o0, [A, B], [1, 0], 0, o2, false));
          agent.observe(step(o2, [C, D], [1, 0], 1, o2, true));
        } else agent.observe(step(o0, [A, B], [0, 0], 0, o0, true));
        agent.update();
      }
      agent.setTraining(false);
      const s = agent.act(o0, 24);
      return s.scores![[...s.items].indexOf(A)]!;
    };
    const pA = new CandidateSource(toyContext(), 100, 0, 'linear');
    for (let e = 0; e < 800; e++) pA.learn(step(o0, [A, B], e % 2 === 0 ? [1, 0] : [0, 0], 0, o2, true));
    const pHat = pA.clickProbabilities(o0, [A], new Float32Array(1))[0]!;
    expect(pHat).toBeCloseTo(0.5, 1);
    const qBar = train('slateq') / pHat;
    expect(qBar).toBeGreaterThan(0.7);
    expect(qBar).toBeLessThan(1.1);
    // Without the decomposition Q(A) is the unconditional value, about half of Q̄.
    expect(train('clicked')).toBeLessThan(0.65);
  });
});
