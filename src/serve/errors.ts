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

export class ConflictError extends ChorusError {
  constructor(message: string, field?: string) {
    super('E_CONFLICT', message, { location: field !== undefined ? { field } : undefined, status: 409 });
  }
}
