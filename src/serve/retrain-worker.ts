/**
 * Worker thread for retrains: fits a registry recommender on the data it is sent and returns the
 * encoded snapshot body, so that a long fit never blocks the server's event loop.
 */
import { Dataset, IdMap, type ItemMeta } from '../data/dataset.js';
import { ChorusError } from '../errors.js';
import { createRecommender } from '../recommenders/registry.js';
import { serveWorker } from '../util/workers.js';
import { encodeSnapshot } from './model.js';
import { toWire, type WireError } from './worker-error.js';

export interface RetrainJob {
  kind: string;
  config: Record<string, unknown>;
  name: string;
  users: string[];
  items: string[];
  user: Int32Array;
  item: Int32Array;
  value: Float32Array;
  timestamp: Float64Array;
  eventType: Uint8Array;
  eventTypes: string[];
  itemMeta: (ItemMeta | undefined)[];
}

export interface RetrainResult {
  body: Uint8Array;
  kind: string;
  config: Record<string, unknown>;
  seconds: number;
}

/** A fit, or the ChorusError that stopped it (sent as data: see ./worker-error.ts). */
export type RetrainReply = { ok: true; result: RetrainResult } | { ok: false; error: WireError };

async function fit(j: RetrainJob): Promise<RetrainResult> {
  const t0 = performance.now();
  const train = new Dataset({
    name: j.name,
    users: IdMap.from(j.users),
    items: IdMap.from(j.items),
    interactions: { length: j.user.length, user: j.user, item: j.item, value: j.value, timestamp: j.timestamp, eventType: j.eventType },
    eventTypes: j.eventTypes,
    itemMeta: j.itemMeta,
  });
  const rec = createRecommender(j.kind, j.config);
  await rec.fit(train);
  const csr = train.byUser();
  const body = encodeSnapshot({ rec, itemIds: j.items, userIds: j.users, seenIndptr: csr.indptr, seenIndices: csr.indices });
  return { body, kind: rec.kind, config: { ...rec.config }, seconds: (performance.now() - t0) / 1000 };
}

serveWorker(async (payload): Promise<RetrainReply> => {
  try {
    return { ok: true, result: await fit(payload as RetrainJob) };
  } catch (e) {
    // Anything else (a bug) crosses as a plain Error and becomes a 500, as it should.
    if (e instanceof ChorusError) return { ok: false, error: toWire(e) };
    throw e;
  }
});
