import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parseJsonText } from '../data/json-error.js';
import { EmbedError } from './errors.js';
import type { Embedder } from './types.js';

export type Pooling = 'mean' | 'cls' | 'last_token' | 'none';

export interface TransformersEmbedderOptions {
  /** Load only from the local folder / cache, never the network. Default false for hub names. */
  localOnly?: boolean;
  /** Where downloaded models are cached (transformers.js's standard cache when absent). */
  cacheDir?: string;
  /** Override the pooling read from the model (1_Pooling/config.json) or the known-model table. */
  pooling?: Pooling;
  /** L2-normalise the output (default true: sentence-transformers models end with Normalize). */
  normalize?: boolean;
  /** Texts per forward pass. */
  batchSize?: number;
  /** ONNX weights variant: fp32 (default), fp16, q8, … as the model folder provides. */
  dtype?: 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4';
  /** onnxruntime intra-op threads (default 1: one compute thread per process on small machines). */
  threads?: number;
  /** Texts done / total after each batch. */
  onProgress?: (done: number, total: number) => void;
}

/** The model the default encoder tries first. */
export const DEFAULT_TRANSFORMERS_MODEL = 'Xenova/all-MiniLM-L6-v2';

/** Models whose sentence-transformers pooling is not mean (by name prefix, lower-cased). */
const CLS_POOLED = ['baai/bge-', 'xenova/bge-', 'mixedbread-ai/', 'snowflake/snowflake-arctic-embed', 'alibaba-nlp/gte-base-en-v1.5'];

interface Extractor {
  (texts: string[], options: { pooling: Pooling; normalize: boolean }): Promise<{ data: ArrayLike<number>; dims: number[] }>;
  dispose?: () => Promise<void>;
}

/**
 * A sentence-embedding model run by transformers.js (onnxruntime-node): a hub name (downloaded
 * once into the cache) or a local folder holding config.json, tokenizer files and
 * onnx/model.onnx. Pooling follows the model's sentence-transformers config when it ships one.
 */
export class TransformersEmbedder implements Embedder {
  readonly id: string;
  readonly dim: number;
  readonly model: string;
  readonly pooling: Pooling;
  readonly normalize: boolean;
  private readonly extractor: Extractor;
  private readonly batchSize: number;
  private readonly onProgress?: (done: number, total: number) => void;

  private constructor(init: { id: string; dim: number; model: string; pooling: Pooling; normalize: boolean; extractor: Extractor; options: TransformersEmbedderOptions }) {
    this.id = init.id;
    this.dim = init.dim;
    this.model = init.model;
    this.pooling = init.pooling;
    this.normalize = init.normalize;
    this.extractor = init.extractor;
    this.batchSize = Math.max(1, init.options.batchSize ?? 32);
    this.onProgress = init.options.onProgress;
  }

  /** Load a model by hub name or local folder; throws `EmbedError` E_EMBED_MODEL when it cannot. */
  static async load(model: string, options: TransformersEmbedderOptions = {}): Promise<TransformersEmbedder> {
    const folder = localFolder(model);
    const name = folder ?? model;
    const pooling = options.pooling ?? poolingFor(model, folder);
    const normalize = options.normalize ?? true;
    const dtype = options.dtype ?? 'fp32';
    const tf = await importTransformers(model);
    let extractor: Extractor;
    try {
      const pipe = await tf.pipeline('feature-extraction', name, {
        dtype,
        device: 'cpu',
        session_options: { intraOpNumThreads: options.threads ?? 1, interOpNumThreads: 1 },
        local_files_only: folder !== undefined || options.localOnly === true,
        ...(options.cacheDir ? { cache_dir: options.cacheDir } : {}),
      });
      // The pipeline's call signature is wider than we use; narrowed to what this class calls.
      extractor = pipe as unknown as Extractor;
    } catch (err) {
      const first = (err as Error).message?.split('\n')[0] ?? String(err);
      // fetch's own message is just "fetch failed"; the cause says why (ENOTFOUND huggingface.co …).
      const cause = (err as { cause?: { code?: string; hostname?: string; message?: string } }).cause;
      const reason = cause ? `${first}: ${cause.code ?? ''} ${cause.hostname ?? cause.message ?? ''}`.trim() : first;
      throw new EmbedError('E_EMBED_MODEL', `cannot load transformers.js model "${model}": ${reason}`, { cause: err, status: 500 });
    }
    const probe = await extractor(['probe'], { pooling, normalize });
    const dim = probe.dims[probe.dims.length - 1]!;
    const fingerprint = folder ? `@${modelFingerprint(folder, dtype)}` : '';
    const id = `onnx:${folder ? 'local' : model}${fingerprint}:${dtype}:${pooling}${normalize ? ':norm' : ''}`;
    return new TransformersEmbedder({ id, dim, model: name, pooling, normalize, extractor, options });
  }

  async embed(texts: readonly string[]): Promise<Float32Array> {
    const out = new Float32Array(texts.length * this.dim);
    for (let start = 0; start < texts.length; start += this.batchSize) {
      // transformers.js tokenises an empty string to [CLS][SEP]; keep it, the row stays defined.
      const batch = texts.slice(start, start + this.batchSize);
      const res = await this.extractor(batch, { pooling: this.pooling, normalize: this.normalize });
      if (res.dims.length !== 2 || res.dims[0] !== batch.length || res.dims[1] !== this.dim) {
        throw new EmbedError('E_EMBED_MODEL', `model "${this.model}" returned shape [${res.dims.join(', ')}], expected [${batch.length}, ${this.dim}] (pooling "${this.pooling}")`, { status: 500 });
      }
      out.set(res.data, start * this.dim);
      this.onProgress?.(Math.min(start + this.batchSize, texts.length), texts.length);
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.extractor.dispose?.();
  }
}

/** The optional peer dependency that runs ONNX encoders; not installed with chorus-rec by default. */
const TRANSFORMERS_PACKAGE = '@huggingface/transformers';

/**
 * Import transformers.js lazily: it pulls onnxruntime (hundreds of MB on disk, ~150 ms to load),
 * so it is an optional peer dependency and only users of an ONNX encoder install and load it.
 * When it is missing, the error names the package and the command that installs it.
 */
async function importTransformers(model: string): Promise<typeof import('@huggingface/transformers')> {
  try {
    return await import('@huggingface/transformers');
  } catch (err) {
    const e = err as { code?: string; message?: string };
    // Only the package itself being absent; a broken install (e.g. a missing native binary) keeps its own message.
    const missing = (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && new RegExp(`['"]${TRANSFORMERS_PACKAGE}['"]`).test(e.message ?? '');
    const reason = missing
      ? `the optional package ${TRANSFORMERS_PACKAGE} is not installed; install it with \`npm i ${TRANSFORMERS_PACKAGE}\``
      : (e.message?.split('\n')[0] ?? String(err));
    throw new EmbedError('E_EMBED_MODEL', `cannot load transformers.js model "${model}": ${reason}`, { cause: err, status: 500 });
  }
}

/** The absolute folder when `model` names an existing local directory, else undefined. */
function localFolder(model: string): string | undefined {
  const looksLikePath = isAbsolute(model) || model.startsWith('./') || model.startsWith('../') || model.startsWith('~');
  const p = resolve(model.startsWith('~') ? join(process.env.HOME ?? '', model.slice(1)) : model);
  if (existsSync(p) && statSync(p).isDirectory()) return p;
  if (looksLikePath) throw new EmbedError('E_EMBED_MODEL', `model folder "${model}" does not exist`, { status: 400 });
  return undefined;
}

/** Pooling from a sentence-transformers folder's 1_Pooling/config.json, else by model name. */
function poolingFor(model: string, folder: string | undefined): Pooling {
  if (folder) {
    const f = join(folder, '1_Pooling', 'config.json');
    if (existsSync(f)) {
      const c = parseJsonText(readFileSync(f, 'utf8'), { file: f }) as Record<string, boolean>;
      if (c.pooling_mode_cls_token) return 'cls';
      if (c.pooling_mode_lasttoken) return 'last_token';
      if (c.pooling_mode_mean_tokens) return 'mean';
    }
  }
  const m = model.toLowerCase();
  return CLS_POOLED.some((p) => m.startsWith(p)) ? 'cls' : 'mean';
}

/** sha256 prefix of the folder's ONNX weights, so a changed model never reuses cached vectors. */
function modelFingerprint(folder: string, dtype: string): string {
  const suffix = dtype === 'fp32' ? '' : `_${dtype === 'q8' ? 'quantized' : dtype}`;
  const file = join(folder, 'onnx', `model${suffix}.onnx`);
  const h = createHash('sha256');
  if (existsSync(file)) h.update(readFileSync(file));
  for (const f of ['tokenizer.json', 'config.json']) if (existsSync(join(folder, f))) h.update(readFileSync(join(folder, f)));
  return h.digest('hex').slice(0, 12);
}
