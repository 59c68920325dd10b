/**
 * Every served agent that has parameters changes them after feedback. Each agent is served through
 * `AgentPolicy` for one two-step session: both decisions get rewards and their reward windows
 * close (`endDecision`), the session ends, the learning loop flushes; the agent's learned state
 * (its `toJSON()` without the generator state, the replay buffers and pending episodes) must
 * differ from what it was after acting. Fails when the served agent does not learn.
 *
 * Excluded, having no parameters: `random`, `popularity` and `greedy-als` (a fixed ranking by
 * the recommender's scores).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { agentNames } from '../../src/agents/registry.js';
import { registerTeam } from '../../src/marl/register.js';
import type { AgentPolicy } from '../../src/serve/agent-policy.js';
import { stringify } from '../../src/util/serialize.js';
import { inputFor, servedPolicy, servedWorld, type World } from './agent-world.js';

const WITHOUT_PARAMETERS = ['random', 'popularity', 'greedy-als'];

/** Small learning budgets, so that one session's transitions give a learning step. */
const FAST: Record<string, Record<string, unknown>> = {
  dqn: { hidden: [8], learningStarts: 1, batchSize: 2, trainEvery: 1 },
  ddpg: { hidden: [8], learningStarts: 1, batchSize: 2, trainEvery: 1 },
  reinforce: { hidden: [8], batchEpisodes: 1 },
  a2c: { hidden: [8], nSteps: 1 },
  ppo: { hidden: [8], rolloutSteps: 2, minibatch: 2, epochs: 1 },
  trpo: { hidden: [8], rolloutSteps: 2, minibatch: 2, valueEpochs: 1 },
};

/** The learned part of a saved agent: the networks of neural agents, else the state without the generator and mode. */
function learned(p: AgentPolicy): string {
  const st = p.served.toJSON().state as Record<string, unknown>;
  if (st.nets) return stringify(st.nets);
  const { rng: _rng, training: _training, items: _exposure, ...rest } = st;
  return stringify(rest);
}

let w: World;
beforeAll(async () => {
  w = await servedWorld();
});

describe('served agents learn from feedback', () => {
  // Every agent a server can serve: the built-ins and the team, which the policy registers when
  // it is built (registered here first, so the list is complete before any policy exists).
  registerTeam();
  const names = agentNames().filter((n) => !WITHOUT_PARAMETERS.includes(n));

  it('covers every registered agent', () => {
    expect(names).toEqual(expect.arrayContaining(['egreedy', 'ucb', 'linucb', 'thompson', 'qlearning', 'sarsa', 'dqn', 'reinforce', 'a2c', 'ddpg', 'ppo', 'trpo', 'team']));
  });

  for (const name of names) {
    it(`${name}: parameters change after a served session's feedback`, () => {
      const p = servedPolicy(w, name, FAST[name] ?? {});
      const a = p.choose(inputFor(w, { eventId: 'e0', session: 's', ts: 0, k: 3, context: { device: 'phone' } }));
      const b = p.choose(inputFor(w, { eventId: 'e1', session: 's', ts: 1000, k: 3, context: { device: 'phone' } }));
      const before = learned(p);
      p.learn(a.payload, 0, 1);
      p.learn(a.payload, 1, 0);
      p.learn(b.payload, 2, 1);
      p.endDecision(a.payload);
      p.endDecision(b.payload);
      p.endSession('s');
      p.flush();
      expect(p.updates).toBe(2);
      expect(learned(p)).not.toBe(before);
    });
  }

  it("team with the content agent's train profile and the team's click model: built on the snapshot's histories, its click model learns", () => {
    const config = { coordination: 'vdn', learner: 'rls', credit: 'slateq', contentProfile: 'both', clickModel: 'team' };
    const p = servedPolicy(w, 'team', config);
    const clickModel = (): string => stringify((p.served.toJSON().state as { teamClick: unknown }).teamClick);
    const a = p.choose(inputFor(w, { eventId: 'e0', session: 's', ts: 0, k: 3 }));
    const before = clickModel();
    p.learn(a.payload, 0, 1);
    p.endDecision(a.payload);
    p.endSession('s');
    p.flush();
    expect(p.updates).toBe(1);
    expect(clickModel()).not.toBe(before);
  });

  // Tabular agents remembered their action by the acted slate object; a server's transitions after
  // a restart (or of a filtered slate) carry a copy, and must still update the table.
  for (const name of ['qlearning', 'sarsa']) {
    it(`${name}: learns from steps restored after a restart (no acted slate object)`, () => {
      const p = servedPolicy(w, name);
      const a = p.choose(inputFor(w, { eventId: 'e0', session: 's', ts: 0 })).payload;
      const state = p.getState(); // step e0 pending in the checkpoint
      const b = p.choose(inputFor(w, { eventId: 'e1', session: 's', ts: 1000 })).payload; // logged after it
      const q = servedPolicy(w, name);
      expect(q.setState(state)).toBe(true);
      const before = learned(q);
      q.learn(a, 0, 1);
      q.learn(b, 1, 1);
      q.endDecision(a);
      q.endDecision(b);
      q.endSession('s');
      q.flush();
      expect(q.updates).toBe(2);
      expect(learned(q)).not.toBe(before);
    });
  }
});
