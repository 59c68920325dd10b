import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import { ConfigError } from '../../src/errors.js';
import { storeContract } from './contract.js';
import type { FeedbackRecord } from '../../src/store/types.js';

const dir = mkdtempSync(join(tmpdir(), 'chorus-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

storeContract('sqlite', (name) => openStore(`sqlite:${join(dir, `${name}.db`)}`));
storeContract('sqlite synchronous=normal', (name) => openStore(`sqlite:${join(dir, `${name}-n.db`)}?synchronous=normal`));
// Commits in the commit worker thread instead of on the calling thread.
storeContract('sqlite writer=worker', (name) => openStore(`sqlite:${join(dir, `${name}-w.db`)}?writer=worker`));

describe('openStore', () => {
  it('names the known schemes for an unknown URL', () => {
    expect(() => openStore('mongo://x')).toThrow(ConfigError);
    expect(() => openStore('mongo://x')).toThrow(/expected one of: sqlite:/);
  });
  it('rejects a bad synchronous option', () => {
    expect(() => openStore(`sqlite:${join(dir, 'x.db')}?synchronous=off`)).toThrow(/synchronous/);
  });
  it('backfills the per-item feedback totals of a database written before they existed', async () => {
    const path = join(dir, 'old.db');
    const s = openStore(`sqlite:${path}`);
    const fb = (item: string, reward: number): FeedbackRecord => ({ eventId: null, ts: 1, user: 'u', item, type: 'click', value: null, reward, position: 0, propensity: 1 });
    await Promise.all([s.events.appendFeedback(fb('x', 1)), s.events.appendFeedback(fb('y', 2)), s.events.appendFeedback(fb('x', 2))]);
    await s.close();
    // Make it look like a schema-0 database: no totals, user_version 0.
    const Database = (await import('better-sqlite3')).default;
    const raw = new Database(path);
    raw.exec('DELETE FROM item_feedback');
    raw.pragma('user_version = 0');
    raw.close();
    const again = openStore(`sqlite:${path}`);
    expect(await again.events.topItems(5)).toEqual([
      { item: 'x', feedback: 2, rewardSum: 3 },
      { item: 'y', feedback: 1, rewardSum: 2 },
    ]);
    await again.close();
  });
  it('finds the feedback of an event through an index, not a scan of the log', async () => {
    const path = join(dir, 'plan.db');
    await openStore(`sqlite:${path}`).close();
    const Database = (await import('better-sqlite3')).default;
    const raw = new Database(path, { readonly: true });
    const plan = raw.prepare("EXPLAIN QUERY PLAN SELECT * FROM feedback WHERE event_id IN (SELECT value FROM json_each('[\"a\"]')) ORDER BY seq").all() as { detail: string }[];
    raw.close();
    expect(plan.map((p) => p.detail).join(' | ')).toMatch(/USING INDEX feedback_event/);
  });
  it('uses WAL', async () => {
    const s = openStore(`sqlite:${join(dir, 'wal.db')}`);
    await s.state.putState('a', Buffer.from('b'));
    const { existsSync } = await import('node:fs');
    // A committed write lives in the -wal file until a checkpoint (journal_mode=WAL took effect).
    expect(existsSync(join(dir, 'wal.db-wal'))).toBe(true);
    await s.close();
  });
});
