import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newEventId } from '../../src/serve/event-id.js';
import { startTestServer, type TestServer } from './helpers.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The 48-bit millisecond timestamp at the front of a v7 id. */
const msOf = (id: string) => parseInt(id.slice(0, 8) + id.slice(9, 13), 16);

// Decision ids must sort in creation order: the decisions table's UNIQUE index on the id then
// grows at its right edge, and a group commit dirties one index page instead of one per decision
// (the commit cost grew with the log when ids were random v4 UUIDs; docs/benchmarks.md).
describe('newEventId', () => {
  it('gives RFC 9562 version-7 UUIDs carrying the time', () => {
    const t = Date.UTC(2026, 11, 2, 18, 0, 0);
    const id = newEventId(t);
    expect(id).toMatch(V7);
    expect(msOf(id)).toBe(t);
  });

  it('sorts strictly in issue order, within one millisecond and past the 12-bit counter', () => {
    const t = Date.UTC(2026, 11, 2, 19, 0, 0);
    // 10,000 ids in the same millisecond overflow the counter (at most 4,096 per ms) at least twice.
    const ids = Array.from({ length: 10_000 }, () => newEventId(t));
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!, `id ${i}`).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(V7);
    // On overflow the timestamp moves on by a millisecond at a time, never far from the clock.
    expect(msOf(ids[ids.length - 1]!) - t).toBeGreaterThanOrEqual(2);
    expect(msOf(ids[ids.length - 1]!) - t).toBeLessThanOrEqual(5);
  });

  it('draws fresh random bits for every id, across refills of its random pool', () => {
    // The random bytes come from a 4 KiB pool (409 ids per refill): 5,000 ids span a dozen refills,
    // and no two may share their 62 random bits (variant nibble and the last 12 hex digits).
    const t = Date.UTC(2026, 11, 6, 9, 0, 0);
    const tails = Array.from({ length: 5000 }, (_, i) => newEventId(t + i).slice(19));
    expect(new Set(tails).size).toBe(tails.length);
    for (const tail of tails) expect(tail).toMatch(/^[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('keeps increasing when the clock steps back', () => {
    const t = Date.UTC(2026, 11, 2, 20, 0, 0);
    const a = newEventId(t);
    const b = newEventId(t - 60_000);
    expect(b > a).toBe(true);
    expect(b).toMatch(V7);
  });
});

describe('/recommend event ids', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => {
    await s.close();
  });

  it('are time-ordered v7 ids, so the decision log appends to its id index', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await s.call('POST', '/recommend', { user: `u${1 + (i % 6)}`, k: 3 });
      expect(r.status).toBe(200);
      ids.push(r.body.eventId as string);
    }
    for (const id of ids) expect(id).toMatch(V7);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    // The Personalizer Rank call without an eventId gets one from the same generator.
    const r = await s.call('POST', '/personalizer/v1.0/rank', { actions: [{ id: 'm1' }, { id: 'm2' }] });
    expect(r.status).toBe(201);
    expect(r.body.eventId).toMatch(V7);
    expect(r.body.eventId > ids[ids.length - 1]!).toBe(true);
  });
});
