import { existsSync } from 'node:fs';
import { ConfigError, DataError } from '../errors.js';
import { PostgresStore, postgresOptions } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './types.js';

type Opener = (rest: string, params: URLSearchParams) => Store;

/**
 * Backends by URL scheme, one table; callers do not change.
 * `sqlite:path/to/chorus.db`, `sqlite::memory:`, `sqlite:data.db?synchronous=normal`,
 * `sqlite:data.db?writer=worker` (commit in a worker thread instead of on the event loop),
 * `sqlite:data.db?check=none` (skip the integrity check on open).
 * `postgres://user:password@host:5432/db?pool=10&schema=chorus` (`postgresql:` too): a pool of at
 * most `pool` connections (default 10), the tables in `schema` (created if missing; default: the
 * connection's search_path); other parameters (sslmode, …) go to the `pg` driver.
 */
const OPENERS: Readonly<Record<string, Opener>> = Object.freeze({
  sqlite: (rest, params) => {
    if (rest === '') throw new ConfigError('sqlite store URL needs a path, e.g. sqlite:./chorus.db', 'store');
    const sync = params.get('synchronous');
    if (sync !== null && sync !== 'full' && sync !== 'normal') {
      throw new ConfigError(`synchronous must be "full" or "normal", got "${sync}"`, 'store');
    }
    const writer = params.get('writer');
    if (writer !== null && writer !== 'worker' && writer !== 'inline') {
      throw new ConfigError(`writer must be "worker" or "inline", got "${writer}"`, 'store');
    }
    const check = params.get('check');
    if (check !== null && check !== 'quick' && check !== 'none') {
      throw new ConfigError(`check must be "quick" or "none", got "${check}"`, 'store');
    }
    return new SqliteStore(rest, { synchronous: sync ?? 'full', writer: writer ?? 'inline', check: check ?? 'quick' });
  },
  postgres: (rest, params) => new PostgresStore(postgresOptions(rest, params)),
  postgresql: (rest, params) => new PostgresStore(postgresOptions(rest, params)),
});

export function storeSchemes(): string[] {
  return Object.keys(OPENERS);
}

export function openStore(url: string): Store {
  const colon = url.indexOf(':');
  const scheme = colon > 0 ? url.slice(0, colon) : '';
  const opener = OPENERS[scheme];
  if (!opener) {
    throw new ConfigError(`unknown store URL "${url}"; expected one of: ${storeSchemes().map((s) => `${s}:`).join(', ')}`, 'store');
  }
  let rest = url.slice(colon + 1);
  let params = new URLSearchParams();
  const qm = rest.indexOf('?');
  if (qm >= 0) {
    params = new URLSearchParams(rest.slice(qm + 1));
    rest = rest.slice(0, qm);
  }
  return opener(rest, params);
}

/** Whether `name` (a `--log`-style argument) is a store URL rather than a file: a scheme, and no file by that name. */
export function isStoreUrl(name: string): boolean {
  return /^[a-z]+:/i.test(name) && !existsSync(name);
}

/**
 * Open the store at `url` only to read it, run `read`, and close it again. A SQLite path that does
 * not exist is refused rather than created empty.
 */
export async function readStoreAt<T>(url: string, read: (store: Store) => Promise<T>): Promise<T> {
  const m = /^sqlite:([^?]*)/.exec(url);
  if (m && m[1] !== '' && m[1] !== ':memory:' && !existsSync(m[1]!)) throw new DataError('store file not found', { file: m[1]! }, 'E_NOT_FOUND');
  const store = openStore(url);
  try {
    return await read(store);
  } finally {
    await store.close();
  }
}
