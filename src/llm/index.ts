export * from './types.js';
export { LlmError, type LlmErrorCode } from './errors.js';
export { validateSchema, type SchemaViolation } from './schema.js';
export { Semaphore } from './limit.js';
export { ChatCache, defaultChatCachePath, requestHash, canonicalJson, type CachedAnswer } from './cache.js';
export { HttpChatProvider, chatCompletionsUrl, parseRetryAfter, HTTP_CHAT_KEY_ENV, type HttpChatConfig } from './http.js';
export { ManagedChat, MANAGED_DEFAULTS, type ManagedChatOptions } from './managed.js';
export { parseChatSpec, openChatModel, type OpenChatOptions } from './spec.js';
export { LlmContentScorer, type ContentItem, type LlmContentScorerOptions } from './content.js';
