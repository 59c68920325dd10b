/**
 * Worker thread for retrains: fits a registry recommender on the data it is sent and returns the
 * encoded snapshot body, so that a long fit never blocks the server's event loop.
 */
import { unpackDataset, type PackedDataset } from '../data/dataset-pack.js';
import { createRecommender } from '../recommenders/registry.js';
import { serveWorker } from '../util/workers.js';
import { encodeSnapshot } from './model.js';

/** The model to fit and its training data (src/serve/training.ts sends no user metadata or source). */
export interface RetrainJob extends PackedDataset {
  kind: string;
  config: Record<string, unknown>;
}

export interface RetrainResult {
  body: Uint8Array;
  kind: string;
  config: Record<string, unknown>;
  seconds: number;
}


async function fit(j: RetrainJob): Promise<RetrainResult> {
  const t0 = performance.now();
  const train = unpackDataset(j);
  const rec = createRecommender(j.kind, j.config);
  await rec.fit(train);
  const csr = train.byUser();
  const body = encodeSnapshot({ rec, itemIds: j.items, userIds: j.users, seenIndptr: csr.indptr, seenIndices: csr.indices });
  return { body, kind: rec.kind, config: { ...rec.config }, seconds: (performance.now() - t0) / 1000 };
}

// A ChorusError thrown by the fit (a bad config: 400 with its field) keeps its class in the
// server thread (src/util/worker-error.ts); anything else (a bug) stays a plain Error, a 500.
serveWorker((payload) => fit(payload as RetrainJob));
