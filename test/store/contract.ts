import { afterEach, describe, expect, it } from 'vitest';
import type { DecisionRecord, FeedbackRecord, Store } from '../../src/store/types.js';

/**
 * The conformance suite every store backend runs. `open(name)` opens (or reopens) the store called
 * `name`: two opens with the same name must see the same data (that is how durability is checked).
 */
export function storeContract(backend: string, open: (name: string) => Store): void {
  describe(`Store contract: ${backend}`, () => {
    const opened: Store[] = [];
    const get = (name: string): Store => {
      const s = open(name);
      opened.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });

    const decision = (id: string, ts: number, items = ['a', 'b']): DecisionRecord => ({
      id,
      ts,
      user: 'u1',
      kind: 'recommend',
      items,
      propensities: items.map(() => 0.5),
      scores: items.map((_, i) => 1 - i / 10),
      snapshotId: 'snap-1',
      activated: true,
      payload: { x: [1, 2, 3] },
    });
    const fb = (item: string, reward: number, ts = 1000, eventId: string | null = 'e1'): FeedbackRecord => ({
      eventId,
      ts,
      user: 'u1',
      item,
      type: 'click',
      value: null,
      reward,
      position: 0,
      propensity: 0.5,
    });

    it('stores decisions and feedback and reads them back', async () => {
      const s = get('events');
      await s.events.appendDecision(decision('e1', 1000));
      const seq1 = await s.events.appendFeedback(fb('a', 1));
      const seq2 = await s.events.appendFeedback(fb('b', 0.5, 2000));
      expect(seq2).toBeGreaterThan(seq1);
      const d = await s.events.getDecision('e1');
      expect(d).toEqual({ ...decision('e1', 1000), seq: d!.seq });
      expect(d!.seq).toBeGreaterThan(0);
      expect(await s.events.getDecision('nope')).toBeUndefined();
      expect(await s.events.countDecisions()).toBe(1);
      expect(await s.events.countFeedback()).toBe(2);
      const since = await s.events.feedbackSince(seq1, 10);
      expect(since.map((f) => f.item)).toEqual(['b']);
      expect(since[0]!.seq).toBe(seq2);
      await s.events.appendDecision(decision('e2', 3000));
      const page = await s.events.decisionsAfter(0, 1);
      expect(page.map((x) => x.id)).toEqual(['e1']);
      expect((await s.events.decisionsAfter(page[0]!.seq!, 10)).map((x) => x.id)).toEqual(['e2']);
      expect((await s.events.feedbackFor(['e1', 'e2'])).map((f) => f.item)).toEqual(['a', 'b']);
      expect(await s.events.feedbackFor(['e2'])).toEqual([]);
      expect(await s.events.feedbackFor([])).toEqual([]);
      const top = await s.events.topItems(5);
      expect(top[0]).toEqual({ item: 'a', feedback: 1, rewardSum: 1 });
    });

    it('ranks top items by total reward, then feedback count, and keeps the totals across a reopen', async () => {
      const s = get('top');
      await Promise.all([
        s.events.appendFeedback(fb('a', 1)),
        s.events.appendFeedback(fb('b', 1)),
        s.events.appendFeedback(fb('b', 0)),
        s.events.appendFeedback(fb('c', -1)),
        s.events.appendFeedback(fb('a', 0.5)),
      ]);
      await s.events.appendFeedback(fb('d', 1));
      const want = [
        { item: 'a', feedback: 2, rewardSum: 1.5 },
        { item: 'b', feedback: 2, rewardSum: 1 },
        { item: 'd', feedback: 1, rewardSum: 1 },
        { item: 'c', feedback: 1, rewardSum: -1 },
      ];
      expect(await s.events.topItems(10)).toEqual(want);
      expect(await s.events.topItems(2)).toEqual(want.slice(0, 2));
      await s.close();
      expect(await get('top').events.topItems(10)).toEqual(want);
    });

    it('refuses a duplicate event id without losing the writes batched with it', async () => {
      const s = get('dup');
      await s.events.appendDecision(decision('e1', 1000));
      const results = await Promise.allSettled([
        s.events.appendDecision(decision('e2', 1001)),
        s.events.appendDecision(decision('e1', 1002)),
        s.events.appendFeedback(fb('a', 1)),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(await s.events.countDecisions()).toBe(2);
      expect(await s.events.countFeedback()).toBe(1);
      expect((await s.events.getDecision('e1'))!.ts).toBe(1000);
    });

    it('activates deferred decisions', async () => {
      const s = get('activate');
      await s.events.appendDecision({ ...decision('e1', 1), activated: false });
      expect((await s.events.getDecision('e1'))!.activated).toBe(false);
      expect(await s.events.activateDecision('e1')).toBe(true);
      expect(await s.events.activateDecision('zz')).toBe(false);
      expect((await s.events.getDecision('e1'))!.activated).toBe(true);
    });

    it('buckets a timeline', async () => {
      const s = get('timeline');
      await s.events.appendDecision(decision('e1', 60_000, ['a', 'b', 'c']));
      await s.events.appendDecision(decision('e2', 61_000));
      await s.events.appendDecision(decision('e3', 125_000));
      await s.events.appendFeedback(fb('a', 1, 62_000));
      await s.events.appendFeedback({ ...fb('b', -0.5, 130_000), type: 'rating', value: 1 });
      const tl = await s.events.timeline(60_000, 0);
      expect(tl).toEqual([
        { t: 60_000, decisions: 2, shown: 5, feedback: 1, clicks: 1, rewardSum: 1 },
        { t: 120_000, decisions: 1, shown: 2, feedback: 1, clicks: 0, rewardSum: -0.5 },
      ]);
      expect((await s.events.recentDecisions(2)).map((d) => d.id)).toEqual(['e3', 'e2']);
      // Without payloads: the same decisions, each payload an empty object where one is stored.
      const bare = await s.events.recentDecisions(2, { payload: false });
      const full = await s.events.recentDecisions(2);
      expect(bare.map((d) => ({ ...d, payload: null }))).toEqual(full.map((d) => ({ ...d, payload: null })));
      expect(bare.map((d) => d.payload)).toEqual(full.map((d) => (d.payload !== null && typeof d.payload === 'object' ? {} : null)));
    });

    it('keeps snapshots and their activation history', async () => {
      const s = get('snaps');
      const meta = (id: string, created: number) => ({ id, created, kind: 'als', source: 'manual', info: { items: 3 } });
      await s.snapshots.putSnapshot(meta('s1', 1), Buffer.from('one'));
      await s.snapshots.putSnapshot(meta('s2', 2), Buffer.from('two'));
      expect((await s.snapshots.listSnapshots()).map((m) => m.id)).toEqual(['s1', 's2']);
      const got = await s.snapshots.getSnapshot('s2');
      expect(got!.body.toString()).toBe('two');
      expect(got!.meta).toEqual(meta('s2', 2));
      expect(await s.snapshots.getSnapshot('s3')).toBeUndefined();
      await s.snapshots.activateSnapshot('s1');
      await s.snapshots.activateSnapshot('s2');
      expect((await s.snapshots.activations(5)).map((a) => a.snapshotId)).toEqual(['s2', 's1']);
    });

    it('deletes a snapshot and keeps its activations as history', async () => {
      const s = get('snap-delete');
      const meta = (id: string, created: number) => ({ id, created, kind: 'als', source: 'manual', info: {} });
      await s.snapshots.putSnapshot(meta('s1', 1), Buffer.from('one'));
      await s.snapshots.putSnapshot(meta('s2', 2), Buffer.from('two'));
      await s.snapshots.activateSnapshot('s1');
      expect(await s.snapshots.deleteSnapshot('s1')).toBe(true);
      expect(await s.snapshots.deleteSnapshot('s1')).toBe(false);
      expect(await s.snapshots.getSnapshot('s1')).toBeUndefined();
      expect((await s.snapshots.listSnapshots()).map((m) => m.id)).toEqual(['s2']);
      expect((await s.snapshots.activations(5)).map((a) => a.snapshotId)).toEqual(['s1']);
    });

    it('upserts catalogue entries atomically', async () => {
      const s = get('catalogue');
      const e = (id: string, title: string) => ({ id, meta: { title }, created: 1, updated: 1 });
      expect(await s.catalogue.upsert('items', [e('i1', 'One'), e('i2', 'Two')])).toBe(2);
      expect(await s.catalogue.upsert('items', [{ ...e('i1', 'Uno'), updated: 5 }, e('i3', 'Three')])).toBe(1);
      expect((await s.catalogue.get('items', 'i1'))!.meta).toEqual({ title: 'Uno' });
      expect((await s.catalogue.get('items', 'i1'))!.updated).toBe(5);
      expect(await s.catalogue.count('items')).toBe(3);
      expect(await s.catalogue.count('users')).toBe(0);
      expect((await s.catalogue.list('items', 1, 1)).map((x) => x.id)).toEqual(['i2']);
      expect(await s.catalogue.remove('items', 'i2')).toBe(true);
      expect(await s.catalogue.remove('items', 'i2')).toBe(false);
      expect((await s.catalogue.all('items')).map((x) => x.id)).toEqual(['i1', 'i3']);
    });

    it('keeps state blobs and keys', async () => {
      const s = get('state');
      await s.state.putState('k', Buffer.from([1, 2, 3]));
      await s.state.putState('k', Buffer.from([4]));
      expect([...(await s.state.getState('k'))!]).toEqual([4]);
      expect(await s.state.getState('none')).toBeUndefined();
      const key = { id: 'abc', scope: 'client' as const, salt: Buffer.from('s'), hash: Buffer.from('h'), created: 1, name: 'app' };
      await s.keys.putKey(key);
      expect(await s.keys.getKey('abc')).toEqual(key);
      expect((await s.keys.listKeys()).length).toBe(1);
      expect(await s.keys.deleteKey('abc')).toBe(true);
      expect(await s.keys.getKey('abc')).toBeUndefined();
    });

    it('recovers everything acknowledged after a reopen', async () => {
      const a = get('durable');
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 200; i++) writes.push(a.events.appendFeedback(fb(`i${i % 7}`, 1, i)));
      writes.push(a.events.appendDecision(decision('e1', 5)));
      writes.push(a.catalogue.upsert('users', [{ id: 'u1', meta: {}, created: 1, updated: 1 }]));
      await Promise.all(writes);
      await a.close();
      const b = get('durable');
      expect(await b.events.countFeedback()).toBe(200);
      expect(await b.events.countDecisions()).toBe(1);
      expect(await b.catalogue.count('users')).toBe(1);
    });

    it("erases a user in one transaction: their decisions, the feedback they gave or got, their row, their totals; snapshots and state replaced; an audit without the id", async () => {
      const s = get('erase');
      const other = (d: DecisionRecord): DecisionRecord => ({ ...d, user: 'u2' });
      await s.events.appendDecision(decision('e1', 1000, ['a', 'b']));
      await s.events.appendDecision(other(decision('e2', 1100, ['a', 'c'])));
      await s.events.appendDecision({ ...decision('r1', 1200, ['a']), user: null, kind: 'rank' });
      await s.events.appendFeedback(fb('a', 1, 1000, 'e1'));
      // Feedback on u1's decision that does not name a user still belongs to it.
      await s.events.appendFeedback({ ...fb('b', 0.5, 1001, 'e1'), user: null });
      await s.events.appendFeedback({ ...fb('a', 1, 1002, 'e2'), user: 'u2' });
      await s.events.appendFeedback({ ...fb('c', 1, 1003, null) });
      await s.events.appendFeedback({ ...fb('a', 0.25, 1004, 'r1'), user: null });
      await s.catalogue.upsert('users', [
        { id: 'u1', meta: { text: 'one' }, created: 1, updated: 1 },
        { id: 'u2', meta: {}, created: 1, updated: 1 },
      ]);
      await s.snapshots.putSnapshot({ id: 's1', created: 1, kind: 'k', source: 'initial', info: {} }, Buffer.from('with u1'));
      await s.state.putState('k1', Buffer.from('old u1'));

      const rec = await s.erasures.eraseUser({
        user: 'u1',
        id: 'erasure-1',
        ts: 5000,
        snapshots: [{ id: 's1', body: Buffer.from('without') }, { id: 'gone', body: Buffer.from('x') }],
        state: [{ key: 'k1', value: Buffer.from('new') }],
        counts: { historyItems: 2 },
        found: true,
      });
      expect(rec).toEqual({ id: 'erasure-1', ts: 5000, counts: { historyItems: 2, decisions: 1, feedback: 3, users: 1, snapshots: 1 } });
      expect(await s.events.getDecision('e1')).toBeUndefined();
      expect((await s.events.getDecision('e2'))?.user).toBe('u2');
      expect(await s.events.getDecision('r1')).toBeDefined();
      const left = await s.events.feedbackSince(0, 100);
      expect(left.map((f) => [f.eventId, f.item])).toEqual([
        ['e2', 'a'],
        ['r1', 'a'],
      ]);
      expect(await s.catalogue.get('users', 'u1')).toBeUndefined();
      expect(await s.catalogue.get('users', 'u2')).toBeDefined();
      expect((await s.snapshots.getSnapshot('s1'))!.body.toString()).toBe('without');
      expect(await s.snapshots.getSnapshot('gone')).toBeUndefined();
      expect((await s.state.getState('k1'))!.toString()).toBe('new');
      // Totals keep only what is left: a 1 + 0.25 from e2 and r1; b and c are gone with their only rows.
      expect(await s.events.topItems(10)).toEqual([{ item: 'a', feedback: 2, rewardSum: 1.25 }]);
      const audit = await s.erasures.list(10);
      expect(audit).toEqual([rec]);
      expect(JSON.stringify(audit)).not.toContain('u1');
      // Durable: a reopen sees the same.
      await s.close();
      const b = get('erase');
      expect(await b.events.countFeedback()).toBe(2);
      expect(await b.erasures.list(10)).toEqual([rec]);
    });

    it('an erasure that finds nothing writes nothing: no audit record, no state', async () => {
      const s = get('erase-unknown');
      await s.events.appendDecision(decision('e1', 1000));
      await s.state.putState('k1', Buffer.from('kept'));
      const rec = await s.erasures.eraseUser({ user: 'nobody', id: 'erasure-x', ts: 5000, snapshots: [], state: [{ key: 'k1', value: Buffer.from('new') }], counts: { historyItems: 0 }, found: false });
      expect(rec).toBeNull();
      expect(await s.erasures.list(10)).toEqual([]);
      expect((await s.state.getState('k1'))!.toString()).toBe('kept');
      expect(await s.events.countDecisions()).toBe(1);
      // Found outside the store (memory, snapshots): audited even with no row.
      const rec2 = await s.erasures.eraseUser({ user: 'nobody', id: 'erasure-y', ts: 5001, snapshots: [], state: [], counts: { historyItems: 3 }, found: true });
      expect(rec2?.id).toBe('erasure-y');
      expect((await s.erasures.list(10)).map((r) => r.id)).toEqual(['erasure-y']);
    });

    it('stores feedback `onDecision` only while its decision is stored, atomically against an erasure', async () => {
      const s = get('on-decision');
      await s.events.appendDecision(decision('e1', 1000));
      await s.events.appendDecision({ ...decision('e2', 1001), user: 'u2' });
      const seq = await s.events.appendFeedback(fb('a', 1, 1002, 'e1'), { onDecision: true });
      expect(seq).toBeGreaterThan(0);
      // The erasure and the feedback queued behind it in one batch: the erasure commits first, the
      // feedback finds its decision gone and fails alone; the other user's feedback goes in.
      const results = await Promise.allSettled([
        s.erasures.eraseUser({ user: 'u1', id: 'x', ts: 2000, snapshots: [], state: [], counts: {}, found: false }),
        s.events.appendFeedback(fb('b', 1, 2001, 'e1'), { onDecision: true }),
        s.events.appendFeedback({ ...fb('a', 0.5, 2002, 'e2'), user: 'u2' }, { onDecision: true }),
        s.events.appendFeedback(fb('c', 1, 2003, null), { onDecision: true }),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      expect(((results[1] as PromiseRejectedResult).reason as { status?: number }).status).toBe(404);
      const left = await s.events.feedbackSince(0, 100);
      expect(left.map((f) => [f.eventId, f.item])).toEqual([
        ['e2', 'a'],
        [null, 'c'],
      ]);
      // The per-item totals count only the rows stored.
      expect(await s.events.topItems(10)).toEqual([
        { item: 'c', feedback: 1, rewardSum: 1 },
        { item: 'a', feedback: 1, rewardSum: 0.5 },
      ]);
      // Without the option, an unknown event id is stored as before (callers that checked it themselves).
      await s.events.appendFeedback(fb('d', 1, 2004, 'e1'));
      expect(await s.events.countFeedback()).toBe(3);
    });
  });
}
