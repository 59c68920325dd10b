/**
 * `ManagedChat`: any `ChatProvider` with what every caller needs around it: a response cache,
 * a concurrency limit, retries with exponential backoff and jitter (honouring Retry-After), a
 * per-request timeout, JSON-schema validation of the answer, and running totals.
 *
 * Two retry budgets, because the failures differ: transport failures (429, 5xx, timeouts,
 * resets) wait and retry up to `maxRetries` times; an answer that is not JSON or breaks the
 * schema is asked again at once (with the seed moved on, so a seeded model does not repeat
 * itself) up to `maxInvalidAnswers` times, then fails with an error naming the model and field.
 */
import { Rng } from '../util/rng.js';
import { ChatCache, requestHash } from './cache.js';
import { LlmError } from './errors.js';
import { Semaphore } from './limit.js';
import { validateSchema } from './schema.js';
import type { ChatProvider, ChatRequest, ChatResponse, ChatTotals } from './types.js';
import { sleep } from '../util/http-retry.js';

export interface ManagedChatOptions {
  /** Response cache; none when absent. */
  cache?: ChatCache;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Retries after a 429, a 5xx, a timeout or a reset (default 5). */
  maxRetries?: number;
  /** Extra tries after an answer that is not valid JSON or breaks the schema (default 2). */
  maxInvalidAnswers?: number;
  /** Per-request timeout (default 120 s: a local model on a CPU is slow). */
  timeoutMs?: number;
  /** First backoff delay; doubles per retry up to maxBackoffMs; Retry-After wins when sent. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Seed of the backoff jitter. */
  seed?: number;
  /** Told about each retry (the CLI may print it). */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

export const MANAGED_DEFAULTS = { concurrency: 4, maxRetries: 5, maxInvalidAnswers: 2, timeoutMs: 120_000, backoffMs: 500, maxBackoffMs: 30_000, seed: 0 };

export class ManagedChat implements ChatProvider {
  readonly inner: ChatProvider;
  readonly totals: ChatTotals = { calls: 0, cacheHits: 0, modelCalls: 0, promptTokens: 0, completionTokens: 0, retries: 0, failures: 0 };
  private readonly cfg: typeof MANAGED_DEFAULTS & ManagedChatOptions;
  private readonly limit: Semaphore;
  private readonly rng: Rng;

  constructor(inner: ChatProvider, options: ManagedChatOptions = {}) {
    this.inner = inner;
    this.cfg = { ...MANAGED_DEFAULTS, ...options };
    this.limit = new Semaphore(this.cfg.concurrency);
    this.rng = new Rng(this.cfg.seed);
  }

  get id(): string {
    return this.inner.id;
  }

  async chat(req: ChatRequest): Promise<ChatResponse> {
    this.totals.calls++;
    const cache = this.cfg.cache;
    const hash = cache ? requestHash(req) : undefined;
    if (cache && hash) {
      const hit = cache.get(this.id, hash);
      if (hit) {
        // Stored answers passed this very schema (it is part of the key); parsing again gives `json`.
        const checked = this.check(req, hit.text);
        if (checked.ok) {
          this.totals.cacheHits++;
          return { text: hit.text, ...(req.schema ? { json: checked.json } : {}), usage: { promptTokens: 0, completionTokens: 0 }, cached: true };
        }
      }
    }
    try {
      // The slot is held through backoff waits too: a server that says 429 gets fewer requests, not more.
      const res = await this.limit.run(() => this.withRetries(req));
      if (cache && hash) cache.put(this.id, hash, { text: res.text, usage: res.usage });
      return res;
    } catch (err) {
      this.totals.failures++;
      throw err;
    }
  }

  private async withRetries(req: ChatRequest): Promise<ChatResponse> {
    let transport = 0;
    let invalid = 0;
    for (;;) {
      const attemptReq = invalid > 0 && req.seed !== undefined ? { ...req, seed: req.seed + invalid } : req;
      let res: ChatResponse;
      const ctrl = new AbortController();
      const timer = setTimeout(() => ctrl.abort(), this.cfg.timeoutMs);
      try {
        res = await this.inner.chat(attemptReq, { signal: ctrl.signal });
      } catch (err) {
        let e = err;
        if (ctrl.signal.aborted && !(err instanceof LlmError && err.code === 'E_LLM_TIMEOUT')) {
          e = new LlmError('E_LLM_TIMEOUT', `${this.id} did not answer within ${this.cfg.timeoutMs} ms`, { status: 504, cause: err, retryable: true });
        }
        if (!(e instanceof LlmError) || !e.retryable || transport >= this.cfg.maxRetries) throw e;
        const backoff = Math.min(this.cfg.backoffMs * 2 ** transport, this.cfg.maxBackoffMs);
        // Jitter in [½, 1]·backoff spreads out clients that failed together; a server's own
        // Retry-After is obeyed as given (capped), not jittered below.
        const delayMs = e.retryAfterMs !== undefined ? Math.min(e.retryAfterMs, this.cfg.maxBackoffMs) : backoff * (0.5 + 0.5 * this.rng.next());
        transport++;
        this.totals.retries++;
        this.cfg.onRetry?.({ attempt: transport, delayMs, reason: e.message });
        await sleep(delayMs);
        continue;
      } finally {
        clearTimeout(timer);
      }
      this.totals.modelCalls++;
      this.totals.promptTokens += res.usage.promptTokens;
      this.totals.completionTokens += res.usage.completionTokens;
      const checked = this.check(req, res.text);
      if (checked.ok) return { text: res.text, ...(req.schema ? { json: checked.json } : {}), usage: res.usage, cached: false };
      if (invalid >= this.cfg.maxInvalidAnswers) {
        throw new LlmError('E_LLM_SCHEMA', `model ${this.id} gave no valid answer in ${invalid + 1} tries: ${checked.field} ${checked.message}`, { field: checked.field });
      }
      invalid++;
      this.totals.retries++;
      this.cfg.onRetry?.({ attempt: invalid, delayMs: 0, reason: `${checked.field} ${checked.message}` });
    }
  }

  /** Parse and validate an answer against the request's schema (any text passes without one). */
  private check(req: ChatRequest, text: string): { ok: true; json?: unknown } | { ok: false; field: string; message: string } {
    if (!req.schema) return { ok: true };
    let json: unknown;
    try {
      json = JSON.parse(stripFence(text));
    } catch (err) {
      return { ok: false, field: 'choices[0].message.content', message: `is not valid JSON (${(err as Error).message}): ${JSON.stringify(text.slice(0, 80))}` };
    }
    const bad = validateSchema(json, req.schema);
    return bad ? { ok: false, field: bad.path, message: bad.message } : { ok: true, json };
  }
}

/** Models without constrained decoding often wrap JSON in a ```json fence; take what is inside. */
function stripFence(text: string): string {
  const m = /^\s*```(?:json)?\s*\n([\s\S]*?)\n?```\s*$/.exec(text);
  return m ? m[1]! : text;
}

