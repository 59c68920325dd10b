import { randomUUID } from 'node:crypto';
import { Dataset, interactionsFrom } from '../data/dataset.js';
import type { SnapshotMeta } from '../store/types.js';
import { WorkerPool, workerUrl } from '../util/workers.js';
import { encodeSnapshot, type ModelFactory } from './model.js';
import type { RetrainJob, RetrainResult } from './retrain-worker.js';

/**
 * Training data for a retrain: the base dataset plus every positive online reward (value 1, now),
 * over id maps that extend the base ones (base indices stay valid) with new catalogue items and
 * online users.
 */
export function withOnline(base: Dataset, catalogueItems: Iterable<string>, histories: ReadonlyMap<string, readonly string[]>): Dataset {
  const items = base.items.clone();
  const users = base.users.clone();
  for (const id of catalogueItems) items.add(id);
  const u: number[] = Array.from(base.interactions.user);
  const i: number[] = Array.from(base.interactions.item);
  const v: number[] = Array.from(base.interactions.value);
  const t: number[] = Array.from(base.interactions.timestamp);
  const now = Date.now() / 1000;
  for (const [user, hist] of histories) {
    const ui = users.add(user);
    for (const item of hist) {
      u.push(ui);
      i.push(items.add(item));
      v.push(1);
      t.push(now);
    }
  }
  return new Dataset({
    name: `${base.name}+online`,
    users,
    items,
    interactions: interactionsFrom({ user: u, item: i, value: v, timestamp: t }),
    eventTypes: base.eventTypes,
    itemMeta: base.itemMeta,
    userMeta: base.userMeta,
  });
}

/** Fit a registry model in a worker thread (the server keeps answering meanwhile). */
async function fitInWorker(kind: string, config: Record<string, unknown>, train: Dataset): Promise<RetrainResult> {
  const pool = new WorkerPool(workerUrl(import.meta.url, './retrain-worker.js'), 1);
  try {
    const it = train.interactions;
    const job: RetrainJob = {
      kind,
      config,
      name: train.name,
      users: train.users.ids(),
      items: train.items.ids(),
      user: it.user,
      item: it.item,
      value: it.value,
      timestamp: it.timestamp,
      eventType: it.eventType,
      eventTypes: train.eventTypes,
      itemMeta: train.itemMeta,
    };
    // A ChorusError thrown in the worker (a bad config: 400 with its field) keeps its class here.
    return await pool.run<RetrainResult>(0, job);
  } finally {
    await pool.close();
  }
}

/**
 * Fit `kind` on `train` and encode it as a snapshot: with `factory` in this thread, or (factory
 * null) with the recommender registry in a worker thread.
 */
export async function fitSnapshot(
  source: string,
  kind: string,
  config: Record<string, unknown>,
  train: Dataset,
  factory: ModelFactory | null,
): Promise<{ meta: SnapshotMeta; body: Buffer }> {
  const t0 = performance.now();
  let body: Buffer;
  let fitted: { kind: string; config: Readonly<Record<string, unknown>> };
  if (!factory) {
    const r = await fitInWorker(kind, config, train);
    body = Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength);
    fitted = r;
  } else {
    const rec = await factory.fit(kind, config, train);
    const csr = train.byUser();
    body = encodeSnapshot({ rec, itemIds: train.items.ids(), userIds: train.users.ids(), seenIndptr: csr.indptr, seenIndices: csr.indices });
    fitted = rec;
  }
  const meta: SnapshotMeta = {
    id: `${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomUUID().slice(0, 8)}`,
    created: Date.now(),
    kind: fitted.kind,
    source,
    info: {
      config: fitted.config,
      items: train.nItems,
      users: train.nUsers,
      interactions: train.nInteractions,
      fitSeconds: Number(((performance.now() - t0) / 1000).toFixed(3)),
      ...(factory ? {} : { fittedIn: 'worker thread' }),
    },
  };
  return { meta, body };
}
