/**
 * Everything a simulator run needs, built from a data folder: the preset's world (hidden model
 * from the full data), and the agents' context (item space and CF factors from P1's train split;
 * the ALS recommender for `greedy-als` when the recommenders layer has one, else the same
 * implicit-ALS factors the item space holds).
 */
import { itemSpaceFromTrain, type AgentContext } from '../../agents/state.js';
import { BuiltinEmbedder } from '../../embed/builtin.js';
import { buildPreset } from '../../env/presets.js';
import { createRecommender, listRecommenders } from '../../recommenders/registry.js';
import type { ReadOptions } from '../../data/read-interactions.js';
import type { SimSetup } from './runner.js';
import { loadSimData } from './data.js';

export interface SetupOptions {
  preset: string;
  dataDir: string;
  lambda?: number;
  alpha?: number;
  /**
   * Item text embeddings appended to the agents' CF item vectors: 'builtin' trains the built-in
   * text encoder (src/embed, 16 dims) on "title | genres"; 'none' (default) uses CF factors only.
   * Only the agents' features change; the hidden world stays the preset's.
   */
  embeddings?: 'none' | 'builtin';
  /** Read options for the data layer (column mapping, value range); must be structured-cloneable. */
  readOptions?: ReadOptions;
}

/** Built worlds per (preset, data, λ, α), so one process (or worker) builds each only once. */
const cache = new Map<string, Promise<SimSetup>>();

export function buildSetup(o: SetupOptions): Promise<SimSetup> {
  const key = JSON.stringify([o.preset, o.dataDir, o.lambda, o.alpha, o.embeddings ?? 'none', o.readOptions ?? {}]);
  let p = cache.get(key);
  if (!p) {
    p = build(o);
    cache.set(key, p);
  }
  return p;
}

async function build(o: SetupOptions): Promise<SimSetup> {
  const data = await loadSimData(o.dataDir, o.readOptions);
  const preset = buildPreset(o.preset, data.full, data.train, { lambda: o.lambda, alpha: o.alpha });
  let embeddings: { dim: number; vectors: Float32Array } | undefined;
  if (o.embeddings === 'builtin') {
    const texts = Array.from({ length: data.full.nItems }, (_, i) => {
      const m = data.full.itemMeta[i];
      return `${m?.title ?? ''} | ${(m?.categories ?? []).join(' ')}`;
    });
    const encoder = BuiltinEmbedder.train(texts, { dim: 16, seed: 42 });
    embeddings = { dim: 16, vectors: await encoder.embed(texts) };
  }
  const { items, userVectors } = itemSpaceFromTrain(data.train, { embeddings });
  const ctx: AgentContext = { items, userVectors, nUsers: data.full.nUsers, slateSize: preset.config.slateSize, horizon: preset.config.horizon };
  const ids = { items: data.full.items.ids(), users: data.full.users.ids() };
  if (listRecommenders().some((r) => r.name === 'als')) {
    const als = createRecommender('als');
    await als.fit(data.train);
    ctx.scoreUser = (user, out) => {
      als.scoreAll(user, out);
    };
  }
  return { preset, ctx, ids };
}
