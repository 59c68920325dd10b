import { NotFoundError } from '../errors.js';
import type { CatalogueKind, Store } from '../store/types.js';
import { ConflictError, RequestError } from './errors.js';
import type { ServedModel } from './model.js';
import type { ServingPolicy } from './serving-policy.js';

export interface EntryInput {
  id: string;
  meta: Record<string, unknown>;
}

/**
 * Rows per store write when entries are put in bulk. Each chunk is one commit and the writes
 * between chunks let the event loop run, so a million-row import never holds the server for
 * longer than one chunk (a few tens of milliseconds).
 */
export const PUT_CHUNK = 2000;

/** What the policy hashes from an item: its categories, tags and attributes (not free text or title). */
export function featuresOf(meta: Record<string, unknown>): unknown {
  return { categories: meta.categories ?? null, tags: meta.tags ?? null, attributes: meta.attributes ?? null };
}

/**
 * The catalogue as served: items (each with the features its policy prepared once) and users in
 * memory, in load order, and what the active model makes of them: model items no longer in the
 * catalogue (`deleted`), catalogue items the model does not know (`cold`), prepared features by
 * model index. Every write is committed to the store before memory changes. `version` changes
 * whenever the items or the model change, so caches keyed on it (candidate pools, anonymous
 * scores) are dropped exactly then.
 */
export class Catalogue {
  version = 0;
  /** Catalogue items the active model does not know, oldest first. */
  cold: string[] = [];
  /** 1 where a model item is no longer in the catalogue. */
  deleted = new Uint8Array(0);
  /** The policy's prepared features of each model item (its `hashItem(null)` for deleted ones). */
  hashedByIndex: unknown[] = [];
  private readonly items = new Map<string, { meta: Record<string, unknown>; hashed: unknown }>();
  private readonly users = new Map<string, Record<string, unknown>>();
  private model: ServedModel | null = null;
  private readonly store: Store;
  private readonly policy: ServingPolicy;

  constructor(store: Store, policy: ServingPolicy) {
    this.store = store;
    this.policy = policy;
  }

  /** Read the stored catalogue into memory (at start). */
  async load(): Promise<void> {
    for (const e of await this.store.catalogue.all('items')) this.items.set(e.id, { meta: e.meta, hashed: this.policy.hashItem(featuresOf(e.meta)) });
    for (const e of await this.store.catalogue.all('users')) this.users.set(e.id, e.meta);
    this.version++;
  }

  /**
   * Read the stored catalogue again, replacing what memory holds (a cluster server, after the
   * learner changed the catalogue), and re-align to the served model.
   */
  async reload(): Promise<void> {
    const items = await this.store.catalogue.all('items');
    const users = await this.store.catalogue.all('users');
    this.items.clear();
    this.users.clear();
    for (const e of items) this.items.set(e.id, { meta: e.meta, hashed: this.policy.hashItem(featuresOf(e.meta)) });
    for (const e of users) this.users.set(e.id, e.meta);
    this.version++;
    if (this.model) this.bind(this.model);
  }

  /** A new active model: which of its items are gone, which catalogue items it does not know. */
  bind(m: ServedModel): void {
    this.version++;
    this.model = m;
    const n = m.itemIds.length;
    this.deleted = new Uint8Array(n);
    this.hashedByIndex = new Array<unknown>(n);
    for (let i = 0; i < n; i++) {
      const it = this.items.get(m.itemIds[i]!);
      if (!it) this.deleted[i] = 1;
      this.hashedByIndex[i] = it ? it.hashed : this.policy.hashItem(null);
    }
    this.cold = [...this.items.keys()].filter((id) => !m.itemIndex.has(id));
  }

  get(kind: CatalogueKind, id: string): Record<string, unknown> | undefined {
    return kind === 'items' ? this.items.get(id)?.meta : this.users.get(id);
  }

  hasItem(id: string): boolean {
    return this.items.has(id);
  }

  /** An item's features as the policy prepared them. */
  hashedItem(id: string): unknown {
    return this.items.get(id)?.hashed;
  }

  itemIds(): IterableIterator<string> {
    return this.items.keys();
  }

  size(kind: CatalogueKind): number {
    return kind === 'items' ? this.items.size : this.users.size;
  }

  /**
   * One page of entries in catalogue order. Walks the map and stops at the page's end: nothing of
   * the rest of the catalogue is copied (the route caps `limit`; see ListQuery).
   */
  page(kind: CatalogueKind, offset: number, limit: number): EntryInput[] {
    const out: EntryInput[] = [];
    if (limit <= 0) return out;
    let n = 0;
    const it = kind === 'items' ? this.items.entries() : this.users.entries();
    for (const [id, v] of it) {
      if (n++ < offset) continue;
      out.push({ id, meta: kind === 'items' ? (v as { meta: Record<string, unknown> }).meta : (v as Record<string, unknown>) });
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * Insert or replace entries. `mustBeNew` refuses ids that exist (POST). Every entry is checked
   * before anything is written; up to PUT_CHUNK entries are all or none (one commit), a larger
   * put is committed chunk by chunk, the event loop running between chunks, and a store failure
   * midway keeps the chunks already committed (each is in memory exactly when it is in the store).
   */
  async put(kind: CatalogueKind, entries: readonly EntryInput[], mustBeNew = false): Promise<{ created: number; updated: number }> {
    const ids = new Set<string>();
    entries.forEach((e, i) => {
      if (ids.has(e.id)) throw new RequestError(`duplicate id "${e.id}"`, `[${i}].id`);
      ids.add(e.id);
      if (mustBeNew && this.get(kind, e.id)) throw new ConflictError(`${kind === 'items' ? 'item' : 'user'} "${e.id}" already exists`, 'id');
    });
    let created = 0;
    for (let from = 0; from < entries.length; from += PUT_CHUNK) {
      created += await this.putChunk(kind, entries.slice(from, from + PUT_CHUNK));
    }
    return { created, updated: entries.length - created };
  }

  private async putChunk(kind: CatalogueKind, entries: readonly EntryInput[]): Promise<number> {
    const now = Date.now();
    if (kind === 'items') this.version++;
    const created = await this.store.catalogue.upsert(
      kind,
      entries.map((e) => ({ id: e.id, meta: e.meta, created: now, updated: now })),
    );
    for (const e of entries) {
      if (kind === 'users') {
        this.users.set(e.id, e.meta);
        continue;
      }
      const hashed = this.policy.hashItem(featuresOf(e.meta));
      const isNew = !this.items.has(e.id);
      this.items.set(e.id, { meta: e.meta, hashed });
      const i = this.model?.itemIndex.get(e.id);
      if (i !== undefined) {
        this.deleted[i] = 0;
        this.hashedByIndex[i] = hashed;
      } else if (isNew) this.cold.push(e.id);
    }
    // Again after the in-memory update: a pool computed while the write was pending is stale.
    if (kind === 'items') this.version++;
    return created;
  }

  /** Erasure: the user's entry leaves memory (the store deletes its row in the erasure's transaction). */
  forgetUser(id: string): boolean {
    return this.users.delete(id);
  }

  async remove(kind: CatalogueKind, id: string): Promise<void> {
    if (!this.get(kind, id)) throw new NotFoundError(`unknown ${kind === 'items' ? 'item' : 'user'} "${id}"`, 'id');
    await this.store.catalogue.remove(kind, id);
    if (kind === 'users') {
      this.users.delete(id);
      return;
    }
    this.items.delete(id);
    this.version++;
    const i = this.model?.itemIndex.get(id);
    if (i !== undefined) this.deleted[i] = 1;
    else this.cold = this.cold.filter((x) => x !== id);
  }
}
