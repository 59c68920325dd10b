/**
 * A served agent learns over sessions: each decision is a step whose transition has the step
 * index, the next decision of its session as next state, and done only when the session ends.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Transition } from '../../src/agents/types.js';
import type { AgentPolicy } from '../../src/serve/agent-policy.js';
import { inputFor, servedPolicy, servedWorld, type InputOptions, type World } from './agent-world.js';

let w: World;
beforeAll(async () => {
  w = await servedWorld();
});

/** A policy whose agent's transitions are recorded (and still learned). */
function spied(agent = 'ucb', extra: Parameters<typeof servedPolicy>[3] = {}): { p: AgentPolicy; seen: Transition[] } {
  const p = servedPolicy(w, agent, {}, extra);
  return { p, seen: spy(p) };
}

/** Record the transitions the policy's (current) agent observes. */
function spy(p: AgentPolicy): Transition[] {
  const seen: Transition[] = [];
  const a = p.served;
  const observe = a.observe.bind(a);
  a.observe = (t) => (seen.push(t), observe(t));
  return seen;
}

/** One decision: choose, then a reward on position 0. Returns the payload. */
function step(p: AgentPolicy, o: InputOptions, reward = 1): unknown {
  const c = p.choose(inputFor(w, o));
  p.learn(c.payload, 0, reward);
  return c.payload;
}

describe('served sessions', () => {
  it('chains a session: step index, next = the next decision, done only at the end', () => {
    const { p, seen } = spied();
    const a = step(p, { eventId: 'e0', session: 's1', ts: 0 }, 1);
    const b = step(p, { eventId: 'e1', session: 's1', ts: 1000 }, 0.5);
    const c = step(p, { eventId: 'e2', session: 's1', ts: 2000 }, 0);
    for (const x of [a, b, c]) p.endDecision(x);
    p.flush();
    // The last step waits for its session's end.
    expect(seen.map((t) => [t.observation.t, t.done, t.reward])).toEqual([
      [0, false, 1],
      [1, false, 0.5],
    ]);
    expect(seen[0]!.next).toBe(seen[1]!.observation);
    expect(seen[0]!.rewards![0]).toBe(1);
    expect(seen[0]!.clicks![0]).toBe(1);
    expect(seen[0]!.slate.propensities).toBeDefined();
    // The same user's next decision in another session ends s1.
    step(p, { eventId: 'e3', session: 's2', ts: 3000 });
    p.flush();
    expect(seen).toHaveLength(3);
    const last = seen[2]!;
    expect([last.observation.t, last.done]).toEqual([2, true]);
    expect(seen[1]!.next).toBe(last.observation);
    expect(last.next.t).toBe(3);
    expect(p.updates).toBe(3);
    expect(p.pending).toEqual({ steps: 1, sessions: 1 });
  });

  it('ends a session after the idle time (swept by the request clock) or when asked', () => {
    const { p, seen } = spied('ucb', { sessionIdleSeconds: 60 });
    p.endDecision(step(p, { eventId: 'a0', user: 'u1', session: 'x', ts: 0 }));
    p.endDecision(step(p, { eventId: 'b0', user: 'u2', session: 'y', ts: 30_000 }));
    p.flush();
    expect(seen).toHaveLength(0);
    // u3's request at 61 s: x has been idle for more than 60 s, y has not.
    p.endDecision(step(p, { eventId: 'c0', user: 'u3', session: 'z', ts: 61_000 }));
    p.flush();
    expect(seen.map((t) => [t.observation.user, t.done])).toEqual([[w.model.userIndex.get('u1'), true]]);
    expect(p.endSession('y')).toBe(1);
    expect(seen[1]!.done).toBe(true);
    expect(p.endSession('no-such-session')).toBe(0);
  });

  it('once the engine ends decisions, a step waits for its end even when the next one exists', () => {
    const { p, seen } = spied();
    const a = step(p, { eventId: 'e0', session: 's', ts: 0 });
    p.endDecision(step(p, { eventId: 'x0', user: 'u2', session: 'other', ts: 0 })); // the engine uses endDecision
    step(p, { eventId: 'e1', session: 's', ts: 10 });
    p.flush();
    expect(seen).toHaveLength(0);
    // Feedback within the window still counts, then the window closes.
    p.learn(a, 1, 0.25);
    expect(p.endDecision(a)).toBe(1);
    expect(seen[0]!.reward).toBe(1.25);
    expect(Array.from(seen[0]!.rewards!)).toEqual([1, 0.25, 0]);
  });

  it('without reward windows (learn only) a step is learned when its session moves on', () => {
    const { p, seen } = spied();
    const a = step(p, { eventId: 'e0', session: 's', ts: 0 });
    p.flush();
    expect(seen).toHaveLength(0);
    step(p, { eventId: 'e1', session: 's', ts: 10 });
    p.flush();
    expect(seen.map((t) => [t.observation.t, t.done])).toEqual([[0, false]]);
    // Feedback after its step was learned is refused, not learned twice.
    expect(p.learn(a, 1, 1)).toBe(false);
    p.flush();
    expect(seen).toHaveLength(1);
    expect(p.updates).toBe(1);
  });

  it('a decision without a session (Personalizer Rank) is a one-step episode', () => {
    const { p, seen } = spied();
    const a = step(p, { eventId: 'r0', user: null, session: null, ts: 0 });
    p.endDecision(step(p, { eventId: 'r1', user: null, session: null, ts: 0 }));
    expect(seen).toHaveLength(2); // without reward windows the first was learned at its reward
    p.endDecision(a);
    expect(seen).toHaveLength(2);
    for (const t of seen) expect([t.observation.t, t.done]).toEqual([0, true]);
  });

  it('bounds memory: beyond maxSessions the least recently active session ends', () => {
    const { p, seen } = spied('ucb', { maxSessions: 2 });
    for (const [i, u] of ['u1', 'u2', 'u3'].entries()) p.endDecision(step(p, { eventId: `e${i}`, user: u, session: `s${i}`, ts: i }));
    p.flush();
    expect(seen.map((t) => [t.observation.user, t.done])).toEqual([[w.model.userIndex.get('u1'), true]]);
    expect(p.pending.sessions).toBe(2);
  });

  it('a checkpoint keeps the pending steps; after a restart they are learned from the log', () => {
    const { p } = spied();
    const a = step(p, { eventId: 'e0', session: 's', ts: 0 });
    p.endDecision(a);
    const state = p.getState();
    // Logged after the checkpoint: the restart replays its feedback and its end from the payload.
    const b = p.choose(inputFor(w, { eventId: 'e1', session: 's', ts: 10 })).payload;
    const q = servedPolicy(w, 'ucb');
    expect(q.setState(state)).toBe(true);
    const seen = spy(q); // the restored agent
    expect(q.pending).toEqual({ steps: 1, sessions: 1 });
    // Its first replayed reward makes it known, so the restored step before it is learned.
    expect(q.learn(b, 2, 0.5)).toBe(true);
    expect(q.endDecision(b)).toBe(0);
    expect(q.endSession('s')).toBe(1);
    expect(seen.map((t) => [t.observation.t, t.done, t.reward])).toEqual([
      [0, false, 1],
      [1, true, 0.5],
    ]);
    expect(seen[0]!.next).toBe(seen[1]!.observation);
    expect(seen[1]!.rewards![2]).toBe(0.5);
  });

  it('counts only transitions the agent learned from (random learns nothing)', () => {
    const { p, seen } = spied('random');
    p.endDecision(step(p, { eventId: 'e0', session: null, user: null }));
    expect(seen).toHaveLength(1);
    expect(p.updates).toBe(0);
  });
});
