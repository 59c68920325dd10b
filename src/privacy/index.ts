export * from './accountant.js';
export * from './mechanisms.js';
export * from './dp-counts.js';
export * from './dp-sgd.js';
export * from './config.js';
export * from './federated/index.js';
export * from './pseudonym.js';
export * from './erasure.js';
