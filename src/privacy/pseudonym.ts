/**
 * Keyed pseudonyms for user ids: `p_` + the first 16 bytes of HMAC-SHA256(key, "user:" + id),
 * base64url (22 characters). The same id under the same key is always the same pseudonym, so
 * rows stay linkable to each other (that is the point: a user's feedback still reaches their
 * history); without the key the id cannot be computed back, and with it an id can only be
 * tested, not read (docs/privacy.md says what this does and does not protect).
 *
 * The key comes from the environment (CHORUS_ID_KEY), never from a config file or a flag, so that
 * it does not end up in shell history or in the store beside the data it protects.
 */
import { createHmac } from 'node:crypto';
import { Dataset, IdMap, type DatasetSource } from '../data/dataset.js';
import { ChorusError, ConfigError } from '../errors.js';

/** The environment variable the key is read from. */
export const ID_KEY_ENV = 'CHORUS_ID_KEY';
export const PSEUDONYM_PREFIX = 'p_';
/** Bytes of the HMAC kept: 128 bits, far beyond any collision among real user counts. */
const PSEUDONYM_BYTES = 16;
/** Shortest key accepted: 32 characters (e.g. `openssl rand -hex 32` gives 64). */
export const MIN_KEY_LENGTH = 32;

/** How a store's user ids were written: `raw`, or `hmac-sha256:<key fingerprint>`. */
export type IdMode = string;
export const RAW_IDS: IdMode = 'raw';

export class Pseudonymiser {
  private readonly key: Buffer;
  /** `hmac-sha256:` + a fingerprint of the key, recorded in the store so a wrong key is refused. */
  readonly mode: IdMode;

  constructor(key: string | Buffer) {
    const k = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
    if (k.length < MIN_KEY_LENGTH) {
      throw new ConfigError(`the pseudonym key must have at least ${MIN_KEY_LENGTH} characters (got ${k.length}); generate one with: openssl rand -hex 32`, ID_KEY_ENV, 'E_WEAK_KEY');
    }
    this.key = k;
    // A separate HMAC input ("check:") keeps the fingerprint unrelated to any pseudonym.
    this.mode = `hmac-sha256:${createHmac('sha256', k).update('chorus-key-check:').digest('hex').slice(0, 16)}`;
  }

  /** The pseudonym of a user id. */
  of(id: string): string {
    return PSEUDONYM_PREFIX + createHmac('sha256', this.key).update('user:').update(id, 'utf8').digest().subarray(0, PSEUDONYM_BYTES).toString('base64url');
  }
}

/** Whether a string has the shape of a pseudonym (prefix and 22 base64url characters). */
export function looksPseudonymous(s: string): boolean {
  return /^p_[A-Za-z0-9_-]{22}$/.test(s);
}

/**
 * The pseudonymiser for `--pseudonymise`: the key from CHORUS_ID_KEY, or a clear error when it is
 * missing or short.
 */
export function pseudonymiserFromEnv(env: NodeJS.ProcessEnv = process.env): Pseudonymiser {
  const key = env[ID_KEY_ENV];
  if (key === undefined || key === '') {
    throw new ConfigError(`--pseudonymise needs a secret key in the environment variable ${ID_KEY_ENV} (at least ${MIN_KEY_LENGTH} characters; e.g. export ${ID_KEY_ENV}=$(openssl rand -hex 32))`, 'pseudonymise', 'E_NO_ID_KEY');
  }
  return new Pseudonymiser(key);
}

/**
 * Check the id mode a store records against the one a server or command runs in. `recorded`
 * undefined means the store has none yet. Throws a clear E_ID_MODE error on a mismatch.
 */
export function checkIdMode(recorded: IdMode | undefined, wanted: IdMode, where: string): void {
  if (recorded === undefined || recorded === wanted) return;
  const both = (a: IdMode) => (a === RAW_IDS ? 'raw user ids' : 'pseudonymous user ids');
  if (recorded !== RAW_IDS && wanted !== RAW_IDS) {
    throw new ChorusError('E_ID_MODE', `${where} was written with pseudonyms of another key (${ID_KEY_ENV} differs from the one it was created with); refusing to mix two sets of pseudonyms`, { status: 409 });
  }
  const fix = wanted === RAW_IDS ? 'run with --pseudonymise and its key' : 'run without --pseudonymise, or use a new store';
  throw new ChorusError('E_ID_MODE', `${where} holds ${both(recorded)} but this run would write ${both(wanted)}: ${fix}`, { status: 409 });
}

/** A dataset's source with the id mode its user ids are written in (kept in dataset snapshots). */
type SourceWithIds = DatasetSource & { userIds?: IdMode };

/**
 * How a dataset's user ids are written: the mode `pseudonymiseDataset` recorded in its source
 * (and so in a snapshot `chorus import --pseudonymise` wrote), else raw.
 */
export function datasetIdMode(ds: Dataset): IdMode {
  const m = (ds.source as SourceWithIds | undefined)?.userIds;
  return typeof m === 'string' && m !== '' ? m : RAW_IDS;
}

/**
 * The dataset with every user id replaced by its pseudonym (same indices, interactions and user
 * metadata; items untouched), and the key's mode recorded in its source (`datasetIdMode`). Used at
 * the edge: `chorus import --pseudonymise` and the server's base data under `--pseudonymise`. A
 * dataset already pseudonymised with this key is returned as it is (hashing twice would make ids
 * no request can reach); one pseudonymised with another key is refused.
 */
export function pseudonymiseDataset(ds: Dataset, p: Pseudonymiser): Dataset {
  const given = datasetIdMode(ds);
  if (given === p.mode) return ds;
  if (given !== RAW_IDS) checkIdMode(given, p.mode, `the dataset ${ds.name}`);
  const source: SourceWithIds = { ...(ds.source ?? { file: ds.name, format: 'unknown' }), userIds: p.mode };
  const users = new IdMap();
  for (const id of ds.users.ids()) {
    const before = users.size;
    users.add(p.of(id));
    // Two ids with one pseudonym would merge two users: 128 bits make it practically impossible, but never silent.
    if (users.size === before) throw new ChorusError('E_PSEUDONYM_COLLISION', `two user ids have the same pseudonym (${p.of(id)})`, { status: 500 });
  }
  return new Dataset({
    name: ds.name,
    users,
    items: ds.items,
    interactions: ds.interactions,
    eventTypes: ds.eventTypes,
    itemMeta: ds.itemMeta,
    userMeta: ds.userMeta,
    source,
  });
}
