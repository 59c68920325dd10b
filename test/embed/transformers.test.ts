import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EmbedError } from '../../src/embed/errors.js';
import { createEmbedder, parseEmbedderSpec } from '../../src/embed/registry.js';
import { TransformersEmbedder } from '../../src/embed/transformers.js';

/** Tiny BERT-shaped ONNX model + WordPiece tokenizer (built by test/fixtures/models/make_tiny_bert.py). */
const TINY = path.resolve(process.cwd(), 'test/fixtures/models/local/tiny-bert');

describe('TransformersEmbedder on the tiny BERT fixture (offline, real transformers.js path)', () => {
  it('loads from a local folder and returns mean-pooled, normalised rows in input order', async () => {
    const e = await TransformersEmbedder.load(TINY, { batchSize: 2 });
    expect(e.dim).toBe(16);
    expect(e.pooling).toBe('mean');
    expect(e.id).toMatch(/^onnx:local@[0-9a-f]{12}:fp32:mean:norm$/);
    const texts = ['the user likes action movies', 'jazz song', 'good drama', 'the user likes action movies', ''];
    const done: number[] = [];
    const batched = await TransformersEmbedder.load(TINY, { batchSize: 2, onProgress: (d) => done.push(d) });
    const v = await batched.embed(texts);
    expect(done).toEqual([2, 4, 5]);
    expect(v.length).toBe(5 * 16);
    for (let t = 0; t < 4; t++) expect(Math.hypot(...v.subarray(t * 16, t * 16 + 16))).toBeCloseTo(1, 5);
    // Same text in another batch (other padding length) gives the same vector: masking works.
    for (let m = 0; m < 16; m++) expect(v[3 * 16 + m]).toBeCloseTo(v[m]!, 5);
    // Batched and one-at-a-time agree.
    const single = await e.embed(['jazz song']);
    for (let m = 0; m < 16; m++) expect(single[m]).toBeCloseTo(v[16 + m]!, 5);
  });

  it('tokenises with the fixture WordPiece vocabulary and honours the pooling option', async () => {
    // The fixture graph is tanh(E[input_ids] + T[token_type_ids]) * mask; the tokenizer adds [CLS]/[SEP].
    const tok = JSON.parse(readFileSync(path.join(TINY, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } };
    const ids = ['[CLS]', 'jazz', 'song', '[SEP]'].map((t) => tok.model.vocab[t]!);
    expect(ids.every((i) => i !== undefined)).toBe(true);
    const e = await TransformersEmbedder.load(TINY, { normalize: false, pooling: 'cls' });
    const cls = await e.embed(['jazz song']);
    const mean = await (await TransformersEmbedder.load(TINY, { normalize: false })).embed(['jazz song']);
    // CLS pooling = first token's hidden state; mean pooling differs from it.
    expect(Array.from(cls).some((x, m) => Math.abs(x - mean[m]!) > 1e-3)).toBe(true);
    expect(Array.from(cls).every((x) => Math.abs(x) < 1)).toBe(true); // tanh range
  });

  it('fails with E_EMBED_MODEL for a folder that is not a model', async () => {
    await expect(TransformersEmbedder.load(path.resolve(process.cwd(), 'test/fixtures'))).rejects.toMatchObject({ code: 'E_EMBED_MODEL' });
    await expect(TransformersEmbedder.load('./no/such/folder')).rejects.toThrow(/does not exist/);
  });

  it('the onnx: spec loads the same model', async () => {
    expect(parseEmbedderSpec(`onnx:${TINY}`)).toEqual({ kind: 'onnx', model: TINY });
    const e = await createEmbedder(`onnx:${TINY}`);
    expect(e.dim).toBe(16);
  });
});

describe('default encoder fallback', () => {
  it('falls back to the built-in encoder and says so in exactly one line', async () => {
    const lines: string[] = [];
    const e = await createEmbedder('default', {
      defaultModel: path.resolve(process.cwd(), 'test/fixtures'), // a folder without a model: cannot load
      corpus: ['a comedy', 'a drama', 'another comedy'],
      builtin: { dim: 2 },
      warn: (l) => lines.push(l),
    });
    expect(e.id).toMatch(/^builtin:/);
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/falling back to the built-in encoder/);
    expect(lines[0]).not.toContain('\n');
  });

  it('uses the transformers.js model when it loads, without a warning', async () => {
    const lines: string[] = [];
    const e = await createEmbedder('default', { defaultModel: TINY, warn: (l) => lines.push(l) });
    expect(e.id).toMatch(/^onnx:/);
    expect(lines).toEqual([]);
  });

  it('an error that is not a load failure is not swallowed', async () => {
    await expect(createEmbedder('builtin')).rejects.toThrow(/corpus/);
    expect(() => parseEmbedderSpec('http:http://x')).toThrow(/http:<base url>#<model>/);
    expect(() => parseEmbedderSpec('word2vec')).toThrow(/unknown embedder "word2vec"/);
    expect(parseEmbedderSpec('http:http://localhost:11434/v1#nomic-embed-text')).toEqual({ kind: 'http', baseUrl: 'http://localhost:11434/v1', model: 'nomic-embed-text' });
    expect(EmbedError).toBeDefined();
  });
});
