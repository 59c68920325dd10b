/**
 * The data side of erasure: a user removed from a dataset (so retrains never see them again) and
 * from a saved model's state (their row emptied, exactly), plus the salted tombstones that keep a
 * user erased from data files the server reloads at every start. The server's part (store,
 * memory, snapshots) is src/serve/erasure.ts; docs/privacy.md says what is and is not removed.
 */
import { createHmac } from 'node:crypto';
import { Dataset, IdMap, type Interactions } from '../data/dataset.js';
import type { SavedModel } from '../recommenders/types.js';

/** What `withoutUsers` removed. */
export interface DatasetErasure {
  dataset: Dataset;
  users: number;
  interactions: number;
}

/**
 * The dataset without the users `drop` picks: their interactions, their id and their metadata
 * are gone and the remaining users are renumbered densely (items keep their indices). Returns the
 * dataset itself when nobody is dropped.
 */
export function withoutUsers(ds: Dataset, drop: (id: string) => boolean): DatasetErasure {
  const ids = ds.users.ids();
  const newIndex = new Int32Array(ids.length).fill(-1);
  const users = new IdMap();
  const userMeta: Dataset['userMeta'] = [];
  for (let u = 0; u < ids.length; u++) {
    if (drop(ids[u]!)) continue;
    newIndex[u] = users.add(ids[u]!);
    userMeta[newIndex[u]!] = ds.userMeta[u];
  }
  if (users.size === ids.length) return { dataset: ds, users: 0, interactions: 0 };
  const it = ds.interactions;
  let n = 0;
  for (let k = 0; k < it.length; k++) if (newIndex[it.user[k]!]! >= 0) n++;
  const out: Interactions = {
    length: n,
    user: new Int32Array(n),
    item: new Int32Array(n),
    value: new Float32Array(n),
    timestamp: new Float64Array(n),
    eventType: new Uint8Array(n),
  };
  let j = 0;
  for (let k = 0; k < it.length; k++) {
    const u = newIndex[it.user[k]!]!;
    if (u < 0) continue;
    (out.user as Int32Array)[j] = u;
    (out.item as Int32Array)[j] = it.item[k]!;
    (out.value as Float32Array)[j] = it.value[k]!;
    (out.timestamp as Float64Array)[j] = it.timestamp[k]!;
    (out.eventType as Uint8Array)[j] = it.eventType[k]!;
    j++;
  }
  const dataset = new Dataset({
    name: ds.name,
    users,
    items: ds.items,
    interactions: out,
    eventTypes: ds.eventTypes,
    itemMeta: ds.itemMeta,
    userMeta,
    ...(ds.source ? { source: ds.source } : {}),
  });
  return { dataset, users: ids.length - users.size, interactions: it.length - n };
}

type Numeric = Int32Array | Float32Array | Float64Array;

function isNumeric(v: unknown): v is Numeric {
  return v instanceof Int32Array || v instanceof Float32Array || v instanceof Float64Array;
}

/** Arrays saved beside `seenIndices`, one entry per training interaction (EASE's raw values, kNN's weights). */
const SEEN_ALIGNED = ['seenValues', 'userWeights'] as const;
/** Per-user parameter blocks: row u of width length / nUsers. */
const USER_ROWS = ['userFactors', 'userBias'] as const;

/** Row `u` of a CSR emptied (the row stays, so other rows keep their numbers), with arrays aligned to its entries cut alike. */
function emptyRow(indptr: Int32Array, aligned: Numeric[], u: number): { indptr: Int32Array; aligned: Numeric[] } {
  const a = indptr[u]!;
  const b = indptr[u + 1]!;
  const n = b - a;
  if (n === 0) return { indptr, aligned };
  const out = Int32Array.from(indptr);
  for (let r = u + 1; r < out.length; r++) out[r] = out[r]! - n;
  const cut = (x: Numeric): Numeric => {
    const y = new (x.constructor as new (len: number) => Numeric)(x.length - n);
    y.set(x.subarray(0, a));
    y.set(x.subarray(b), a);
    return y;
  };
  return { indptr: out, aligned: aligned.map(cut) };
}

/** Entries of user `u` removed from a CSR by item (user-kNN's item → users lists) and its aligned weights. */
function dropColumn(indptr: Int32Array, cols: Int32Array, aligned: Numeric[], u: number): { indptr: Int32Array; cols: Int32Array; aligned: Numeric[] } {
  let hits = 0;
  for (let p = 0; p < cols.length; p++) if (cols[p] === u) hits++;
  if (hits === 0) return { indptr, cols, aligned };
  const keep = new Int32Array(cols.length - hits);
  const outAligned = aligned.map((x) => new (x.constructor as new (len: number) => Numeric)(x.length - hits));
  const outPtr = new Int32Array(indptr.length);
  let j = 0;
  for (let r = 0; r + 1 < indptr.length; r++) {
    for (let p = indptr[r]!; p < indptr[r + 1]!; p++) {
      if (cols[p] === u) continue;
      keep[j] = cols[p]!;
      aligned.forEach((x, k) => (outAligned[k]![j] = x[p]!));
      j++;
    }
    outPtr[r + 1] = j;
  }
  return { indptr: outPtr, cols: keep, aligned: outAligned };
}

/**
 * A saved model with user row `u` erased: the user's training items (the seen CSR and the arrays
 * aligned with it), their own parameters (user factors, biases: set to 0), and their entries in
 * user-kNN's item → user lists. Members of an ensemble (`members`) are scrubbed alike. Every
 * other user keeps their row number. Item-side parameters that the user's data helped fit are
 * not changed (docs/privacy.md: only a retrain, which no longer sees the user, removes that).
 */
export function scrubSavedModel(saved: SavedModel, u: number): SavedModel {
  if (saved.state === null || typeof saved.state !== 'object') return saved;
  const s = { ...(saved.state as Record<string, unknown>) };
  const nUsers = s.nUsers;
  if (typeof nUsers === 'number' && u >= 0 && u < nUsers) {
    if (s.seenIndptr instanceof Int32Array && s.seenIndices instanceof Int32Array && s.seenIndptr.length === nUsers + 1) {
      const nnz = s.seenIndices.length;
      const names = SEEN_ALIGNED.filter((k) => isNumeric(s[k]) && (s[k] as Numeric).length === nnz);
      const r = emptyRow(s.seenIndptr, [s.seenIndices, ...names.map((k) => s[k] as Numeric)], u);
      s.seenIndptr = r.indptr;
      s.seenIndices = r.aligned[0]!;
      names.forEach((k, i) => (s[k] = r.aligned[i + 1]));
    }
    for (const k of USER_ROWS) {
      const v = s[k];
      if (!isNumeric(v) || v.length % nUsers !== 0) continue;
      const w = v.length / nUsers;
      const copy = v.slice() as Numeric;
      copy.fill(0, u * w, (u + 1) * w);
      s[k] = copy;
    }
    if (s.itemIndptr instanceof Int32Array && s.itemUsers instanceof Int32Array) {
      const aligned = isNumeric(s.itemWeights) && s.itemWeights.length === s.itemUsers.length ? [s.itemWeights] : [];
      const r = dropColumn(s.itemIndptr, s.itemUsers, aligned, u);
      s.itemIndptr = r.indptr;
      s.itemUsers = r.cols;
      if (aligned.length) s.itemWeights = r.aligned[0];
    }
  }
  if (Array.isArray(s.members)) s.members = (s.members as SavedModel[]).map((m) => scrubSavedModel(m, u));
  return { ...saved, state: s };
}

/** Bytes of a tombstone (see `tombstone`). */
const TOMBSTONE_BYTES = 16;

/**
 * An erased user's tombstone: HMAC-SHA256 of their stored id under a random salt kept in the same
 * store, so that a server can drop them from data files it reloads at start, without keeping the
 * id or its pseudonym. Anyone holding the store (and so the salt) can test whether a given id
 * was erased (docs/privacy.md).
 */
export function tombstone(salt: Buffer, id: string): string {
  return createHmac('sha256', salt).update(id, 'utf8').digest().subarray(0, TOMBSTONE_BYTES).toString('base64url');
}
