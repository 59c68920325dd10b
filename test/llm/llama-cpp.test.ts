import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getLlama } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGgufSpec, jsonSchemaToGbnf, LlamaCppChatProvider, plainTranscript } from '../../src/llm/llama-cpp.js';
import { ManagedChat } from '../../src/llm/managed.js';
import { validateSchema } from '../../src/llm/schema.js';
import type { ChatMessage, JSONSchema } from '../../src/llm/types.js';

/**
 * The real node-llama-cpp path on the tiny fixture (test/fixtures/llm/tiny.gguf, random weights;
 * see scripts/make-tiny-gguf.mjs). One thread: on a shared machine llama.cpp's threads otherwise
 * wait on each other at every layer and a token takes a second instead of milliseconds.
 */
const FIXTURE = path.resolve(process.cwd(), 'test/fixtures/llm/tiny.gguf');

const SCHEMA: JSONSchema = {
  type: 'object',
  properties: {
    clicks: { type: 'array', items: { type: 'string' }, maxItems: 3 },
    ratings: { type: 'object', additionalProperties: { type: 'integer', minimum: 1, maximum: 5 } },
    mood: { enum: ['happy', 'bored', 'angry'] },
    stars: { type: 'integer', minimum: 0, maximum: 9 },
    leave: { type: 'boolean' },
    reason: { type: 'string', maxLength: 40 },
  },
  required: ['clicks', 'ratings', 'mood', 'stars', 'leave', 'reason'],
  additionalProperties: false,
};
const MESSAGES: ChatMessage[] = [
  { role: 'system', content: 'You play a user of a movie service.' },
  { role: 'user', content: 'Page 1 shows: id 7: Heat [action]; id 9: Up [comedy]. Answer in JSON.' },
];

describe('LlamaCppChatProvider on the tiny GGUF fixture', () => {
  let provider: LlamaCppChatProvider;
  beforeAll(() => {
    provider = new LlamaCppChatProvider({ modelPath: FIXTURE, threads: 1 });
  });
  afterAll(async () => {
    await provider.close();
  });

  it('loads the model and answers a prompt, counting tokens with the model\'s tokenizer', async () => {
    const res = await provider.chat({ messages: MESSAGES, maxTokens: 6 });
    expect(typeof res.text).toBe('string');
    expect(res.text.length).toBeGreaterThan(0);
    expect(res.cached).toBe(false);
    expect(provider.id).toMatch(/^gguf:tiny\.gguf@[0-9a-f]{16}$/);

    // The prompt is the plain transcript (the fixture has no chat template); its token count is
    // checked against node-llama-cpp's tokenizer, loaded separately: BOS + the transcript.
    const rendered = await provider.renderPrompt(MESSAGES);
    expect(rendered.text).toBe(
      'system: You play a user of a movie service.\nuser: Page 1 shows: id 7: Heat [action]; id 9: Up [comedy]. Answer in JSON.\nassistant:',
    );
    expect(rendered.text).toBe(plainTranscript(MESSAGES));
    const llama = await getLlama({ gpu: false });
    const model = await llama.loadModel({ modelPath: FIXTURE });
    try {
      const oracle = 1 + model.tokenize(rendered.text, false, 'trimLeadingSpace').length;
      expect(res.usage.promptTokens).toBe(oracle);
      expect(rendered.tokens).toBe(oracle);
    } finally {
      await model.dispose();
    }
    // Without a grammar the fixture emits no end-of-text, so it generates exactly maxTokens.
    expect(res.usage.completionTokens).toBe(6);

    // A longer conversation costs more prompt tokens; the same one costs the same again.
    const longer = await provider.chat({ messages: [...MESSAGES, { role: 'assistant', content: '{}' }, { role: 'user', content: 'And page 2?' }], maxTokens: 2 });
    expect(longer.usage.promptTokens).toBeGreaterThan(res.usage.promptTokens + 10);
    expect(longer.usage.completionTokens).toBe(2);
    const again = await provider.chat({ messages: MESSAGES, maxTokens: 6 });
    expect(again.usage).toEqual(res.usage);
    expect(again.text).toBe(res.text);
  });

  it('with a JSON schema the answer parses and meets the schema (the grammar, not the weights, makes it so)', async () => {
    // Unconstrained, the random model does not write JSON at all…
    const free = await provider.chat({ messages: MESSAGES, maxTokens: 40 });
    expect(() => JSON.parse(free.text)).toThrow();
    // …constrained, it must: ManagedChat is given no second try, so the first answer has to pass.
    const managed = new ManagedChat(provider, { maxInvalidAnswers: 0, maxRetries: 0 });
    for (const seed of [1, 2, 3]) {
      const res = await managed.chat({ messages: MESSAGES, schema: SCHEMA, maxTokens: 200, temperature: 0.8, seed });
      const json = JSON.parse(res.text) as Record<string, unknown>;
      expect(validateSchema(json, SCHEMA)).toBeNull();
      expect(res.json).toEqual(json);
      expect(Object.keys(json).sort()).toEqual(['clicks', 'leave', 'mood', 'ratings', 'reason', 'stars']);
      expect(res.usage.completionTokens).toBeGreaterThan(10);
      expect(res.usage.completionTokens).toBeLessThanOrEqual(200);
    }
    expect(managed.totals).toMatchObject({ calls: 3, modelCalls: 3, failures: 0, retries: 0 });
  });

  it('a fixed seed gives the same answer, whatever ran in between; other seeds give others', async () => {
    const ask = (seed: number) => provider.chat({ messages: MESSAGES, schema: SCHEMA, maxTokens: 200, temperature: 1, seed });
    const first = await ask(11);
    const answers = new Set<string>();
    for (const seed of [12, 13, 14, 15, 16, 17]) answers.add((await ask(seed)).text);
    const again = await ask(11);
    expect(again.text).toBe(first.text);
    expect(again.usage).toEqual(first.usage);
    answers.add(first.text);
    // The seed reaches the sampler: seven seeds do not all give one answer.
    expect(answers.size).toBeGreaterThan(1);
    // Greedy decoding (temperature 0, the default) ignores the seed.
    const g1 = await provider.chat({ messages: MESSAGES, schema: SCHEMA, maxTokens: 200, seed: 1 });
    const g2 = await provider.chat({ messages: MESSAGES, schema: SCHEMA, maxTokens: 200, seed: 2 });
    expect(g2.text).toBe(g1.text);
  });

  it('serialises concurrent calls on its one sequence: the answers equal the one-at-a-time ones', async () => {
    const seeds = [21, 22, 23];
    const together = await Promise.all(seeds.map((seed) => provider.chat({ messages: MESSAGES, schema: SCHEMA, maxTokens: 200, temperature: 1, seed })));
    for (const [k, seed] of seeds.entries()) {
      const alone = await provider.chat({ messages: MESSAGES, schema: SCHEMA, maxTokens: 200, temperature: 1, seed });
      expect(together[k]!.text).toBe(alone.text);
    }
  });

  it('refuses a prompt longer than the context, and a call whose signal has already fired', async () => {
    // llama.cpp rounds a context up (to 256 tokens here), so the prompt is made well longer.
    const small = new LlamaCppChatProvider({ modelPath: FIXTURE, threads: 1, contextSize: 64 });
    try {
      await expect(small.chat({ messages: [{ role: 'user', content: 'the user likes jazz '.repeat(200) }] })).rejects.toMatchObject({
        code: 'E_LLM_SPEC',
        message: expect.stringMatching(/prompt has \d+ tokens, more than the context of \d+ tokens/),
      });
    } finally {
      await small.close();
    }
    const ctrl = new AbortController();
    ctrl.abort();
    await expect(provider.chat({ messages: MESSAGES, maxTokens: 2 }, { signal: ctrl.signal })).rejects.toMatchObject({ code: 'E_LLM_TIMEOUT', retryable: true });
  });
});

describe('LlamaCppChatProvider on a GGUF with a chat template', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'chorus-gguf-chatml-'));
  const file = path.join(dir, 'tiny-chatml.gguf');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('renders the prompt with the model\'s own template (BOS counted once) and still answers to the schema', async () => {
    execFileSync(process.execPath, [path.resolve(process.cwd(), 'scripts/make-tiny-gguf.mjs'), '--chatml', '--out', file], { stdio: 'pipe' });
    const p = new LlamaCppChatProvider({ modelPath: file, threads: 1 });
    try {
      const chatml = '<|im_start|>system\nYou play a user of a movie service.<|im_end|>\n<|im_start|>user\nPage 1 shows: id 7: Heat [action]; id 9: Up [comedy]. Answer in JSON.<|im_end|>\n<|im_start|>assistant\n';
      const rendered = await p.renderPrompt(MESSAGES);
      expect(rendered.text).toBe(`BOS${chatml}`); // LlamaText writes the BOS special token as "BOS"
      const llama = await getLlama({ gpu: false });
      const model = await llama.loadModel({ modelPath: file });
      try {
        // The evaluated tokens spell the template's text and hold one BOS, at the start (the
        // template writes BOS itself and the completion prepends one: it must not come twice).
        const bos = model.tokens.bos!;
        expect(rendered.ids[0]).toBe(bos);
        expect(rendered.ids.filter((t) => t === bos)).toHaveLength(1);
        expect(model.detokenize(rendered.ids.slice(1) as never, true)).toBe(chatml);
        expect(rendered.tokens).toBe(rendered.ids.length);
      } finally {
        await model.dispose();
      }
      const res = await new ManagedChat(p, { maxInvalidAnswers: 0 }).chat({ messages: MESSAGES, schema: SCHEMA, maxTokens: 200, temperature: 0.8, seed: 4 });
      expect(validateSchema(JSON.parse(res.text), SCHEMA)).toBeNull();
      expect(res.usage.promptTokens).toBe(rendered.tokens);
    } finally {
      await p.close();
    }
  });
});

describe('LlamaCppChatProvider errors', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'chorus-gguf-err-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a missing file: a clear error naming the path', () => {
    const missing = path.join(dir, 'nope.gguf');
    expect(() => new LlamaCppChatProvider({ modelPath: missing })).toThrow(expect.objectContaining({ code: 'E_LLM_SPEC', message: expect.stringContaining(`${missing}: no such file`) }));
  });

  it('a file that is not GGUF, or a broken GGUF header: a clear error naming the path', () => {
    const text = path.join(dir, 'model.gguf');
    writeFileSync(text, 'this is a text file, not weights\n');
    expect(() => new LlamaCppChatProvider({ modelPath: text })).toThrow(expect.objectContaining({ code: 'E_LLM_SPEC', message: expect.stringContaining(`${text} is not a GGUF model file`) }));
    const junk = path.join(dir, 'junk.gguf');
    writeFileSync(junk, Buffer.concat([Buffer.from('GGUF'), Buffer.from([3, 0, 0, 0]), Buffer.from('garbage garbage garbage')]));
    expect(() => new LlamaCppChatProvider({ modelPath: junk })).toThrow(expect.objectContaining({ code: 'E_LLM_SPEC', message: expect.stringContaining(`${junk} is not a valid GGUF v2/v3 file`) }));
    expect(() => new LlamaCppChatProvider({ modelPath: dir })).toThrow(expect.objectContaining({ code: 'E_LLM_SPEC', message: expect.stringContaining('is not a file') }));
  });

  it('node-llama-cpp missing: the error says to npm install it', async () => {
    const p = new LlamaCppChatProvider({
      modelPath: FIXTURE,
      importModule: () => Promise.reject(Object.assign(new Error("Cannot find package 'node-llama-cpp'"), { code: 'ERR_MODULE_NOT_FOUND' })),
    });
    await expect(p.chat({ messages: MESSAGES })).rejects.toMatchObject({ code: 'E_LLM_SPEC', message: expect.stringContaining('npm install node-llama-cpp') });
  });
});

describe('jsonSchemaToGbnf and isGgufSpec', () => {
  it('bridges what the grammar schema lacks or reads differently', () => {
    expect(jsonSchemaToGbnf({ type: 'integer', minimum: 1, maximum: 5 })).toEqual({ enum: [1, 2, 3, 4, 5] });
    expect(jsonSchemaToGbnf({ type: 'integer', minimum: 0, maximum: 1e6 })).toEqual({ type: 'integer' });
    expect(jsonSchemaToGbnf({ type: 'object' })).toEqual({ type: 'object', properties: {}, additionalProperties: true });
    expect(jsonSchemaToGbnf({ type: 'object', properties: { a: { type: 'string', maxLength: 3 } } })).toEqual({
      type: 'object',
      properties: { a: { type: 'string', maxLength: 3 } },
      additionalProperties: false,
    });
    expect(jsonSchemaToGbnf({ type: 'object', additionalProperties: { type: 'boolean' } })).toEqual({ type: 'object', properties: {}, additionalProperties: { type: 'boolean' } });
    expect(jsonSchemaToGbnf({ type: 'array', items: { enum: ['x', 'y'] }, maxItems: 2 })).toEqual({ type: 'array', items: { enum: ['x', 'y'] }, maxItems: 2 });
  });

  it('tells a GGUF path from a URL spec', () => {
    expect(isGgufSpec('test/fixtures/llm/tiny.gguf')).toBe(true);
    expect(isGgufSpec('/models/Qwen2.5-7B-Q4_K_M.GGUF')).toBe(true);
    expect(isGgufSpec('http://127.0.0.1:8080#model.gguf')).toBe(false);
    expect(isGgufSpec('http://127.0.0.1:8080#llama-3')).toBe(false);
  });
});
