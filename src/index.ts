// Public API of Chorus. Each layer exports its own public surface from its index.ts.
export * from './errors.js';
export { Rng } from './util/rng.js';
export * from './data/index.js';
export * from './recommenders/index.js';
export * from './embed/index.js';
export * from './llm/index.js';
export * from './eval/index.js';
export * from './ope/index.js';
export * from './privacy/index.js';
export * from './federated/index.js';
export * from './robust/index.js';
export * from './nn/index.js';
export * from './agents/index.js';
export * from './env/index.js';
export * from './store/index.js';
export * from './serve/index.js';
export * from './marl/index.js';
