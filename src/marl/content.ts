/**
 * Text embeddings for the content agent: the built-in encoder (TF-IDF + SVD, src/embed) trained
 * on the catalogue's own item text (title + genres), optionally with a chat model's rating of each
 * item's appeal, attached to an agent context together with the titles (for explanations).
 */
import type { AgentContext } from '../agents/state.js';
import type { Dataset } from '../data/dataset.js';
import { BuiltinEmbedder } from '../embed/builtin.js';
import { itemTexts } from '../embed/text.js';
import { LlmContentScorer } from '../llm/content.js';
import type { ChatProvider } from '../llm/types.js';
import { trainHistoryOf, type TeamContext } from './context.js';
import { DataError } from '../errors.js';

/**
 * Embeds every item's text with the built-in encoder (`dim` components) and returns the context
 * with content and titles. With `chat`, a chat model also rates every item's attractiveness A_c
 * from the same text (src/llm/content.ts, batched and cached), and that rating joins the content
 * vectors as one more component, so the content agent can weigh it (alone, and against the
 * session's content profile) like any other content feature. With `train`, the users' train items
 * join the context too (`trainHistory`), for the content agent's `contentProfile: 'both'`.
 */
export async function attachTeamContent(ctx: AgentContext, data: Dataset, dim = 32, chat?: ChatProvider, train?: Dataset): Promise<TeamContext> {
  const texts = itemTexts(data);
  const enc = BuiltinEmbedder.train(texts, { dim, seed: 42 });
  let vectors = await enc.embed(texts);
  let width = enc.dim;
  if (chat) {
    const appeal = await new LlmContentScorer(chat).score(texts.map((text, i) => ({ id: data.items.toExternal(i), text })));
    const wider = new Float32Array(data.nItems * (width + 1));
    for (let i = 0; i < data.nItems; i++) {
      wider.set(vectors.subarray(i * width, (i + 1) * width), i * (width + 1));
      wider[i * (width + 1) + width] = appeal[i]!;
    }
    vectors = wider;
    width += 1;
  }
  const t = ctx as TeamContext;
  // Mutates the given context on purpose: simulator setups are cached per process and shared by every run in it.
  t.content = { dim: width, vectors };
  t.titles = Array.from({ length: data.nItems }, (_, i) => data.itemMeta[i]?.title ?? `item ${i}`);
  if (train) {
    if (train.nItems !== data.nItems) throw new DataError(`the train split has ${train.nItems} items, the catalogue ${data.nItems}; they must share one item index`, { field: 'train' });
    t.trainHistory = trainHistoryOf(train);
  }
  return t;
}
