export * from './secure-agg.js';
export * from './client-dp.js';
