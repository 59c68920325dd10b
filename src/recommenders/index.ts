export * from './types.js';
export { BaseRecommender } from './base.js';
export * from './registry.js';
export * from './persist.js';
export * from './popularity.js';
export * from './knn.js';
export * from './bpr.js';
export * from './mf.js';
