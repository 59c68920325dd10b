/**
 * Open a chat model from a spec string: `<base url>#<model>`, e.g. `http://127.0.0.1:8080#llama-3`
 * (llama.cpp server), `http://localhost:11434/v1#qwen2.5:7b` (Ollama); or a local `path.gguf`, run
 * in-process by node-llama-cpp (./llama-cpp.ts).
 */
import { ChatCache, defaultChatCachePath } from './cache.js';
import { LlmError } from './errors.js';
import { HttpChatProvider, type HttpChatConfig } from './http.js';
import { isGgufSpec, LlamaCppChatProvider } from './llama-cpp.js';
import { ManagedChat, type ManagedChatOptions } from './managed.js';
import type { ChatProvider } from './types.js';

export function parseChatSpec(spec: string): { baseUrl: string; model: string } {
  const hash = spec.lastIndexOf('#');
  if (!/^https?:\/\//.test(spec)) {
    const hint = spec.endsWith('.gguf') ? ': a GGUF file is opened by openChatModel with the node-llama-cpp back end' : '';
    throw new LlmError('E_LLM_SPEC', `"${spec}" is not an http(s) URL of the form <url>#<model>${hint}`, { field: 'llm', status: 400 });
  }
  if (hash < 0 || hash === spec.length - 1) throw new LlmError('E_LLM_SPEC', `"${spec}" names no model: write <url>#<model>`, { field: 'llm', status: 400 });
  return { baseUrl: spec.slice(0, hash), model: spec.slice(hash + 1) };
}

export interface OpenChatOptions extends ManagedChatOptions, Omit<HttpChatConfig, 'baseUrl' | 'model'> {
  /** Cache file, ':memory:', or false for none (default: `defaultChatCachePath()`). */
  cachePath?: string | false;
}

/** The managed chat model a spec names (cache, limits and retries per `options`). */
export function openChatModel(spec: string, options: OpenChatOptions = {}): ManagedChat {
  let provider: ChatProvider;
  if (isGgufSpec(spec)) provider = new LlamaCppChatProvider({ modelPath: spec });
  else {
    const { baseUrl, model } = parseChatSpec(spec);
    provider = new HttpChatProvider({ baseUrl, model, apiKey: options.apiKey, apiKeyEnv: options.apiKeyEnv, strict: options.strict });
  }
  const cache = options.cache ?? (options.cachePath === false ? undefined : new ChatCache(options.cachePath ?? defaultChatCachePath()));
  return new ManagedChat(provider, { ...options, ...(cache ? { cache } : {}) });
}
