import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replayWindow, RewardWindows } from '../../src/serve/reward-window.js';
import { startTestServer } from './helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('RewardWindows', () => {
  it('closes a Rank window at its first reward and a slate window at its deadline, with the positions that got nothing', () => {
    const w = new RewardWindows({ waitMs: 100, defaultReward: 0 });
    w.opened({ id: 'r', kind: 'rank', items: ['a', 'b', 'c'] }, 1000);
    w.opened({ id: 's', kind: 'recommend', items: ['a', 'b', 'c'] }, 1010);
    expect(w.feedback('r', 1)).toEqual({ learn: false, closed: false }); // a Rank call's reward is on its pick
    expect(w.feedback('r', 0)).toEqual({ learn: true, closed: true });
    expect(w.feedback('r', 0)).toEqual({ learn: false, closed: false });
    expect(w.feedback('s', 2)).toEqual({ learn: true, closed: false });
    expect(w.oldestOpen(5000)).toBe(1010);
    expect(w.expired(1109, 10)).toEqual([]);
    expect(w.expired(1110, 10)).toEqual([{ id: 's', missing: [0, 1] }]);
    expect(w.feedback('s', 0).learn).toBe(false);
    expect(w.size).toBe(0);
  });

  it('replays a window from the log as the live server saw it', () => {
    const d = { ts: 0, kind: 'recommend' as const, items: ['a', 'b', 'c'] };
    const r = replayWindow(d, [{ seq: 1, ts: 10, position: 1 }, { seq: 2, ts: 150, position: 0 }], 100);
    expect([...r.learned]).toEqual([1]);
    expect(r.missing).toEqual([0, 2]);
    expect(r.closesAt).toBe(100);
    const k = replayWindow({ ...d, kind: 'rank' }, [{ seq: 3, ts: 20, position: 0 }, { seq: 4, ts: 30, position: 0 }], 100);
    expect([...k.learned]).toEqual([3]);
    expect(k.closesAt).toBe(20);
    expect(k.missing).toEqual([]);
  });
});

describe('reward wait and default reward (engine)', () => {
  it('learns the default reward for every shown item without feedback, and not a reward after the wait', async () => {
    const s = await startTestServer({ engine: { rewardWaitSeconds: 0.3, defaultReward: -0.25 } });
    dirs.push(s.dir);
    try {
      const r = await s.call('POST', '/recommend', { user: 'u1', k: 3 });
      await s.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[1].id, type: 'click' });
      await s.engine.settle();
      expect(s.engine.policy.updates).toBe(1);
      expect(s.engine.openWindows).toBe(1);
      const before = JSON.stringify(s.engine.policy.getState());
      await sleep(700);
      await s.engine.settle();
      expect(s.engine.counters.defaultRewards).toBe(2);
      expect(s.engine.policy.updates).toBe(3);
      expect(s.engine.openWindows).toBe(0);
      // The default rewards moved the model (the shown items' rows learned −0.25).
      expect(JSON.stringify(s.engine.policy.getState())).not.toBe(before);
      // Too late: logged, not learned.
      const late = await s.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[0].id, type: 'click' });
      expect(late.status).toBe(201);
      await s.engine.settle();
      expect(s.engine.policy.updates).toBe(3);
      expect(await s.store.events.countFeedback()).toBe(2);

      // Rank: the first reward is learned and closes the window; a second is not learned.
      const actions = [{ id: 'x', features: [{ k: 1 }] }, { id: 'y', features: [{ k: 2 }] }];
      const k = await s.call('POST', '/personalizer/v1.0/rank', { actions, contextFeatures: [{ u: 'a' }] });
      await s.call('POST', `/personalizer/v1.0/events/${k.body.eventId}/reward`, { value: 1 });
      await s.call('POST', `/personalizer/v1.0/events/${k.body.eventId}/reward`, { value: 1 });
      const silent = await s.call('POST', '/personalizer/v1.0/rank', { actions });
      await s.engine.settle();
      expect(s.engine.policy.updates).toBe(4);
      await sleep(700);
      await s.engine.settle();
      expect(s.engine.counters.defaultRewards).toBe(3);
      expect(s.engine.policy.updates).toBe(5);
      expect(silent.status).toBe(201);
    } finally {
      await s.close();
    }
  });

  it('after a crash, learns the windows that closed while it was down and reopens the rest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-window-'));
    dirs.push(dir);
    const engine = { rewardWaitSeconds: 0.5, checkpointEvery: 1, checkpointSeconds: 0 };
    const a = await startTestServer({ dir, engine });
    for (let t = 0; t < 4; t++) {
      const r = await a.call('POST', '/recommend', { user: `u${t + 1}`, k: 2 });
      if (t % 2 === 0) await a.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[0].id, type: 'click' });
    }
    await a.engine.settle();
    await a.engine.checkpoint();
    expect(a.engine.policy.updates).toBe(2);
    // Die before any window closes: no shutdown checkpoint.
    await a.app.close();
    await a.store.close();
    await sleep(800);
    const b = await startTestServer({ dir, engine });
    try {
      // 4 decisions × 2 shown items: 2 clicked (in the checkpoint), 6 defaults learned on restart.
      expect(b.engine.policy.updates).toBe(8);
      expect(b.engine.openWindows).toBe(0);
      // A decision logged now is waiting; it closes on time in the new process.
      await b.call('POST', '/recommend', { user: 'u5', k: 2 });
      expect(b.engine.openWindows).toBe(1);
      await sleep(900);
      await b.engine.settle();
      expect(b.engine.policy.updates).toBe(10);
    } finally {
      await b.close();
    }
  });
});
