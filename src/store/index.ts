export * from './types.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite.js';
export { PostgresStore, type PostgresStoreOptions } from './postgres.js';
export { openStore, storeSchemes } from './open.js';
export { isDuplicateKeyError } from './duplicate.js';
export type { StoreWarning } from './sqlite-check.js';
