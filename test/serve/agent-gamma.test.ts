/**
 * Served agents learn over sessions, so γ matters when serving. A tiny served world where the
 * optimum needs γ > 0: two-step sessions, one item per step.
 *   - A pays 0.3 now and unlocks C: C pays 1 later in the session, only after A;
 *   - B pays 0.5 now and nothing later; the D items pay nothing.
 * Best session: A then C (1.3). A myopic learner takes B first (0.5 > 0.3), then A: 0.8.
 * The served DQN (γ = 0.9) must find A → C over sessions; the served LinUCB (a contextual bandit:
 * it sees the history, but maximises the immediate reward) must not.
 */
import { describe, expect, it } from 'vitest';
import { datasetFromTriples } from '../../src/data/dataset.js';
import type { AgentPolicy } from '../../src/serve/agent-policy.js';
import { inputFor, servedPolicy, servedWorld, type World } from './agent-world.js';

const ITEMS = ['A', 'B', 'C', 'D1', 'D2', 'D3'];

async function world(): Promise<World> {
  // Every item has training interactions (none is cold) and its own genre.
  const triples: [string, string, number, number][] = [];
  let t = 1;
  for (let u = 0; u < 8; u++) for (let i = 0; i < ITEMS.length; i++) if ((u + i) % 2 === 0 || i === u % ITEMS.length) triples.push([`u${u}`, ITEMS[i]!, 1, t++]);
  const ds = datasetFromTriples(triples, 'unlock');
  for (let i = 0; i < ds.nItems; i++) ds.itemMeta[i] = { title: ds.items.toExternal(i), categories: [`g-${ds.items.toExternal(i)[0]}`] };
  return servedWorld(ds);
}

function reward(item: string, unlocked: boolean): number {
  return item === 'A' ? 0.3 : item === 'B' ? 0.5 : item === 'C' ? (unlocked ? 1 : 0) : 0;
}

/** One session of two decisions served by `p` (a user the model does not know); returns the items shown and the return. */
function session(w: World, p: AgentPolicy, n: number, learn: boolean): { items: string[]; ret: number } {
  const s = `s${n}`;
  const items: string[] = [];
  let ret = 0;
  let history = new Int32Array(0);
  for (let step = 0; step < 2; step++) {
    const c = p.choose(inputFor(w, { eventId: `${s}-${step}`, user: 'visitor', session: s, ts: n * 10_000 + step, k: 1, history }));
    const item = c.items[0]!.id;
    const r = reward(item, items.includes('A'));
    items.push(item);
    ret += r;
    history = Int32Array.from([...history, c.items[0]!.index]);
    if (learn) {
      p.learn(c.payload, 0, r);
      p.endDecision(c.payload);
    }
  }
  if (learn) {
    p.endSession(s);
    p.flush();
  }
  return { items, ret };
}

/** Train over `sessions` served sessions, then one greedy session (exploration off). */
function trainAndRun(w: World, p: AgentPolicy, sessions: number): { items: string[]; ret: number } {
  for (let n = 0; n < sessions; n++) session(w, p, n, true);
  p.served.setTraining(false);
  return session(w, p, sessions, false);
}

const DQN = { hidden: [32], lr: 0.01, epsilon: 0.3, epsilonStart: 0.3, learningStarts: 32, batchSize: 32, trainEvery: 1, tau: 0.1, randomCandidates: 0, nextCandidates: 10 };
const PPO = { hidden: [32], lr: 0.01, valueLr: 0.01, rolloutSteps: 32, epochs: 4, minibatch: 16, clip: 0.2, randomCandidates: 0 };

describe('served agents and γ > 0', () => {
  it('the served DQN and PPO find the long-term optimum (A then C); LinUCB, and the DQN with γ = 0, stay myopic', async () => {
    const w = await world();
    const dqn = servedPolicy(w, 'dqn', { ...DQN, seed: 3, gamma: 0.9 });
    const deep = trainAndRun(w, dqn, 300);
    expect(deep.items).toEqual(['A', 'C']);
    expect(deep.ret).toBeCloseTo(1.3, 6);
    expect(dqn.updates).toBe(600); // every step's transition reached the agent

    const ppo = trainAndRun(w, servedPolicy(w, 'ppo', { ...PPO, seed: 3, gamma: 0.9 }), 400);
    expect(ppo.items).toEqual(['A', 'C']);

    // Controls: the same world, learners that maximise the immediate reward.
    const myopicDqn = trainAndRun(w, servedPolicy(w, 'dqn', { ...DQN, seed: 3, gamma: 0 }), 300);
    const bandit = trainAndRun(w, servedPolicy(w, 'linucb', { seed: 3, alpha: 0.5 }), 300);
    for (const r of [myopicDqn, bandit]) {
      expect(r.items).toEqual(['B', 'A']);
      expect(r.ret).toBeCloseTo(0.8, 6);
    }
  }, 20_000);
});
