/**
 * Back end for any OpenAI-compatible `POST /v1/chat/completions` endpoint (llama.cpp server,
 * Ollama, vLLM, hosted APIs). One call is one HTTP request: the retries, timeout, cache and
 * schema validation are `ManagedChat`'s (./managed.ts), which passes an abort signal in. Every
 * failure is an `LlmError` that says whether it is worth retrying, as in src/embed/http.ts.
 */
import { LlmError } from './errors.js';
import type { ChatCallOptions, ChatProvider, ChatRequest, ChatResponse } from './types.js';
import { parseRetryAfter } from '../util/http-retry.js';

export interface HttpChatConfig {
  /** Server root or API base: "http://127.0.0.1:8080", "http://localhost:11434/v1". */
  baseUrl: string;
  model: string;
  /** API key; when absent, read from the first set variable of `apiKeyEnv`. */
  apiKey?: string;
  apiKeyEnv?: readonly string[];
  /**
   * Send `strict: true` with the schema (OpenAI's structured outputs). llama.cpp, Ollama and vLLM
   * accept it; OpenAI's strict mode refuses open maps such as `{id: rating}`, so turn it off there.
   */
  strict?: boolean;
}

export const HTTP_CHAT_KEY_ENV: readonly string[] = ['CHORUS_LLM_API_KEY', 'OPENAI_API_KEY'];

export class HttpChatProvider implements ChatProvider {
  readonly id: string;
  readonly url: string;
  readonly model: string;
  private readonly apiKey: string | undefined;
  private readonly keyEnv: readonly string[];
  private readonly strict: boolean;

  constructor(config: HttpChatConfig) {
    if (!config.model) throw new LlmError('E_LLM_SPEC', 'the chat model needs a model name (<base url>#<model>)', { field: 'model', status: 400 });
    let parsed: URL;
    try {
      parsed = new URL(config.baseUrl);
    } catch {
      throw new LlmError('E_LLM_SPEC', `"${config.baseUrl}" is not a valid URL`, { field: 'baseUrl', status: 400 });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new LlmError('E_LLM_SPEC', `"${config.baseUrl}" must be an http:// or https:// URL`, { field: 'baseUrl', status: 400 });
    }
    this.url = chatCompletionsUrl(config.baseUrl);
    this.model = config.model;
    this.keyEnv = config.apiKeyEnv ?? HTTP_CHAT_KEY_ENV;
    this.apiKey = config.apiKey ?? this.keyEnv.map((v) => process.env[v]).find((v) => v !== undefined && v !== '');
    this.strict = config.strict ?? true;
    this.id = `http:${this.url}#${config.model}`;
  }

  async chat(req: ChatRequest, options: ChatCallOptions = {}): Promise<ChatResponse> {
    const body: Record<string, unknown> = { model: this.model, messages: req.messages };
    if (req.schema) body.response_format = { type: 'json_schema', json_schema: { name: req.schemaName ?? 'answer', schema: req.schema, strict: this.strict } };
    if (req.maxTokens !== undefined) body.max_tokens = req.maxTokens;
    if (req.temperature !== undefined) body.temperature = req.temperature;
    if (req.seed !== undefined) body.seed = req.seed;
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    let text: string;
    let res: Response;
    try {
      res = await fetch(this.url, { method: 'POST', headers, body: JSON.stringify(body), signal: options.signal });
      // Read the body under the same signal: a server may send headers and then stall.
      text = await res.text();
    } catch (err) {
      if (options.signal?.aborted) throw new LlmError('E_LLM_TIMEOUT', `${this.url} (model ${this.model}) did not answer in time`, { status: 504, cause: err, retryable: true });
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const code = cause?.code ?? '';
      // A refused connection or an unknown host is a configuration problem: fail fast. A reset
      // mid-request is transient: retry.
      const transient = code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE';
      throw new LlmError('E_LLM_CONNECT', `cannot reach ${this.url}: ${cause?.message ?? (err as Error).message}`, { cause: err, retryable: transient });
    }
    if (!res.ok) throw this.httpError(res, text);
    return this.parse(text);
  }

  private httpError(res: Response, text: string): LlmError {
    const excerpt = text.length > 300 ? text.slice(0, 300) + '…' : text;
    const where = `${this.url} (model ${this.model}) answered ${res.status}`;
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
    if (res.status === 401 || res.status === 403) {
      const hint = this.apiKey ? 'the API key was refused' : `no API key was sent (set ${this.keyEnv.join(' or ')})`;
      return new LlmError('E_LLM_AUTH', `${where}: ${hint}: ${excerpt}`);
    }
    if (res.status === 429) return new LlmError('E_LLM_RATE_LIMIT', `${where} (rate limited): ${excerpt}`, { retryable: true, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    if (res.status >= 500) return new LlmError('E_LLM_SERVER', `${where}: ${excerpt}`, { retryable: true, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    return new LlmError('E_LLM_HTTP', `${where}: ${excerpt}`);
  }

  private parse(text: string): ChatResponse {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      // The envelope itself is broken (not the model's content): a proxy or server fault.
      throw new LlmError('E_LLM_RESPONSE', `${this.url} (model ${this.model}) answered a body that is not JSON: ${text.slice(0, 120)}`, { retryable: true });
    }
    const d = doc as { choices?: { message?: { content?: unknown } }[]; usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } };
    const content = d.choices?.[0]?.message?.content;
    if (typeof content !== 'string') {
      throw new LlmError('E_LLM_RESPONSE', `${this.url} (model ${this.model}): the answer has no choices[0].message.content string`, { field: 'choices[0].message.content', retryable: true });
    }
    const num = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
    return { text: content, usage: { promptTokens: num(d.usage?.prompt_tokens), completionTokens: num(d.usage?.completion_tokens) }, cached: false };
  }
}

/** "<base>/chat/completions" for a base with a path (".../v1"), "<root>/v1/chat/completions" for a bare root. */
export function chatCompletionsUrl(baseUrl: string): string {
  const u = baseUrl.replace(/\/+$/, '');
  if (u.endsWith('/chat/completions')) return u;
  const path = new URL(u).pathname;
  return path === '' || path === '/' ? `${u}/v1/chat/completions` : `${u}/chat/completions`;
}

export { parseRetryAfter };
