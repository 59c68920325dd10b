/**
 * Erasure in the server's own formats: a stored snapshot rewritten without a user, and the
 * tombstones that keep users erased from the base data files the server reloads at every start.
 * The engine (./engine.ts, `eraseUser`) puts these together with the store's transaction
 * (src/store/types.ts, ErasureStore) and its in-memory state; `chorus forget` runs the same
 * rewrite offline. docs/privacy.md says what is removed and what is not.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ChorusError } from '../errors.js';
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

  /**
   * The state entry with `id` added. Neither stored nor remembered here: the erasure's transaction
   * writes it, and `add` records it once that has committed (a failed commit must leave the
   * tombstones as they were, so that a retry still sees the user as one to tombstone).
   */
  withUser(id: string): { key: string; value: Buffer } {
    const all = new Set(this.set).add(tombstone(this.salt, id));
    return { key: TOMBSTONES_KEY, value: Buffer.from(JSON.stringify({ salt: this.salt.toString('base64'), tombstones: [...all] })) };
  }

  /** `id`'s tombstone, after the transaction that stored it (`withUser`) committed. */
  add(id: string): void {
    this.set.add(tombstone(this.salt, id));
  }

  /** The base data without the users erased from this store. */
  filter(base: Dataset): { dataset: Dataset; users: number } {
    if (this.set.size === 0) return { dataset: base, users: 0 };
    const r = withoutUsers(base, (id) => this.has(id));
    return { dataset: r.dataset, users: r.users };
  }
}

/**
 * Which users were erased since a point in time, for requests in flight during an erasure: a
 * request takes `mark()` when it starts, and after its commit asks `since(user, mark)` before it
 * touches the in-memory state (history, learning, counters), which the erasure has already
 * cleared and which would otherwise bring the user back. Bounded: past `keep` erasures the
 * oldest are forgotten, and a request older than a forgotten one is answered true (conservative:
 * it skips its in-memory update instead of risking an erased user's return).
 */
export class ErasureMarks {
  private seq = 0;
  /** The newest erasure number that was forgotten to keep the map bounded. */
  private forgottenUpTo = 0;
  /** User → the number of their latest erasure; insertion order is erasure order. */
  private readonly at = new Map<string, number>();
  private readonly keep: number;

  constructor(keep = 10_000) {
    this.keep = keep;
  }

  /** The current erasure number. */
  mark(): number {
    return this.seq;
  }

  /** `user` (the stored id) is being erased now. */
  erased(user: string): void {
    this.seq++;
    this.at.delete(user);
    this.at.set(user, this.seq);
    if (this.at.size > this.keep) {
      const [oldest, n] = this.at.entries().next().value as [string, number];
      this.at.delete(oldest);
      this.forgottenUpTo = n;
    }
  }

  /** Whether `user` was (or may have been) erased after `mark`. */
  since(user: string | null, mark: number): boolean {
    if (user === null || mark === this.seq) return false;
    const n = this.at.get(user);
    return n !== undefined ? n > mark : this.forgottenUpTo > mark;
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
 * Resolves null, having changed nothing, when neither a row nor a stored snapshot holds the user.
 */
export async function eraseFromStore(store: Store, user: string): Promise<ErasureRecord | null> {
  const snapshots: { id: string; body: Buffer }[] = [];
  for (const meta of await store.snapshots.listSnapshots()) {
    const snap = await store.snapshots.getSnapshot(meta.id);
    const body = snap ? scrubSnapshotBody(snap.body, user) : null;
    if (body) snapshots.push({ id: meta.id, body });
  }
  const state = [(await Tombstones.read(store.state)).withUser(user)];
  const relearn = (await readCheckpoint(store)) !== null;
  if (relearn) state.push(checkpointEntry({ state: RELEARN_STATE, lastSeq: 0 }));
  // `found` only from the snapshots: an id that no snapshot and no row holds is unknown, and the
  // store then writes nothing (no tombstone, no audit, and the policy checkpoint is kept).
  return store.erasures.eraseUser({ user, id: randomUUID(), ts: Date.now(), snapshots, state, counts: { policyReset: relearn ? 1 : 0 }, found: snapshots.length > 0 });
}

/** The state key a running `chorus serve` refreshes (see `holdStore`). */
export const SERVER_KEY = 'serve.running';
/** How often a running server refreshes SERVER_KEY, and after how long without it the server counts as gone. */
const HEARTBEAT_MS = 10_000;
const STALE_MS = 3 * HEARTBEAT_MS;

interface Heartbeat {
  pid: number;
  host: string;
  at: number;
  stopped?: boolean;
}

/**
 * Mark the store as served, for `chorus forget` (`checkNoServer`): the server's pid, host and the
 * time, refreshed every HEARTBEAT_MS (a timer that never keeps the process alive); `stop` marks
 * it stopped. A server that crashed stops refreshing, and after STALE_MS it no longer counts.
 * A failed refresh is logged and retried at the next tick. Resolves once the first mark is written.
 */
export async function holdStore(store: StateStore, log: (msg: string) => void = () => {}): Promise<{ stop: () => Promise<void> }> {
  const beat = (stopped = false): Promise<void> =>
    store.putState(SERVER_KEY, Buffer.from(JSON.stringify({ pid: process.pid, host: hostname(), at: Date.now(), ...(stopped ? { stopped } : {}) } satisfies Heartbeat)));
  const tick = (): Promise<void> => beat().catch((e: unknown) => log(`store heartbeat: ${(e as Error).message}`));
  await tick();
  const timer = setInterval(() => void tick(), HEARTBEAT_MS);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await beat(true);
    },
  };
}

/**
 * Refuse (409, E_STORE_IN_USE) when a server marked the store as served within STALE_MS and has
 * not stopped: an offline erasure beside a running server would be undone by it (its memory and
 * its next checkpoint still hold the user), so the erasure goes through the server instead.
 */
export async function checkNoServer(store: Store, now = Date.now()): Promise<void> {
  const raw = await store.state.getState(SERVER_KEY);
  if (!raw) return;
  let h: Partial<Heartbeat>;
  try {
    h = JSON.parse(raw.toString('utf8')) as Partial<Heartbeat>;
  } catch {
    return;
  }
  if (h.stopped || typeof h.at !== 'number' || now - h.at >= STALE_MS) return;
  throw new ChorusError(
    'E_STORE_IN_USE',
    `a server is running on ${store.url} (pid ${h.pid ?? '?'} on ${h.host ?? '?'}, seen ${Math.max(0, Math.round((now - h.at) / 1000))} s ago): erase through it (DELETE /users/:id), or stop it first (a server that crashed counts as gone ${STALE_MS / 1000} s after its last sign of life)`,
    { status: 409, location: { field: 'data' } },
  );
}
