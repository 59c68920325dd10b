/** The chat provider (OpenAI-compatible HTTP) and `ManagedChat` against the local test server. */
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChatCache, requestHash } from '../../src/llm/cache.js';
import { LlmError } from '../../src/llm/errors.js';
import { HttpChatProvider, chatCompletionsUrl, parseRetryAfter } from '../../src/llm/http.js';
import { ManagedChat } from '../../src/llm/managed.js';
import { validateSchema } from '../../src/llm/schema.js';
import { openChatModel, parseChatSpec } from '../../src/llm/spec.js';
import type { ChatRequest, JSONSchema } from '../../src/llm/types.js';
import { userDecisionSchema } from '../../src/env/llm-users.js';
import { tempDir } from '../cli/helpers.js';
import { FakeLlmServer } from '../fixtures/llm/server.js';

let server: FakeLlmServer;
beforeAll(async () => {
  server = await new FakeLlmServer().start();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

const userReq = (n = 0): ChatRequest => ({
  messages: [{ role: 'user', content: `favourite genres: Comedy\nPage 1 shows:\n- id ${n}: Movie ${n} [Comedy]\n` }],
  schema: userDecisionSchema(5),
  schemaName: 'user_action',
  temperature: 0,
  seed: 7,
});

function managed(options: ConstructorParameters<typeof ManagedChat>[1] = {}): ManagedChat {
  return new ManagedChat(new HttpChatProvider({ baseUrl: server.url, model: 'fake-1' }), { backoffMs: 5, ...options });
}

describe('HttpChatProvider', () => {
  it('sends the documented body and reads content and usage', async () => {
    const p = new HttpChatProvider({ baseUrl: server.url, model: 'fake-1', apiKey: 'k-123' });
    const res = await p.chat({ ...userReq(3), maxTokens: 64 });
    expect(server.lastBody).toMatchObject({
      model: 'fake-1',
      max_tokens: 64,
      temperature: 0,
      seed: 7,
      response_format: { type: 'json_schema', json_schema: { name: 'user_action', strict: true, schema: userDecisionSchema(5) } },
    });
    expect(server.lastAuth).toBe('Bearer k-123');
    expect(JSON.parse(res.text)).toEqual({ clicks: ['3'], ratings: { '3': 4 }, leave: false, reason: 'likes Comedy' });
    expect(res.usage.promptTokens).toBe(server.promptTokens);
    expect(res.usage.completionTokens).toBe(server.completionTokens);
    expect(res.cached).toBe(false);
  });

  it('builds the endpoint URL from a root or an API base, and parses specs and Retry-After', () => {
    expect(chatCompletionsUrl('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080/v1/chat/completions');
    expect(chatCompletionsUrl('http://localhost:11434/v1/')).toBe('http://localhost:11434/v1/chat/completions');
    expect(parseChatSpec('http://127.0.0.1:8080#llama-3')).toEqual({ baseUrl: 'http://127.0.0.1:8080', model: 'llama-3' });
    expect(() => parseChatSpec('models/tiny.gguf')).toThrow(/node-llama-cpp/);
    expect(() => parseChatSpec('http://127.0.0.1:8080')).toThrow(/names no model/);
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});

describe('ManagedChat', () => {
  it('retries a 429, waits at least Retry-After, then succeeds', async () => {
    server.mode = 'rate-limit';
    server.failFirst = 2;
    server.retryAfter = 0.2;
    const chat = managed();
    const t0 = performance.now();
    const res = await chat.chat(userReq());
    expect(performance.now() - t0).toBeGreaterThanOrEqual(2 * 200 - 20);
    expect(res.json).toMatchObject({ clicks: ['0'] });
    expect(server.requests).toBe(3);
    expect(chat.totals).toMatchObject({ calls: 1, modelCalls: 1, retries: 2, failures: 0 });
  });

  it('gives up on a 5xx after maxRetries with the server\'s error', async () => {
    server.mode = 'server-error';
    server.failFirst = Infinity;
    const chat = managed({ maxRetries: 2 });
    await expect(chat.chat(userReq())).rejects.toMatchObject({ code: 'E_LLM_SERVER' });
    expect(server.requests).toBe(3);
    expect(chat.totals).toMatchObject({ calls: 1, retries: 2, failures: 1 });
  });

  it('times out a slow answer and retries it', async () => {
    server.mode = 'slow';
    server.failFirst = 1;
    server.slowMs = 1000;
    const chat = managed({ timeoutMs: 150 });
    const res = await chat.chat(userReq());
    expect(res.json).toMatchObject({ leave: false });
    expect(server.requests).toBe(2);
    expect(chat.totals.retries).toBe(1);
    const never = managed({ timeoutMs: 100, maxRetries: 1 });
    server.failFirst = Infinity;
    await expect(never.chat(userReq())).rejects.toMatchObject({ code: 'E_LLM_TIMEOUT' });
  });

  it('retries a malformed answer, then fails with an error naming the model and the field', async () => {
    server.mode = 'malformed';
    server.failFirst = 1;
    const chat = managed();
    expect((await chat.chat(userReq())).json).toMatchObject({ clicks: ['0'] });
    expect(server.requests).toBe(2);

    server.reset();
    server.mode = 'malformed';
    server.failFirst = Infinity;
    const bad = managed({ maxInvalidAnswers: 2 });
    const err = await bad.chat(userReq()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmError);
    expect((err as LlmError).code).toBe('E_LLM_SCHEMA');
    expect((err as LlmError).message).toContain('fake-1');
    expect((err as LlmError).message).toContain('choices[0].message.content');
    expect((err as LlmError).message).toMatch(/not valid JSON/);
    expect(server.requests).toBe(3);
    // Each retry moves the seed on, so a seeded model is not asked the identical thing again.
    expect(server.lastBody?.seed).toBe(7 + 2);
  });

  it('rejects a schema-violating answer naming the JSON path', async () => {
    server.mode = 'violate';
    server.failFirst = Infinity;
    const chat = managed({ maxInvalidAnswers: 1 });
    await expect(chat.chat(userReq())).rejects.toThrow(/fake-1.*\$\.clicks must be an array/);
    expect(server.requests).toBe(2);
    expect(chat.totals.failures).toBe(1);
  });

  it('a second identical run is answered from the disk cache with no HTTP call', async () => {
    const file = join(tempDir('chorus-llm-'), 'chat.sqlite');
    const first = managed({ cache: new ChatCache(file) });
    const a = await Promise.all([0, 1, 2].map((n) => first.chat(userReq(n))));
    expect(server.requests).toBe(3);
    expect(a.every((r) => !r.cached)).toBe(true);
    const second = managed({ cache: new ChatCache(file) });
    const b = await Promise.all([0, 1, 2].map((n) => second.chat(userReq(n))));
    expect(server.requests).toBe(3);
    expect(b.map((r) => r.json)).toEqual(a.map((r) => r.json));
    expect(b.every((r) => r.cached)).toBe(true);
    expect(second.totals).toMatchObject({ calls: 3, cacheHits: 3, modelCalls: 0, promptTokens: 0 });
    // A changed field (the seed) is a different request.
    await second.chat({ ...userReq(0), seed: 8 });
    expect(server.requests).toBe(4);
    expect(requestHash(userReq(0)).equals(requestHash({ ...userReq(0) }))).toBe(true);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    server.delayMs = 40;
    const chat = managed({ concurrency: 3 });
    await Promise.all(Array.from({ length: 12 }, (_, n) => chat.chat(userReq(n))));
    expect(server.requests).toBe(12);
    expect(server.maxInFlight).toBe(3);
  });

  it('token totals add up to what the server reported, retries and invalid answers included', async () => {
    server.mode = 'violate';
    server.failFirst = 2;
    const chat = managed({ cache: new ChatCache(':memory:') });
    const rs = await Promise.all(Array.from({ length: 6 }, (_, n) => chat.chat(userReq(n % 4))));
    expect(chat.totals.promptTokens).toBe(server.promptTokens);
    expect(chat.totals.completionTokens).toBe(server.completionTokens);
    expect(chat.totals.promptTokens).toBeGreaterThan(0);
    expect(chat.totals.modelCalls).toBe(server.requests);
    expect(chat.totals.calls).toBe(6);
    expect(chat.totals.calls).toBe(rs.length);
  });

  it('openChatModel opens the spec with a cache file', async () => {
    const file = join(tempDir('chorus-llm-'), 'c.sqlite');
    const chat = openChatModel(`${server.url}#fake-2`, { cachePath: file, backoffMs: 5 });
    expect(chat.id).toBe(`http:${server.url}/v1/chat/completions#fake-2`);
    await chat.chat(userReq());
    await openChatModel(`${server.url}#fake-2`, { cachePath: file }).chat(userReq());
    expect(server.requests).toBe(1);
  });
});

describe('validateSchema', () => {
  it('names the first violating path', () => {
    const s: JSONSchema = userDecisionSchema(2);
    expect(validateSchema({ clicks: ['1'], ratings: { '1': 5 }, leave: false, reason: 'ok' }, s)).toBeNull();
    expect(validateSchema({ clicks: ['1'], ratings: { '1': 6 }, leave: false, reason: 'ok' }, s)).toEqual({ path: '$.ratings.1', message: 'must be ≤ 5' });
    expect(validateSchema({ clicks: ['1', '2', '3'], ratings: {}, leave: false, reason: '' }, s)?.path).toBe('$.clicks');
    expect(validateSchema({ clicks: [], ratings: {}, reason: '' }, s)).toEqual({ path: '$.leave', message: 'is required' });
    expect(validateSchema({ clicks: [], ratings: {}, leave: true, reason: '', extra: 1 }, s)?.message).toBe('is not allowed');
  });
});
