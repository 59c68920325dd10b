/**
 * What the team knows beyond the plain `AgentContext`: item content vectors for the content agent
 * (text embeddings, e.g. the built-in encoder on title + genres), item titles for explanations,
 * and extra scorers (any `Recommender`, or an embedding-backed scorer) that join as agents.
 *
 * A team works from a plain `AgentContext` too: without `content` the content agent uses the
 * items' genre indicators as its content vectors, without `titles` evidence names item indices.
 */
import type { AgentContext } from '../agents/state.js';
import type { Dataset } from '../data/dataset.js';
import type { Recommender } from '../recommenders/types.js';
import { DataError } from '../errors.js';

/** A scorer that becomes an extra team agent: writes one score per item for a user into `out`. */
export interface ExtraScorer {
  /** Agent name in explanations and summaries (e.g. "als", "ease"). */
  name: string;
  scoreUser(user: number, history: Int32Array, out: Float32Array): void;
}

export interface TeamContext extends AgentContext {
  /** nItems × dim content vectors (text embeddings). */
  content?: { dim: number; vectors: Float32Array };
  /** Item titles (explanations say "because you watched <title>"). */
  titles?: string[];
  extras?: ExtraScorer[];
  /** Days since each item's first interaction (item age; "new this week" evidence, item-agent feature). */
  itemAgeDays?: Float32Array;
  /**
   * Each user's train items as CSR (user u < rows has indices[indptr[u] .. indptr[u+1]]), for
   * profiles built from the whole train history (the content agent's `contentProfile: 'both'`).
   */
  trainHistory?: { rows: number; indptr: Int32Array; indices: Int32Array };
}

/** The split's users' items (its `byUser` CSR) as the team's `trainHistory`. */
export function trainHistoryOf(train: Dataset): NonNullable<TeamContext['trainHistory']> {
  const { rows, indptr, indices } = train.byUser();
  return { rows, indptr, indices };
}

/** A context with content vectors (and optionally titles) attached; checks the shape. */
export function withContent(ctx: AgentContext, content: { dim: number; vectors: Float32Array }, titles?: string[]): TeamContext {
  if (content.vectors.length !== ctx.items.nItems * content.dim) {
    throw new DataError(`content vectors hold ${content.vectors.length} values; ${ctx.items.nItems} items × ${content.dim} need ${ctx.items.nItems * content.dim}`, { field: 'content.vectors' });
  }
  return { ...(ctx as TeamContext), content, titles: titles ?? (ctx as TeamContext).titles };
}

/** A fitted `Recommender` as an extra team agent (scores by user index; unknown users score by their history). */
export function recommenderScorer(name: string, model: Recommender): ExtraScorer {
  return {
    name,
    scoreUser(user, history, out) {
      try {
        model.scoreAll(user, out);
      } catch {
        // A user the model has no row for (e.g. a simulator user outside its training data) is scored by session state.
        model.scoreAll({ items: history }, out);
      }
    },
  };
}
