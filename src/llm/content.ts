/**
 * Content attractiveness A_c ∈ [0, 1] of item texts, scored by a chat model: several items per
 * prompt, answered as `{scores: {id: number}}` under a schema that requires exactly the batch's
 * ids, each in [0, 1]. Meant as the team's content member's scorer (src/marl wires it, not this
 * file). Caching is the chat model's (`ManagedChat`): a batch is one request, so the same items
 * in the same order and batch size are scored once.
 */
import type { ChatProvider, ChatRequest, JSONSchema } from './types.js';

export interface ContentItem {
  id: string;
  /** What the model reads: title, genres, description. */
  text: string;
}

export interface LlmContentScorerOptions {
  /** Items per prompt (default 10). */
  batchSize?: number;
  /** Seed sent with every request (default 0). */
  seed?: number;
  temperature?: number;
  maxTokens?: number;
  /** Longest item text sent, in characters (default 400); longer texts are cut. */
  maxTextChars?: number;
}

const SYSTEM =
  'You rate how attractive catalogue items are to a typical user of a recommendation service, from their text alone: ' +
  '0 = nobody would open it, 1 = almost everybody would. Judge appeal, not quality of writing. Answer only with the JSON object asked for.';

export class LlmContentScorer {
  private readonly chat: ChatProvider;
  private readonly opts: Required<Omit<LlmContentScorerOptions, 'maxTokens'>> & Pick<LlmContentScorerOptions, 'maxTokens'>;

  constructor(chat: ChatProvider, options: LlmContentScorerOptions = {}) {
    this.chat = chat;
    this.opts = { batchSize: options.batchSize ?? 10, seed: options.seed ?? 0, temperature: options.temperature ?? 0, maxTextChars: options.maxTextChars ?? 400, maxTokens: options.maxTokens };
  }

  /** A_c per item, in input order. Batches go out concurrently (the chat model's limit applies). */
  async score(items: readonly ContentItem[]): Promise<Float32Array> {
    const out = new Float32Array(items.length);
    const bs = Math.max(1, Math.floor(this.opts.batchSize));
    const batches: number[] = [];
    for (let start = 0; start < items.length; start += bs) batches.push(start);
    await Promise.all(
      batches.map(async (start) => {
        const batch = items.slice(start, start + bs);
        const res = await this.chat.chat(this.request(batch));
        const scores = (res.json as { scores: Record<string, number> }).scores;
        for (let k = 0; k < batch.length; k++) out[start + k] = scores[batch[k]!.id]!;
      }),
    );
    return out;
  }

  /** The request for one batch (ids must be distinct within it). */
  request(batch: readonly ContentItem[]): ChatRequest {
    const properties: Record<string, JSONSchema> = {};
    for (const it of batch) properties[it.id] = { type: 'number', minimum: 0, maximum: 1 };
    const schema: JSONSchema = {
      type: 'object',
      properties: { scores: { type: 'object', properties, required: batch.map((it) => it.id), additionalProperties: false } },
      required: ['scores'],
      additionalProperties: false,
    };
    const lines = batch.map((it) => `- id ${it.id}: ${oneLine(it.text, this.opts.maxTextChars)}`);
    const req: ChatRequest = {
      messages: [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: `Items:\n${lines.join('\n')}\n\nAnswer {"scores": {"<id>": a number from 0 to 1 for every id above}}.` },
      ],
      schema,
      schemaName: 'content_scores',
      temperature: this.opts.temperature,
      seed: this.opts.seed,
    };
    if (this.opts.maxTokens !== undefined) req.maxTokens = this.opts.maxTokens;
    return req;
  }
}

function oneLine(text: string, max: number): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}
