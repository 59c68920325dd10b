import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../errors.js';
import type { ApiKeyRecord, KeyScope, Store } from '../store/types.js';
import { AuthError } from './errors.js';

/**
 * API keys: random 32-byte secrets shown once; the store keeps only salt + sha256(salt ‖ key).
 * A salted fast hash is enough because keys are high-entropy random strings, not passwords (scrypt
 * would cost ~50 ms per request). Keys are found by a lookup id (a prefix of sha256(key)), then
 * the salted digest is compared in constant time.
 */
export function lookupId(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}

function digest(salt: Buffer, token: string): Buffer {
  return createHash('sha256').update(salt).update(token).digest();
}

export function newKeySecret(): string {
  return `chorus_${randomBytes(32).toString('base64url')}`;
}

export function keyRecord(token: string, scope: KeyScope, name: string): ApiKeyRecord {
  const salt = randomBytes(16);
  return { id: lookupId(token), scope, salt, hash: digest(salt, token), created: Date.now(), name };
}

/** Shortest admin key accepted from CHORUS_ADMIN_KEY, in characters. */
export const MIN_KEY_LENGTH = 16;
/** Least estimated entropy of an admin key, in bits (a random 16-character base64 key estimates ~60). */
export const MIN_KEY_BITS = 56;

/**
 * A rough upper bound on a key's entropy: its length times the Shannon entropy of its own
 * character frequencies. It cannot see that "correct-horse" is a phrase, but it does refuse
 * `x`, `aaaaaaaaaaaaaaaaaaaa` and `passwordpassword`: keys guessable in a few tries.
 */
export function estimatedBits(key: string): number {
  const counts = new Map<string, number>();
  const chars = [...key];
  for (const c of chars) counts.set(c, (counts.get(c) ?? 0) + 1);
  let perChar = 0;
  for (const n of counts.values()) {
    const p = n / chars.length;
    perChar -= p * Math.log2(p);
  }
  return perChar * chars.length;
}

/** Refuse an admin key a client could guess (the server would otherwise start with it). */
export function checkAdminKey(key: string, field = 'CHORUS_ADMIN_KEY'): void {
  const hint = 'use a random key, e.g. `openssl rand -hex 32`';
  const length = [...key].length;
  if (length < MIN_KEY_LENGTH) throw new ConfigError(`admin key too short: ${length} characters, at least ${MIN_KEY_LENGTH} needed; ${hint}`, field, 'E_WEAK_KEY');
  const bits = estimatedBits(key);
  if (bits < MIN_KEY_BITS) {
    throw new ConfigError(`admin key too predictable: about ${Math.floor(bits)} bits of entropy, at least ${MIN_KEY_BITS} needed; ${hint}`, field, 'E_WEAK_KEY');
  }
}

/** The key table in memory (the store is the source of truth; writes go through here). */
export class KeyRing {
  private readonly keys = new Map<string, ApiKeyRecord>();
  /**
   * Tokens already verified, to their record: two sha256 per request were 1.5 % of a /recommend's
   * CPU (issue 22's profile), for the handful of keys a deployment's clients send over and over.
   * Only tokens that verified are kept (a wrong guess is hashed every time, so guessing is not
   * cheaper); bounded, and cleared whenever a key is added or removed, so a revoked key stops
   * working at once.
   */
  private readonly verified = new Map<string, ApiKeyRecord>();
  private static readonly VERIFIED_MAX = 1024;
  constructor(private readonly store: Store) {}

  /** The lookup id of a token: from the verified cache when it verified before (no sha256), else computed. */
  idOf(token: string): string {
    return this.verified.get(token)?.id ?? lookupId(token);
  }

  async load(): Promise<void> {
    for (const k of await this.store.keys.listKeys()) this.keys.set(k.id, k);
    this.verified.clear();
  }

  /**
   * Replace the keys in memory with the stored ones (a cluster server, every few seconds: keys
   * are issued and revoked on other processes). The verified cache is cleared only when something
   * changed, so an unchanged key set costs no re-hashing.
   */
  async reload(): Promise<void> {
    const stored = await this.store.keys.listKeys();
    const same = stored.length === this.keys.size && stored.every((k) => this.keys.get(k.id)?.hash.equals(k.hash));
    if (same) return;
    this.keys.clear();
    for (const k of stored) this.keys.set(k.id, k);
    this.verified.clear();
  }

  get size(): number {
    return this.keys.size;
  }

  hasAdmin(): boolean {
    for (const k of this.keys.values()) if (k.scope === 'admin') return true;
    return false;
  }

  /** Store a key (the token itself is never stored). */
  async add(token: string, scope: KeyScope, name: string): Promise<ApiKeyRecord> {
    const rec = keyRecord(token, scope, name);
    await this.store.keys.putKey(rec);
    this.keys.set(rec.id, rec);
    this.verified.clear();
    return rec;
  }

  async issue(scope: KeyScope, name: string): Promise<{ record: ApiKeyRecord; key: string }> {
    const key = newKeySecret();
    return { record: await this.add(key, scope, name), key };
  }

  async remove(id: string): Promise<boolean> {
    const ok = await this.store.keys.deleteKey(id);
    this.keys.delete(id);
    this.verified.clear();
    return ok;
  }

  list(): ApiKeyRecord[] {
    return [...this.keys.values()];
  }

  /** The key's record when `token` is valid, else undefined. */
  verify(token: string): ApiKeyRecord | undefined {
    const known = this.verified.get(token);
    if (known) return known;
    const rec = this.keys.get(lookupId(token));
    if (!rec) return undefined;
    const d = digest(rec.salt, token);
    if (!(d.length === rec.hash.length && timingSafeEqual(d, rec.hash))) return undefined;
    if (this.verified.size >= KeyRing.VERIFIED_MAX) this.verified.clear();
    this.verified.set(token, rec);
    return rec;
  }

  /** Check a request's token for `scope`: 401 when missing or wrong, 403 when the scope is too low. */
  authorize(token: string | undefined, scope: KeyScope): ApiKeyRecord {
    if (!token) throw new AuthError('missing API key (send "Authorization: Bearer <key>")', 401);
    const rec = this.verify(token);
    if (!rec) throw new AuthError('invalid API key', 401);
    if (scope === 'admin' && rec.scope !== 'admin') throw new AuthError('this API key lacks the admin scope', 403);
    return rec;
  }
}

/** The key a request presents: Authorization: Bearer, x-api-key, or Personalizer's Ocp-Apim-Subscription-Key. */
export function requestToken(headers: Record<string, string | string[] | undefined>): string | undefined {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const auth = one(headers.authorization);
  if (auth && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, '').trim() || undefined;
  return one(headers['x-api-key']) || one(headers['ocp-apim-subscription-key']) || undefined;
}
