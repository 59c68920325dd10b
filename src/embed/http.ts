import { EmbedError } from './errors.js';
import type { Embedder } from './types.js';
import { parseRetryAfter, sleep } from '../util/http-retry.js';

export interface HttpEmbedderConfig {
  /** Server root or API base, e.g. "https://api.openai.com/v1", "http://localhost:11434/v1". */
  baseUrl: string;
  model: string;
  /** API key; when absent, read from the first set variable of `apiKeyEnv`. */
  apiKey?: string;
  apiKeyEnv?: readonly string[];
  /** Texts per request. */
  batchSize?: number;
  /** Retries after a 429, a 5xx or a timeout (not after a refused connection or another 4xx). */
  maxRetries?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** First backoff delay; doubles per retry, capped by maxBackoffMs. A Retry-After header wins. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Expected vector size; checked on every answer when given, learned from the first otherwise. */
  dim?: number;
  /** Extra body fields (e.g. {"dimensions": 256} for OpenAI's v3 models). */
  extraBody?: Record<string, unknown>;
  /** Texts done so far / total, after each batch. */
  onProgress?: (done: number, total: number) => void;
  /** Told about each retry (the CLI prints it on stderr). */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

export const HTTP_DEFAULTS: Required<Pick<HttpEmbedderConfig, 'apiKeyEnv' | 'batchSize' | 'maxRetries' | 'timeoutMs' | 'backoffMs' | 'maxBackoffMs'>> = {
  apiKeyEnv: ['CHORUS_EMBED_API_KEY', 'OPENAI_API_KEY'],
  batchSize: 64,
  maxRetries: 5,
  timeoutMs: 30_000,
  backoffMs: 500,
  maxBackoffMs: 30_000,
};

/**
 * Client of an OpenAI-compatible `POST /v1/embeddings` endpoint (OpenAI, Ollama, vLLM, llama.cpp
 * server, text-embeddings-inference). Batches texts, retries 429/5xx/timeouts with exponential
 * backoff honouring Retry-After, aborts slow requests, and turns every failure into an
 * `EmbedError` whose code says which one it was.
 */
export class HttpEmbedder implements Embedder {
  readonly id: string;
  readonly url: string;
  private readonly cfg: HttpEmbedderConfig & typeof HTTP_DEFAULTS;
  private readonly apiKey: string | undefined;
  private knownDim: number;

  constructor(config: HttpEmbedderConfig) {
    this.cfg = { ...HTTP_DEFAULTS, ...config };
    if (!config.model) throw new EmbedError('E_EMBED_SPEC', 'the HTTP encoder needs a model name (http:<base url>#<model>)', { field: 'model', status: 400 });
    let parsed: URL;
    try {
      parsed = new URL(config.baseUrl);
    } catch {
      throw new EmbedError('E_EMBED_SPEC', `"${config.baseUrl}" is not a valid URL`, { field: 'baseUrl', status: 400 });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new EmbedError('E_EMBED_SPEC', `"${config.baseUrl}" must be an http:// or https:// URL`, { field: 'baseUrl', status: 400 });
    }
    this.url = embeddingsUrl(config.baseUrl);
    this.apiKey = config.apiKey ?? this.cfg.apiKeyEnv.map((v) => process.env[v]).find((v) => v !== undefined && v !== '');
    this.knownDim = config.dim ?? 0;
    const extra = config.extraBody ? `:${JSON.stringify(config.extraBody)}` : '';
    this.id = `http:${this.url}#${config.model}${extra}`;
  }

  /** Vector size: from the config, else learned from the first answer (0 until then). */
  get dim(): number {
    return this.knownDim;
  }

  async embed(texts: readonly string[]): Promise<Float32Array> {
    const chunks: Float32Array[] = [];
    const bs = Math.max(1, this.cfg.batchSize);
    for (let start = 0; start < texts.length; start += bs) {
      const batch = texts.slice(start, start + bs);
      chunks.push(await this.embedBatch(batch));
      this.cfg.onProgress?.(Math.min(start + bs, texts.length), texts.length);
    }
    const out = new Float32Array(texts.length * this.knownDim);
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }

  private async embedBatch(batch: readonly string[]): Promise<Float32Array> {
    const body = JSON.stringify({ model: this.cfg.model, input: batch, encoding_format: 'float', ...this.cfg.extraBody });
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.attempt(body, headers);
      if (outcome.ok) return this.parse(outcome.text, batch.length);
      const { error, retryable, retryAfterMs } = outcome;
      if (!retryable || attempt >= this.cfg.maxRetries) throw error;
      const backoff = Math.min(this.cfg.backoffMs * 2 ** attempt, this.cfg.maxBackoffMs);
      const delayMs = retryAfterMs !== undefined ? Math.min(retryAfterMs, this.cfg.maxBackoffMs) : backoff;
      this.cfg.onRetry?.({ attempt: attempt + 1, delayMs, reason: error.message });
      await sleep(delayMs);
    }
  }

  private async attempt(
    body: string,
    headers: Record<string, string>,
  ): Promise<{ ok: true; text: string } | { ok: false; error: EmbedError; retryable: boolean; retryAfterMs?: number }> {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), this.cfg.timeoutMs);
    try {
      const res = await fetch(this.url, { method: 'POST', headers, body, signal: ctrl.signal });
      // Read the body under the same timeout: a server may send headers and then stall.
      const text = await res.text();
      if (res.ok) return { ok: true, text };
      const excerpt = text.length > 300 ? text.slice(0, 300) + '…' : text;
      const where = `${this.url} answered ${res.status}`;
      if (res.status === 401 || res.status === 403) {
        const hint = this.apiKey ? 'the API key was refused' : `no API key was sent (set ${this.cfg.apiKeyEnv.join(' or ')})`;
        return { ok: false, retryable: false, error: new EmbedError('E_EMBED_AUTH', `${where}: ${hint}: ${excerpt}`, { status: 502 }) };
      }
      if (res.status === 429) {
        return { ok: false, retryable: true, retryAfterMs: parseRetryAfter(res.headers.get('retry-after')), error: new EmbedError('E_EMBED_RATE_LIMIT', `${where} (rate limited) after retries: ${excerpt}`) };
      }
      if (res.status >= 500) {
        return { ok: false, retryable: true, retryAfterMs: parseRetryAfter(res.headers.get('retry-after')), error: new EmbedError('E_EMBED_SERVER', `${where} after retries: ${excerpt}`) };
      }
      return { ok: false, retryable: false, error: new EmbedError('E_EMBED_HTTP', `${where}: ${excerpt}`) };
    } catch (err) {
      if (ctrl.signal.aborted) {
        return { ok: false, retryable: true, error: new EmbedError('E_EMBED_TIMEOUT', `${this.url} did not answer within ${this.cfg.timeoutMs} ms`, { status: 504, cause: err }) };
      }
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const code = cause?.code ?? '';
      const msg = `cannot reach ${this.url}: ${cause?.message ?? (err as Error).message}`;
      // A refused connection or an unknown host is a configuration problem: fail fast. A reset
      // mid-request is transient: retry.
      const transient = code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE';
      return { ok: false, retryable: transient, error: new EmbedError('E_EMBED_CONNECT', msg, { cause: err }) };
    } finally {
      clearTimeout(timer);
    }
  }

  private parse(text: string, expected: number): Float32Array {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new EmbedError('E_EMBED_RESPONSE', `${this.url} answered malformed JSON: ${text.slice(0, 120)}`);
    }
    const data = (json as { data?: unknown }).data;
    if (!Array.isArray(data)) throw new EmbedError('E_EMBED_RESPONSE', `${this.url}: the answer has no "data" array`, { field: 'data' });
    if (data.length !== expected) {
      throw new EmbedError('E_EMBED_RESPONSE', `${this.url}: sent ${expected} texts, got ${data.length} embeddings`, { field: 'data' });
    }
    const rows: { index: number; embedding: unknown }[] = data.map((d: { index?: unknown; embedding?: unknown }, pos) => ({
      index: typeof d?.index === 'number' ? d.index : pos,
      embedding: d?.embedding,
    }));
    rows.sort((a, b) => a.index - b.index);
    const first = rows[0]?.embedding;
    const dim = Array.isArray(first) ? first.length : 0;
    if (this.knownDim === 0) this.knownDim = dim;
    const out = new Float32Array(expected * this.knownDim);
    for (let r = 0; r < rows.length; r++) {
      const { index, embedding: e } = rows[r]!;
      if (index !== r) throw new EmbedError('E_EMBED_RESPONSE', `${this.url}: embedding indices are not 0..${expected - 1}`, { field: `data[${r}].index` });
      if (!Array.isArray(e)) throw new EmbedError('E_EMBED_RESPONSE', `${this.url}: data[${r}].embedding is not an array of numbers`, { field: `data[${r}].embedding` });
      if (e.length !== this.knownDim || e.length === 0) {
        throw new EmbedError('E_EMBED_RESPONSE', `${this.url}: data[${r}].embedding has ${e.length} dims, expected ${this.knownDim}`, { field: `data[${r}].embedding` });
      }
      for (let m = 0; m < e.length; m++) {
        const x = e[m];
        if (typeof x !== 'number' || !Number.isFinite(x)) {
          throw new EmbedError('E_EMBED_RESPONSE', `${this.url}: data[${r}].embedding[${m}] is not a finite number`, { field: `data[${r}].embedding` });
        }
        out[r * this.knownDim + m] = x;
      }
    }
    return out;
  }
}

/** "<base>/embeddings" for a base ending in /v1 (or any path), "<root>/v1/embeddings" for a bare root. */
export function embeddingsUrl(baseUrl: string): string {
  const u = baseUrl.replace(/\/+$/, '');
  if (u.endsWith('/embeddings')) return u;
  const path = new URL(u).pathname;
  return path === '' || path === '/' ? `${u}/v1/embeddings` : `${u}/embeddings`;
}

