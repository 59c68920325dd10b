/**
 * Worker thread for the hybrid's member fits (./hybrid.ts, `threads` > 1): the training data comes
 * once, in `workerData`; each request names one member (registry kind and config) and which data
 * to fit it on, the validation split's fit part (`tune`) or all of it (`full`), and gets back the
 * fitted member's saved state (`toJSON()`), which the hybrid restores with the registry.
 */
import type { Dataset } from '../data/dataset.js';
import { unpackDataset, type PackedDataset } from '../data/dataset-pack.js';
import { P1_SPLIT, validationSplit } from '../data/split.js';
import { serveWorker } from '../util/workers.js';
import { createRecommender, getRecommenderEntry, listRecommenders } from './registry.js';
import type { SavedModel } from './types.js';

export interface HybridWorkerData {
  train: PackedDataset;
}

export type HybridWorkerRequest =
  /** The kinds this thread's registry knows (the built-in ones: a kind registered at run time by a
   * layer above, such as marl's `team-item`, exists only in the thread that registered it). */
  | { op: 'kinds' }
  | { op: 'fit'; kind: string; config?: Record<string, unknown>; part: 'tune' | 'full' };

export interface MemberFitResult {
  saved: SavedModel;
  seconds: number;
}

let full: Dataset | undefined;
let tunePart: Dataset | undefined;

/**
 * The member's config for a fit in this thread. A model with its own `threads` option (ALS,
 * item-kNN, BPR, a nested hybrid) that the member does not set explicitly fits with one thread
 * here: the hybrid already runs one fit per core, so the model's automatic choice (up to 2) would
 * oversubscribe the cores. Every such model gives the same state with any thread count (ALS and
 * kNN by construction; BPR is deterministic only with 1, its default), so the saved config keeps
 * the value the member asked for (the default) and the hybrid's saved state does not depend on
 * where its members were fitted. An explicit `threads` is respected.
 */
function threadConfig(kind: string, config: Record<string, unknown> | undefined): { fit: Record<string, unknown> | undefined; asked: unknown } {
  const defaults = getRecommenderEntry(kind).defaults as Record<string, unknown>;
  if (!Object.prototype.hasOwnProperty.call(defaults, 'threads') || config?.threads !== undefined) return { fit: config, asked: undefined };
  return { fit: { ...config, threads: 1 }, asked: defaults.threads };
}

async function fitMember(req: Extract<HybridWorkerRequest, { op: 'fit' }>, data: HybridWorkerData): Promise<MemberFitResult> {
  const t0 = performance.now();
  full ??= unpackDataset(data.train);
  // The same rule and data as the hybrid's own split in the main thread, so the same fit part.
  if (req.part === 'tune') tunePart ??= validationSplit(full, P1_SPLIT).train;
  const { fit, asked } = threadConfig(req.kind, req.config);
  const rec = createRecommender(req.kind, fit);
  await rec.fit(req.part === 'tune' ? tunePart! : full);
  const saved = rec.toJSON();
  if (asked !== undefined) saved.config = { ...(saved.config as Record<string, unknown>), threads: asked };
  return { saved, seconds: (performance.now() - t0) / 1000 };
}

serveWorker<HybridWorkerData>((payload, data) => {
  const req = payload as HybridWorkerRequest;
  return req.op === 'kinds' ? listRecommenders().map((r) => r.name) : fitMember(req, data);
});
