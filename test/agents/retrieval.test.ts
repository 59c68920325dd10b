/**
 * The neural agents' learned retrieval stage (`retrieval: 'linear'`) and DQN's residual Q
 * (`residual`): the retrieval model learns from transitions and changes which items are
 * candidates; a residual DQN still learns the toy task; both survive save/load.
 */
import { describe, expect, it } from 'vitest';
import { CandidateSource } from '../../src/agents/neural.js';
import { createAgent, restoreAgent } from '../../src/agents/registry.js';
import type { Agent } from '../../src/agents/types.js';
import { Rng } from '../../src/util/rng.js';
import { parse, stringify } from '../../src/util/serialize.js';
import { N_TYPES, OPTIMAL_RETURN, ToyEnv, runEpisodes, toyContext } from './neural-toy.js';

const obs = { user: 0, history: new Int32Array(0), t: 0, context: new Float32Array(N_TYPES) };

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
    const saved = a.toJSON() as { state: { retrieval?: { b: Float64Array } } };
    expect(saved.state.retrieval?.b.some((x) => x !== 0)).toBe(true);
  });

  it('refuses residual without linear retrieval, and an unknown credit, naming the field', () => {
    expect(() => createAgent('dqn', toyContext(), { residual: true })).toThrow(/residual/);
    expect(() => createAgent('dqn', toyContext(), { credit: 'items' })).toThrow(/credit/);
  });

  it("credit 'clicked' (the future only to clicked items) learns the toy task, and changes what is learned", () => {
    const a = createAgent('dqn', toyContext(), { ...config, credit: 'clicked', seed: 7 });
    runEpisodes(a, new ToyEnv(), 250, 0, true);
    a.setTraining(false);
    expect(runEpisodes(a, new ToyEnv(), 200, 1_000_000, false)).toBeGreaterThanOrEqual(0.9 * OPTIMAL_RETURN);
    const b = createAgent('dqn', toyContext(), { ...config, seed: 7 });
    runEpisodes(b, new ToyEnv(), 250, 0, true);
    const q = (x: Agent) => (x.toJSON() as { state: { nets: { q: { params: Float32Array } } } }).state.nets.q.params;
    expect(q(a)).not.toEqual(q(b));
  });
});
