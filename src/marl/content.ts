/**
 * Text embeddings for the content agent: the built-in encoder (TF-IDF + SVD, src/embed) trained
 * on the catalogue's own item text (title + genres), attached to an agent context together with
 * the titles (for explanations).
 */
import type { AgentContext } from '../agents/state.js';
import type { Dataset } from '../data/dataset.js';
import { BuiltinEmbedder } from '../embed/builtin.js';
import { itemTexts } from '../embed/text.js';
import type { TeamContext } from './context.js';

/** Embeds every item's text with the built-in encoder (`dim` components) and returns the context with content and titles. */
export async function attachTeamContent(ctx: AgentContext, data: Dataset, dim = 32): Promise<TeamContext> {
  const texts = itemTexts(data);
  const enc = BuiltinEmbedder.train(texts, { dim, seed: 42 });
  const vectors = await enc.embed(texts);
  const t = ctx as TeamContext;
  // Mutates the given context on purpose: simulator setups are cached per process and shared by every run in it.
  t.content = { dim: enc.dim, vectors };
  t.titles = Array.from({ length: data.nItems }, (_, i) => data.itemMeta[i]?.title ?? `item ${i}`);
  return t;
}
