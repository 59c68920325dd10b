import { randomUUID } from 'node:crypto';
import type { Dataset } from '../data/dataset.js';
import { NotFoundError } from '../errors.js';
import type { SnapshotMeta, Store } from '../store/types.js';
import { ConflictError } from './errors.js';
import { decodeSnapshot, encodeSnapshot, type ModelFactory, type ServedModel } from './model.js';
import { fitSnapshot } from './training.js';

export interface SnapshotsConfig {
  /** Recommender fitted for the first snapshot and on retrain. */
  model: { kind: string; config: Record<string, unknown> };
  /** Fit retrains in a worker thread (registry models) so requests never wait on a fit. */
  retrainInWorker: boolean;
  /**
   * Snapshots kept: after each new one, all but the newest `keepSnapshots` are deleted, except the
   * active one and the one rollback would go back to. 0 keeps every snapshot.
   */
  keepSnapshots: number;
}

type Log = (msg: string) => void;

/** A fitted snapshot not yet stored, and the size of the data it was fitted on (for the log line). */
export interface FittedSnapshot {
  meta: SnapshotMeta;
  body: Buffer;
  interactions: number;
}

/**
 * The model snapshots and the one being served: fit (first start, retrain), save a copy, list,
 * activate, roll back, delete, and the retention policy. `install(model, meta)` is told about each
 * model that becomes active, already decoded, so the rest of the engine re-aligns to it.
 */
export class Snapshots {
  /**
   * Decode with `ServedModel.contentId` (a SHA-256 of the body): set before `start` where the shared
   * pool cache is on (./shared-pools.ts), so that no body is hashed where nothing reads the hash.
   */
  contentIds = false;
  private served!: ServedModel;
  private meta!: SnapshotMeta;
  private readonly store: Store;
  private readonly factory: ModelFactory;
  private readonly config: SnapshotsConfig;
  private readonly counters: { retrains: number };
  private readonly install: (m: ServedModel, meta: SnapshotMeta) => void;
  private readonly log: Log;

  constructor(store: Store, factory: ModelFactory, config: SnapshotsConfig, counters: { retrains: number }, install: (m: ServedModel, meta: SnapshotMeta) => void, log: Log) {
    this.store = store;
    this.factory = factory;
    this.config = config;
    this.counters = counters;
    this.install = install;
    this.log = log;
  }

  /** The model being served. */
  get model(): ServedModel {
    return this.served;
  }

  get active(): SnapshotMeta {
    return this.meta;
  }

  /** Serve the snapshot the store last activated, or fit and activate a first one on `base`. */
  async start(base: Dataset): Promise<void> {
    const acts = await this.store.snapshots.activations(1);
    if (acts.length > 0) {
      const snap = await this.store.snapshots.getSnapshot(acts[0]!.snapshotId);
      if (!snap) throw new NotFoundError(`active snapshot ${acts[0]!.snapshotId} is missing from the store`);
      this.use(decodeSnapshot(snap.meta.id, snap.body, this.factory, this.contentIds), snap.meta);
    } else {
      const meta = await this.add(await this.fit('initial', base));
      await this.activate(meta.id);
    }
  }

  /**
   * A cluster server (./cluster/roles.ts): serve stored snapshot `id` as the learner activated it,
   * recording no activation of its own (the learner did). Also re-reads the active one after an
   * erasure rewrote its body.
   */
  async follow(id: string): Promise<void> {
    const snap = await this.store.snapshots.getSnapshot(id);
    if (!snap) throw new NotFoundError(`snapshot ${id}, active on the learner, is missing from the store`);
    this.use(decodeSnapshot(snap.meta.id, snap.body, this.factory, this.contentIds), snap.meta);
  }

  /** Decode a snapshot body with this server's model factory (erasure checks its rewrite this way). */
  decode(id: string, body: Buffer): ServedModel {
    return decodeSnapshot(id, body, this.factory, this.contentIds);
  }

  /**
   * Erasure: the active snapshot's stored body was rewritten without a user; serve `m`, its
   * decoding. `install` replaces the usual install for this one (the erasure's lighter one).
   */
  reinstall(m: ServedModel, install?: (m: ServedModel) => void): void {
    if (!install) return this.use(m, this.meta);
    this.served = m;
    install(m);
  }

  private use(m: ServedModel, meta: SnapshotMeta): void {
    this.served = m;
    this.meta = meta;
    this.install(m, meta);
  }

  private async fit(source: string, train: Dataset, inWorker = false): Promise<FittedSnapshot> {
    const { kind, config } = this.config.model;
    const { meta, body } = await fitSnapshot(source, kind, config, train, inWorker ? null : this.factory);
    return { meta, body, interactions: train.nInteractions };
  }

  /** Store a fitted snapshot (not activated) and apply the retention policy. */
  async add(f: FittedSnapshot): Promise<SnapshotMeta> {
    await this.put(f.meta, f.body);
    this.log(`snapshot ${f.meta.id}: ${f.meta.kind} on ${f.interactions} interactions (${f.meta.info.fitSeconds} s)`);
    return f.meta;
  }

  private async put(meta: SnapshotMeta, body: Buffer): Promise<void> {
    await this.store.snapshots.putSnapshot(meta, body);
    await this.prune();
  }

  /**
   * Fit a retrain on `train()` (called once the fit starts), neither stored nor activated: the
   * engine stores it with `add` and activates it under its snapshot lock (./engine.ts), so a long
   * fit never holds the lock. The engine runs one retrain at a time.
   */
  async fitRetrain(train: () => Dataset): Promise<FittedSnapshot> {
    const fitted = await this.fit('retrain', train(), this.config.retrainInWorker);
    this.counters.retrains++;
    return fitted;
  }

  /** Store the active model again under a new id (a named restore point). */
  async save(): Promise<SnapshotMeta> {
    const meta: SnapshotMeta = { ...this.meta, id: `${this.meta.id}-copy-${randomUUID().slice(0, 4)}`, created: Date.now(), source: 'manual' };
    await this.put(meta, encodeSnapshot(this.served));
    return meta;
  }

  async list(): Promise<{ active: string; snapshots: SnapshotMeta[] }> {
    return { active: this.meta.id, snapshots: await this.store.snapshots.listSnapshots() };
  }

  /**
   * A stored snapshot's model, decoded on its own and not served (snapshot evaluation): the
   * active snapshot's is the served model itself, only to be read.
   */
  async peek(id: string): Promise<{ meta: SnapshotMeta; model: ServedModel }> {
    if (id === this.meta.id) return { meta: this.meta, model: this.served };
    const snap = await this.store.snapshots.getSnapshot(id);
    if (!snap) throw new NotFoundError(`unknown snapshot "${id}"`, 'id');
    return { meta: snap.meta, model: decodeSnapshot(id, snap.body, this.factory, this.contentIds) };
  }

  /** Serve snapshot `id`; `decoded` is its model already decoded by `peek` (not fetched and decoded again). */
  async activate(id: string, decoded?: { meta: SnapshotMeta; model: ServedModel }): Promise<SnapshotMeta> {
    let found = decoded;
    if (!found) {
      const snap = await this.store.snapshots.getSnapshot(id);
      if (!snap) throw new NotFoundError(`unknown snapshot "${id}"`, 'id');
      found = { meta: snap.meta, model: decodeSnapshot(id, snap.body, this.factory, this.contentIds) };
    }
    await this.store.snapshots.activateSnapshot(id);
    this.use(found.model, found.meta);
    return found.meta;
  }

  /** The snapshot active before the current one that still exists (rollback's target), if any. */
  private async previous(exists: ReadonlySet<string>): Promise<string | undefined> {
    const current = this.meta?.id;
    return (await this.store.snapshots.activations(1000)).find((a) => a.snapshotId !== current && exists.has(a.snapshotId))?.snapshotId;
  }

  /** Go back to the snapshot that was active before the current one (skipping deleted ones). */
  async rollback(): Promise<SnapshotMeta> {
    const exists = new Set((await this.store.snapshots.listSnapshots()).map((m) => m.id));
    const prev = await this.previous(exists);
    if (!prev) throw new ConflictError('no earlier snapshot to roll back to');
    return this.activate(prev);
  }

  /** Delete a snapshot that is not being served. */
  async delete(id: string): Promise<void> {
    if (id === this.meta.id) throw new ConflictError(`snapshot "${id}" is the active one; activate another before deleting it`, 'id');
    if (!(await this.store.snapshots.deleteSnapshot(id))) throw new NotFoundError(`unknown snapshot "${id}"`, 'id');
  }

  /** The retention policy: keep the newest `keepSnapshots`, the active one and rollback's target. */
  private async prune(): Promise<void> {
    const keep = this.config.keepSnapshots;
    if (keep <= 0) return;
    const all = await this.store.snapshots.listSnapshots(); // oldest first
    if (all.length <= keep) return;
    const exists = new Set(all.map((m) => m.id));
    const kept = new Set(all.slice(-keep).map((m) => m.id));
    if (this.meta) kept.add(this.meta.id);
    const prev = await this.previous(exists);
    if (prev) kept.add(prev);
    const gone = all.filter((m) => !kept.has(m.id));
    for (const m of gone) await this.store.snapshots.deleteSnapshot(m.id);
    if (gone.length > 0) this.log(`snapshot retention (keep ${keep}): deleted ${gone.map((m) => m.id).join(', ')}`);
  }
}
