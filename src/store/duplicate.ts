/**
 * Error codes a backend's driver gives a write that broke a unique or primary key: better-sqlite3's
 * extended result codes (they also survive the commit worker's thread hop, ./sqlite-writer.ts), and
 * PostgreSQL's SQLSTATE `unique_violation` for the backend to come. Read from the code, never the
 * message, which is free text and may change between versions.
 */
const DUPLICATE_CODES: ReadonlySet<string> = new Set(['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY', '23505']);

/** True when a store write failed because its key already exists. */
export function isDuplicateKeyError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && DUPLICATE_CODES.has(code);
}
