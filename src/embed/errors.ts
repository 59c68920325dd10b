import { ChorusError } from '../errors.js';

/**
 * Every failure of an encoder (a model that cannot load, an HTTP endpoint that refuses, answers
 * garbage or times out) is an `EmbedError` with one of these codes, so callers and the CLI can
 * tell them apart without parsing messages.
 */
export type EmbedErrorCode =
  | 'E_EMBED_CONNECT'
  | 'E_EMBED_TIMEOUT'
  | 'E_EMBED_AUTH'
  | 'E_EMBED_RATE_LIMIT'
  | 'E_EMBED_HTTP'
  | 'E_EMBED_SERVER'
  | 'E_EMBED_RESPONSE'
  | 'E_EMBED_MODEL'
  | 'E_EMBED_SPEC'
  | 'E_EMBED_CACHE'
  | 'E_EMBED_INPUT';

export class EmbedError extends ChorusError {
  constructor(code: EmbedErrorCode, message: string, options: { field?: string; status?: number; cause?: unknown } = {}) {
    super(code, message, {
      location: options.field ? { field: options.field } : undefined,
      status: options.status ?? 502,
      cause: options.cause,
    });
  }
}
