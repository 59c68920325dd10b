import { afterAll, describe, expect, it } from 'vitest';
import { UserHistories } from '../../src/serve/histories.js';
import { startTestServer, type TestServer } from './helpers.js';

describe('UserHistories', () => {
  it('keeps the last perUser items of a user, in the order first liked, ignoring repeats', () => {
    const h = new UserHistories({ perUser: 3, users: 10 });
    for (const item of ['a', 'b', 'a', 'c', 'd', 'b', 'e']) h.remember('u', item);
    expect(h.get('u')).toEqual(['c', 'd', 'e']);
  });

  it('drops the least recently used user past `users`, a read counting as use', () => {
    const changed: string[] = [];
    const h = new UserHistories({ perUser: 5, users: 2 }, (u) => changed.push(u));
    h.remember('u1', 'a');
    h.remember('u2', 'b');
    expect(h.get('u1')).toEqual(['a']); // u1 is now the most recent
    h.remember('u3', 'c');
    expect(h.get('u2')).toBeUndefined();
    expect(h.get('u1')).toEqual(['a']);
    expect(h.get('u3')).toEqual(['c']);
    expect(h.size).toBe(2);
    // Every change, and the drop, is reported (caches of u2's pool must go).
    expect(changed).toEqual(['u1', 'u2', 'u3', 'u2']);
  });

  it('reports no change for a repeated like, so the user\'s cached pool stays', () => {
    const changed: string[] = [];
    const h = new UserHistories({ perUser: 5, users: 5 }, (u) => changed.push(u));
    h.remember('u1', 'a');
    h.remember('u1', 'a');
    h.remember('u1', 'b');
    expect(changed).toEqual(['u1', 'u1']);
    expect(h.get('u1')).toEqual(['a', 'b']);
  });

  it('holds exactly what an unbounded history holds while under both bounds', () => {
    const small = new UserHistories({ perUser: 1000, users: 1000 });
    const ref = new Map<string, string[]>();
    for (let t = 0; t < 500; t++) {
      const u = `u${(t * 7) % 13}`;
      const item = `i${(t * 11) % 17}`;
      small.remember(u, item);
      const l = ref.get(u) ?? [];
      if (!l.includes(item)) l.push(item);
      ref.set(u, l);
    }
    for (const [u, l] of ref) expect(small.get(u)).toEqual(l);
  });

  it('refuses bounds below 1', () => {
    expect(() => new UserHistories({ perUser: 0, users: 5 })).toThrow(RangeError);
  });
});

describe('engine online histories are bounded', () => {
  let s: TestServer;
  afterAll(async () => s?.close());

  it('keeps historyLength items per user and historyUsers users, for fold-in and retraining', async () => {
    s = await startTestServer({ engine: { historyLength: 2, historyUsers: 2 } });
    const base = s.engine.trainingData().nInteractions;
    const like = (user: string, item: string) => s.engine.feedback({ user, item, type: 'click' });
    for (const item of ['m3', 'm4', 'm5']) await like('new1', item);
    // new1 keeps its last two likes: they are what a retrain learns and what excludeSeen blocks.
    let d = s.engine.trainingData();
    expect(d.nInteractions).toBe(base + 2);
    const shown = (await s.engine.recommend({ user: 'new1', k: 12, excludeSeen: true })).items.map((x) => x.id);
    expect(shown).not.toContain('m4');
    expect(shown).not.toContain('m5');
    expect(shown).toContain('m3');
    await like('new2', 'm6');
    await like('new3', 'm7');
    // Three users with histories, two kept: new1 (least recently used) is dropped.
    d = s.engine.trainingData();
    expect(d.nInteractions).toBe(base + 2);
    expect(d.users.has('new1')).toBe(false);
    expect(d.users.has('new3')).toBe(true);
  });
});
