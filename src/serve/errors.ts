import { ChorusError } from '../errors.js';

/** A request field failed validation (400, names the field). */
export class RequestError extends ChorusError {
  constructor(message: string, field?: string, code = 'E_VALIDATION', status = 400) {
    super(code, message, { location: field !== undefined ? { field } : undefined, status });
  }
}

export class AuthError extends ChorusError {
  constructor(message: string, status: 401 | 403) {
    super(status === 401 ? 'E_UNAUTHORIZED' : 'E_FORBIDDEN', message, { status });
  }
}

/** Too many requests (or too many failed authentications) from one key or address. */
export class RateLimitError extends ChorusError {
  constructor(
    message: string,
    /** Seconds until the window ends (the Retry-After header). */
    readonly retryAfterSeconds: number,
    code = 'E_RATE_LIMIT',
  ) {
    super(code, message, { status: 429 });
  }
}

export class ConflictError extends ChorusError {
  constructor(message: string, field?: string) {
    super('E_CONFLICT', message, { location: field !== undefined ? { field } : undefined, status: 409 });
  }
}

/** Where the Azure Personalizer v1.0-compatible routes live; their errors take Personalizer's shape. */
export const PERSONALIZER_PREFIX = '/personalizer/v1.0';

/** Personalizer's ErrorCode names for the statuses it documents. */
function personalizerCode(status: number): string {
  if (status === 404) return 'ResourceNotFound';
  if (status >= 500) return 'InternalServerError';
  return 'BadRequest';
}

/** Chorus codes for the errors Fastify raises itself (parsing, limits, routing). */
const FASTIFY_CODES: Record<string, { code: string; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'E_BODY_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'E_MEDIA_TYPE' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'E_EMPTY_BODY' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'E_BAD_JSON' },
  // Fastify's own messages for these two repeat the whole URL (up to the URL limit) back.
  FST_ERR_BAD_URL: { code: 'E_BAD_URL', message: 'the URL path is not valid percent-encoding' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'E_PARAM_TOO_LONG', message: 'a path parameter is too long' },
};

function fastifyCode(code: string | undefined, status: number): { code: string; message?: string } {
  const known = code !== undefined ? FASTIFY_CODES[code] : undefined;
  if (known) return known;
  return { code: status === 413 ? 'E_BODY_TOO_LARGE' : status === 429 ? 'E_RATE_LIMIT' : status === 404 ? 'E_NO_ROUTE' : 'E_BAD_REQUEST' };
}

export interface ErrorReply {
  status: number;
  /** Chorus's `{error: {code, message, field?}}`, or Personalizer's `{error: {code, message, target?, innerError}}`. */
  body: { error: { code: string; message: string; field?: string; target?: string; innerError?: { code: string } } };
  /** A 5xx: the error itself belongs in the server log, and none of it in the answer. */
  internal: boolean;
}

/**
 * The one place an error becomes an HTTP answer, for every source: a ChorusError thrown by a
 * handler, an error Fastify raised while routing or parsing, or anything unexpected (500, with
 * a fixed message: the details go to the log, never to the client).
 */
export function errorReply(err: unknown, url: string): ErrorReply {
  let status = 500;
  let code = 'E_INTERNAL';
  let message = 'internal server error';
  let field: string | undefined;
  if (err instanceof ChorusError) {
    status = err.status;
    code = err.code;
    message = err.message;
    field = err.location?.field;
  } else if (err instanceof Error) {
    const e = err as Error & { statusCode?: number; code?: string };
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      status = e.statusCode;
      const mapped = fastifyCode(e.code, status);
      code = mapped.code;
      message = mapped.message ?? e.message;
    }
  }
  const internal = status >= 500;
  if (internal) {
    message = 'internal server error';
    field = undefined;
  }
  const body = url.startsWith(PERSONALIZER_PREFIX)
    ? { error: { code: personalizerCode(status), message, ...(field ? { target: field } : {}), innerError: { code } } }
    : { error: { code, message, ...(field ? { field } : {}) } };
  return { status, body, internal };
}
