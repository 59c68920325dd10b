import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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

describe('serving a registered agent over HTTP', () => {
  for (const name of ['random', 'popularity', 'greedy-als', 'egreedy', 'ucb', 'linucb', 'thompson', 'qlearning', 'sarsa', 'dqn', 'reinforce', 'a2c', 'ddpg', 'ppo', 'team']) {
    it(`${name}: recommend → feedback → the agent observed and updated`, async () => {
      const s = await startTestServer({ dir: tmp(), engine: { agent: { name } } });
      try {
        expect(s.engine.policy.name).toBe(`agent:${name}`);
        const agent = agentOf(s);
        let updates = 0;
        let observed = 0;
        const update = agent.update.bind(agent);
        const observe = agent.observe.bind(agent);
        agent.update = () => (updates++, update());
        agent.observe = (t) => (observed++, observe(t));

        const r = await s.call('POST', '/recommend', { user: 'u1', k: 4, context: { device: 'phone' } });
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
        await s.engine.settle();
        expect(observed).toBe(1);
        expect(updates).toBeGreaterThanOrEqual(1);
        expect(s.engine.counters.learned).toBe(1);
        expect(s.engine.policy.updates).toBe(1);
      } finally {
        await s.close();
      }
    });
  }

  it('ucb: the reward lands on the clicked item, and the agent state survives a restart', async () => {
    const dir = tmp();
    const a = await startTestServer({ dir, engine: { agent: { name: 'ucb' } } });
    const r = await a.call('POST', '/recommend', { user: 'u2', k: 3 });
    const ids: string[] = r.body.items.map((x: { id: string }) => x.id);
    await a.call('POST', '/feedback', { eventId: r.body.eventId, item: ids[2], type: 'rating', value: 5 });
    await a.engine.settle();
    const st = agentOf(a).toJSON().state as { n: Float64Array; sum: Float64Array; total: number };
    const idx = (id: string) => a.engine.trainingData().items.toIndex(id);
    expect(st.total).toBe(3);
    for (const id of ids) expect(st.n[idx(id)]).toBe(1);
    expect(st.sum[idx(ids[2]!)]).toBe(1);
    expect(st.sum[idx(ids[0]!)]).toBe(0);
    await a.close();

    const b = await startTestServer({ dir, engine: { agent: { name: 'ucb' } } });
    try {
      const sb = agentOf(b).toJSON().state as { n: Float64Array; sum: Float64Array; total: number };
      expect(sb.total).toBe(3);
      expect(Array.from(sb.sum)).toEqual(Array.from(st.sum));
      expect(b.engine.counters.learned).toBe(1);
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
