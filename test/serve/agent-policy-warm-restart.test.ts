/**
 * A warm agent (`chorus serve --policy-file`) across restarts and snapshot changes: its checkpoint
 * is resumed only for the very agent file it was saved for, and feedback for decisions made under
 * an earlier snapshot is still learned, in the agent's own item space.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readAgentFile, type WarmAgent } from '../../src/agents/agent-file.js';
import type { Transition } from '../../src/agents/types.js';
import { loadServeData } from '../../src/cli/commands/serve.js';
import type { Dataset } from '../../src/data/dataset.js';
import { trainSimAgent } from '../../src/eval/sim/simulate.js';
import { AgentPolicy } from '../../src/serve/agent-policy.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { tempDir, writeTinyMovieLens } from '../cli/helpers.js';
import { inputFor, servedWorld, type World } from './agent-world.js';
import { ADMIN } from './helpers.js';

const PRESET = 'sim-ml-ls-v1';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Data and two linucb agent files trained on it with other seeds: same kind, same items, other learned state. */
async function twoAgents(): Promise<{ dir: string; ds: Dataset; fileA: string; fileB: string }> {
  const dir = tempDir('chorus-warm-restart-');
  dirs.push(dir);
  writeTinyMovieLens(dir, 40, 80, 3);
  const fileA = join(dir, 'a.agent.json');
  const fileB = join(dir, 'b.agent.json');
  await trainSimAgent({ preset: PRESET, dataDir: dir, agent: 'linucb', trainSteps: 400, seed: 1, out: fileA });
  await trainSimAgent({ preset: PRESET, dataDir: dir, agent: 'linucb', trainSteps: 400, seed: 2, out: fileB });
  return { dir, ds: await loadServeData(dir), fileA, fileB };
}

interface Served {
  s: RunningServer;
  logs: string[];
  agent: () => AgentPolicy;
  call: (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>; // any: tests read JSON field by field
}

/** A server on the store in `dir` (kept across restarts), serving `warm`, with its log captured. */
async function serve(dir: string, ds: Dataset, warm: WarmAgent, rewardWaitSeconds: number): Promise<Served> {
  const logs: string[] = [];
  const s = await startServer({
    dataset: ds,
    store: `sqlite:${join(dir, 'chorus.db')}`,
    adminKey: ADMIN,
    engine: { model: { kind: 'popularity', config: {} }, agent: { name: warm.agent.kind, warm }, rewardWaitSeconds },
    log: (m) => logs.push(m),
  });
  const call: Served['call'] = async (method, path, body) => {
    const res = await fetch(`${s.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  return { s, logs, agent: () => s.engine.policy as AgentPolicy, call };
}

/** Record the transitions the served agent observes. */
function watch(policy: AgentPolicy): Transition[] {
  const agent = policy.served;
  const seen: Transition[] = [];
  const observe = agent.observe.bind(agent);
  agent.observe = (t) => (seen.push(t), observe(t));
  return seen;
}

/** Wait (polling, generous deadline) until the agent learned a transition and no reward window is open. */
async function untilLearned(x: Served, seen: Transition[]): Promise<void> {
  const end = Date.now() + 30_000;
  while ((seen.length === 0 || x.s.engine.openWindows > 0) && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
  await x.s.engine.settle();
}

const stateOf = (p: AgentPolicy): string => JSON.stringify(p.served.toJSON().state);

describe('a warm agent across restarts', () => {
  it('resumes its checkpoint with the same file, and starts from a new file of the same kind and items', async () => {
    const { dir, ds, fileA, fileB } = await twoAgents();
    const warmA = readAgentFile(fileA);
    const warmB = readAgentFile(fileB);
    expect(warmB.agent.kind).toBe(warmA.agent.kind);
    expect(warmB.space.itemIds).toEqual(warmA.space.itemIds);
    expect(warmB.agentSha256).not.toBe(warmA.agentSha256);

    // First run: the agent learns a step, then the server stops (saving its checkpoint).
    const first = await serve(dir, ds, warmA, 0.3);
    let learned: string;
    try {
      const seen = watch(first.agent());
      const r = await first.call('POST', '/recommend', { user: '2', k: 4, session: 'a' });
      expect((await first.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[1].id, type: 'click' })).status).toBe(201);
      await first.call('POST', '/recommend', { user: '2', k: 4, session: 'b' });
      await untilLearned(first, seen);
      expect(seen.length).toBeGreaterThan(0);
    } finally {
      await first.s.close();
    }
    learned = stateOf(first.agent());
    const fileState = JSON.stringify(warmA.agent.state);
    expect(learned).not.toBe(fileState);

    // Same file: the checkpoint is resumed, with what the agent learned while served.
    const again = await serve(dir, ds, readAgentFile(fileA), 0.3);
    try {
      expect(stateOf(again.agent())).toBe(learned);
      expect(again.agent().updates).toBe(first.agent().updates);
      expect(again.logs.some((m) => m.includes('resuming from the checkpoint') && m.includes(fileA))).toBe(true);
      learned = stateOf(again.agent());
    } finally {
      await again.s.close();
    }

    // Another file of the same kind and items: it starts from that file, not the old checkpoint.
    const other = await serve(dir, ds, warmB, 0.3);
    try {
      expect(other.logs.some((m) => m.includes('starting from') && m.includes(fileB))).toBe(true);
      expect(other.logs.some((m) => m.includes('resuming from the checkpoint'))).toBe(false);
      expect(stateOf(other.agent())).not.toBe(learned);
      expect(other.agent().served.toJSON().config).toEqual(warmB.agent.config);
      // Nothing of the log completed a transition on replay, so the agent is the file's, as saved.
      expect(other.agent().updates).toBe(0);
      const { rng, training: _t, ...restored } = other.agent().served.toJSON().state as Record<string, unknown>;
      const { rng: fileRng, training: _f, ...saved } = warmB.agent.state as Record<string, unknown>;
      expect(JSON.stringify(restored)).toBe(JSON.stringify(saved));
      expect(rng).toEqual(fileRng);
    } finally {
      await other.s.close();
    }
  }, 120_000);
});

/**
 * Snapshot `id` of `ds` as the engine serves it. Two datasets loaded from other ratings files list
 * their items in other orders, as snapshots fitted on other data do.
 */
async function snapshotOf(ds: Dataset, id: string): Promise<World> {
  const w = await servedWorld(ds);
  return { ...w, model: { ...w.model, snapshotId: id } };
}

describe('a warm agent across snapshot changes', () => {
  it('still learns a decision pending across a retrain that adds an item, in its own space', async () => {
    const { dir, ds, fileA } = await twoAgents();
    const warm = readAgentFile(fileA);
    // Reward windows long enough to outlast the retrain (a worker thread fits the new snapshot).
    const x = await serve(dir, ds, warm, 5);
    try {
      const policy = x.agent();
      const seen = watch(policy);
      const before = x.s.engine.activeSnapshot.id;
      // Snapshot A: a decision for user 2.
      const r = await x.call('POST', '/recommend', { user: '2', k: 4, session: 'a' });
      const ids: string[] = r.body.items.map((it: { id: string }) => it.id);
      // Snapshot B: a catalogue item added through the API, then a retrain: another item list.
      expect((await x.call('POST', '/items', { id: 'brand-new', title: 'Brand new' })).status).toBe(201);
      const snap = await x.call('POST', '/snapshots', { retrain: true });
      expect(snap.status).toBe(201);
      expect(x.s.engine.activeSnapshot.id).not.toBe(before);
      expect(x.logs.some((m) => m.includes(`snapshot ${x.s.engine.activeSnapshot.id}'s ${ds.nItems + 1} items`))).toBe(true);
      // A's decision is still pending (its step is in the agent's space: no snapshot bridge is
      // involved; the test below covers those) and its feedback is learned.
      expect(policy.pending.steps).toBeGreaterThan(0);
      expect((await x.call('POST', '/feedback', { eventId: r.body.eventId, item: ids[2], type: 'click' })).status).toBe(201);
      await x.call('POST', '/recommend', { user: '2', k: 4, session: 'b' });
      await untilLearned(x, seen);
      const t = seen.find((s) => s.rewards && s.rewards.some((v) => v > 0));
      expect(t).toBeDefined();
      // In the agent's own space: the items A showed, the click on the third, and user 2.
      expect(Array.from(t!.slate.items, (i) => warm.space.itemIds[i])).toEqual(ids);
      expect(Array.from(t!.rewards!)).toEqual([0, 0, 1, 0]);
      expect(warm.space.userIds[t!.observation.user]).toBe('2');
    } finally {
      await x.s.close();
    }
  }, 120_000);

  it('learns feedback for a decision made under the previous snapshot, with that decision’s items', async () => {
    const { dir, ds, fileA } = await twoAgents();
    const warm = readAgentFile(fileA);
    // Snapshot B is fitted on data without the first item: every other item moves down one index,
    // so an index logged under A names another item under B.
    const gone = ds.items.ids()[0]!;
    const sub = join(dir, 'without-first');
    mkdirSync(sub);
    const lines = readFileSync(join(dir, 'ratings.csv'), 'utf8').trim().split('\n');
    writeFileSync(join(sub, 'ratings.csv'), `${lines.filter((l, k) => k === 0 || l.split(',')[1] !== gone).join('\n')}\n`);
    const a = await snapshotOf(ds, 'snap-a');
    const b = await snapshotOf(await loadServeData(sub), 'snap-b');
    expect(b.model.itemIds).not.toContain(gone);
    expect(b.model.itemIds[0]).toBe(a.model.itemIds[1]);

    // One pending step at most: a later decision evicts an earlier sessionless one not yet rewarded.
    const policy = new AgentPolicy({ agent: warm.agent.kind, config: {}, warm, maxPendingSteps: 1 });
    policy.bind(a.model, a.catalogue);
    const seen = watch(policy);
    const chosen = policy.choose(inputFor(a, { eventId: 'under-a', user: '2', session: null, k: 4 }));
    const ids = chosen.items.map((c) => c.id);
    expect(ids).toHaveLength(4);
    policy.bind(b.model, b.catalogue);
    policy.choose(inputFor(b, { eventId: 'under-b', user: '2', session: null, k: 4 }));
    // A's step is gone (only B's waits): its feedback has to be rebuilt from the logged payload.
    expect(policy.pending.steps).toBe(1);
    // The payload as the decision log keeps it (JSON).
    expect(policy.learn(JSON.parse(JSON.stringify(chosen.payload)), 2, 1)).toBe(true);
    expect(seen).toHaveLength(1);
    const t = seen[0]!;
    // Read through A's bridge: the items A showed, the click on the third, user 2 and their items.
    expect(Array.from(t.slate.items, (i) => warm.space.itemIds[i])).toEqual(ids);
    expect(Array.from(t.rewards!)).toEqual([0, 0, 1, 0]);
    expect(warm.space.userIds[t.observation.user]).toBe('2');
    const u = a.model.userIndex.get('2')!;
    const seenByU = a.model.seenIndices.subarray(a.model.seenIndptr[u]!, a.model.seenIndptr[u + 1]!);
    const history = Array.from(seenByU.subarray(Math.max(0, seenByU.length - policy.config.historyKept)), (i) => a.model.itemIds[i]);
    expect(history.length).toBeGreaterThan(0);
    expect(Array.from(t.observation.history, (i) => warm.space.itemIds[i])).toEqual(history);
  }, 120_000);
});
