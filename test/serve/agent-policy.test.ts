import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Transition } from '../../src/agents/types.js';
import { AgentPolicy } from '../../src/serve/agent-policy.js';
import { startTestServer, type TestServer } from './helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'chorus-agent-policy-'));
  dirs.push(d);
  return d;
}

const agentOf = (s: TestServer) => (s.engine.policy as AgentPolicy).served;

/** The tiny dataset's training items of a user, as external ids. */
function trainedItems(s: TestServer, user: string): string[] {
  const d = s.engine.trainingData();
  const csr = d.byUser();
  const u = d.users.toIndex(user);
  return Array.from(csr.indices.subarray(csr.indptr[u]!, csr.indptr[u + 1]!)).map((i) => d.items.toExternal(i));
}

/** Wait until `cond()` holds (reward windows close on the engine's timer), then let the learning loop settle. */
async function until(s: TestServer, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  await s.engine.settle();
}

/** Agents without parameters: they observe nothing (see test/serve/agent-learning.test.ts). */
const NO_LEARNING = ['random', 'popularity', 'greedy-als'];

// Short reward windows: the engine ends each decision 0.6 s after it was logged — long enough for
// the test's feedback to arrive in time on a loaded 2-core CI machine, short enough to wait out.
const FAST_WINDOWS = { rewardWaitSeconds: 0.6 };

describe('serving a registered agent over HTTP', () => {
  for (const name of ['random', 'popularity', 'greedy-als', 'egreedy', 'ucb', 'linucb', 'thompson', 'qlearning', 'sarsa', 'dqn', 'reinforce', 'a2c', 'ddpg', 'ppo', 'trpo', 'team']) {
    it(`${name}: recommend → feedback → next session → the agent learned the step`, async () => {
      const s = await startTestServer({ dir: tmp(), engine: { agent: { name }, ...FAST_WINDOWS } });
      try {
        expect(s.engine.policy.name).toBe(`agent:${name}`);
        const agent = agentOf(s);
        let updates = 0;
        const seen: Transition[] = [];
        const update = agent.update.bind(agent);
        const observe = agent.observe.bind(agent);
        agent.update = () => (updates++, update());
        agent.observe = (t) => (seen.push(t), observe(t));

        const r = await s.call('POST', '/recommend', { user: 'u1', k: 4, context: { device: 'phone' }, session: 'visit-1' });
        expect(r.status).toBe(200);
        const ids: string[] = r.body.items.map((x: { id: string }) => x.id);
        expect(ids).toHaveLength(4);
        expect(new Set(ids).size).toBe(4);
        for (const id of ids) expect(trainedItems(s, 'u1')).not.toContain(id);
        for (const x of r.body.items) {
          expect(x.explanation.policy).toBe(`agent:${name}`);
          expect(x.explanation.agent.name).toBe(agent.name);
          expect(x.propensity).toBeGreaterThan(0);
          expect(x.propensity).toBeLessThanOrEqual(1);
          expect(Number.isFinite(x.score)).toBe(true);
        }
        const logged = await s.store.events.getDecision(r.body.eventId);
        expect(logged!.items).toEqual(ids);

        const f = await s.call('POST', '/feedback', { eventId: r.body.eventId, item: ids[1], type: 'click' });
        expect(f.status).toBe(201);
        // The user's next decision comes in another session: visit-1 ends, its step is terminal.
        expect((await s.call('POST', '/recommend', { user: 'u1', k: 4, session: 'visit-2' })).status).toBe(200);
        await until(s, () => seen.length > 0 && s.engine.openWindows === 0);
        expect(seen).toHaveLength(1);
        const t = seen[0]!;
        expect([t.observation.t, t.done, t.reward]).toEqual([0, true, 1]);
        expect(Array.from(t.rewards!)).toEqual([0, 1, 0, 0]);
        expect(Array.from(t.slate.items)).toEqual(ids.map((id) => s.engine.trainingData().items.toIndex(id)));
        // The agent learns with the propensities the decision log holds.
        expect(Array.from(t.slate.propensities!)).toEqual(logged!.propensities.map((x) => Math.fround(x)));
        expect(updates).toBeGreaterThanOrEqual(1);
        expect(s.engine.policy.updates).toBe(NO_LEARNING.includes(name) ? 0 : 1);
        expect(s.engine.counters.learned).toBe(s.engine.policy.updates);
      } finally {
        await s.close();
      }
    });
  }

  it('sessions: a request without one continues the user\'s session; the step index grows', async () => {
    const s = await startTestServer({ dir: tmp(), engine: { agent: { name: 'ucb' } } });
    try {
      const payloads: { session: string; t: number }[] = [];
      for (const body of [{ user: 'u2' }, { user: 'u2' }, { user: 'u2', session: 'checkout' }, { user: 'u2' }, { user: 'u3' }]) {
        const r = await s.call('POST', '/recommend', { k: 2, ...body });
        expect(r.status).toBe(200);
        payloads.push((await s.store.events.getDecision(r.body.eventId))!.payload as { session: string; t: number });
      }
      expect(payloads[0]!.session).toMatch(/^u2@\d+$/);
      expect(payloads.map((p) => p.t)).toEqual([0, 1, 0, 1, 0]);
      expect(payloads.map((p) => p.session)).toEqual([payloads[0]!.session, payloads[0]!.session, 'checkout', 'checkout', payloads[4]!.session]);
      expect(payloads[4]!.session).toMatch(/^u3@\d+$/);
      expect((await s.call('POST', '/recommend', { user: 'u2', session: '' })).status).toBe(400);
    } finally {
      await s.close();
    }
  });

  it('ucb: the reward lands on the clicked item, and the agent state survives a restart', async () => {
    const dir = tmp();
    const a = await startTestServer({ dir, engine: { agent: { name: 'ucb' }, ...FAST_WINDOWS } });
    const r = await a.call('POST', '/recommend', { user: 'u2', k: 3, session: 'one' });
    const ids: string[] = r.body.items.map((x: { id: string }) => x.id);
    await a.call('POST', '/feedback', { eventId: r.body.eventId, item: ids[2], type: 'rating', value: 5 });
    await a.call('POST', '/recommend', { user: 'u2', k: 3, session: 'two' });
    await until(a, () => a.engine.policy.updates > 0 && a.engine.openWindows === 0);
    const st = agentOf(a).toJSON().state as { n: Float64Array; sum: Float64Array; total: number };
    const idx = (id: string) => a.engine.trainingData().items.toIndex(id);
    expect(st.total).toBe(3);
    for (const id of ids) expect(st.n[idx(id)]).toBe(1);
    expect(st.sum[idx(ids[2]!)]).toBe(1);
    expect(st.sum[idx(ids[0]!)]).toBe(0);
    await a.close();

    const b = await startTestServer({ dir, engine: { agent: { name: 'ucb' }, ...FAST_WINDOWS } });
    try {
      const sb = agentOf(b).toJSON().state as { n: Float64Array; sum: Float64Array; total: number };
      expect(sb.total).toBe(3);
      expect(Array.from(sb.sum)).toEqual(Array.from(st.sum));
      expect(b.engine.counters.learned).toBe(1);
      // Session two's step was pending at the checkpoint: ending it now learns it.
      expect((b.engine.policy as AgentPolicy).endSession('two')).toBe(1);
    } finally {
      await b.close();
    }
  });

  it('keeps to a candidate filter and exclusions, and answers Personalizer rank', async () => {
    const s = await startTestServer({ dir: tmp(), engine: { agent: { name: 'ucb' } } });
    try {
      const r = await s.call('POST', '/recommend', { user: 'u3', k: 3, candidates: ['m3', 'm5', 'm7', 'm8'], exclude: ['m5'], excludeSeen: false });
      expect(r.status).toBe(200);
      const ids: string[] = r.body.items.map((x: { id: string }) => x.id);
      expect(ids).toHaveLength(3);
      for (const id of ids) expect(['m3', 'm7', 'm8']).toContain(id);

      const rank = await s.call('POST', '/personalizer/v1.0/rank', { actions: [{ id: 'm1' }, { id: 'm4' }, { id: 'not-an-item' }], contextFeatures: [{ t: 'x' }] });
      expect(rank.status).toBe(201);
      expect(rank.body.ranking.map((x: { id: string }) => x.id).sort()).toEqual(['m1', 'm4', 'not-an-item']);
      expect(rank.body.rewardActionId).toBe(rank.body.ranking[0].id);
      expect(rank.body.ranking.reduce((t: number, x: { probability: number }) => t + x.probability, 0)).toBeCloseTo(1, 12);
      const rw = await s.call('POST', `/personalizer/v1.0/events/${rank.body.eventId}/reward`, { value: 1 });
      expect(rw.status).toBe(204);
      await s.engine.settle();
      // The pick is a catalogue item the agent knows, so the reward reached it.
      expect(s.engine.policy.updates).toBe(['m1', 'm4'].includes(rank.body.rewardActionId) ? 1 : 0);
    } finally {
      await s.close();
    }
  });

  it('team: per-member contributions and evidence in the explanations', async () => {
    const s = await startTestServer({ dir: tmp(), engine: { agent: { name: 'team' } } });
    try {
      const r = await s.call('POST', '/recommend', { user: 'u1', k: 3 });
      expect(r.status).toBe(200);
      const own = r.body.items.filter((x: { explanation: { agent: { source: string } } }) => x.explanation.agent.source === 'agent');
      expect(own.length).toBeGreaterThan(0);
      for (const x of own) {
        const c = x.explanation.agent.contributions as Record<string, number>;
        expect(Object.keys(c).length).toBeGreaterThan(1);
        // Contributions add up to the team's fused score for the item.
        expect(Object.values(c).reduce((a, b) => a + b, 0)).toBeCloseTo(x.explanation.agent.score, 4);
        expect(Array.isArray(x.explanation.agent.evidence)).toBe(true);
      }
    } finally {
      await s.close();
    }
  });

  it('refuses an unknown agent name at start, naming the registered ones', async () => {
    await expect(startTestServer({ dir: tmp(), engine: { agent: { name: 'no-such-agent' } } })).rejects.toThrow(/no-such-agent[\s\S]*linucb/);
  });
});
