export * from './types.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite.js';
export { openStore, storeSchemes } from './open.js';
