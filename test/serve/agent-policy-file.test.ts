/**
 * `chorus serve --policy-file`: an agent trained in the simulator and saved serves the slates the
 * same agent gives in memory, over the snapshot's own item list (matched by external id), and goes
 * on learning in its own item space.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentFileDocument, agentSpaceOf, readAgentFile } from '../../src/agents/agent-file.js';
import { restoreAgent } from '../../src/agents/registry.js';
import { itemSpaceFromTrain, type AgentContext } from '../../src/agents/state.js';
import type { Transition } from '../../src/agents/types.js';
import { loadServeData } from '../../src/cli/commands/serve.js';
import { buildSetup } from '../../src/eval/sim/setup.js';
import { trainSimAgent } from '../../src/eval/sim/simulate.js';
import { BcAgent, BC_DEFAULTS } from '../../src/ope/learn/bc.js';
import { registerOfflineAgents } from '../../src/ope/learn/register.js';
import type { LoggedStep } from '../../src/ope/learn/session-log.js';
import { Rng } from '../../src/util/rng.js';
import type { AgentPolicy } from '../../src/serve/agent-policy.js';
import { hashInto } from '../../src/serve/features.js';
import { runCli, tempDir, writeTinyMovieLens } from '../cli/helpers.js';
import { startTestServer } from './helpers.js';

const PRESET = 'sim-ml-ls-v1';

async function trainedAgent(agent: string): Promise<{ dir: string; file: string }> {
  const dir = tempDir();
  writeTinyMovieLens(dir, 40, 80, 3);
  const file = join(dir, `${agent}.json`);
  await trainSimAgent({ preset: PRESET, dataDir: dir, agent, trainSteps: 400, seed: 1, out: file });
  return { dir, file };
}

/** The in-memory twin of the saved agent, and the observation a newcomer's first request makes. */
async function twinOf(dir: string, file: string) {
  const warm = readAgentFile(file);
  const setup = await buildSetup({ preset: PRESET, dataDir: dir });
  const twin = restoreAgent(warm.agent, setup.ctx);
  twin.setTraining(true);
  const context = new Float32Array(4);
  hashInto(null, context, 0, 4);
  return { warm, setup, twin, obs: { user: -1, history: new Int32Array(0), t: 0, context } };
}

describe('serving a saved agent warm (--policy-file)', () => {
  it('serves the slate the in-memory agent gives, and a snapshot without the top item serves the next', async () => {
    const { dir, file } = await trainedAgent('linucb');
    const { warm, setup, twin, obs } = await twinOf(dir, file);
    expect(warm.space.itemIds).toEqual(setup.ids!.items);
    const mask = new Uint8Array(setup.ctx.items.nItems);
    const expected = Array.from(twin.act(obs, 5, { exclude: mask }).items, (i) => setup.ids!.items[i]!);

    const s = await startTestServer({ dataset: await loadServeData(dir), engine: { model: { kind: 'popularity', config: {} }, agent: { name: 'linucb', warm } } });
    try {
      const r = await s.call('POST', '/recommend', { user: 'newcomer', k: 5 });
      expect(r.status).toBe(200);
      expect(r.body.items.map((x: { id: string }) => x.id)).toEqual(expected);
    } finally {
      await s.close();
    }

    // A server whose data lacks the agent's first pick: the agent's item stays in its space but is
    // masked, so the slate is the agent's ranking without it.
    const top = expected[0]!;
    const sub = join(dir, 'without-top');
    mkdirSync(sub);
    const lines = readFileSync(join(dir, 'ratings.csv'), 'utf8').trim().split('\n');
    writeFileSync(join(sub, 'ratings.csv'), `${lines.filter((l, k) => k === 0 || l.split(',')[1] !== top).join('\n')}\n`);
    const { twin: twin2, obs: obs2 } = await twinOf(dir, file);
    mask[setup.ids!.items.indexOf(top)] = 1;
    const expected2 = Array.from(twin2.act(obs2, 5, { exclude: mask }).items, (i) => setup.ids!.items[i]!);
    expect(expected2).not.toContain(top);
    const s2 = await startTestServer({ dataset: await loadServeData(sub), engine: { model: { kind: 'popularity', config: {} }, agent: { name: 'linucb', warm } } });
    try {
      const r = await s2.call('POST', '/recommend', { user: 'newcomer', k: 5 });
      expect(r.body.items.map((x: { id: string }) => x.id)).toEqual(expected2);
    } finally {
      await s2.close();
    }
  }, 60_000);

  it('learns from feedback in its own item space', async () => {
    const { dir, file } = await trainedAgent('linucb');
    const warm = readAgentFile(file);
    const s = await startTestServer({ dataset: await loadServeData(dir), engine: { model: { kind: 'popularity', config: {} }, agent: { name: 'linucb', warm }, rewardWaitSeconds: 0.5 } });
    try {
      const agent = (s.engine.policy as AgentPolicy).served;
      const seen: Transition[] = [];
      const observe = agent.observe.bind(agent);
      agent.observe = (t) => (seen.push(t), observe(t));
      const before = JSON.stringify(agent.toJSON().state);
      const r = await s.call('POST', '/recommend', { user: '2', k: 4, session: 'a' });
      const ids: string[] = r.body.items.map((x: { id: string }) => x.id);
      expect((await s.call('POST', '/feedback', { eventId: r.body.eventId, item: ids[2], type: 'click' })).status).toBe(201);
      await s.call('POST', '/recommend', { user: '2', k: 4, session: 'b' });
      const end = Date.now() + 30_000; // a generous deadline: the loop polls, so it waits only as long as needed
      while ((seen.length === 0 || s.engine.openWindows > 0) && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
      await s.engine.settle();
      expect(seen.length).toBeGreaterThan(0);
      // The transition names the agent's own indices of the shown items, and its user index.
      const t = seen[0]!;
      expect(Array.from(t.slate.items, (i) => warm.space.itemIds[i])).toEqual(ids);
      expect(warm.space.userIds[t.observation.user]).toBe('2');
      expect(JSON.stringify(agent.toJSON().state)).not.toBe(before);
    } finally {
      await s.close();
    }
  }, 60_000);

  it('refuses a file without an item space, and --policy naming another agent', async () => {
    const { dir, file } = await trainedAgent('egreedy');
    const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const v1 = join(dir, 'v1.json');
    writeFileSync(v1, JSON.stringify({ ...doc, version: 1, space: undefined }));
    expect(() => readAgentFile(v1)).toThrow(/holds no item space/);
    const bad = await runCli(['serve', '--data', dir, '--policy-file', file, '--policy', 'linucb', '--port', '0']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/does not match .*"egreedy"/);
  }, 60_000);

  it('a BC agent trained with epsilon explores when served, with exact propensities', async () => {
    registerOfflineAgents();
    const dir = tempDir();
    writeTinyMovieLens(dir, 40, 80, 3);
    const ds = await loadServeData(dir);
    // The item space `chorus train --agent bc --log` builds, and a log of random slates in it.
    const space = itemSpaceFromTrain(ds, { dim: 16, seed: 7 });
    const ctx: AgentContext = { items: space.items, userVectors: space.userVectors, nUsers: ds.nUsers, slateSize: 5, horizon: 20 };
    const rng = new Rng(5);
    const steps: LoggedStep[] = Array.from({ length: 100 }, () => {
      const obs = { user: rng.int(ds.nUsers), history: new Int32Array(0), t: 0 };
      const items = new Int32Array(5);
      for (let p = 0; p < 5; p++) {
        let i: number;
        do i = rng.int(ds.nItems);
        while (items.subarray(0, p).includes(i));
        items[p] = i;
      }
      return { obs, items, propensities: new Float32Array(5).fill(0.1), rewards: new Float32Array(5), reward: 0, next: obs, done: true };
    });
    // 20 prior candidates of 80 items: the random extra candidates matter (and are left out when exploring).
    const epsilon = 0.3;
    const bc = new BcAgent(ctx, { seed: 1, ...BC_DEFAULTS, candidates: 20, hidden: [16], steps: 30, epsilon }).fit({ behaviour: 'random', steps });
    const file = join(dir, 'bc.agent.json');
    writeFileSync(file, JSON.stringify(agentFileDocument(bc.toJSON(), {}, agentSpaceOf(ctx, ds.items.ids(), ds.users.ids()))));
    const warm = readAgentFile(file);
    // The greedy slate a newcomer gets: the same agent without exploration and without the random candidates.
    const twin = restoreAgent({ ...warm.agent, config: { ...(warm.agent.config as Record<string, unknown>), epsilon: 0, randomCandidates: 0 } }, ctx);
    const context = new Float32Array(4);
    hashInto(null, context, 0, 4);
    const greedy = Array.from(twin.act({ user: -1, history: new Int32Array(0), t: 0, context }, 5, { exclude: new Uint8Array(ds.nItems) }).items, (i) => ds.items.toExternal(i));

    const s = await startTestServer({ dataset: ds, engine: { model: { kind: 'popularity', config: {} }, agent: { name: 'bc', warm } } });
    try {
      const spare = ds.nItems - 5; // a newcomer: nothing seen, nothing blocked
      let explored = 0;
      for (let n = 0; n < 10; n++) {
        const r = await s.call('POST', '/recommend', { user: `newcomer-${n}`, k: 5 });
        expect(r.status).toBe(200);
        r.body.items.forEach((x: { id: string; propensity: number; explanation: { exploration: { epsilon: number } } }, p: number) => {
          expect(x.explanation.exploration.epsilon).toBe(epsilon);
          if (x.id === greedy[p]) expect(x.propensity).toBe(Math.fround(1 - epsilon));
          else {
            explored++;
            expect(x.propensity).toBe(Math.fround(epsilon / spare));
          }
        });
      }
      // 50 positions at ε = 0.3: some explored, most not.
      expect(explored).toBeGreaterThan(0);
      expect(explored).toBeLessThan(40);
    } finally {
      await s.close();
    }
  }, 60_000);
});
