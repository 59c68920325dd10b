import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EmbedError } from '../../src/embed/errors.js';
import { HttpEmbedder, embeddingsUrl } from '../../src/embed/http.js';

/**
 * A local server speaking the OpenAI embeddings format; each test sets `script` to decide how
 * the next requests are answered. The vector of a text is [length, first char code, 1].
 */
type Handler = (req: IncomingMessage, body: { model: string; input: string[] }, res: ServerResponse) => void;
let server: Server;
let base: string;
let script: Handler[] = [];
let requests: { auth: string | undefined; body: { model: string; input: string[] } }[] = [];

const ok: Handler = (_req, body, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({
    object: 'list',
    model: body.model,
    // Answer in reverse order: the client must reorder by `index`.
    data: body.input.map((t, index) => ({ object: 'embedding', index, embedding: [t.length, t.charCodeAt(0) || 0, 1] })).reverse(),
  }));
};

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = JSON.parse(raw) as { model: string; input: string[] };
      requests.push({ auth: req.headers.authorization, body });
      (script.shift() ?? ok)(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  script = [];
  requests = [];
});

async function failure(p: Promise<unknown>): Promise<EmbedError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(EmbedError);
    return e as EmbedError;
  }
  throw new Error('expected a failure');
}

describe('HttpEmbedder against a local OpenAI-compatible server', () => {
  it('embeds in batches, in input order, sending the key and model', async () => {
    const progress: number[] = [];
    const e = new HttpEmbedder({ baseUrl: base, model: 'm1', apiKey: 'sk-test', batchSize: 2, onProgress: (d) => progress.push(d) });
    const texts = ['a', 'bb', 'ccc', 'dddd', 'eeeee'];
    const v = await e.embed(texts);
    expect(e.dim).toBe(3);
    expect(Array.from(v)).toEqual(texts.flatMap((t) => [t.length, t.charCodeAt(0), 1]));
    expect(requests.map((r) => r.body.input.length)).toEqual([2, 2, 1]);
    expect(requests.every((r) => r.auth === 'Bearer sk-test' && r.body.model === 'm1')).toBe(true);
    expect(progress).toEqual([2, 4, 5]);
    expect(e.id).toBe(`http:${base}/embeddings#m1`);
  });

  it('reads the key from the environment', async () => {
    process.env.CHORUS_EMBED_API_KEY = 'sk-env';
    try {
      await new HttpEmbedder({ baseUrl: base, model: 'm' }).embed(['x']);
      expect(requests[0]!.auth).toBe('Bearer sk-env');
    } finally {
      delete process.env.CHORUS_EMBED_API_KEY;
    }
  });

  it('retries a 429, honouring Retry-After, then succeeds', async () => {
    script = [
      (_q, _b, res) => {
        res.statusCode = 429;
        res.setHeader('retry-after', '0.05');
        res.end('{"error":{"message":"slow down"}}');
      },
      (_q, _b, res) => {
        res.statusCode = 503;
        res.end('busy');
      },
    ];
    const retries: { attempt: number; delayMs: number }[] = [];
    const e = new HttpEmbedder({ baseUrl: base, model: 'm', backoffMs: 10, onRetry: (r) => retries.push(r) });
    const v = await e.embed(['hello']);
    expect(Array.from(v)).toEqual([5, 104, 1]);
    expect(requests.length).toBe(3);
    expect(retries.map((r) => r.delayMs)).toEqual([50, 20]); // Retry-After 0.05 s, then backoff 10·2¹
  });

  it('gives up after maxRetries with a rate-limit error', async () => {
    const always429: Handler = (_q, _b, res) => {
      res.statusCode = 429;
      res.end('quota');
    };
    script = [always429, always429, always429];
    const err = await failure(new HttpEmbedder({ baseUrl: base, model: 'm', backoffMs: 1, maxRetries: 2 }).embed(['x']));
    expect(err.code).toBe('E_EMBED_RATE_LIMIT');
    expect(requests.length).toBe(3);
  });

  it('times out a stalled request (and its retries) with E_EMBED_TIMEOUT', async () => {
    const stall: Handler = () => {
      /* never answers */
    };
    script = [stall, stall];
    const err = await failure(new HttpEmbedder({ baseUrl: base, model: 'm', timeoutMs: 100, maxRetries: 1, backoffMs: 1 }).embed(['x']));
    expect(err.code).toBe('E_EMBED_TIMEOUT');
    expect(err.message).toMatch(/within 100 ms/);
    expect(requests.length).toBe(2);
  });

  it('reports a 401 without retrying, naming the key variables when none was sent', async () => {
    script = [
      (_q, _b, res) => {
        res.statusCode = 401;
        res.end('{"error":"invalid api key"}');
      },
    ];
    const err = await failure(new HttpEmbedder({ baseUrl: base, model: 'm', apiKeyEnv: ['NO_SUCH_VAR_X'] }).embed(['x']));
    expect(err.code).toBe('E_EMBED_AUTH');
    expect(err.message).toMatch(/401.*NO_SUCH_VAR_X.*invalid api key/);
    expect(requests.length).toBe(1);
  });

  it('reports another 4xx with its body', async () => {
    script = [
      (_q, _b, res) => {
        res.statusCode = 400;
        res.end('{"error":"model m not found"}');
      },
    ];
    const err = await failure(new HttpEmbedder({ baseUrl: base, model: 'm' }).embed(['x']));
    expect(err.code).toBe('E_EMBED_HTTP');
    expect(err.message).toContain('model m not found');
  });

  it('rejects malformed JSON, a wrong count and inconsistent dims', async () => {
    script = [(_q, _b, res) => res.end('{"data": [1, 2')];
    expect((await failure(new HttpEmbedder({ baseUrl: base, model: 'm' }).embed(['x']))).message).toMatch(/malformed JSON/);
    script = [(_q, _b, res) => res.end(JSON.stringify({ data: [{ index: 0, embedding: [1, 2] }] }))];
    expect((await failure(new HttpEmbedder({ baseUrl: base, model: 'm' }).embed(['x', 'y']))).message).toMatch(/sent 2 texts, got 1/);
    script = [(_q, _b, res) => res.end(JSON.stringify({ data: [{ index: 0, embedding: [1, 2] }, { index: 1, embedding: [1] }] }))];
    const err = await failure(new HttpEmbedder({ baseUrl: base, model: 'm' }).embed(['x', 'y']));
    expect(err.code).toBe('E_EMBED_RESPONSE');
    expect(err.message).toMatch(/data\[1\]\.embedding has 1 dims, expected 2/);
    script = [(_q, _b, res) => res.end(JSON.stringify({ data: [{ index: 0, embedding: [1, 2, 3] }] }))];
    expect((await failure(new HttpEmbedder({ baseUrl: base, model: 'm', dim: 4 }).embed(['x']))).message).toMatch(/3 dims, expected 4/);
  });

  it('fails fast on a refused connection', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const err = await failure(new HttpEmbedder({ baseUrl: `http://127.0.0.1:${port}`, model: 'm', backoffMs: 1 }).embed(['x']));
    expect(err.code).toBe('E_EMBED_CONNECT');
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it('builds the endpoint URL from a root or a /v1 base', () => {
    expect(embeddingsUrl('http://h:1')).toBe('http://h:1/v1/embeddings');
    expect(embeddingsUrl('http://h:1/v1/')).toBe('http://h:1/v1/embeddings');
    expect(embeddingsUrl('http://h:1/v1/embeddings')).toBe('http://h:1/v1/embeddings');
    expect(() => new HttpEmbedder({ baseUrl: 'ftp://x', model: 'm' })).toThrow(/http:\/\/ or https:\/\//);
  });
});
