import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite.js';
import { configure, migrate, wipeFreePages } from '../../src/store/sqlite-write.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'chorus-sqlite-erasure-'));
  dirs.push(d);
  return d;
}

const NEEDLE = 'zq-wal-user';

describe('SQLite erasure: the WAL truncation never blocks', () => {
  it('answers at once with walWipePending while a reader holds an old snapshot, and truncates the WAL once the reader lets go', async () => {
    const path = join(tmp(), 'chorus.db');
    const s = new SqliteStore(path);
    for (let i = 0; i < 20; i++) {
      await s.events.appendDecision({ id: `e${i}`, ts: i, user: NEEDLE, kind: 'recommend', items: ['a'], propensities: [1], scores: [1], snapshotId: null, activated: true, payload: null });
    }
    // A second connection in a read transaction: the checkpoint cannot reset the WAL under it.
    const reader = new Database(path, { readonly: true });
    reader.prepare('BEGIN').run();
    reader.prepare('SELECT count(*) FROM decisions').get();
    const t0 = performance.now();
    const rec = await s.erasures.eraseUser({ user: NEEDLE, id: 'x', ts: 1, snapshots: [], state: [], counts: {}, found: false });
    const ms = performance.now() - t0;
    expect(rec?.counts.decisions).toBe(20);
    // The busy timeout is 5 s: blocking on the reader would take that long.
    expect(ms).toBeLessThan(2000);
    expect(rec?.counts.walWipePending).toBe(1);
    expect(s.walWipePending).toBe(true);
    expect(readFileSync(`${path}-wal`).includes(NEEDLE)).toBe(true);
    reader.prepare('COMMIT').run();
    reader.close();
    // Retried every second on a timer.
    for (let i = 0; i < 40 && s.walWipePending; i++) await new Promise((r) => setTimeout(r, 100));
    expect(s.walWipePending).toBe(false);
    expect(statSync(`${path}-wal`).size).toBe(0);
    expect(readFileSync(path).includes(NEEDLE)).toBe(false);
    await s.close();
  }, 30_000);

  it('with no reader, truncates at once and says nothing is pending', async () => {
    const path = join(tmp(), 'chorus.db');
    const s = new SqliteStore(path);
    await s.events.appendDecision({ id: 'e1', ts: 1, user: NEEDLE, kind: 'recommend', items: ['a'], propensities: [1], scores: [1], snapshotId: null, activated: true, payload: null });
    const rec = await s.erasures.eraseUser({ user: NEEDLE, id: 'x', ts: 1, snapshots: [], state: [], counts: {}, found: false });
    expect(rec?.counts.walWipePending).toBeUndefined();
    expect(statSync(`${path}-wal`).size).toBe(0);
    await s.close();
  });
});

describe('wipeFreePages', () => {
  it('zeroes a free list larger than one chunk, in several blobs', () => {
    const path = join(tmp(), 'free.db');
    const db = new Database(path);
    configure(db, 'normal');
    migrate(db);
    // FAST leaves whole freed pages as they are: a deleted 200 kB value stays on the free list.
    const marker = Buffer.alloc(200_000, `${NEEDLE}|`);
    db.prepare('INSERT INTO state (key, value, updated) VALUES (?, ?, 0)').run('big', marker);
    db.prepare('DELETE FROM state WHERE key = ?').run('big');
    db.pragma('wal_checkpoint(TRUNCATE)');
    const freePages = db.pragma('freelist_count', { simple: true }) as number;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    expect(freePages * pageSize).toBeGreaterThan(150_000);
    expect(readFileSync(path).includes(NEEDLE)).toBe(true);
    db.pragma('secure_delete = ON');
    const chunk = 16 * pageSize;
    const n = db.transaction(() => wipeFreePages(db, chunk))();
    expect(n).toBe(Math.ceil((freePages * pageSize) / chunk));
    expect(n).toBeGreaterThan(1);
    db.pragma('wal_checkpoint(TRUNCATE)');
    expect(readFileSync(path).includes(NEEDLE)).toBe(false);
    // The wipe's own rows are gone.
    expect(db.prepare("SELECT count(*) AS n FROM state WHERE key LIKE 'privacy.wipe%'").get()).toEqual({ n: 0 });
    db.close();
  });
});
