/** The LLM content scorer (A_c from item text) against the local test server. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChatCache } from '../../src/llm/cache.js';
import { LlmContentScorer } from '../../src/llm/content.js';
import { HttpChatProvider } from '../../src/llm/http.js';
import { ManagedChat } from '../../src/llm/managed.js';
import { FakeLlmServer } from '../fixtures/llm/server.js';

let server: FakeLlmServer;
beforeAll(async () => {
  server = await new FakeLlmServer().start();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

const items = Array.from({ length: 23 }, (_, k) => ({ id: `m${k}`, text: Array.from({ length: 1 + (k % 12) }, () => 'word').join(' ') }));

describe('LlmContentScorer', () => {
  it('scores items in batches, in input order, from the model\'s {scores:{id:…}} answers, cached', async () => {
    const cache = new ChatCache(':memory:');
    const chat = new ManagedChat(new HttpChatProvider({ baseUrl: server.url, model: 'fake-content' }), { cache });
    const scorer = new LlmContentScorer(chat, { batchSize: 10 });
    const a = await scorer.score(items);
    expect(server.requests).toBe(3);
    // The fake model scores min(1, words / 10).
    expect(Array.from(a)).toEqual(items.map((_, k) => Math.fround(Math.min(1, (1 + (k % 12)) / 10))));
    const again = await new LlmContentScorer(chat, { batchSize: 10 }).score(items);
    expect(Array.from(again)).toEqual(Array.from(a));
    expect(server.requests).toBe(3);
    expect(chat.totals).toMatchObject({ calls: 6, cacheHits: 3 });
  });

  it('requires every id of the batch in the answer, each in [0, 1]', () => {
    const req = new LlmContentScorer(new HttpChatProvider({ baseUrl: server.url, model: 'x' })).request(items.slice(0, 2));
    const scores = req.schema!.properties!.scores!;
    expect(scores.required).toEqual(['m0', 'm1']);
    expect(scores.additionalProperties).toBe(false);
    expect(scores.properties!.m0).toEqual({ type: 'number', minimum: 0, maximum: 1 });
    expect(req.schemaName).toBe('content_scores');
  });

  it('a batch answer that leaves out an id is retried, then fails naming the id', async () => {
    server.mode = 'violate';
    server.failFirst = Infinity;
    const chat = new ManagedChat(new HttpChatProvider({ baseUrl: server.url, model: 'fake-content' }), { maxInvalidAnswers: 1 });
    await expect(new LlmContentScorer(chat).score(items.slice(0, 3))).rejects.toThrow(/fake-content.*\$\.scores is required/);
    expect(server.requests).toBe(2);
  });
});
