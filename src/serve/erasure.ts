/**
 * Erasure in the server's own formats: a stored snapshot rewritten without a user, and the
 * tombstones that keep users erased from the base data files the server reloads at every start.
 * The engine (./engine.ts, `eraseUser`) puts these together with the store's transaction
 * (src/store/types.ts, ErasureStore) and its in-memory state; `chorus forget` runs the same
 * rewrite offline. docs/privacy.md says what is removed and what is not.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Dataset } from '../data/dataset.js';
import { scrubSavedModel, tombstone, withoutUsers } from '../privacy/erasure.js';
import type { SavedModel } from '../recommenders/types.js';
import type { ErasureRecord, StateStore, Store } from '../store/types.js';
import { checkpointEntry, readCheckpoint } from './checkpoint.js';
import { parse, stringify } from '../util/serialize.js';

/**
 * What an erased user's id becomes in a rewritten snapshot's user list. The row keeps its number
 * (other users' rows do not move) but no request can reach it: a user id is never empty.
 */
export const ERASED_USER_ID = '';

/** The state key of the tombstones (see `Tombstones`). */
export const TOMBSTONES_KEY = 'privacy.erased';
/** The state key recording how the store's user ids are written (src/privacy/pseudonym.ts, IdMode). */
export const ID_MODE_KEY = 'privacy.ids';

interface Envelope {
  format: number;
  model: SavedModel;
  itemIds: string[];
  userIds: string[];
  seenIndptr: Int32Array;
  seenIndices: Int32Array;
}

/**
 * A snapshot body (./model.ts, encodeSnapshot) with `user` erased: their id replaced by
 * ERASED_USER_ID, their training items removed from the snapshot's seen-items CSR and from the
 * model's, and their own parameters zeroed (src/privacy/erasure.ts, scrubSavedModel). Null when
 * the snapshot does not know the user.
 */
export function scrubSnapshotBody(body: Buffer, user: string): Buffer | null {
  const o = parse(body.toString('utf8')) as Envelope;
  const u = o.userIds.indexOf(user);
  if (u < 0) return null;
  const userIds = o.userIds.slice();
  userIds[u] = ERASED_USER_ID;
  // The envelope's own CSR is scrubbed as a model state of its own (same fields, same rule).
  const seen = scrubSavedModel({ kind: 'envelope', version: 0, config: null, state: { nUsers: userIds.length, seenIndptr: o.seenIndptr, seenIndices: o.seenIndices } }, u)
    .state as { seenIndptr: Int32Array; seenIndices: Int32Array };
  const out: Envelope = { ...o, model: scrubSavedModel(o.model, u), userIds, seenIndptr: seen.seenIndptr, seenIndices: seen.seenIndices };
  return Buffer.from(stringify(out));
}

/**
 * Salted hashes of users erased while they were in the server's base data (the dataset folder
 * given to `chorus serve`), which is read again at every start: without them a restart would bring
 * such a user back into the next retrain. Neither the id nor its pseudonym is kept
 * (src/privacy/erasure.ts, tombstone); `chorus forget --data <folder>` removes the user from the
 * files themselves.
 */
export class Tombstones {
  readonly salt: Buffer;
  private readonly set: Set<string>;

  private constructor(salt: Buffer, tombstones: readonly string[]) {
    this.salt = salt;
    this.set = new Set(tombstones);
  }

  static async read(state: StateStore): Promise<Tombstones> {
    const raw = await state.getState(TOMBSTONES_KEY);
    if (!raw) return new Tombstones(randomBytes(32), []);
    const o = JSON.parse(raw.toString('utf8')) as { salt: string; tombstones: string[] };
    return new Tombstones(Buffer.from(o.salt, 'base64'), o.tombstones);
  }

  get size(): number {
    return this.set.size;
  }

  has(id: string): boolean {
    return this.set.has(tombstone(this.salt, id));
  }

  /** The state entry with `id` added (not stored here: the erasure's transaction writes it). */
  withUser(id: string): { key: string; value: Buffer } {
    this.set.add(tombstone(this.salt, id));
    return { key: TOMBSTONES_KEY, value: Buffer.from(JSON.stringify({ salt: this.salt.toString('base64'), tombstones: [...this.set] })) };
  }

  /** The base data without the users erased from this store. */
  filter(base: Dataset): { dataset: Dataset; users: number } {
    if (this.set.size === 0) return { dataset: base, users: 0 };
    const r = withoutUsers(base, (id) => this.has(id));
    return { dataset: r.dataset, users: r.users };
  }
}

/**
 * A policy checkpoint that no policy accepts: the next start relearns the policy from the log,
 * which an erasure has just cleared of the user (./recover.ts, the path a start without a
 * checkpoint takes), so the relearned weights hold nothing of them.
 */
export const RELEARN_STATE = { relearn: 'erasure' } as const;

/**
 * `chorus forget` on a store whose server is stopped: the store's part of an erasure (rows,
 * snapshots, audit), a tombstone (the server's base data files may list the user), and the
 * policy checkpoint replaced by RELEARN_STATE so that the next start rebuilds the online policy
 * without the user's feedback. `user` is the id as stored (the pseudonym on a pseudonymised store).
 */
export async function eraseFromStore(store: Store, user: string): Promise<ErasureRecord> {
  const snapshots: { id: string; body: Buffer }[] = [];
  for (const meta of await store.snapshots.listSnapshots()) {
    const snap = await store.snapshots.getSnapshot(meta.id);
    const body = snap ? scrubSnapshotBody(snap.body, user) : null;
    if (body) snapshots.push({ id: meta.id, body });
  }
  const state = [(await Tombstones.read(store.state)).withUser(user)];
  const relearn = (await readCheckpoint(store)) !== null;
  if (relearn) state.push(checkpointEntry({ state: RELEARN_STATE, lastSeq: 0 }));
  return store.erasures.eraseUser({ user, id: randomUUID(), ts: Date.now(), snapshots, state, counts: { policyReset: relearn ? 1 : 0 } });
}
