import { describe, expect, it } from 'vitest';
import { startTestServer } from '../serve/helpers.js';
import { testDatabase } from './postgres-db.js';

const db = testDatabase('server');

describe('the server on a PostgreSQL store', () => {
  it('answers recommend and feedback, and a restart keeps the events, keys and active snapshot', async () => {
    const store = db.url('schema=srv&pool=4');
    const a = await startTestServer({ store });
    let client: string;
    let eventId: string;
    let item: string;
    let snapshot: string;
    try {
      expect(a.store.url).toContain('postgres://');
      const k = await a.call('POST', '/keys', { scope: 'client', name: 'app' });
      expect(k.status).toBe(201);
      client = k.body.key;
      const r = await a.call('POST', '/recommend', { user: 'u1', k: 3 }, { key: client });
      expect(r.status).toBe(200);
      expect(r.body.items).toHaveLength(3);
      eventId = r.body.eventId;
      item = r.body.items[1].id;
      const f = await a.call('POST', '/feedback', { eventId, item, type: 'click' }, { key: client });
      expect(f.status).toBe(201);
      expect(f.body.seq).toBeGreaterThan(0);
      // A duplicate client event id is refused as a conflict, as on SQLite.
      const p = await a.call('POST', '/personalizer/v1.0/rank', { eventId: 'fixed-1', actions: [{ id: 'm1' }, { id: 'm4' }], contextFeatures: [{ t: 'x' }] }, { key: client });
      expect(p.status).toBe(201);
      const again = await a.call('POST', '/personalizer/v1.0/rank', { eventId: 'fixed-1', actions: [{ id: 'm1' }, { id: 'm4' }], contextFeatures: [{ t: 'x' }] }, { key: client });
      expect(again.status).toBe(409);
      snapshot = a.engine.activeSnapshot.id;
      await a.engine.settle();
    } finally {
      await a.close();
    }

    const b = await startTestServer({ store });
    try {
      const ev = await b.call('GET', '/events?after=0&limit=10');
      expect(ev.status).toBe(200);
      expect(ev.body.events.map((e: { eventId: string }) => e.eventId)).toEqual([eventId, 'fixed-1']);
      expect(ev.body.events[0].feedback).toEqual([expect.objectContaining({ item, type: 'click', position: 1 })]);
      expect(await b.store.events.countFeedback()).toBe(1);
      // The client key issued before the restart still opens the API.
      const r = await b.call('POST', '/recommend', { user: 'u2', k: 2 }, { key: client });
      expect(r.status).toBe(200);
      expect(b.engine.activeSnapshot.id).toBe(snapshot);
    } finally {
      await b.close();
    }
  });
});
