import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChorusError } from '../../src/errors.js';
import { isDuplicateKeyError } from '../../src/store/duplicate.js';
import { openStore } from '../../src/store/open.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { StoreWarning } from '../../src/store/sqlite-check.js';
import type { DecisionRecord } from '../../src/store/types.js';
import { decisionRecord } from './records.js';

const dir = mkdtempSync(join(tmpdir(), 'chorus-store-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const decision = (id: string): DecisionRecord => decisionRecord(id, { snapshotId: 's', payload: { pad: 'x'.repeat(3000) } });

function thrown(f: () => unknown): ChorusError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ChorusError);
    return e as ChorusError;
  }
  throw new Error('expected an error');
}

/**
 * A store whose last `n` commits are still in its write-ahead log: written while open (one commit
 * per decision), then its database and WAL copied aside, as a crash would leave them.
 */
async function walCopy(name: string, n: number): Promise<string> {
  const src = join(dir, `${name}-src.db`);
  const s = openStore(`sqlite:${src}`);
  for (let i = 0; i < n; i++) await s.events.appendDecision(decision(`e${i}`));
  const copy = join(dir, `${name}.db`);
  copyFileSync(src, copy);
  copyFileSync(`${src}-wal`, `${copy}-wal`);
  await s.close();
  return copy;
}

function pageSize(walPath: string): number {
  return readFileSync(walPath).readUInt32BE(8);
}

function openWarned(path: string): { store: SqliteStore; warnings: StoreWarning[] } {
  const warnings: StoreWarning[] = [];
  const store = new SqliteStore(path, { onWarning: (w) => warnings.push(w) });
  return { store, warnings };
}

describe('SQLite store checks on open', () => {
  it('refuses a zero-length database file instead of starting a new store over it', () => {
    const path = join(dir, 'empty.db');
    writeFileSync(path, '');
    const e = thrown(() => openStore(`sqlite:${path}`));
    expect(e.code).toBe('E_STORE_EMPTY');
    expect(e.location?.file).toBe(path);
    expect(e.message).toContain(path);
    expect(statSync(path).size).toBe(0); // untouched
  });

  it('refuses a file that is not SQLite', () => {
    const path = join(dir, 'text.db');
    writeFileSync(path, 'id,title\n1,hello\n');
    const e = thrown(() => openStore(`sqlite:${path}`));
    expect(e.code).toBe('E_STORE_NOT_SQLITE');
    expect(e.message).toContain(path);
  });

  it('refuses a database that fails PRAGMA quick_check', async () => {
    const path = join(dir, 'corrupt.db');
    const s = openStore(`sqlite:${path}`);
    for (let i = 0; i < 20; i++) await s.events.appendDecision(decision(`c${i}`));
    await s.close();
    // Scribble over the b-tree pages after the schema page (page 1 stays readable).
    const b = readFileSync(path);
    const page = b.readUInt16BE(16) === 1 ? 65536 : b.readUInt16BE(16);
    for (let p = 1; p < b.length / page; p++) b.fill(0x5a, p * page + 8, p * page + 64);
    writeFileSync(path, b);
    const e = thrown(() => openStore(`sqlite:${path}`));
    expect(e.code).toBe('E_STORE_CORRUPT');
    expect(e.message).toContain(path);
    // `check=none` skips it (and SQLite then opens the damaged file as if nothing were wrong).
    expect(() => openStore(`sqlite:${path}?check=none`).close()).not.toThrow();
  });

  it('opens a clean store, and a copy with its WAL, without a warning', async () => {
    const copy = await walCopy('clean', 5);
    const { store, warnings } = openWarned(copy);
    expect(warnings).toEqual([]);
    expect(await store.events.countDecisions()).toBe(5);
    await store.close();
  });

  it('warns, naming the WAL and a code, when a damaged WAL frame drops the committed transactions after it', async () => {
    const copy = await walCopy('damaged', 8);
    const wal = `${copy}-wal`;
    const frame = 24 + pageSize(wal);
    const b = readFileSync(wal);
    const frames = (b.length - 32) / frame;
    expect(frames).toBeGreaterThan(8);
    // One flipped byte in the page data of the third-to-last frame.
    b[32 + (frames - 3) * frame + 24 + 100]! ^= 0xff;
    writeFileSync(wal, b);
    const { store, warnings } = openWarned(copy);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.code).toBe('E_STORE_WAL_DAMAGED');
    expect(warnings[0]!.path).toBe(wal);
    expect(warnings[0]!.message).toMatch(/fails its checksum.*committed transactions after it — acknowledged writes are lost/);
    // What the warning is about: SQLite really did drop acknowledged rows.
    expect(await store.events.countDecisions()).toBeLessThan(8);
    expect(store.warnings).toEqual(warnings);
    await store.close();
  });

  it('warns when the WAL ends inside a frame (truncated)', async () => {
    const copy = await walCopy('truncated', 4);
    const wal = `${copy}-wal`;
    truncateSync(wal, statSync(wal).size - 100);
    const { store, warnings } = openWarned(copy);
    expect(warnings.map((w) => [w.code, w.path])).toEqual([['E_STORE_WAL_TRUNCATED', wal]]);
    expect(await store.events.countDecisions()).toBe(3);
    await store.close();
  });

  it('warns on stderr by default', async () => {
    const copy = await walCopy('stderr', 3);
    truncateSync(`${copy}-wal`, statSync(`${copy}-wal`).size - 10);
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (lines.push(String(s)), true)) as typeof process.stderr.write;
    try {
      await openStore(`sqlite:${copy}`).close();
    } finally {
      process.stderr.write = write;
    }
    expect(lines.join('')).toMatch(/WARNING E_STORE_WAL_TRUNCATED: .*stderr\.db-wal/);
  });
});

describe('isDuplicateKeyError', () => {
  it("reads the driver's code on both write paths, never the message", async () => {
    for (const q of ['', '?writer=worker']) {
      const s = openStore(`sqlite:${join(dir, `dup${q ? '-w' : ''}.db`)}${q}`);
      await s.events.appendDecision(decision('same'));
      const e = await s.events.appendDecision(decision('same')).catch((x: unknown) => x);
      expect(isDuplicateKeyError(e)).toBe(true);
      await s.close();
    }
    expect(isDuplicateKeyError(Object.assign(new Error('constraint failed'), { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }))).toBe(true);
    expect(isDuplicateKeyError(new Error('UNIQUE constraint failed: decisions.id'))).toBe(false);
    expect(isDuplicateKeyError(Object.assign(new Error('x'), { code: 'SQLITE_CONSTRAINT_NOTNULL' }))).toBe(false);
  });
});
