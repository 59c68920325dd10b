export * from './kernels.js';
export * from './mlp.js';
export * from './adam.js';
export * from './losses.js';
export * from './seq/index.js';
