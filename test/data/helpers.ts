import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Folder for one test file's temporary inputs. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'chorus-data-'));
}

/** Write `content` (string or bytes) to `name` in a fresh temp folder; returns the path. */
export function tempFile(name: string, content: string | Buffer, dir = tempDir()): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

export const FIXTURES = resolve(process.cwd(), 'test/fixtures/data');
export const SHARED = resolve(process.cwd(), '../shared/datasets');

/** A dataset's rows as readable tuples (external ids), in stored order. */
export function rows(ds: import('../../src/data/dataset.js').Dataset): [string, string, number, number][] {
  const it = ds.interactions;
  const out: [string, string, number, number][] = [];
  for (let k = 0; k < it.length; k++) {
    out.push([ds.users.toExternal(it.user[k]!), ds.items.toExternal(it.item[k]!), it.value[k]!, it.timestamp[k]!]);
  }
  return out;
}
