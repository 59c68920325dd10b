/**
 * `explain: "text"` on /recommend: a sentence per item from the server's chat model, written from
 * the structured explanation (kept beside it), through the real OpenAI-compatible client against
 * the local test server (test/fixtures/llm/server.ts). Without a model the request is refused
 * before anything is logged; a failing model costs the sentences, not the slate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openChatModel } from '../../src/llm/spec.js';
import { explanationPrompt } from '../../src/serve/text-explanations.js';
import { FakeLlmServer } from '../fixtures/llm/server.js';
import { startTestServer, type TestServer } from './helpers.js';

let fake: FakeLlmServer;
let s: TestServer;
let plain: TestServer;

beforeAll(async () => {
  fake = await new FakeLlmServer().start();
  s = await startTestServer({ engine: { model: { kind: 'popularity', config: {} }, llm: openChatModel(`${fake.url}#fake-model`, { cachePath: false, maxRetries: 1, backoffMs: 1 }) } });
  plain = await startTestServer();
});
afterAll(async () => {
  await s.close();
  await plain.close();
  await fake.close();
});

describe('text explanations', () => {
  it('adds one sentence per item from the model, keeps the structured explanation, and logs the slate as usual', async () => {
    const before = fake.requests;
    const r = await s.call('POST', '/recommend', { user: 'u1', k: 3, explain: 'text' });
    expect(r.status).toBe(200);
    expect(fake.requests).toBe(before + 1); // one model call per slate
    expect(r.body.items).toHaveLength(3);
    for (const it of r.body.items) {
      expect(it.explanation.recommender.kind).toBe('popularity');
      // The fake model restates the item's title and the first reason it was given.
      expect(it.explanationText).toMatch(new RegExp(`^"Movie ${it.id.slice(1)}"`));
    }
    expect(r.body.explanationTextError).toBeUndefined();
    // The prompt carried the facts: titles, genres and the recommender's reasons.
    const prompt = fake.lastBody!.messages!.at(-1)!.content;
    expect(prompt).toContain(`"Movie ${r.body.items[0].id.slice(1)}"`);
    expect(prompt).toMatch(/genres (Comedy|Drama), (Action|Romance)/);
    expect(prompt).toMatch(/match with the user's taste: \d+% of the best candidate's \(popularity model\)/);
    expect(fake.lastBody!.response_format!.json_schema!.name).toBe('explanations');
    const logged = await s.call('GET', '/events?limit=1');
    expect(logged.status).toBe(200);
    expect(JSON.stringify(logged.body)).toContain(r.body.eventId);
  });

  it('answers without sentences, and says why, when the model fails', async () => {
    fake.mode = 'server-error';
    fake.failFirst = Infinity;
    try {
      const r = await s.call('POST', '/recommend', { user: 'u2', k: 2, explain: 'text' });
      expect(r.status).toBe(200);
      expect(r.body.items).toHaveLength(2);
      for (const it of r.body.items) expect(it.explanationText).toBeUndefined();
      expect(r.body.explanationTextError).toMatch(/503/);
    } finally {
      fake.mode = 'ok';
      fake.failFirst = 0;
    }
  });

  it('is refused (400, field explain) by a server without a model, before anything is logged', async () => {
    const n = (await plain.call('GET', '/metrics')).text.match(/chorus_decisions_total (\d+)/)?.[1];
    const r = await plain.call('POST', '/recommend', { user: 'u1', k: 2, explain: 'text' });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('E_NO_LLM');
    expect(r.body.error.field).toBe('explain');
    expect((await plain.call('GET', '/metrics')).text.match(/chorus_decisions_total (\d+)/)?.[1]).toBe(n);
    // Structured explanations need no model.
    expect((await plain.call('POST', '/recommend', { user: 'u1', k: 2 })).status).toBe(200);
  });

  it('tells a new user the model has no history for them', () => {
    const p = explanationPrompt({ history: [], items: [{ id: 'x', explanation: { policy: 'cb', recommender: { kind: 'als', score: null, normalized: 0.5 }, exploration: { epsilon: 0.02, explored: true, propensity: 0.01 } } }] });
    expect(p).toContain('no recent history');
    expect(p).toContain('new item the model has not scored yet');
    expect(p).toContain('shown to explore');
  });
});
