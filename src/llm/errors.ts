import { ChorusError } from '../errors.js';

export type LlmErrorCode =
  | 'E_LLM_CONNECT'
  | 'E_LLM_TIMEOUT'
  | 'E_LLM_AUTH'
  | 'E_LLM_RATE_LIMIT'
  | 'E_LLM_HTTP'
  | 'E_LLM_SERVER'
  | 'E_LLM_RESPONSE'
  | 'E_LLM_SCHEMA'
  | 'E_LLM_SPEC'
  | 'E_LLM_CACHE';

/**
 * Every failure of a chat model is an `LlmError`. `retryable` says whether the managed wrapper
 * may try again (429, 5xx, timeouts, resets, malformed or non-conforming answers); `retryAfterMs`
 * carries a Retry-After header when the server sent one.
 */
export class LlmError extends ChorusError {
  readonly retryable: boolean;
  readonly retryAfterMs?: number;

  constructor(code: LlmErrorCode, message: string, options: { field?: string; status?: number; cause?: unknown; retryable?: boolean; retryAfterMs?: number } = {}) {
    super(code, message, { location: options.field ? { field: options.field } : undefined, status: options.status ?? 502, cause: options.cause });
    this.retryable = options.retryable ?? false;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}
