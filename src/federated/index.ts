// Federated learning over simulated clients (docs/privacy.md, "Federated learning"). A layer above
// recommenders/ and privacy/: it trains recommenders' models and uses privacy's mechanisms.
export * from './partition.js';
export * from './aggregate.js';
export * from './fedavg.js';
export * from './als-client.js';
export * from './fed-als.js';
