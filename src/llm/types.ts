/**
 * The chat-model contract. A back end (./http.ts) makes one request; `ManagedChat` (./managed.ts)
 * wraps any back end with the cache, the concurrency limit, retries, the timeout, schema
 * validation and running totals, and is what the rest of Chorus calls.
 */

/** The subset of JSON Schema that ./schema.ts checks (and that llama.cpp and vLLM can constrain to). */
export interface JSONSchema {
  type?: 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';
  properties?: Record<string, JSONSchema>;
  required?: string[];
  /** false, or a schema every other property must meet (a map such as {id: rating}). */
  additionalProperties?: boolean | JSONSchema;
  items?: JSONSchema;
  minItems?: number;
  maxItems?: number;
  enum?: readonly (string | number | boolean | null)[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  description?: string;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  messages: ChatMessage[];
  /** Constrain the answer to this schema; the answer is then parsed and validated (`json`). */
  schema?: JSONSchema;
  /** Name of the schema sent to the back end (OpenAI's `json_schema.name`); default "answer". */
  schemaName?: string;
  maxTokens?: number;
  temperature?: number;
  seed?: number;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface ChatResponse {
  text: string;
  /** The parsed, schema-valid answer when the request had a schema. */
  json?: unknown;
  usage: TokenUsage;
  /** True when the answer came from the response cache (no model call was made). */
  cached: boolean;
}

/** What a back end receives besides the request: an abort signal for the wrapper's timeout. */
export interface ChatCallOptions {
  signal?: AbortSignal;
}

export interface ChatProvider {
  /** Model id, part of every cache key ("http:<url>#<model>"). */
  readonly id: string;
  chat(req: ChatRequest, options?: ChatCallOptions): Promise<ChatResponse>;
}

/** Running totals of a `ManagedChat` (reported under `"llm"` by `chorus simulate --json`). */
export interface ChatTotals {
  /** Requests made by callers (cache hits included). */
  calls: number;
  cacheHits: number;
  /** HTTP requests that reached the back end (first tries and retries). */
  modelCalls: number;
  promptTokens: number;
  completionTokens: number;
  retries: number;
  /** Requests that ended in an error after their retries. */
  failures: number;
}
