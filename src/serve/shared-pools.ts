/**
 * The second level of the candidate-pool cache (./decisions.ts keeps the first, in process): pools
 * kept in Redis (`chorus serve --redis`), so that a user's pool computed by one server of a cluster
 * is served by every other. Exact, like the first level: an entry is used only when everything the
 * pool depends on is what the reading server holds, and that is checked with identities that are
 * the same on every server (never an in-process counter):
 *
 * - the model: the active snapshot's id and a SHA-256 of its stored body (./model.ts). The id alone
 *   is not enough: an erasure rewrites the active snapshot's body under the same id (other users'
 *   scores may change with it, e.g. a user-kNN's neighbours), and every server reads that body;
 * - the catalogue: a SHA-256 of the model items it no longer holds (`Catalogue.deleted`), the only
 *   part of it a pool depends on (new items are cold and join the slate outside the pool; metadata
 *   is the policy's business). Every server derives it from the same stored catalogue;
 * - the user: how the model sees them (their row index, or the fold-in items: training items then
 *   the online history, in order, which every server rebuilds from the same feedback log), which
 *   is also the seen set the pool excludes;
 * - the pool size: an entry of size n serves any request for at most n (the top m of the top n are
 *   the top m: ./select.ts breaks ties by index), as the first level does.
 *
 * One Redis key per user, named by a keyed hash of the stored user id (the pseudonym under
 * `--pseudonymise`), holds the newest pool with the digest of that state in its header; a read
 * whose digest differs is a miss. So a user has one entry (memory is bounded by the users, not by
 * their history), an erasure deletes one key, and a stale write (a lagging server) can only cost a
 * miss, never serve a wrong pool. Keys live under a prefix naming the store (a random id kept in
 * it), so two deployments on one Redis never read each other's entries.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ChorusError, ConfigError } from '../errors.js';
import type { StateStore } from '../store/types.js';
import { connectRedis, type RedisLink } from './redis.js';

/** The store's state key holding this deployment's cache identity (see `poolCacheIdentity`). */
export const POOL_CACHE_KEY = 'serve.pool-cache';
/** Pool entries expire after this long without a write unless configured (`--pool-cache-ttl`). */
export const DEFAULT_POOL_TTL_SECONDS = 600;
/** Longest TTL accepted: an entry is exact whatever its age, but a week bounds what an erasure a server missed leaves behind. */
export const MAX_POOL_TTL_SECONDS = 7 * 86_400;

/**
 * `--pool-cache-ttl` checked: whole seconds (Redis's PX would round a fraction, and 0.0001 s to an
 * invalid 0), from 0 (the shared level off) to MAX_POOL_TTL_SECONDS.
 */
export function checkPoolCacheTtl(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_POOL_TTL_SECONDS) {
    throw new ConfigError(`expected whole seconds from 0 (off) to ${MAX_POOL_TTL_SECONDS} (7 days), got ${seconds}`, 'pool-cache-ttl');
  }
  return seconds;
}
/**
 * A lookup waits at most this long: computing a pool costs milliseconds, so a slower Redis is no
 * cache. After a failure the cache is bypassed for BYPASS_MS (the pool is computed locally).
 */
export const LOOKUP_TIMEOUT_MS = 250;
const BYPASS_MS = 5000;
/** In every digest: a change to how pools are computed or encoded misses every older entry. */
const FORMAT = 'chorus-pool/1';
const MAGIC = 0x43503031; // "CP01"
const HEADER = 4 + 32 + 4 + 4;

export interface PoolIdentity {
  /** Names the deployment in every key. */
  id: string;
  /** Keys the user hash, so that a key cannot be turned back into a user id by guessing ids. */
  salt: Buffer;
}

/**
 * This store's cache identity, read only where the shared level is on (`--redis`, TTL > 0): a store
 * served without it holds none. The learner (or the single server) creates it before it seeds the
 * store (`create`): it holds the learner lock then, so no two processes create one; a cluster server
 * only reads it, after the learner has seeded. Null: none (a learner started without `--redis`, or
 * of an older version).
 */
export async function poolCacheIdentity(state: StateStore, create: boolean): Promise<PoolIdentity | null> {
  const raw = await state.getState(POOL_CACHE_KEY);
  if (raw) return parseIdentity(raw);
  if (!create) return null;
  const made = { id: randomBytes(8).toString('hex'), salt: randomBytes(32) };
  await state.putState(POOL_CACHE_KEY, Buffer.from(JSON.stringify({ id: made.id, salt: made.salt.toString('base64') })));
  return made;
}

/** The stored identity, checked: a bad one would name keys another deployment could share. */
function parseIdentity(raw: Buffer): PoolIdentity {
  let o: unknown;
  try {
    o = JSON.parse(raw.toString('utf8'));
  } catch {
    o = null;
  }
  const { id, salt } = (o ?? {}) as { id?: unknown; salt?: unknown };
  const key = typeof salt === 'string' ? Buffer.from(salt, 'base64') : null;
  if (typeof id !== 'string' || !/^[0-9a-f]{16}$/.test(id) || !key || key.length !== 32) {
    throw new ChorusError('E_STORE_STATE', `the store's state "${POOL_CACHE_KEY}" is not a pool-cache identity ({"id": 16 hex digits, "salt": 32 bytes in base64}); delete it to have a new one made (cached pools are then computed again)`, { status: 500 });
  }
  return { id, salt: key };
}

/** A pool as the decisions keep it: model item indices, best first, and their scores. */
export interface Pool {
  items: Int32Array;
  scores: Float32Array;
}

/** An entry as read: the state digest it was computed under, the size asked for, the pool. */
export interface SharedEntry extends Pool {
  state: Buffer;
  size: number;
}

/** How the model sees the user when their pool is computed (./decisions.ts, userRef). */
export interface PoolUser {
  /** The model's row, or -1. */
  index: number;
  /** Scored by row index (no online history) rather than as fold-in items. */
  byIndex: boolean;
  anonymous: boolean;
  /** Fold-in items (training, then online), which are also the items the pool excludes. */
  seen: Int32Array;
}

/** SHA-256 of everything a pool depends on (see the module comment); `catalogue` is `catalogueDigest`. */
export function poolStateDigest(modelId: string, catalogue: Buffer, u: PoolUser): Buffer {
  const head = Buffer.alloc(9);
  head.writeInt32LE(u.index, 0);
  head.writeUInt8((u.byIndex ? 1 : 0) | (u.anonymous ? 2 : 0), 4);
  head.writeInt32LE(u.seen.length, 5);
  return createHash('sha256')
    .update(FORMAT)
    .update('\0')
    .update(modelId)
    .update('\0')
    .update(catalogue)
    .update(head)
    .update(new Uint8Array(u.seen.buffer, u.seen.byteOffset, u.seen.byteLength))
    .digest();
}

/** The catalogue as a pool sees it: which model items are deleted. */
export function catalogueDigest(deleted: Uint8Array): Buffer {
  return createHash('sha256').update(deleted).digest();
}

export function encodeEntry(state: Buffer, size: number, pool: Pool): Buffer {
  const n = pool.items.length;
  const out = Buffer.alloc(HEADER + 8 * n);
  out.writeUInt32LE(MAGIC, 0);
  state.copy(out, 4);
  out.writeInt32LE(size, 36);
  out.writeInt32LE(n, 40);
  for (let j = 0; j < n; j++) {
    out.writeInt32LE(pool.items[j]!, HEADER + 4 * j);
    out.writeFloatLE(pool.scores[j]!, HEADER + 4 * n + 4 * j);
  }
  return out;
}

/** Null for anything that is not a whole entry of this format. */
export function decodeEntry(b: Buffer): SharedEntry | null {
  if (b.length < HEADER || b.readUInt32LE(0) !== MAGIC) return null;
  const n = b.readInt32LE(40);
  if (n < 0 || b.length !== HEADER + 8 * n) return null;
  const items = new Int32Array(n);
  const scores = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    items[j] = b.readInt32LE(HEADER + 4 * j);
    scores[j] = b.readFloatLE(HEADER + 4 * n + 4 * j);
  }
  return { state: Buffer.from(b.subarray(4, 36)), size: b.readInt32LE(36), items, scores };
}

/**
 * What the shared level counted. Lookups (after a first-level miss): an entry for the state asked
 * (hits), none (misses), a failed read (errors; the pool is then computed, and that is not also a
 * miss). Writes and erasure deletes that Redis failed are counted apart (setErrors, delErrors).
 */
export interface SharedPoolStats {
  hits: number;
  misses: number;
  errors: number;
  setErrors: number;
  delErrors: number;
}

export const NO_SHARED_STATS: Readonly<SharedPoolStats> = Object.freeze({ hits: 0, misses: 0, errors: 0, setErrors: 0, delErrors: 0 });

/** The shared pool cache on one Redis connection. Never throws and never waits past LOOKUP_TIMEOUT_MS. */
export class SharedPools {
  readonly stats: SharedPoolStats = { ...NO_SHARED_STATS };
  private readonly client: Redis;
  private readonly notice: (why: string) => void;
  private readonly closeLink: () => Promise<void>;
  private readonly prefix: string;
  private readonly salt: Buffer;
  private readonly ttlMs: number;
  private bypassUntil = 0;

  constructor(link: RedisLink, identity: PoolIdentity, ttlSeconds: number) {
    if (checkPoolCacheTtl(ttlSeconds) === 0) throw new ConfigError('a shared pool cache needs a TTL of at least 1 second (0 turns it off)', 'pool-cache-ttl');
    this.client = link.client;
    this.notice = link.notice;
    this.closeLink = link.close;
    this.prefix = `chorus:pool:${identity.id}:`;
    this.salt = identity.salt;
    this.ttlMs = ttlSeconds * 1000;
  }

  /** Connect (failing the start, naming the URL, when Redis does not answer). */
  static async open(url: string, identity: PoolIdentity, ttlSeconds = DEFAULT_POOL_TTL_SECONDS): Promise<SharedPools> {
    return new SharedPools(await connectRedis(url, 'candidate pools are computed on each server until it is back', LOOKUP_TIMEOUT_MS), identity, ttlSeconds);
  }

  /** The Redis key of `user`'s pool (the stored id, i.e. the pseudonym under --pseudonymise). */
  keyOf(user: string): string {
    return this.prefix + createHmac('sha256', this.salt).update(user).digest('base64url');
  }

  /** Every key of this deployment matches it (tests and operators look with SCAN). */
  get pattern(): string {
    return `${this.prefix}*`;
  }

  /** Whether a command may be sent now: connected, and not bypassed after a recent failure. */
  private usable(): boolean {
    return this.client.status === 'ready' && Date.now() >= this.bypassUntil;
  }

  private failed(e: unknown, counter: 'errors' | 'setErrors' | 'delErrors'): void {
    this.stats[counter]++;
    this.bypassUntil = Date.now() + BYPASS_MS;
    this.notice((e as Error).message);
  }

  /**
   * The user's entry, or null (none, or unreadable). Undefined when the read failed: as if no
   * lookup had been made (counted as an error, not matched as a miss). Null, not a promise, when
   * Redis is not usable: nothing to wait for.
   */
  get(user: string): Promise<SharedEntry | null | undefined> | null {
    if (!this.usable()) return null;
    return this.client.getBuffer(this.keyOf(user)).then(
      (b) => (b ? decodeEntry(b) : null),
      (e: unknown) => {
        this.failed(e, 'errors');
        return undefined;
      },
    );
  }

  /** The part of `entry` that serves state `state` at `size`, counting a hit or a miss. */
  match(entry: SharedEntry | null, state: Buffer, size: number): Pool | null {
    if (entry && entry.size >= size && entry.state.equals(state)) {
      this.stats.hits++;
      return entry;
    }
    this.stats.misses++;
    return null;
  }

  /**
   * Write the user's pool, not awaited: the request does not wait for Redis. Writes of one server go
   * in order on its one connection, and an entry written late (its user moved on) is a miss by its
   * digest, so no ordering between servers is needed.
   */
  put(user: string, state: Buffer, size: number, pool: Pool): void {
    if (!this.usable()) return;
    this.client.set(this.keyOf(user), encodeEntry(state, size, pool), 'PX', this.ttlMs).catch((e: unknown) => this.failed(e, 'setErrors'));
  }

  /**
   * Erasure: the user's key goes (issued at once, after this server's earlier writes for the user on
   * the same connection). Resolves false when Redis could not be told (the entry then expires
   * with its TTL).
   */
  erase(user: string): Promise<boolean> {
    if (this.client.status !== 'ready') return Promise.resolve(false);
    return this.client.del(this.keyOf(user)).then(
      () => true,
      (e: unknown) => {
        this.failed(e, 'delErrors');
        return false;
      },
    );
  }

  close(): Promise<void> {
    return this.closeLink();
  }
}
