/**
 * Offline RL on the server's own decision log: a real server logs decisions and feedback, the log
 * becomes a session log in the data's item space (src/ope/learn/server-sessions.ts), and
 * `chorus train --agent bc|cql --log` turns it into an agent file the server serves warm.
 */
import { privacyUnits } from '../../src/ope/learn/privacy-units.js';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readAgentFile } from '../../src/agents/agent-file.js';
import { loadServeData } from '../../src/cli/commands/serve.js';
import type { Dataset } from '../../src/data/dataset.js';
import { registerOfflineAgents } from '../../src/ope/learn/register.js';
import { readEventsExport, readStoreDecisions, serverSessionLog } from '../../src/ope/learn/server-sessions.js';
import { readSessionLog, type LoggedStep } from '../../src/ope/learn/session-log.js';
import { runCli, tempDir, writeTinyMovieLens } from '../cli/helpers.js';
import { startTestServer, type TestServer } from '../serve/helpers.js';

const T0 = Date.UTC(2026, 0, 5, 12);
const MIN = 60_000;
const IDLE = 1800 * 1000;
const POPULARITY = { kind: 'popularity', config: {} };

interface Shown {
  eventId: string;
  items: string[];
  propensities: number[];
}

async function recommend(s: TestServer, at: number, body: Record<string, unknown>): Promise<Shown> {
  vi.setSystemTime(at);
  const r = await s.call('POST', '/recommend', body);
  expect(r.status).toBe(200);
  return { eventId: r.body.eventId, items: r.body.items.map((x: { id: string }) => x.id), propensities: r.body.items.map((x: { propensity: number }) => x.propensity) };
}

async function feedback(s: TestServer, d: Shown, position: number, type: 'click' | 'rating', value?: number): Promise<void> {
  const r = await s.call('POST', '/feedback', { eventId: d.eventId, item: d.items[position], type, ...(value !== undefined ? { value } : {}) });
  expect(r.status).toBe(201);
}

/** The user's training items in the data, as the conversion's states start (most recent last). */
function trainedItems(ds: Dataset, user: string): number[] {
  const csr = ds.byUser();
  const u = ds.users.toIndex(user);
  return Array.from(csr.indices.subarray(csr.indptr[u]!, csr.indptr[u + 1]!));
}

const idx = (ds: Dataset, ids: readonly string[]): number[] => ids.map((id) => ds.items.toIndex(id));
const f32 = (xs: readonly number[]): number[] => Array.from(Float32Array.from(xs));
const stepsOf = (steps: readonly LoggedStep[], user: number): LoggedStep[] => steps.filter((s) => s.obs.user === user);

const dirs: string[] = [];
function scratchDir(): string {
  const d = tempDir('chorus-server-sessions-');
  dirs.push(d);
  return d;
}

afterEach(() => {
  vi.useRealTimers();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the server decision log as a session log', () => {
  it('splits sessions by idle gap, builds states from the data and earlier rewards, and keeps the logged propensities and rewards', async () => {
    const dir = scratchDir();
    writeTinyMovieLens(dir, 30, 60, 2);
    const ds = await loadServeData(dir);
    vi.useFakeTimers({ toFake: ['Date'] });
    const s = await startTestServer({ dir, dataset: ds, engine: { model: POPULARITY } });
    let a: Shown[], b: Shown[], newbie: Shown, coldOnly: Shown;
    try {
      // User 1: three decisions a minute apart, then (after more than the idle gap) two more, the
      // last exactly one idle gap after the one before (still the same session).
      const a1 = await recommend(s, T0, { user: '1', k: 4 });
      await feedback(s, a1, 1, 'click');
      const a2 = await recommend(s, T0 + MIN, { user: '1', k: 4, context: { device: 'mobile' } });
      await feedback(s, a2, 0, 'click');
      await feedback(s, a2, 0, 'rating', 2); // reward −0.5, summed with the click's 1
      await feedback(s, a2, 3, 'rating', 4); // reward 0.5
      const a3 = await recommend(s, T0 + 2 * MIN, { user: '1', k: 4 });
      const a4 = await recommend(s, T0 + 2 * MIN + IDLE + 1000, { user: '1', k: 4 });
      await feedback(s, a4, 2, 'click');
      const a5 = await recommend(s, T0 + 2 * MIN + 2 * IDLE + 1000, { user: '1', k: 4 });
      a = [a1, a2, a3, a4, a5];
      const b1 = await recommend(s, T0 + 30_000, { user: '2', k: 3 });
      await feedback(s, b1, 0, 'click');
      newbie = await recommend(s, T0 + 40_000, { user: 'newbie', k: 3 });
      await feedback(s, newbie, 1, 'click');
      // An item the data does not have: a slate showing it loses that position, one showing only it is skipped.
      expect((await s.call('POST', '/items', { id: 'cold1', title: 'Cold' })).status).toBe(201);
      coldOnly = await recommend(s, T0 + 50_000, { user: '3', k: 1, candidates: ['cold1'] });
      expect(coldOnly.items).toEqual(['cold1']);
      const b2 = await recommend(s, T0 + 3 * MIN, { user: '2', k: 5, candidates: ['cold1', '1', '2', '3', '4'], excludeSeen: false });
      b = [b1, b2];
      vi.setSystemTime(T0 + 4 * MIN);
      expect((await s.call('POST', '/personalizer/v1.0/rank', { actions: [{ id: '1' }, { id: '2' }] })).status).toBe(201);
      const events = await s.call('GET', '/events?limit=1000');
      writeFileSync(join(dir, 'events.jsonl'), `${JSON.stringify(events.body)}\n`);
    } finally {
      await s.close();
    }
    const mobile = (raw: unknown) => Float32Array.of(raw !== null && typeof raw === 'object' && 'device' in raw ? 1 : 0);
    const stored = await readStoreDecisions(`sqlite:${join(dir, 'chorus.db')}`);
    const { log, counts } = serverSessionLog(stored.decisions, ds, { contextOf: mobile });
    const b2Dropped = b[1]!.items.filter((id) => id === 'cold1').length;
    expect(b2Dropped).toBe(1);
    expect(counts).toEqual({ decisions: 10, used: 8, skipped: { noUser: 1, inactive: 0, badPropensities: 0, noKnownItems: 1 }, droppedPositions: 1 + b2Dropped, users: 3, sessions: 4, steps: 8 });

    const u1 = stepsOf(log.steps, ds.users.toIndex('1'));
    expect(u1.map((x) => x.obs.t)).toEqual([0, 1, 2, 0, 1]);
    expect(u1.map((x) => x.done)).toEqual([false, false, true, false, true]);
    u1.forEach((x, k) => {
      expect(Array.from(x.items)).toEqual(idx(ds, a[k]!.items));
      expect(Array.from(x.propensities)).toEqual(f32(a[k]!.propensities));
    });
    expect(u1.map((x) => Array.from(x.rewards))).toEqual([[0, 1, 0, 0], [0.5, 0, 0, 0.5], [0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]);
    expect(u1.map((x) => x.reward)).toEqual([1, 1, 0, 1, 0]);
    // States: the training items, then each earlier positively rewarded item (first rewarded first).
    const train1 = trainedItems(ds, '1');
    const liked = idx(ds, [a[0]!.items[1]!, a[1]!.items[0]!, a[1]!.items[3]!, a[3]!.items[2]!]);
    const histories = [train1, [...train1, liked[0]!], [...train1, ...liked.slice(0, 3)], [...train1, ...liked.slice(0, 3)], [...train1, ...liked]];
    expect(u1.map((x) => Array.from(x.obs.history))).toEqual(histories.map((h) => h.slice(-50)));
    expect(u1.map((x) => Array.from(x.obs.context!))).toEqual([[0], [1], [0], [0], [0]]);
    // next: the session's next state; at its end the state after the step.
    expect(u1[0]!.next).toEqual(u1[1]!.obs);
    expect(u1[1]!.next).toEqual(u1[2]!.obs);
    expect(u1[3]!.next).toEqual(u1[4]!.obs);
    expect(u1[2]!.next).toMatchObject({ t: 3, history: Int32Array.from(histories[3]!.slice(-50)) });
    expect(u1[4]!.next).toMatchObject({ t: 2, history: Int32Array.from(histories[4]!.slice(-50)) });

    // User 2: one session; the cold item's position is dropped from the second step.
    const u2 = stepsOf(log.steps, ds.users.toIndex('2'));
    expect(u2.map((x) => [x.obs.t, x.done])).toEqual([[0, false], [1, true]]);
    const b2 = b[1]!;
    const keptPositions = b2.items.flatMap((id, p) => (id === 'cold1' ? [] : [p]));
    expect(Array.from(u2[1]!.items)).toEqual(idx(ds, keptPositions.map((p) => b2.items[p]!)));
    expect(Array.from(u2[1]!.propensities)).toEqual(f32(keptPositions.map((p) => b2.propensities[p]!)));
    expect(Array.from(u2[1]!.obs.history)).toEqual([...trainedItems(ds, '2'), ds.items.toIndex(b[0]!.items[0]!)].slice(-50));

    // A user the data lacks is user −1, with only what they rewarded.
    const nb = stepsOf(log.steps, -1);
    expect(nb).toHaveLength(1);
    expect(Array.from(nb[0]!.obs.history)).toEqual([]);
    expect(Array.from(nb[0]!.next.history)).toEqual(idx(ds, [newbie.items[1]!]));
    expect(Array.from(nb[0]!.rewards)).toEqual([0, 1, 0]);

    // States keep only the most recent items.
    const short = serverSessionLog(stored.decisions, ds, { historyLength: 2 }).log;
    expect(stepsOf(short.steps, ds.users.toIndex('1')).map((x) => Array.from(x.obs.history))).toEqual(histories.map((h) => h.slice(-2)));
    // A shorter idle gap splits user 1's first session too (decisions a minute apart).
    expect(serverSessionLog(stored.decisions, ds, { sessionIdleSeconds: 30 }).counts.sessions).toBe(8);

    // The GET /events export gives the same log (it carries no request context: all read as none).
    const exported = readEventsExport(join(dir, 'events.jsonl'));
    expect(exported.sha256).toMatch(/^[0-9a-f]{64}$/);
    const fromExport = serverSessionLog(exported.decisions, ds, { contextOf: mobile });
    expect(fromExport.counts).toEqual(counts);
    const strip = (st: LoggedStep[]) => st.map((x) => ({ ...x, obs: { ...x.obs, context: undefined }, next: { ...x.next, context: undefined } }));
    expect(strip(fromExport.log.steps)).toEqual(strip(log.steps));
    expect(fromExport.log.steps.every((x) => x.obs.context![0] === 0)).toBe(true);

    // chorus train --agent bc --log: an agent file the server accepts and serves warm.
    const file = join(dir, 'bc.agent.json');
    const sessionFile = join(dir, 'sessions.jsonl');
    const cli = await runCli(['train', '--agent', 'bc', '--log', `sqlite:${join(dir, 'chorus.db')}`, '--data', dir, '--steps', '50', '--out', file, '--session-log-out', sessionFile, '--json']);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    const info = JSON.parse(cli.stdout) as { conversion: unknown; trainedOn: Record<string, unknown> };
    expect(info.conversion).toEqual(counts);
    expect(info.trainedOn).toMatchObject({ log: { source: expect.stringContaining('chorus.db') }, decisions: 10, decisionsUsed: 8, steps: 8, sessions: 4, agentSteps: 50, seed: 1 });
    const written = readSessionLog(sessionFile);
    expect(written.steps.map((x) => [Array.from(x.items), Array.from(x.rewards), Array.from(x.obs.history), x.obs.t, x.done])).toEqual(
      log.steps.map((x) => [Array.from(x.items), Array.from(x.rewards), Array.from(x.obs.history), x.obs.t, x.done]),
    );
    // With --dp-epsilon: DP-SGD over the log's users, the spent budget in the JSON (δ = 1/units).
    const dpFile = join(dir, 'bc-dp.agent.json');
    const dp = await runCli(['train', '--agent', 'bc', '--log', `sqlite:${join(dir, 'chorus.db')}`, '--data', dir, '--out', dpFile, '--dp-epsilon', '8', '--json']);
    expect(dp.stderr).toBe('');
    expect(dp.code).toBe(0);
    const dpInfo = JSON.parse(dp.stdout) as { privacy: { epsilon: number; delta: number; unit: string; mechanism: string }; trainedOn: { agentSteps: number } };
    // Units: the users the data knows, and each session of a user it does not.
    const units = privacyUnits(log.steps);
    expect(dpInfo.privacy).toMatchObject({ unit: units.unit, mechanism: 'dp-sgd' });
    expect(dpInfo.privacy.epsilon).toBeLessThanOrEqual(8);
    expect(dpInfo.privacy.delta).toBeCloseTo(1 / units.units.length, 12);
    expect(dpInfo.trainedOn.agentSteps).toBe(200);
    // The file (the release) keeps no exact count of the log; a plain agent's does.
    const dpDoc = JSON.parse(readFileSync(dpFile, 'utf8')) as { trainedOn: Record<string, unknown> };
    expect(dpDoc.trainedOn.decisions).toBeUndefined();
    expect(dpDoc.trainedOn.steps).toBeUndefined();
    expect((JSON.parse(readFileSync(file, 'utf8')) as { trainedOn: Record<string, unknown> }).trainedOn.decisions).toBe(10);
    // A simulator-trained agent has no user data to protect: refused, naming the flag.
    const simDp = await runCli(['train', '--agent', 'dqn', '--data', dir, '--dp-epsilon', '8']);
    expect(simDp.code).not.toBe(0);
    expect(simDp.stderr).toMatch(/dp-epsilon.*decision log/);
    const warm = readAgentFile(file);
    expect(warm.agent.kind).toBe('bc');
    expect(warm.space.itemIds).toEqual(ds.items.ids());
    registerOfflineAgents();
    const served = await startTestServer({ dataset: ds, engine: { model: POPULARITY, agent: { name: 'bc', warm } } });
    try {
      const r = await served.call('POST', '/recommend', { user: '1', k: 5 });
      expect(r.status).toBe(200);
      expect(r.body.items).toHaveLength(5);
      expect(r.body.items[0].explanation.agent.name).toBe('bc');
    } finally {
      await served.close();
    }
  }, 60_000);

  it('refuses agents that do not learn from logs, and names the flag', async () => {
    const dir = scratchDir();
    writeTinyMovieLens(dir, 10, 20, 1);
    const online = await runCli(['train', '--agent', 'linucb', '--log', 'sqlite:nowhere.db', '--data', dir]);
    expect(online.code).not.toBe(0);
    expect(online.stderr).toMatch(/agent.*learns by interacting.*--log/);
    const noLog = await runCli(['train', '--agent', 'cql', '--data', dir]);
    expect(noLog.code).not.toBe(0);
    expect(noLog.stderr).toMatch(/--log/);
    const missing = await runCli(['train', '--agent', 'cql', '--log', `sqlite:${join(dir, 'none.db')}`, '--data', dir]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/none\.db.*store file not found/);
    expect(existsSync(join(dir, 'none.db'))).toBe(false);
    const stray = await runCli(['train', '--agent', 'dqn', '--session-idle', '60', '--data', dir]);
    expect(stray.code).not.toBe(0);
    expect(stray.stderr).toMatch(/session-idle.*--log/);
  }, 30_000);
});

describe('offline RL on a server log', () => {
  it('CQL learns that the one item users always click belongs at the top', async () => {
    const dir = scratchDir();
    writeTinyMovieLens(dir, 30, 60, 4);
    const ds = await loadServeData(dir);
    // The clicked item: a middling one by training popularity (not what a popularity prior ranks first).
    const counts = ds.itemCounts();
    const byCount = Array.from({ length: ds.nItems }, (_, i) => i).sort((x, y) => counts[y]! - counts[x]! || x - y);
    const target = ds.items.toExternal(byCount[Math.floor(ds.nItems / 2)]!);
    vi.useFakeTimers({ toFake: ['Date'] });
    // The behaviour: uniformly random slates (exact propensities), which never learn from the clicks.
    const s = await startTestServer({ dir, dataset: ds, engine: { model: POPULARITY, agent: { name: 'random', config: { seed: 3 } } } });
    let shown = 0;
    let loggedTop3 = 0;
    try {
      for (let step = 0; step < 10; step++) {
        for (let u = 1; u <= 30; u++) {
          const d = await recommend(s, T0 + step * MIN + u * 100, { user: String(u), k: 6 });
          const p = d.items.indexOf(target);
          if (p >= 0) {
            shown++;
            if (p < 3) loggedTop3++;
            await feedback(s, d, p, 'click');
          }
        }
      }
    } finally {
      await s.close();
    }
    expect(shown).toBeGreaterThanOrEqual(10);
    vi.useRealTimers();
    registerOfflineAgents();
    // How often each agent, trained on the log and served warm, puts the item in a user's top 3.
    const top3Share = async (agent: 'bc' | 'cql'): Promise<{ users: number; share: number }> => {
      const file = join(dir, `${agent}.agent.json`);
      const cli = await runCli(['train', '--agent', agent, '--log', `sqlite:${join(dir, 'chorus.db')}`, '--data', dir, '--steps', '1500', '--seed', '2', '--out', file]);
      expect(cli.stderr).toBe('');
      expect(cli.code).toBe(0);
      expect(cli.stdout).toMatch(new RegExp(`trained ${agent} on 300 logged steps`));
      const served = await startTestServer({ dataset: ds, engine: { model: POPULARITY, agent: { name: agent, warm: readAgentFile(file) } } });
      let users = 0;
      let hits = 0;
      try {
        for (let u = 1; u <= 30; u++) {
          // The users who had the item in their data never get it (seen items are excluded).
          if (trainedItems(ds, String(u)).includes(ds.items.toIndex(target))) continue;
          users++;
          const r = await served.call('POST', '/recommend', { user: String(u), k: 3 });
          expect(r.status).toBe(200);
          if (r.body.items.some((x: { id: string }) => x.id === target)) hits++;
        }
      } finally {
        await served.close();
      }
      return { users, share: hits / users };
    };
    const cql = await top3Share('cql');
    const bc = await top3Share('bc');
    expect(cql.users).toBeGreaterThanOrEqual(20);
    // Chance is about 3 in the ~50 unseen items, and the random behaviour put the item in its top 3
    // that rarely too: CQL learned it from the rewards, which behaviour cloning (copying the
    // random slates) ignores.
    expect(loggedTop3 / 300).toBeLessThan(0.15);
    expect(cql.share).toBeGreaterThanOrEqual(0.7);
    expect(bc.share).toBeLessThan(0.3);
  }, 120_000);
});
