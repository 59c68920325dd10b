/**
 * A served model and request inputs for testing `AgentPolicy` without HTTP or a store: a
 * popularity recommender fitted on a small dataset, wrapped as the engine wraps a snapshot, and
 * `PolicyInput`s built the way the engine builds them.
 */
import type { Dataset } from '../../src/data/dataset.js';
import { AgentPolicy, type AgentPolicyConfig } from '../../src/serve/agent-policy.js';
import { registryModels, servedModel, type ServedModel } from '../../src/serve/model.js';
import type { PolicyInput } from '../../src/serve/serving-policy.js';
import { tinyDataset } from './helpers.js';

export interface World {
  ds: Dataset;
  model: ServedModel;
  catalogue: (id: string) => Record<string, unknown> | undefined;
}

export async function servedWorld(ds: Dataset = tinyDataset()): Promise<World> {
  const rec = await registryModels.fit('popularity', {}, ds);
  const csr = ds.byUser();
  const model = servedModel('snap-1', rec, ds.items.ids(), ds.users.ids(), csr.indptr, csr.indices);
  const catalogue = (id: string): Record<string, unknown> | undefined => {
    const i = ds.items.toIndex(id);
    const m = i >= 0 ? ds.itemMeta[i] : undefined;
    return m ? { ...m } : undefined;
  };
  return { ds, model, catalogue };
}

/** A policy serving `agent`, bound to the world's model. */
export function servedPolicy(w: World, agent: string, config: Record<string, unknown> = {}, extra: Partial<AgentPolicyConfig> = {}): AgentPolicy {
  const p = new AgentPolicy({ agent, config, factors: 4, ...extra });
  p.bind(w.model, w.catalogue);
  return p;
}

export interface InputOptions {
  eventId: string;
  user?: string | null;
  session?: string | null;
  ts?: number;
  k?: number;
  /** Model item indices of the user's items (default: their training items). */
  history?: Int32Array;
  context?: unknown;
  mode?: 'slate' | 'single';
  /** A candidate filter, as model item indices. */
  allowed?: Int32Array;
  mask?: Uint8Array;
}

/** A request as the engine hands it to the policy (no recommender pool: an agent policy asks for none). */
export function inputFor(w: World, o: InputOptions): PolicyInput {
  const m = w.model;
  const user = o.user === undefined ? 'u1' : o.user;
  const u = user === null ? -1 : (m.userIndex.get(user) ?? -1);
  const history = o.history ?? (u >= 0 ? m.seenIndices.slice(m.seenIndptr[u]!, m.seenIndptr[u + 1]!) : new Int32Array(0));
  const allowed = o.allowed;
  return {
    eventId: o.eventId,
    user,
    session: o.session === undefined ? null : o.session,
    ts: o.ts ?? 0,
    userIndex: u,
    history,
    context: o.context ?? null,
    k: o.k ?? 3,
    mode: o.mode ?? 'slate',
    candidates: allowed ? Array.from(allowed, (i) => ({ id: m.itemIds[i]!, index: i, recScore: NaN, features: null })) : [],
    mask: o.mask ?? new Uint8Array(m.itemIds.length),
    allowed,
    model: m,
  };
}
