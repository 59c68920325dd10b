export * from './kernels.js';
export * from './mlp.js';
export * from './adam.js';
export * from './losses.js';
