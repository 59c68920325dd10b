/**
 * Decisions kept in memory for their feedback (src/serve/recent-decisions.ts): what is kept, that
 * feedback on a kept decision reads nothing from the store, and that an erasure leaves nothing
 * kept that the store no longer has (the write's own check still answers 404 if it did). The
 * byte-for-byte comparison with and without the cache is in ./serving-golden.test.ts; the
 * cluster's erasure notice in ./cluster.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DecisionRecord } from '../../src/store/types.js';
import { RecentDecisions, sameAsStored } from '../../src/serve/recent-decisions.js';
import { startTestServer, type TestServer } from './helpers.js';

const decision = (id: string, user: string | null, payload: unknown = { x: [1, 2] }): DecisionRecord => ({
  id,
  ts: 1,
  user,
  kind: 'recommend',
  items: ['a', 'b'],
  propensities: [0.5, 0.25],
  scores: [1, 0],
  snapshotId: null,
  activated: true,
  payload,
});

describe('RecentDecisions', () => {
  it('keeps at most max decisions, dropping the least recently used', () => {
    const r = new RecentDecisions(2);
    r.add(decision('e1', 'u1'));
    r.add(decision('e2', 'u1'));
    expect(r.get('e1')?.id).toBe('e1'); // e2 is now the least recently used
    r.add(decision('e3', 'u2'));
    expect(r.size).toBe(2);
    expect(r.get('e2')).toBeUndefined();
    expect(r.get('e1')?.id).toBe('e1');
    expect(r.get('e3')?.id).toBe('e3');
  });

  it('drops one user\'s decisions on forgetUser, and all on clear', () => {
    const r = new RecentDecisions(10);
    r.add(decision('e1', 'u1'));
    r.add(decision('e2', 'u2'));
    r.add(decision('e3', 'u1'));
    r.add(decision('e4', null));
    expect(r.forgetUser('u1')).toBe(2);
    expect([r.get('e1'), r.get('e3')]).toEqual([undefined, undefined]);
    expect(r.get('e2')?.user).toBe('u2');
    expect(r.forgetUser('u1')).toBe(0);
    r.clear();
    expect(r.size).toBe(0);
  });

  it('keeps nothing with max 0', () => {
    const r = new RecentDecisions(0);
    r.add(decision('e1', 'u1'));
    expect(r.get('e1')).toBeUndefined();
  });
});

describe('sameAsStored: what JSON gives back equal', () => {
  it('accepts plain data, with undefined object properties', () => {
    expect(sameAsStored(decision('e', 'u', { cb: 1, rows: [{ idx: [1, 2], val: [0.5, -3e-9] }, null], context: undefined, s: 'x', b: true }))).toBe(true);
    expect(sameAsStored(decision('e', 'u', null))).toBe(true);
  });

  it.each([
    ['a typed array', { f: new Float32Array([1, 2]) }],
    ['NaN', { f: [NaN] }],
    ['Infinity', { f: [Infinity] }],
    ['-0', { f: [-0] }],
    ['undefined in an array', { f: [1, undefined] }],
    ['a Date', { at: new Date(0) }],
    ['a Map', { m: new Map() }],
    ['a function', { f: () => 1 }],
    ['a bigint', { n: 1n }],
  ])('refuses a payload holding %s', (_what, payload) => {
    expect(sameAsStored(decision('e', 'u', payload))).toBe(false);
  });

  it('refuses a cycle and a non-finite propensity', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(sameAsStored(decision('e', 'u', cyclic))).toBe(false);
    expect(sameAsStored({ ...decision('e', 'u'), propensities: [NaN] })).toBe(false);
  });
});

describe('feedback on kept decisions (SQLite)', () => {
  let s: TestServer;
  afterEach(async () => {
    await s?.close();
  });

  /** A server whose getDecision calls are counted (by the event id asked for). */
  async function server(engine: Record<string, unknown> = {}): Promise<{ s: TestServer; reads: string[] }> {
    s = await startTestServer({ engine: { rewardWaitSeconds: 3600, ...engine } });
    const reads: string[] = [];
    const get = s.store.events.getDecision.bind(s.store.events);
    s.store.events.getDecision = (id) => {
      reads.push(id);
      return get(id);
    };
    return { s, reads };
  }

  it('stores feedback on a decision logged here without reading it back', async () => {
    const { s, reads } = await server();
    const r = await s.call('POST', '/recommend', { user: 'u1', k: 3 });
    expect(r.status).toBe(200);
    for (const type of ['click', 'purchase']) {
      const f = await s.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[1].id, type });
      expect(f.status).toBe(201);
    }
    expect(reads).toEqual([]);
    const rows = await s.store.events.feedbackFor([r.body.eventId]);
    expect(rows.map((x) => [x.user, x.position, x.propensity])).toEqual([
      ['u1', 1, r.body.items[1].propensity],
      ['u1', 1, r.body.items[1].propensity],
    ]);
    // The checks that use the decision still apply: another user's event, an item not shown. A
    // refusal from a kept decision is asked of the store again (the kept copy may be stale), so
    // each of these reads once, and gives the store's answer.
    expect((await s.call('POST', '/feedback', { eventId: r.body.eventId, user: 'u2', item: r.body.items[0].id, type: 'click' })).status).toBe(400);
    const notShown = await s.call('POST', '/feedback', { eventId: r.body.eventId, item: 'zzz', type: 'click' });
    expect(notShown.status).toBe(404);
    expect(notShown.body.error.message).toMatch(/was not shown/);
    expect(reads).toEqual([r.body.eventId, r.body.eventId]);
  });

  it('reads every decision with recentDecisions 0', async () => {
    const { s, reads } = await server({ recentDecisions: 0 });
    const r = await s.call('POST', '/recommend', { user: 'u1', k: 3 });
    expect((await s.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[0].id, type: 'click' })).status).toBe(201);
    expect(reads).toEqual([r.body.eventId]);
  });

  it('keeps only what it logged: a decision read for feedback is not kept, nor a deferred or client-named one', async () => {
    const { s, reads } = await server({ recentDecisions: 1 });
    const a = await s.call('POST', '/recommend', { user: 'u1', k: 3 });
    const b = await s.call('POST', '/recommend', { user: 'u2', k: 3 }); // a is out of the one-entry map
    for (let i = 0; i < 2; i++) expect((await s.call('POST', '/feedback', { eventId: a.body.eventId, item: a.body.items[0].id, type: 'click' })).status).toBe(201);
    // Read each time: a read may race an erasure that has not committed, so it is never kept.
    expect(reads).toEqual([a.body.eventId, a.body.eventId]);
    expect((await s.call('POST', '/feedback', { eventId: b.body.eventId, item: b.body.items[0].id, type: 'click' })).status).toBe(201);
    expect(reads).toEqual([a.body.eventId, a.body.eventId]);

    // A deferred Rank event may be activated later (by any server): read at each reward.
    const actions = [{ id: 'm1' }, { id: 'm2' }];
    const rank = await s.call('POST', '/personalizer/v1.0/rank', { eventId: 'deferred-1', actions, deferActivation: true });
    expect(rank.status).toBe(201);
    reads.length = 0;
    for (let i = 0; i < 2; i++) expect((await s.call('POST', '/personalizer/v1.0/events/deferred-1/reward', { value: 1 })).status).toBe(204);
    expect(reads.filter((id) => id === 'deferred-1')).toHaveLength(2);

    // A client-chosen event id can be used again after an erasure: such decisions are read too.
    expect((await s.call('POST', '/personalizer/v1.0/rank', { eventId: 'named-1', actions })).status).toBe(201);
    reads.length = 0;
    expect((await s.call('POST', '/personalizer/v1.0/events/named-1/reward', { value: 1 })).status).toBe(204);
    expect(reads).toEqual(['named-1']);
  });

  it('a stale kept decision is answered from the store: another process erased it and logged its id again', async () => {
    const { s, reads } = await server();
    const r = await s.call('POST', '/recommend', { user: 'u3', k: 3 });
    const ev: string = r.body.eventId;
    // Erased by another process (a cluster learner) whose notice has not arrived here.
    await s.store.erasures.eraseUser({ user: 'u3', id: 'audit-x', ts: Date.now(), snapshots: [], state: [], counts: {}, found: true });
    // Before the id is used again: the write finds no decision of u3 and the store's answer is 404.
    const gone = await s.call('POST', '/feedback', { eventId: ev, item: r.body.items[0].id, type: 'click' });
    expect(gone.status).toBe(404);
    expect(gone.body.error.message).toMatch(/unknown event/);
    // The id logged again (by a client, for another user): the reward lands on the new decision.
    await s.store.events.appendDecision({ id: ev, ts: Date.now(), user: null, kind: 'rank', items: ['m1', 'm2'], propensities: [0.9, 0.1], scores: [1, 0], snapshotId: null, activated: true, payload: null });
    expect((await s.call('POST', `/personalizer/v1.0/events/${ev}/reward`, { value: 1 })).status).toBe(204);
    const rows = await s.store.events.feedbackFor([ev]);
    expect(rows.map((f) => ({ user: f.user, item: f.item, propensity: f.propensity }))).toEqual([{ user: null, item: 'm1', propensity: 0.9 }]);
    expect(reads).toContain(ev);
  });

  it('does not keep a decision whose payload is large (the cache is bounded by entries)', () => {
    const d = { id: 'x', ts: 1, user: 'u', kind: 'recommend' as const, items: ['a'], propensities: [1], scores: [1], snapshotId: null, activated: true, payload: { context: 'y'.repeat(40_000) } };
    expect(sameAsStored(d)).toBe(false);
    expect(sameAsStored({ ...d, payload: { context: 'y'.repeat(1_000) } })).toBe(true);
  });

  it('an erasure drops the user\'s kept decisions: feedback on them is 404 after reading the store', async () => {
    const { s, reads } = await server();
    const mine = await s.call('POST', '/recommend', { user: 'u1', k: 3 });
    const other = await s.call('POST', '/recommend', { user: 'u2', k: 3 });
    expect((await s.call('DELETE', '/users/u1')).status).toBe(200);
    // Had the decision stayed in memory, this would be "not shown" (its items checked without a read).
    const f = await s.call('POST', '/feedback', { eventId: mine.body.eventId, item: 'zzz', type: 'click' });
    expect(f.status).toBe(404);
    expect(f.body.error.message).toMatch(/unknown event/);
    expect(reads).toEqual([mine.body.eventId]);
    expect((await s.call('POST', '/feedback', { eventId: mine.body.eventId, item: mine.body.items[0].id, type: 'click' })).status).toBe(404);
    // Another user's decision is still kept.
    expect((await s.call('POST', '/feedback', { eventId: other.body.eventId, item: other.body.items[0].id, type: 'click' })).status).toBe(201);
    expect(reads).toEqual([mine.body.eventId, mine.body.eventId]);
    expect(await s.store.events.countFeedback()).toBe(1);
  });

  it('feedback on a kept decision that the store no longer holds is 404, and stores nothing', async () => {
    // The store erased behind the engine's back: what a cluster server's memory holds until the
    // learner's erasure notice reaches it. The write's own check is the authority.
    const { s, reads } = await server();
    const r = await s.call('POST', '/recommend', { user: 'u3', k: 3 });
    const done = await s.store.erasures.eraseUser({ user: 'u3', id: 'audit-1', ts: Date.now(), snapshots: [], state: [], counts: {}, found: true });
    expect(done?.counts.decisions).toBe(1);
    const f = await s.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[0].id, type: 'click' });
    expect(f.status).toBe(404);
    expect(f.body.error.message).toMatch(/unknown event/);
    // It was kept: the write's check refused it, and the store, read again, has no such event.
    expect(reads).toEqual([r.body.eventId]);
    expect(await s.store.events.countFeedback()).toBe(0);
    expect(s.engine.history('u3')).toEqual([]);
  });

  it('does not keep a decision whose user was erased while its append was in flight', async () => {
    const { s, reads } = await server();
    const ev = s.store.events;
    const append = ev.appendDecision.bind(ev);
    let erasure: Promise<unknown> | null = null;
    ev.appendDecision = async (d) => {
      await append(d);
      // Committed, and erased before the request gets back: the erasure deletes the decision.
      if (d.user === 'u4' && !erasure) {
        erasure = s.engine.eraseUser('u4');
        await erasure;
      }
    };
    const r = await s.call('POST', '/recommend', { user: 'u4', k: 3 });
    expect(r.status).toBe(200);
    expect(erasure).not.toBeNull();
    const f = await s.call('POST', '/feedback', { eventId: r.body.eventId, item: 'zzz', type: 'click' });
    expect(f.status).toBe(404);
    expect(f.body.error.message).toMatch(/unknown event/);
    expect(reads).toEqual([r.body.eventId]);
  });
});
