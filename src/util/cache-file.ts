/**
 * Where Chorus keeps what it can recompute (embeddings, chat answers, parsed word vectors), and
 * the SQLite file such a cache lives in: one place for the folder rule and the file's settings,
 * shared by src/embed/cache.ts and src/llm/cache.ts.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** `$CHORUS_CACHE_DIR`, else `$XDG_CACHE_HOME/chorus`, else `~/.cache/chorus`. */
export function chorusCacheDir(): string {
  return process.env.CHORUS_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'chorus');
}

/**
 * Open (creating the folder and `schema` if needed) a cache database; ':memory:' for a
 * process-local one. WAL with synchronous=NORMAL: several processes may share the file, and a
 * crash loses at most the last commits of something that can be recomputed. Throws what
 * better-sqlite3 throws; callers name the cache in their own error.
 */
export function openCacheDatabase(path: string, schema: string): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(schema);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
