import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startTestServer, type TestServer } from './helpers.js';

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({ engine: { rewardWaitSeconds: 3600, defaultReward: -0.2 } });
});
afterAll(async () => {
  await s?.close();
});

describe('dashboard feed', () => {
  it('gives the mean reward per decision: decisions with feedback count, decisions still waiting without any do not', async () => {
    const rewards = [1, 0.5, -1];
    for (const [i, value] of rewards.entries()) {
      const r = await s.call('POST', '/recommend', { user: `u${i + 1}`, k: 3 });
      // a rating of v is reward (v − 3) / 2
      await s.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[1].id, type: 'rating', value: 3 + 2 * value });
    }
    await s.call('POST', '/recommend', { user: 'u5', k: 3 }); // no feedback, window open: not counted
    const feed = (await s.call('GET', '/dashboard/data')).body;
    const r = feed.rewardPerDecision;
    expect(r.decisions).toBe(3);
    expect(r.perDecision).toBeCloseTo(0.5 / 3);
    expect(r.points.reduce((n: number, p: { decisions: number }) => n + p.decisions, 0)).toBe(3);
    expect(r).toMatchObject({ waitSeconds: 3600, defaultReward: -0.2, complete: true });
    expect(r.learned.reduce((n: number, p: { learned: number }) => n + p.learned, 0)).toBe(3);
    // reward per feedback is gone from the timeline: the feed gives reward per decision instead
    expect(feed.timeline.points[0].avgReward).toBeUndefined();
    expect(feed.ope).toBeUndefined();
  });

  it("reports the learner's state and samples it at each read", async () => {
    await s.engine.settle();
    const a = (await s.call('GET', '/dashboard/data')).body.learning;
    expect(a).toMatchObject({ updates: s.engine.counters.learned, queueLength: 0, queueCapacity: s.engine.config.maxQueue, errors: { learn: 0, flush: 0, checkpoint: 0 } });
    expect(a.openWindows).toBe(s.engine.openWindows);
    await new Promise((r) => setTimeout(r, 1100));
    const b = (await s.call('GET', '/dashboard/data')).body.learning;
    expect(b.samples.length).toBe(a.samples.length + 1);
    expect(b.samples.at(-1).updates).toBe(s.engine.counters.learned);
  });

  it('serves Chart.js from the installed package, without a key', async () => {
    const res = await fetch(`${s.url}/dashboard/chart.umd.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('javascript');
    const text = await res.text();
    expect(text.length).toBeGreaterThan(100_000);
    expect(text).toMatch(/Chart\.js v4\./);
    // the feed itself needs the admin key
    expect((await s.call('GET', '/dashboard/data', undefined, { key: null })).status).toBe(401);
    expect((await s.call('GET', '/dashboard/data', undefined, { key: ADMIN })).status).toBe(200);
  });
});
