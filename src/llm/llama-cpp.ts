/**
 * Back end for a local GGUF model file run in-process by node-llama-cpp (llama.cpp's Node
 * binding). node-llama-cpp is an optional peer dependency: it is imported on the first request,
 * so the rest of Chorus (and this module) loads without it, and a missing package becomes one
 * clear error naming `npm install node-llama-cpp`.
 *
 * One call is one generation; the cache, retries, timeout and schema validation are
 * `ManagedChat`'s (./managed.ts), as for the HTTP back end.
 *
 * Choices:
 * - **One model, one context, one sequence, created once and reused; calls are serialised.** A
 *   context holds one KV cache per sequence, so N sequences cost N× the cache memory, and on a
 *   CPU llama.cpp already spreads one evaluation over the context's threads: running calls one at
 *   a time loses little throughput and keeps memory flat. `ManagedChat`'s concurrency limit then
 *   only bounds how many calls wait here.
 * - **Each call starts from an empty sequence** (unless `reusePrefix`), so an answer depends only
 *   on its request: evaluating a prompt in one batch or as "cached prefix + the rest" can round
 *   differently, and a simulation should not change with the order its calls happen to run in.
 * - **Prompt format.** A GGUF that carries a chat template (`tokenizer.chat_template`, as real
 *   chat models do) is rendered with it through node-llama-cpp's `resolveChatWrapper`. A model
 *   without one (base models, the test fixture) gets a plain transcript, one turn per message,
 *   ending with the assistant's cue for the model to continue:
 *       system: <content>\nuser: <content>\nassistant: <content>\n…\nassistant:
 *   and generation stops at "\nuser:" or "\nsystem:" (the model starting another turn).
 * - **JSON schema** becomes a llama.cpp grammar (`llama.createGrammarForJsonSchema`), so the
 *   answer is JSON of the schema's shape whatever the weights. The grammar cannot express
 *   `minimum`/`maximum` and makes every listed property present; an integer with a small
 *   [minimum, maximum] range is therefore sent as an enum of its values, and `ManagedChat`'s
 *   validator still checks the rest (a number's range). An answer cut off by `maxTokens` is
 *   incomplete JSON, which `ManagedChat` asks again for.
 * - **Determinism.** temperature defaults to 0 (greedy) and seed to 0, so a request without them
 *   still has one answer; with temperature > 0 the seed fixes the sampler. The repeat penalty is
 *   off (llama.cpp server's default): it would push a JSON answer away from the quotes and braces
 *   it must repeat.
 * - **Token counts** come from the model's tokenizer: prompt tokens are the tokens evaluated for
 *   the rendered prompt (BOS included when the model adds one), completion tokens the tokens the
 *   model generated.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type * as NodeLlamaCpp from 'node-llama-cpp';
import { LlmError } from './errors.js';
import type { ChatCallOptions, ChatMessage, ChatProvider, ChatRequest, ChatResponse, JSONSchema } from './types.js';

export interface LlamaCppChatConfig {
  /** Path of the .gguf file. */
  modelPath: string;
  /** Context size in tokens (default: the model's trained context, at most 8192). */
  contextSize?: number;
  /**
   * Threads per evaluation (default: env CHORUS_LLM_THREADS, else node-llama-cpp's choice, all
   * cores). On a machine other processes keep busy, llama.cpp's threads wait on each other at
   * every layer: on 2 shared cores the fixture took ~1 s per token with 2 threads and ~3 ms with 1.
   */
  threads?: number;
  /** GPU back end: false (CPU only, the default) or 'auto' (CUDA, Vulkan or Metal when present). */
  gpu?: false | 'auto';
  /** Tokens to generate when the request gives no maxTokens (default 512). */
  defaultMaxTokens?: number;
  /** Keep the previous call's KV cache and evaluate only where the new prompt differs (faster, see above). */
  reusePrefix?: boolean;
  /** How node-llama-cpp is imported (tests replace it to check the missing-package error). */
  importModule?: () => Promise<unknown>;
}

/** Integer ranges up to this many values are sent to the grammar as an enum of the values. */
const MAX_INTEGER_ENUM = 256;
const DEFAULT_MAX_TOKENS = 512;
const MAX_DEFAULT_CONTEXT = 8192;
const PLAIN_STOP_TRIGGERS = ['\nuser:', '\nsystem:'];

type Lib = typeof NodeLlamaCpp;

interface Loaded {
  lib: Lib;
  llama: NodeLlamaCpp.Llama;
  model: NodeLlamaCpp.LlamaModel;
  context: NodeLlamaCpp.LlamaContext;
  sequence: NodeLlamaCpp.LlamaContextSequence;
  completion: NodeLlamaCpp.LlamaCompletion;
  /** The model's own chat template, when the file has one. */
  wrapper: NodeLlamaCpp.ChatWrapper | null;
}

interface RenderedPrompt {
  /** The prompt as text (special tokens written out), for logs and tests. */
  text: string;
  /** The tokens to evaluate, BOS not included: node-llama-cpp's completion prepends it. */
  tokens: NodeLlamaCpp.Token[];
  /** Whether a BOS token is prepended (it counts as a prompt token). */
  bos: boolean;
  stopTriggers: (string | NodeLlamaCpp.LlamaText)[];
}

/** One node-llama-cpp instance per GPU setting for the whole process: it loads the native binary. */
const llamaInstances = new Map<string, Promise<NodeLlamaCpp.Llama>>();

export class LlamaCppChatProvider implements ChatProvider {
  readonly id: string;
  readonly modelPath: string;
  private readonly cfg: LlamaCppChatConfig;
  private loading: Promise<Loaded> | null = null;
  private readonly grammars = new Map<string, Promise<NodeLlamaCpp.LlamaGrammar>>();
  /** Tail of the queue of calls: each waits for the one before (see "serialised" above). */
  private queue: Promise<unknown> = Promise.resolve();

  /** Checks that the file exists and is a GGUF file; the model itself loads on the first call. */
  constructor(config: LlamaCppChatConfig) {
    this.cfg = config;
    this.modelPath = resolve(config.modelPath);
    this.id = `gguf:${basename(this.modelPath)}@${fingerprint(this.modelPath)}`;
  }

  async chat(req: ChatRequest, options: ChatCallOptions = {}): Promise<ChatResponse> {
    const run = this.queue.then(() => this.generate(req, options.signal));
    // The next call waits for this one to settle, whether it succeeded or not.
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The prompt a request's messages become for this model: as text, as the token ids evaluated
   * (BOS included when the model adds one), and their count (a request's `promptTokens`).
   */
  async renderPrompt(messages: readonly ChatMessage[]): Promise<{ text: string; ids: number[]; tokens: number }> {
    const l = await this.load();
    const r = this.render(l, messages);
    const ids: number[] = r.bos && l.model.tokens.bos !== null ? [l.model.tokens.bos, ...r.tokens] : [...r.tokens];
    return { text: r.text, ids, tokens: ids.length };
  }

  /** Free the context and the model after the calls already queued (a later call loads them again). */
  async close(): Promise<void> {
    await this.queue;
    const loading = this.loading;
    this.loading = null;
    this.grammars.clear();
    if (!loading) return;
    const l = await loading.catch(() => null);
    if (!l) return;
    l.completion.dispose();
    await l.context.dispose();
    await l.model.dispose();
  }

  private async generate(req: ChatRequest, signal: AbortSignal | undefined): Promise<ChatResponse> {
    if (signal?.aborted) throw this.timeout(signal.reason);
    const l = await this.load();
    const prompt = this.render(l, req.messages);
    const promptTokens = prompt.tokens.length + (prompt.bos ? 1 : 0);
    const room = l.context.contextSize - promptTokens;
    if (room < 1) {
      throw new LlmError('E_LLM_SPEC', `the prompt has ${promptTokens} tokens, more than the context of ${l.context.contextSize} tokens of ${this.modelPath}: shorten it or raise contextSize`, { field: 'messages', status: 400 });
    }
    const grammar = req.schema ? await this.grammarFor(l, req.schema) : undefined;
    if (!this.cfg.reusePrefix) await l.sequence.clearHistory();
    let completionTokens = 0;
    let res: NodeLlamaCpp.LlamaCompletionResponse;
    try {
      res = await l.completion.generateCompletionWithMeta(prompt.tokens, {
        maxTokens: Math.min(req.maxTokens ?? this.cfg.defaultMaxTokens ?? DEFAULT_MAX_TOKENS, room),
        temperature: req.temperature ?? 0,
        seed: req.seed ?? 0,
        repeatPenalty: false,
        // A prompt must never be cut silently to fit: it was checked against the context above.
        disableContextShift: true,
        customStopTriggers: prompt.stopTriggers,
        onToken: (tokens) => {
          completionTokens += tokens.length;
        },
        ...(grammar ? { grammar } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw this.timeout(err);
      throw new LlmError('E_LLM_RESPONSE', `${this.modelPath}: generation failed: ${(err as Error).message}`, { cause: err });
    }
    const text = res.response.trim();
    // The answer is parsed and checked against the schema by ManagedChat, for every back end alike.
    return { text, usage: { promptTokens, completionTokens }, cached: false };
  }

  private timeout(cause: unknown): LlmError {
    return new LlmError('E_LLM_TIMEOUT', `${this.modelPath} did not answer in time`, { status: 504, cause, retryable: true });
  }

  private load(): Promise<Loaded> {
    if (!this.loading) {
      const p = this.doLoad();
      this.loading = p;
      // A failed load is not kept: the next call tries again (after the file or package is fixed).
      p.catch(() => {
        if (this.loading === p) this.loading = null;
      });
    }
    return this.loading;
  }

  private async doLoad(): Promise<Loaded> {
    const lib = await importNodeLlamaCpp(this.cfg.importModule);
    const gpu = this.cfg.gpu ?? false;
    const key = String(gpu);
    let llamaP = llamaInstances.get(key);
    if (!llamaP) {
      llamaP = lib.getLlama({ gpu, logLevel: lib.LlamaLogLevel.error });
      llamaInstances.set(key, llamaP);
      llamaP.catch(() => llamaInstances.delete(key));
    }
    let llama: NodeLlamaCpp.Llama;
    try {
      llama = await llamaP;
    } catch (err) {
      throw new LlmError('E_LLM_SPEC', `node-llama-cpp could not start llama.cpp (gpu: ${key}): ${(err as Error).message}`, { cause: err, status: 500 });
    }
    let model: NodeLlamaCpp.LlamaModel;
    try {
      model = await llama.loadModel({ modelPath: this.modelPath });
    } catch (err) {
      throw new LlmError('E_LLM_SPEC', `cannot load the GGUF model ${this.modelPath}: ${(err as Error).message}`, { field: 'llm', cause: err, status: 400 });
    }
    try {
      const threads = this.cfg.threads ?? threadsFromEnv();
      const context = await model.createContext({
        contextSize: this.cfg.contextSize ?? Math.min(model.trainContextSize, MAX_DEFAULT_CONTEXT),
        sequences: 1,
        ...(threads !== undefined ? { threads } : {}),
      });
      const sequence = context.getSequence();
      const completion = new lib.LlamaCompletion({ contextSequence: sequence });
      const wrapper = model.fileInfo.metadata.tokenizer?.chat_template ? lib.resolveChatWrapper(model) : null;
      return { lib, llama, model, context, sequence, completion, wrapper };
    } catch (err) {
      await model.dispose();
      if (err instanceof LlmError) throw err;
      throw new LlmError('E_LLM_SPEC', `cannot create a context for ${this.modelPath}: ${(err as Error).message}`, { field: 'llm', cause: err, status: 500 });
    }
  }

  private render(l: Loaded, messages: readonly ChatMessage[]): RenderedPrompt {
    const bos = l.model.tokens.shouldPrependBosToken && l.model.tokens.bos !== null;
    const trim = bos ? 'trimLeadingSpace' : undefined;
    if (l.wrapper) {
      const chatHistory: NodeLlamaCpp.ChatHistoryItem[] = messages.map((m) =>
        m.role === 'assistant' ? { type: 'model', response: [m.content] } : { type: m.role, text: m.content },
      );
      // An empty model turn at the end: the template renders the assistant's cue to answer.
      chatHistory.push({ type: 'model', response: [] });
      const state = l.wrapper.generateContextState({ chatHistory });
      let tokens = state.contextText.tokenize(l.model.tokenizer, trim);
      // Templates usually write BOS themselves; the completion prepends it, so drop it here.
      if (bos && tokens[0] === l.model.tokens.bos) tokens = tokens.slice(1);
      return { text: state.contextText.toString(), tokens, bos, stopTriggers: state.stopGenerationTriggers };
    }
    const text = plainTranscript(messages);
    // specialTokens=false: text such as "</s>" inside a message stays text, never a control token.
    return { text, tokens: l.model.tokenize(text, false, trim), bos, stopTriggers: PLAIN_STOP_TRIGGERS };
  }

  private grammarFor(l: Loaded, schema: JSONSchema): Promise<NodeLlamaCpp.LlamaGrammar> {
    const key = JSON.stringify(schema);
    const known = this.grammars.get(key);
    if (known) return known;
    // The schema is built at run time, so its literal type (which node-llama-cpp's generic uses
    // to type the parsed answer) is unknown here: the grammar is used as a plain LlamaGrammar.
    const gbnf = jsonSchemaToGbnf(schema) as never;
    const g: Promise<NodeLlamaCpp.LlamaGrammar> = l.llama.createGrammarForJsonSchema(gbnf).catch((err: unknown) => {
      this.grammars.delete(key);
      throw new LlmError('E_LLM_SPEC', `the JSON schema cannot be made into a llama.cpp grammar: ${(err as Error).message}`, { field: 'schema', cause: err, status: 400 });
    });
    this.grammars.set(key, g);
    return g;
  }
}

/** The plain transcript used for models without a chat template (see the module comment). */
export function plainTranscript(messages: readonly ChatMessage[]): string {
  return messages.map((m) => `${m.role}: ${m.content}\n`).join('') + 'assistant:';
}

/**
 * Chorus's JSON-schema subset as node-llama-cpp's grammar schema. Differences it bridges:
 * node-llama-cpp has no minimum/maximum (a small integer range becomes an enum; other ranges are
 * left to the validator), treats every property as required (so optional ones are always
 * written, which the schema allows), and defaults `additionalProperties` to false (so an object
 * schema without properties is given `true`, as JSON Schema means).
 */
export function jsonSchemaToGbnf(schema: JSONSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (schema.description !== undefined) out.description = schema.description;
  if (schema.enum) return { ...out, enum: [...schema.enum] };
  switch (schema.type) {
    case undefined:
      if (schema.properties) return jsonSchemaToGbnf({ ...schema, type: 'object' });
      // Any scalar: node-llama-cpp's basic schema has no "any JSON value".
      return { ...out, type: ['string', 'number', 'boolean', 'null'] };
    case 'string':
      return { ...out, type: 'string', ...(schema.maxLength !== undefined ? { maxLength: schema.maxLength } : {}) };
    case 'integer': {
      const { minimum: lo, maximum: hi } = schema;
      if (lo !== undefined && hi !== undefined && Number.isFinite(lo) && Number.isFinite(hi)) {
        const a = Math.ceil(lo);
        const b = Math.floor(hi);
        if (b >= a && b - a < MAX_INTEGER_ENUM) return { ...out, enum: Array.from({ length: b - a + 1 }, (_, k) => a + k) };
      }
      return { ...out, type: 'integer' };
    }
    case 'number':
    case 'boolean':
    case 'null':
      return { ...out, type: schema.type };
    case 'array':
      return {
        ...out,
        type: 'array',
        ...(schema.items ? { items: jsonSchemaToGbnf(schema.items) } : {}),
        ...(schema.minItems !== undefined ? { minItems: schema.minItems } : {}),
        ...(schema.maxItems !== undefined ? { maxItems: schema.maxItems } : {}),
      };
    case 'object': {
      const props = schema.properties ?? {};
      const extra = schema.additionalProperties;
      const additionalProperties =
        typeof extra === 'object' ? jsonSchemaToGbnf(extra) : extra !== undefined ? extra : Object.keys(props).length === 0;
      return {
        ...out,
        type: 'object',
        properties: Object.fromEntries(Object.entries(props).map(([k, v]) => [k, jsonSchemaToGbnf(v)])),
        additionalProperties,
      };
    }
  }
}

/** Whether a chat-model spec names a local GGUF file (rather than `<url>#<model>`). */
export function isGgufSpec(spec: string): boolean {
  return !/^https?:\/\//i.test(spec) && /\.gguf$/i.test(spec);
}

async function importNodeLlamaCpp(importer?: () => Promise<unknown>): Promise<Lib> {
  try {
    return (await (importer ?? (() => import('node-llama-cpp')))()) as Lib;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new LlmError('E_LLM_SPEC', 'the GGUF back end needs the optional package node-llama-cpp, which is not installed: run `npm install node-llama-cpp`', { field: 'llm', cause: err, status: 500 });
    }
    throw new LlmError('E_LLM_SPEC', `node-llama-cpp failed to load: ${(err as Error).message} (reinstall it with \`npm install node-llama-cpp\`)`, { field: 'llm', cause: err, status: 500 });
  }
}

function threadsFromEnv(): number | undefined {
  const v = process.env.CHORUS_LLM_THREADS;
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new LlmError('E_LLM_SPEC', `CHORUS_LLM_THREADS must be a non-negative integer, got "${v}"`, { field: 'CHORUS_LLM_THREADS', status: 400 });
  return n;
}

/**
 * Check the file and name its content: sha256 of its size and its first and last MiB, so that
 * the id (part of every cache key) changes when the weights do, without reading a 5 GB file.
 */
function fingerprint(path: string): string {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new LlmError('E_LLM_SPEC', `${path} is not a file (a GGUF model file was expected)`, { field: 'llm', status: 400 });
    size = st.size;
  } catch (err) {
    if (err instanceof LlmError) throw err;
    const code = (err as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new LlmError('E_LLM_SPEC', `GGUF model file ${path}: ${why}`, { field: 'llm', cause: err, status: 400 });
  }
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(Math.min(size, 1 << 20));
    readSync(fd, head, 0, head.length, 0);
    if (size < 4 || head.toString('latin1', 0, 4) !== 'GGUF') {
      throw new LlmError('E_LLM_SPEC', `${path} is not a GGUF model file (it does not start with the bytes "GGUF")`, { field: 'llm', status: 400 });
    }
    // A sane header, checked here because node-llama-cpp's reader of the metadata can spin for
    // minutes on a garbage count: version 2 or 3, and counts the file could possibly hold.
    const version = size >= 24 ? head.readUInt32LE(4) : 0;
    const nTensors = size >= 24 ? head.readBigUInt64LE(8) : 0n;
    const nKv = size >= 24 ? head.readBigUInt64LE(16) : 0n;
    if ((version !== 2 && version !== 3) || nTensors > BigInt(size) || nKv > BigInt(size)) {
      const what = size < 24 ? `${size} bytes, shorter than a GGUF header` : `version ${version}, ${nTensors} tensors, ${nKv} metadata keys`;
      throw new LlmError('E_LLM_SPEC', `${path} is not a valid GGUF v2/v3 file (header: ${what})`, { field: 'llm', status: 400 });
    }
    const tail = Buffer.alloc(Math.min(Math.max(0, size - head.length), 1 << 20));
    readSync(fd, tail, 0, tail.length, size - tail.length);
    return createHash('sha256').update(String(size)).update(head).update(tail).digest('hex').slice(0, 16);
  } finally {
    closeSync(fd);
  }
}
