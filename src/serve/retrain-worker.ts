/**
 * Worker thread for retrains: fits a registry recommender on the data it is sent and returns the
 * encoded snapshot body, so that a long fit never blocks the server's event loop.
 */
import { Dataset, IdMap, type ItemMeta } from '../data/dataset.js';
import { createRecommender } from '../recommenders/registry.js';
import { serveWorker } from '../util/workers.js';
import { encodeSnapshot } from './model.js';

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

// A ChorusError thrown by the fit (a bad config: 400 with its field) keeps its class in the
// server thread (src/util/worker-error.ts); anything else (a bug) stays a plain Error, a 500.
serveWorker((payload) => fit(payload as RetrainJob));
