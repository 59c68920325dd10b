/**
 * The `Dataset` contract: dense user and item indices with maps back to external ids,
 * interactions as parallel typed arrays, CSR views by user and by item, item/user metadata.
 *
 * Splits (train/test/validation) are Datasets that share the *same* id maps as their parent,
 * so an index means the same user or item in every part of a split.
 */
import type { ValueScale } from './report.js';
import { groupByRowThenTime } from './sort.js';

/** Two-way map between external string ids and dense indices 0..size-1. */
export class IdMap {
  private readonly index = new Map<string, number>();
  private readonly external: string[] = [];

  static from(ids: Iterable<string>): IdMap {
    const m = new IdMap();
    for (const id of ids) m.add(id);
    return m;
  }

  get size(): number {
    return this.external.length;
  }

  /** Index of `id`, adding it if new. */
  add(id: string): number {
    let i = this.index.get(id);
    if (i === undefined) {
      i = this.external.length;
      this.index.set(id, i);
      this.external.push(id);
    }
    return i;
  }

  /** Index of `id`, or -1 when unknown. */
  toIndex(id: string): number {
    return this.index.get(id) ?? -1;
  }

  has(id: string): boolean {
    return this.index.has(id);
  }

  toExternal(index: number): string {
    const id = this.external[index];
    if (id === undefined) throw new RangeError(`index ${index} out of range 0..${this.external.length - 1}`);
    return id;
  }

  /** All external ids in index order (a copy). */
  ids(): string[] {
    return this.external.slice();
  }

  clone(): IdMap {
    return IdMap.from(this.external);
  }
}

/** Compressed sparse rows: row r's entries are indices/values[indptr[r] .. indptr[r+1]). */
export interface Csr {
  readonly rows: number;
  readonly cols: number;
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float32Array;
  /** Position of each entry in the interaction arrays (lets a view reach timestamps, event types). */
  readonly order: Int32Array;
}

/** Interactions as parallel typed arrays, one entry per event. */
export interface Interactions {
  readonly length: number;
  readonly user: Int32Array;
  readonly item: Int32Array;
  /** Rating, play count, dwell, or 1 for a bare implicit event. */
  readonly value: Float32Array;
  /** Unix seconds; NaN when the source has none. */
  readonly timestamp: Float64Array;
  /** Index into `Dataset.eventTypes`. */
  readonly eventType: Uint8Array;
}

export interface ItemMeta {
  title?: string;
  /** Free text used by the encoders (description, overview …). */
  text?: string;
  tags?: string[];
  categories?: string[];
  attributes?: Record<string, string | number | boolean>;
}

export interface UserMeta {
  text?: string;
  attributes?: Record<string, string | number | boolean>;
}

export interface DatasetSource {
  /** Path of the interaction file as given. */
  file: string;
  /** sha256 of the file, hex (reporting stamps print a prefix). */
  sha256?: string;
  /** Format the reader used (movielens-csv, movielens-dat, udata, csv, tsv, jsonl, synthetic …). */
  format: string;
  /** The value column's scale, declared or read from the data (kept in snapshots). */
  valueScale?: ValueScale;
}

export interface DatasetInit {
  name: string;
  users: IdMap;
  items: IdMap;
  interactions: Interactions;
  eventTypes?: string[];
  itemMeta?: (ItemMeta | undefined)[];
  userMeta?: (UserMeta | undefined)[];
  source?: DatasetSource;
}

export class Dataset {
  readonly name: string;
  readonly users: IdMap;
  readonly items: IdMap;
  readonly interactions: Interactions;
  readonly eventTypes: string[];
  /** Indexed by item index; sparse (undefined where an item has no metadata). */
  readonly itemMeta: (ItemMeta | undefined)[];
  readonly userMeta: (UserMeta | undefined)[];
  readonly source?: DatasetSource;
  private userCsr?: Csr;
  private itemCsr?: Csr;

  constructor(init: DatasetInit) {
    this.name = init.name;
    this.users = init.users;
    this.items = init.items;
    this.interactions = init.interactions;
    this.eventTypes = init.eventTypes ?? ['interaction'];
    this.itemMeta = init.itemMeta ?? [];
    this.userMeta = init.userMeta ?? [];
    this.source = init.source;
  }

  get nUsers(): number {
    return this.users.size;
  }

  get nItems(): number {
    return this.items.size;
  }

  get nInteractions(): number {
    return this.interactions.length;
  }

  /** CSR by user (rows = users, cols = items), entries sorted by time then item. Built once, cached. */
  byUser(): Csr {
    this.userCsr ??= buildCsr(this.interactions, 'user', this.nUsers, this.nItems);
    return this.userCsr;
  }

  /** CSR by item (rows = items, cols = users). Built once, cached. */
  byItem(): Csr {
    this.itemCsr ??= buildCsr(this.interactions, 'item', this.nItems, this.nUsers);
    return this.itemCsr;
  }

  /** A dataset over the same id maps holding only the interactions at `positions`. */
  subset(positions: Int32Array, name = this.name): Dataset {
    const it = this.interactions;
    const n = positions.length;
    const out: Interactions = {
      length: n,
      user: new Int32Array(n),
      item: new Int32Array(n),
      value: new Float32Array(n),
      timestamp: new Float64Array(n),
      eventType: new Uint8Array(n),
    };
    for (let k = 0; k < n; k++) {
      const p = positions[k]!;
      (out.user as Int32Array)[k] = it.user[p]!;
      (out.item as Int32Array)[k] = it.item[p]!;
      (out.value as Float32Array)[k] = it.value[p]!;
      (out.timestamp as Float64Array)[k] = it.timestamp[p]!;
      (out.eventType as Uint8Array)[k] = it.eventType[p]!;
    }
    return new Dataset({
      name,
      users: this.users,
      items: this.items,
      interactions: out,
      eventTypes: this.eventTypes,
      itemMeta: this.itemMeta,
      userMeta: this.userMeta,
      source: this.source,
    });
  }

  /** Number of interactions per item. */
  itemCounts(): Int32Array {
    const c = new Int32Array(this.nItems);
    const items = this.interactions.item;
    for (let k = 0; k < items.length; k++) c[items[k]!]++;
    return c;
  }

  userCounts(): Int32Array {
    const c = new Int32Array(this.nUsers);
    const users = this.interactions.user;
    for (let k = 0; k < users.length; k++) c[users[k]!]++;
    return c;
  }
}

/** Build interactions from plain arrays (tests, synthetic data, small imports). */
export function interactionsFrom(rows: {
  user: ArrayLike<number>;
  item: ArrayLike<number>;
  value?: ArrayLike<number>;
  timestamp?: ArrayLike<number>;
  eventType?: ArrayLike<number>;
}): Interactions {
  const n = rows.user.length;
  return {
    length: n,
    user: Int32Array.from(rows.user),
    item: Int32Array.from(rows.item),
    value: rows.value ? Float32Array.from(rows.value) : new Float32Array(n).fill(1),
    timestamp: rows.timestamp ? Float64Array.from(rows.timestamp) : new Float64Array(n).fill(NaN),
    eventType: rows.eventType ? Uint8Array.from(rows.eventType) : new Uint8Array(n),
  };
}

/**
 * Convenience for tests and the library quick start: a dataset from (user, item[, value[, ts]])
 * triples with string or numeric external ids.
 */
export function datasetFromTriples(
  triples: readonly (readonly [string | number, string | number, number?, number?])[],
  name = 'inline',
): Dataset {
  const users = new IdMap();
  const items = new IdMap();
  const u: number[] = [];
  const i: number[] = [];
  const v: number[] = [];
  const t: number[] = [];
  for (const [uu, ii, vv, tt] of triples) {
    u.push(users.add(String(uu)));
    i.push(items.add(String(ii)));
    v.push(vv ?? 1);
    t.push(tt ?? NaN);
  }
  return new Dataset({ name, users, items, interactions: interactionsFrom({ user: u, item: i, value: v, timestamp: t }) });
}

function buildCsr(it: Interactions, by: 'user' | 'item', rows: number, cols: number): Csr {
  const key = by === 'user' ? it.user : it.item;
  const other = by === 'user' ? it.item : it.user;
  const n = it.length;
  // Order inside a row: by timestamp, then by the other index, then by position (P1's tie-break
  // rule when indices follow external id order, as the loaders arrange). Counting sorts, no
  // comparator over all n entries: see sort.ts.
  const { perm, indptr } = groupByRowThenTime(key, rows, other, cols, it.timestamp);
  const indices = new Int32Array(n);
  const values = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const p = perm[k]!;
    indices[k] = other[p]!;
    values[k] = it.value[p]!;
  }
  return { rows, cols, indptr, indices, values, order: perm };
}
