import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startTestServer, type TestServer } from './helpers.js';

/** POST a body with chunked transfer encoding (no Content-Length): the server only learns its size by reading it. */
function postChunked(url: string, path: string, type: string, chunks: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': type, 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe('GET /items', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
    const rows = Array.from({ length: 5000 }, (_, i) => ({ id: `x${i}`, title: `X ${i}` }));
    expect((await s.call('POST', '/items/import', rows)).status).toBe(200);
  });
  afterAll(async () => s.close());

  it('reads only up to the end of the page, never the whole catalogue', () => {
    const expected = s.engine.listEntries('items', 0, 15).slice(10).map((e) => e.id);
    let steps = 0;
    const proto = Map.prototype as unknown as Record<PropertyKey, unknown>;
    const entries = proto.entries as (this: Map<unknown, unknown>) => IterableIterator<unknown>;
    const iterate = proto[Symbol.iterator] as typeof entries;
    const counted = (orig: typeof entries) =>
      function (this: Map<unknown, unknown>) {
        const it = orig.call(this);
        const wrapped = { next: () => (steps++, it.next()), [Symbol.iterator]: () => wrapped };
        return wrapped;
      };
    proto.entries = counted(entries);
    proto[Symbol.iterator] = counted(iterate);
    let page: { id: string }[];
    try {
      page = s.engine.listEntries('items', 10, 5);
    } finally {
      proto.entries = entries;
      proto[Symbol.iterator] = iterate;
    }
    expect(page.map((e) => e.id)).toEqual(expected);
    expect(expected.slice(2)).toEqual(['x0', 'x1', 'x2']);
    expect(steps).toBeLessThanOrEqual(16);
  });

  it('pages in catalogue order with a bounded page size', async () => {
    const a = await s.call('GET', '/items?offset=0&limit=1000');
    const b = await s.call('GET', '/items?offset=1000&limit=1000');
    expect(a.body.total).toBe(5012);
    expect(a.body.items).toHaveLength(1000);
    expect(b.body.items[0].id).toBe('x988');
    expect((await s.call('GET', '/items?limit=1001')).status).toBe(400);
    const last = await s.call('GET', '/items?offset=5010&limit=10');
    expect(last.body.items.map((e: { id: string }) => e.id)).toEqual(['x4998', 'x4999']);
  });
});

describe('bulk import', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ server: { importBodyLimit: 4096 } });
  });
  afterAll(async () => s.close());

  it('refuses NDJSON and CSV bodies over importBodyLimit, declared or streamed, with 413', async () => {
    const nd = Array.from({ length: 200 }, (_, i) => JSON.stringify({ id: `n${i}`, title: 'a title long enough' })).join('\n');
    const csv = `id,title\n${Array.from({ length: 300 }, (_, i) => `c${i},a title long enough`).join('\n')}\n`;
    for (const [type, raw] of [['application/x-ndjson', nd], ['text/csv', csv]] as const) {
      const r = await s.call('POST', '/items/import', undefined, { type, raw });
      expect(r.status).toBe(413);
      expect(r.body.error.code).toBe('E_BODY_TOO_LARGE');
      const chunked = await postChunked(s.url, '/items/import', type, raw.match(/[\s\S]{1,1000}/g)!);
      expect(chunked.status).toBe(413);
      expect(JSON.parse(chunked.body).error.code).toBe('E_BODY_TOO_LARGE');
    }
    expect(s.engine.getEntry('items', 'n0')).toBeUndefined();
    expect(s.engine.getEntry('items', 'c0')).toBeUndefined();
    // Under the limit, streamed in pieces that split lines and multi-byte characters.
    const ok = '{"id":"s1","title":"Ça va"}\n{"id":"s2"}\n';
    const bytes = Buffer.from(ok);
    const parts = [bytes.subarray(0, 20), bytes.subarray(20, 22), bytes.subarray(22)].map((b) => b.toString('latin1'));
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${s.url}/items/import`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/x-ndjson', 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      for (const p of parts) req.write(Buffer.from(p, 'latin1'));
      req.end();
    });
    expect(r.status).toBe(200);
    expect(s.engine.getEntry('items', 's1')).toEqual({ title: 'Ça va' });
  });

  it('names the line of a bad CSV record, counting the header as line 1', async () => {
    const r = await s.call('POST', '/items/import', undefined, { type: 'text/csv', raw: 'id,title\nok1,A\n\nok2,B\n,C\n' });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/^body:5 field "id"/);
    expect(s.engine.getEntry('items', 'ok1')).toBeUndefined(); // nothing written
  });

  it('accepts import bodies only on the import routes', async () => {
    const r = await s.call('POST', '/items', undefined, { type: 'text/csv', raw: 'id\nq1\n' });
    expect(r.status).toBe(415);
    expect(r.body.error.code).toBe('E_MEDIA_TYPE');
  });
});

describe('a large import', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => s.close());

  it('lets other requests run while it is read, validated and written', async () => {
    const rows = 60_000;
    const body = Array.from({ length: rows }, (_, i) => JSON.stringify({ id: `big${i}`, title: `Big item ${i}`, tags: ['a', `t${i % 50}`], attributes: { year: 1900 + (i % 100) } })).join('\n');
    // The longest time the event loop went without running a timer, while the import ran.
    let worst = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last);
      last = now;
    }, 5);
    const started = performance.now();
    const r = await s.call('POST', '/items/import', undefined, { type: 'application/x-ndjson', raw: body });
    const took = performance.now() - started;
    clearInterval(timer);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ imported: rows, created: rows, updated: 0 });
    expect(s.engine.catalogueSize('items')).toBe(12 + rows);
    // Chunks of 1,000 rows to validate and 2,000 to commit: each a few tens of ms. Read as one
    // block, the same import holds the loop for its whole duration (seconds).
    expect(worst).toBeLessThan(Math.min(400, took / 3));
    // What was written is what was sent, and a recommend sees the new items as cold candidates.
    expect(s.engine.getEntry('items', 'big59999')).toEqual({ title: 'Big item 59999', tags: ['a', 't49'], attributes: { year: 1999 } });
    const rec = await s.call('POST', '/recommend', { user: 'u1', k: 3 });
    expect(rec.status).toBe(200);
  });
});

