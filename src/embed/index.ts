export type { Embedder } from './types.js';
export { EmbedError, type EmbedErrorCode } from './errors.js';
export { itemText, itemTexts, textHash, words, type ItemTextOptions } from './text.js';
export { randomizedSvd, type SparseMatrix, type TruncatedSvd, type SvdOptions } from './svd.js';
export { BuiltinEmbedder, BUILTIN_DEFAULTS, type BuiltinConfig, type BuiltinState } from './builtin.js';
export { HttpEmbedder, HTTP_DEFAULTS, embeddingsUrl, type HttpEmbedderConfig } from './http.js';
export { TransformersEmbedder, DEFAULT_TRANSFORMERS_MODEL, type Pooling, type TransformersEmbedderOptions } from './transformers.js';
export { EmbeddingCache, CachedEmbedder, defaultCachePath, type CacheStats } from './cache.js';
export { createEmbedder, parseEmbedderSpec, EMBEDDER_SPEC_FORMS, type EmbedderSpec, type CreateEmbedderOptions } from './registry.js';
