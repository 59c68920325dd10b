import { createHash } from 'node:crypto';
import type { Dataset } from '../data/dataset.js';
import type { Recommender, SavedModel } from '../recommenders/types.js';
import { parse, stringify } from '../util/serialize.js';
import { ChorusError } from '../errors.js';
import { createRecommender, restoreRecommender } from '../recommenders/registry.js';

/** How the server builds and restores recommenders (the CLI wires the recommender registry in). */
export interface ModelFactory {
  /** Fit a new recommender of `kind` with `config` on `train`. */
  fit(kind: string, config: Record<string, unknown>, train: Dataset): Promise<Recommender>;
  /** Rebuild a recommender from its saved form. */
  restore(saved: SavedModel): Recommender;
}

/**
 * A model as served: the recommender plus the id maps and training-seen items it was fitted with
 * (model indices are those of the snapshot, not of today's catalogue).
 */
export interface ServedModel {
  snapshotId: string;
  rec: Recommender;
  itemIds: string[];
  userIds: string[];
  itemIndex: Map<string, number>;
  userIndex: Map<string, number>;
  /** CSR by user of the training interactions, in model indices. */
  seenIndptr: Int32Array;
  seenIndices: Int32Array;
  /**
   * The snapshot id and a SHA-256 of the stored body this model was decoded from: the same on
   * every server that reads that body (an erasure rewrites the body under the same id, so the id
   * alone does not name the model). The shared pool cache (./shared-pools.ts) keys on it; absent
   * where that cache is off (no hashing then) and for a model not decoded from a stored body, which
   * that cache then leaves alone.
   */
  contentId?: string;
}

const FORMAT = 1;

export function encodeSnapshot(m: Omit<ServedModel, 'snapshotId' | 'itemIndex' | 'userIndex'>): Buffer {
  return Buffer.from(
    stringify({ format: FORMAT, model: m.rec.toJSON(), itemIds: m.itemIds, userIds: m.userIds, seenIndptr: m.seenIndptr, seenIndices: m.seenIndices }),
  );
}

/** `contentId`: hash the body into `ServedModel.contentId` (only for the shared pool cache). */
export function decodeSnapshot(snapshotId: string, body: Buffer, factory: ModelFactory, contentId = false): ServedModel {
  const o = parse(body.toString('utf8')) as {
    format: number;
    model: SavedModel;
    itemIds: string[];
    userIds: string[];
    seenIndptr: Int32Array;
    seenIndices: Int32Array;
  };
  if (o.format !== FORMAT) {
    throw new ChorusError('E_SNAPSHOT_FORMAT', `snapshot ${snapshotId} has format ${o.format}; this build reads ${FORMAT}`, { status: 409 });
  }
  const m = servedModel(snapshotId, factory.restore(o.model), o.itemIds, o.userIds, o.seenIndptr, o.seenIndices);
  if (contentId) m.contentId = `${snapshotId}:${createHash('sha256').update(body).digest('base64url')}`;
  return m;
}

export function servedModel(
  snapshotId: string,
  rec: Recommender,
  itemIds: string[],
  userIds: string[],
  seenIndptr: Int32Array,
  seenIndices: Int32Array,
): ServedModel {
  return {
    snapshotId,
    rec,
    itemIds,
    userIds,
    itemIndex: new Map(itemIds.map((id, i) => [id, i])),
    userIndex: new Map(userIds.map((id, i) => [id, i])),
    seenIndptr,
    seenIndices,
  };
}

/** The factory over the recommender registry (every registered model name). */
export const registryModels: ModelFactory = {
  fit: async (kind, config, train) => {
    const rec = createRecommender(kind, config);
    await rec.fit(train);
    return rec;
  },
  restore: (saved) => restoreRecommender(saved),
};
