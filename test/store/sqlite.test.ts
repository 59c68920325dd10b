import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import { ConfigError } from '../../src/errors.js';
import { storeContract } from './contract.js';

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
  it('uses WAL', async () => {
    const s = openStore(`sqlite:${join(dir, 'wal.db')}`);
    await s.state.putState('a', Buffer.from('b'));
    const { existsSync } = await import('node:fs');
    // A committed write lives in the -wal file until a checkpoint (journal_mode=WAL took effect).
    expect(existsSync(join(dir, 'wal.db-wal'))).toBe(true);
    await s.close();
  });
});
