import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { DecisionRecord, FeedbackRecord } from '../../src/store/types.js';
import { decisionRecord } from './records.js';

const dir = mkdtempSync(join(tmpdir(), 'chorus-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const decision = (id: string, payloadBytes = 16): DecisionRecord => decisionRecord(id, { payload: { pad: 'x'.repeat(payloadBytes) } });
const fb = (item: string): FeedbackRecord => ({ eventId: null, ts: 1000, user: 'u1', item, type: 'click', value: null, reward: 1, position: null, propensity: null });

/** Rows another connection sees: only committed data is visible outside the writing connection. */
function committed(file: string, sql: string): unknown[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

describe('SQLite commit worker', () => {
  it('is chosen with ?writer=worker; the default, and an in-memory store, commit inline', async () => {
    const f = openStore(`sqlite:${join(dir, 'kind.db')}`) as SqliteStore;
    const m = openStore('sqlite::memory:?writer=worker') as SqliteStore;
    const w = openStore(`sqlite:${join(dir, 'kind-worker.db')}?writer=worker`) as SqliteStore;
    expect(f.writerKind).toBe('inline');
    expect(m.writerKind).toBe('inline');
    expect(w.writerKind).toBe('worker');
    expect(() => openStore(`sqlite:${join(dir, 'x.db')}?writer=thread`)).toThrow(/writer/);
    await Promise.all([f.close(), m.close(), w.close()]);
  });

  it('resolves a write only once it is committed, in the order the writes were made', async () => {
    const file = join(dir, 'order.db');
    const s = openStore(`sqlite:${file}?writer=worker`);
    const order: string[] = [];
    const writes: Promise<number>[] = [];
    // Three event-loop turns of writes: the later ones reach the worker while it commits the first.
    for (let turn = 0; turn < 3; turn++) {
      for (let j = 0; j < 200; j++) {
        const item = `t${turn}-${j}`;
        writes.push(
          s.events.appendFeedback(fb(item)).then((seq) => {
            order.push(item);
            // Committed when resolved: a separate connection already sees the row.
            expect(committed(file, `SELECT seq FROM feedback WHERE item = '${item}'`)).toEqual([{ seq }]);
            return seq;
          }),
        );
      }
      await new Promise((r) => setImmediate(r));
    }
    const seqs = await Promise.all(writes);
    // Sequence numbers follow the order of the calls, and so does the order of resolution.
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1);
    expect(order).toEqual(Array.from({ length: 600 }, (_, i) => `t${Math.floor(i / 200)}-${i % 200}`));
    await s.close();
  });

  // The batch first commits without a savepoint per write and, when one fails, again with them.
  it.each(['worker', 'inline'])('fails only the write that breaks a constraint, with SQLite\'s message, and commits its neighbours (%s writer)', async (writer) => {
    const file = join(dir, `dup-${writer}.db`);
    const s = openStore(`sqlite:${file}?writer=${writer}`);
    await s.events.appendDecision(decision('e1'));
    const r = await Promise.allSettled([s.events.appendDecision(decision('e2')), s.events.appendDecision(decision('e1')), s.events.appendDecision(decision('e3'))]);
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const err = (r[1] as PromiseRejectedResult).reason as Error & { code?: string };
    // The engine maps this message to a 409 for a reused Personalizer event id.
    expect(err.message).toMatch(/UNIQUE/);
    expect(err.code).toBe('SQLITE_CONSTRAINT_UNIQUE');
    expect(committed(file, 'SELECT id FROM decisions ORDER BY seq')).toEqual([{ id: 'e1' }, { id: 'e2' }, { id: 'e3' }]);
    await s.close();
  });

  it('commits on close the writes still queued', async () => {
    const name = join(dir, 'close.db');
    const s = openStore(`sqlite:${name}?writer=worker`);
    const pending = Array.from({ length: 50 }, (_, i) => s.events.appendDecision(decision(`c${i}`)));
    await s.close();
    await Promise.all(pending);
    expect(committed(name, 'SELECT COUNT(*) AS n FROM decisions')).toEqual([{ n: 50 }]);
    await expect(s.events.appendDecision(decision('late'))).rejects.toThrow(/closed/);
  });

  it('keeps the event loop running while a large group commits', async () => {
    // 4,000 decisions of 2 KiB: one fsync'd transaction of ≈ 10 MB. Inline, the whole commit is one
    // stall of the event loop; with the worker, only handing the batch over (a copy) is.
    const stall = async (writer: 'worker' | 'inline'): Promise<number> => {
      const s = openStore(`sqlite:${join(dir, `stall-${writer}.db`)}?writer=${writer}`);
      await s.state.putState('warm', Buffer.from('x')); // worker started, file created
      // The writes are queued synchronously here; the commit (or the hand-over) runs in a later turn.
      const writes = Array.from({ length: 4000 }, (_, i) => s.events.appendDecision(decision(`s${i}`, 2048)));
      let last = performance.now();
      let worst = 0;
      const tick = setInterval(() => {
        const now = performance.now();
        worst = Math.max(worst, now - last);
        last = now;
      }, 1);
      await Promise.all(writes);
      clearInterval(tick);
      // The last gap too: inline, the commit ends in the same turn as the writes resolve.
      worst = Math.max(worst, performance.now() - last);
      expect(committed(join(dir, `stall-${writer}.db`), 'SELECT COUNT(*) AS n FROM decisions')).toEqual([{ n: 4000 }]);
      await s.close();
      return worst;
    };
    const inline = await stall('inline');
    const worker = await stall('worker');
    expect(worker).toBeLessThan(inline);
  });
});
