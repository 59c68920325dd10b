import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import { ADMIN, startTestServer } from './helpers.js';

const dirs: string[] = [];
let child: ChildProcess | undefined;
afterAll(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function startChild(dir: string, query: string): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', resolve('test/serve/fixtures/child-server.ts'), dir, query], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((ok, fail) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once('line', (line) => ok({ url: (JSON.parse(line) as { url: string }).url, proc }));
    proc.once('exit', (code) => fail(new Error(`server exited early (${code})`)));
  });
}

// `body: any`: a parsed JSON response, read field by field by the test.
async function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

// Both commit paths: on the event loop (the default) and in the store's commit worker thread,
// where a request is answered only after the worker reports its batch committed.
describe.each([
  ['commits on the event loop', ''],
  ['commits in the worker thread', '?writer=worker'],
])('kill -9 during a burst of feedback (%s)', (_name, query) => {
  it('loses no acknowledged event', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-crash-'));
    dirs.push(dir);
    const started = await startChild(dir, query);
    child = started.proc;
    const { url } = started;
    const events: { eventId: string; items: string[] }[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await post(`${url}/recommend`, { user: `u${1 + (i % 6)}`, k: 3 });
      expect(r.status).toBe(200);
      events.push({ eventId: r.body.eventId, items: r.body.items.map((x: { id: string }) => x.id) });
    }
    const acked: { seq: number; eventId: string; item: string }[] = [];
    let killed = false;
    let next = 0;
    const worker = async () => {
      while (next < 20_000) {
        const n = next++;
        const ev = events[n % events.length]!;
        const item = ev.items[n % ev.items.length]!;
        try {
          const r = await post(`${url}/feedback`, { eventId: ev.eventId, item, type: 'click' });
          if (r.status === 201) acked.push({ seq: r.body.seq, eventId: ev.eventId, item });
          if (!killed && acked.length >= 300) {
            killed = true;
            child!.kill('SIGKILL');
          }
        } catch {
          if (killed) return; // connection refused/reset after the kill
          throw new Error('request failed before the kill');
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(killed).toBe(true);
    await new Promise((r) => (child!.exitCode !== null || child!.signalCode !== null ? r(null) : child!.once('exit', r)));
    expect(child!.signalCode).toBe('SIGKILL');

    // Every acknowledged event is in the store, with its content.
    const store = openStore(`sqlite:${join(dir, 'chorus.db')}`);
    const all = await store.events.feedbackSince(0, 1_000_000);
    await store.close();
    const bySeq = new Map(all.map((f) => [f.seq!, f]));
    expect(acked.length).toBeGreaterThanOrEqual(300);
    for (const a of acked) {
      const f = bySeq.get(a.seq);
      expect(f, `seq ${a.seq}`).toBeDefined();
      expect(f!.eventId).toBe(a.eventId);
      expect(f!.item).toBe(a.item);
    }
    expect(all.length).toBeGreaterThanOrEqual(acked.length);

    // A restart recovers: it serves, and its counters include every stored event.
    const s = await startTestServer({ dir, store: `sqlite:${join(dir, 'chorus.db')}${query}` });
    try {
      const fb = Object.values(s.engine.counters.feedback).reduce((x, y) => x + y, 0);
      expect(fb).toBe(all.length);
      expect(s.engine.counters.learned).toBe(all.length);
      const r = await s.call('POST', '/recommend', { user: 'u1', k: 3 });
      expect(r.status).toBe(200);
    } finally {
      await s.close();
    }
  });
});
