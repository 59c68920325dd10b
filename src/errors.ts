/**
 * One error family for the whole library. Every error carries a machine-readable `code` and,
 * where it has one, the place it belongs to: `file:line:column` for data, a dotted field path
 * for config and requests. The CLI prints `message` as one line; the server maps `status`.
 */
export interface ErrorLocation {
  file?: string;
  line?: number;
  column?: number;
  /** Field name or dotted path (config key, CSV column, request body field). */
  field?: string;
}

export function formatLocation(loc: ErrorLocation | undefined): string {
  if (!loc) return '';
  const parts: string[] = [];
  if (loc.file !== undefined) {
    let s = loc.file;
    if (loc.line !== undefined) s += `:${loc.line}`;
    if (loc.column !== undefined) s += `:${loc.column}`;
    parts.push(s);
  }
  if (loc.field !== undefined) parts.push(`field "${loc.field}"`);
  return parts.join(' ');
}

export class ChorusError extends Error {
  readonly code: string;
  readonly location?: ErrorLocation;
  /** HTTP status the server answers with when this error reaches it. */
  readonly status: number;

  constructor(code: string, message: string, options: { location?: ErrorLocation; status?: number; cause?: unknown } = {}) {
    const where = formatLocation(options.location);
    super(where ? `${where}: ${message}` : message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    this.location = options.location;
    this.status = options.status ?? 400;
  }
}

/** Malformed or invalid input data (files, rows, fields). */
export class DataError extends ChorusError {
  constructor(message: string, location?: ErrorLocation, code = 'E_DATA') {
    super(code, message, { location, status: 400 });
  }
}

/** Invalid configuration value or flag. */
export class ConfigError extends ChorusError {
  constructor(message: string, field?: string, code = 'E_CONFIG') {
    super(code, message, { location: field ? { field } : undefined, status: 400 });
  }
}

/** A name that is not in a registry (model, agent, encoder, protocol). */
export class UnknownNameError extends ChorusError {
  constructor(kind: string, name: string, known: readonly string[]) {
    super('E_UNKNOWN_NAME', `unknown ${kind} "${name}"; expected one of: ${known.join(', ')}`, { status: 400 });
  }
}

/** A model used before `fit`, or a saved file of the wrong kind or version. */
export class ModelStateError extends ChorusError {
  constructor(message: string, code = 'E_MODEL_STATE') {
    super(code, message, { status: 409 });
  }
}

export class NotFoundError extends ChorusError {
  constructor(message: string, field?: string) {
    super('E_NOT_FOUND', message, { location: field ? { field } : undefined, status: 404 });
  }
}

/**
 * A write whose commit may or may not have happened: the connection was lost after COMMIT was sent
 * and the transaction's outcome could not be read back. 503: the client may retry, knowing that a
 * retry may store the write twice (feedback has no unique key).
 */
export class StoreOutcomeUnknownError extends ChorusError {
  constructor(message: string, cause?: unknown) {
    super('E_STORE_OUTCOME_UNKNOWN', message, { status: 503, cause, location: { field: 'store' } });
  }
}
