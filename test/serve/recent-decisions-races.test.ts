/**
 * The recent-decision cache against erasure races and reused event ids (defects a review found in
 * its first version): with the cache on, every answer and every stored row is the one the
 * uncached path gives (the control run of each case).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';

describe('feedback during an erasure\'s commit', () => {
  let s: TestServer;
  afterEach(async () => {
    await s?.close();
  });

  it.each([
    ['without the cache (control)', 0],
    ['with the cache (default size)', 4096],
  ])('a decision read by feedback after the erasure mark but before its commit is not kept: %s', async (_what, recentDecisions) => {
    s = await startTestServer({ engine: { rewardWaitSeconds: 3600, recentDecisions } });
    const reads: string[] = [];
    const get = s.store.events.getDecision.bind(s.store.events);
    s.store.events.getDecision = (id) => {
      reads.push(id);
      return get(id);
    };
    const r = await s.call('POST', '/recommend', { user: 'u1', k: 3 });
    expect(r.status).toBe(200);
    const ev: string = r.body.eventId;

    // A feedback that arrives while the erasure is being committed: the engine has marked the
    // user erased and dropped their kept decisions; the store still holds the row.
    const er = s.store.erasures;
    const erase = er.eraseUser.bind(er);
    let during: { status: number } | null = null;
    er.eraseUser = async (e) => {
      if (e.user === 'u1' && during === null) {
        during = await s.call('POST', '/feedback', { eventId: ev, item: r.body.items[0].id, type: 'click' });
      }
      return erase(e);
    };
    expect((await s.call('DELETE', '/users/u1')).status).toBe(200);
    expect(during).not.toBeNull();
    expect(await s.store.events.getDecision(ev)).toBeUndefined(); // the erasure deleted it
    reads.length = 0;

    // Uncached (recentDecisions 0, or a cache without the entry): 404 "unknown event" for both.
    const notShown = await s.call('POST', '/feedback', { eventId: ev, item: 'zzz', type: 'click' });
    const otherUser = await s.call('POST', '/feedback', { eventId: ev, user: 'u2', item: r.body.items[0].id, type: 'click' });
    const seen = { notShown: [notShown.status, notShown.body.error?.message], otherUser: [otherUser.status, otherUser.body.error?.message], reads: reads.slice() };
    expect(seen).toEqual({
      notShown: [404, `field "eventId": unknown event "${ev}"`],
      otherUser: [404, `field "eventId": unknown event "${ev}"`],
      reads: [ev, ev],
    });
  });

  it.each([
    ['without the cache (control)', 0],
    ['with the cache (default size)', 4096],
  ])('an event id logged again after the erasure: the reward is stored on the new decision, not the erased one: %s', async (_what, recentDecisions) => {
    s = await startTestServer({ engine: { rewardWaitSeconds: 3600, recentDecisions } });
    const r = await s.call('POST', '/recommend', { user: 'u1', k: 3 });
    const ev: string = r.body.eventId;
    const er = s.store.erasures;
    const erase = er.eraseUser.bind(er);
    let during = false;
    er.eraseUser = async (e) => {
      if (e.user === 'u1' && !during) {
        during = true;
        await s.call('POST', '/feedback', { eventId: ev, item: r.body.items[0].id, type: 'click' });
      }
      return erase(e);
    };
    expect((await s.call('DELETE', '/users/u1')).status).toBe(200);
    expect(await s.store.events.getDecision(ev)).toBeUndefined();

    // The id is free again: a Personalizer client logs a deferred Rank event under it, activates it, rewards it.
    const actions = [{ id: 'm1' }, { id: 'm2' }];
    const rank = await s.call('POST', '/personalizer/v1.0/rank', { eventId: ev, actions, deferActivation: true });
    expect(rank.status).toBe(201);
    expect((await s.call('POST', `/personalizer/v1.0/events/${ev}/activate`)).status).toBe(204);
    expect((await s.call('POST', `/personalizer/v1.0/events/${ev}/reward`, { value: 1 })).status).toBe(204);

    const stored = await s.store.events.getDecision(ev);
    const rows = await s.store.events.feedbackFor([ev]);
    // Uncached: the reward is on the stored decision (its user, its pick at position 0).
    expect(rows.map((f) => ({ user: f.user, item: f.item, propensity: f.propensity }))).toEqual([
      { user: stored!.user, item: stored!.items[0], propensity: stored!.propensities[0] },
    ]);
  });

  it.each([
    ['without the cache (control)', 0],
    ['with the cache (default size)', 4096],
  ])('a kept decision the store no longer holds (a cluster server before the erasure notice): a reused event id stores the erased user again: %s', async (_what, recentDecisions) => {
    s = await startTestServer({ engine: { rewardWaitSeconds: 3600, recentDecisions } });
    const r = await s.call('POST', '/recommend', { user: 'u3', k: 3 });
    const ev: string = r.body.eventId;
    // Erased by another process (the learner); this process has not heard yet.
    const done = await s.store.erasures.eraseUser({ user: 'u3', id: 'audit-r', ts: Date.now(), snapshots: [], state: [], counts: {}, found: true });
    expect(done?.counts.decisions).toBe(1);
    // Another server logs a deferred Rank event under the same (client-chosen) id, and activates it.
    await s.store.events.appendDecision({ id: ev, ts: Date.now(), user: null, kind: 'rank', items: ['m1', 'm2'], propensities: [0.9, 0.1], scores: [1, 0], snapshotId: null, activated: false, payload: null });
    expect(await s.store.events.activateDecision(ev)).toBe(true);
    expect((await s.call('POST', `/personalizer/v1.0/events/${ev}/reward`, { value: 1 })).status).toBe(204);
    const rows = await s.store.events.feedbackFor([ev]);
    // Uncached: user null, item m1, propensity 0.9 (the stored decision's pick).
    expect(rows.map((f) => ({ user: f.user, item: f.item, propensity: f.propensity }))).toEqual([{ user: null, item: 'm1', propensity: 0.9 }]);
  });
});
