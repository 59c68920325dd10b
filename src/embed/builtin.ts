import { createHash } from 'node:crypto';
import { ConfigError, ModelStateError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { randomizedSvd, type SparseMatrix } from './svd.js';
import { textFeatures } from './text.js';
import type { Embedder } from './types.js';

/** Knobs of the built-in encoder (defaults tuned on ml-latest-small titles + genres). */
export interface BuiltinConfig {
  /** Output dimension (number of SVD components). */
  dim: number;
  /** Character n-gram lengths inside words; ngramMax 0 turns them off. */
  ngramMin: number;
  ngramMax: number;
  /** Weight of the character n-gram block relative to whole words. */
  charWeight: number;
  /** A feature must occur in at least this many texts (1 for tiny corpora). */
  minDf: number;
  /** Keep at most this many features (highest document frequency first). */
  maxFeatures: number;
  powerIterations: number;
  seed: number;
}

export const BUILTIN_DEFAULTS: BuiltinConfig = {
  dim: 64,
  ngramMin: 3,
  ngramMax: 4,
  charWeight: 0.5,
  minDf: 2,
  maxFeatures: 20000,
  powerIterations: 2,
  seed: 42,
};

/** The saved form: config + vocabulary + idf + SVD components (enough to embed new text). */
export interface BuiltinState {
  config: BuiltinConfig;
  vocab: string[];
  idf: Float32Array;
  components: Float32Array;
  singularValues: Float64Array;
}

/**
 * The built-in encoder: TF-IDF over words and character n-grams (sublinear tf, smooth idf, each
 * row L2-normalised) projected on the top `dim` right singular vectors of the training corpus
 * (latent semantic analysis) by a seeded randomized SVD, output L2-normalised so a dot product is
 * a cosine. Trained on the catalogue's own text, so it needs no download; same corpus, config and
 * seed give bit-identical vectors.
 */
export class BuiltinEmbedder implements Embedder {
  readonly id: string;
  readonly dim: number;
  private readonly state: BuiltinState;
  private readonly featureIndex: Map<string, number>;

  private constructor(state: BuiltinState) {
    this.state = state;
    this.dim = state.config.dim;
    this.featureIndex = new Map(state.vocab.map((f, i) => [f, i]));
    // The id names the trained state, so the embedding cache never mixes two trainings.
    const h = createHash('sha256');
    h.update(JSON.stringify(state.config));
    h.update(state.vocab.join('\u0000'));
    h.update(Buffer.from(state.components.buffer, state.components.byteOffset, state.components.byteLength));
    this.id = `builtin:tfidf-svd:v1:${h.digest('hex').slice(0, 16)}`;
  }

  /**
   * Train on a corpus (the catalogue's item texts). Training is a pure function of the corpus and
   * config, so the last few trainings are kept and a repeat returns the same state at once: a
   * hybrid fits its content and sequence members twice each (tuning split, then all of train) on
   * the same catalogue text, and each fit trained the same encoder again (~2 s on ml-latest-small).
   */
  static train(corpus: readonly string[], config: Partial<BuiltinConfig> = {}): BuiltinEmbedder {
    const cfg = { ...BUILTIN_DEFAULTS, ...config };
    validate(cfg);
    const key = trainingKey(corpus, cfg);
    const known = recentTrainings.get(key);
    if (known) return new BuiltinEmbedder(known);
    const state = trainState(corpus, cfg);
    recentTrainings.set(key, state);
    if (recentTrainings.size > RECENT_TRAININGS) recentTrainings.delete(recentTrainings.keys().next().value!);
    return new BuiltinEmbedder(state);
  }

  /** Restore a trained encoder from `toJSON()` output. */
  static fromState(state: BuiltinState): BuiltinEmbedder {
    const cfg = { ...BUILTIN_DEFAULTS, ...state.config };
    if (state.idf.length !== state.vocab.length || state.components.length !== state.vocab.length * cfg.dim) {
      throw new ModelStateError('built-in encoder state is inconsistent (vocabulary, idf and components differ in size)', 'E_MODEL_STATE');
    }
    return new BuiltinEmbedder({ ...state, config: cfg });
  }

  toJSON(): BuiltinState {
    return this.state;
  }

  async embed(texts: readonly string[]): Promise<Float32Array> {
    return this.embedSync(texts);
  }

  /** Synchronous form (the encoder is pure CPU work on small inputs). */
  embedSync(texts: readonly string[]): Float32Array {
    const { config, idf, components } = this.state;
    const k = this.dim;
    const out = new Float32Array(texts.length * k);
    const row = new Map<number, number>();
    const feats = new Map<string, number>();
    for (let t = 0; t < texts.length; t++) {
      feats.clear();
      textFeatures(texts[t]!, config.ngramMin, config.ngramMax, feats);
      weighRow(feats, this.featureIndex, idf, config.charWeight, row);
      const o = t * k;
      for (const [f, w] of row) {
        const base = f * k;
        for (let m = 0; m < k; m++) out[o + m] += w * components[base + m]!;
      }
      let norm = 0;
      for (let m = 0; m < k; m++) norm += out[o + m]! * out[o + m]!;
      if (norm > 0) {
        const inv = 1 / Math.sqrt(norm);
        for (let m = 0; m < k; m++) out[o + m] *= inv;
      }
    }
    return out;
  }
}

/** TF-IDF weights of one document's known features into `row` (cleared first), L2-normalised. */
function weighRow(feats: Map<string, number>, index: Map<string, number>, idf: Float32Array, charWeight: number, row: Map<number, number>): void {
  row.clear();
  let norm = 0;
  for (const [f, count] of feats) {
    const i = index.get(f);
    if (i === undefined) continue;
    const block = f.charCodeAt(0) === 99 /* 'c' */ ? charWeight : 1;
    const w = (1 + Math.log(count)) * idf[i]! * block;
    row.set(i, w);
    norm += w * w;
  }
  if (norm > 0) {
    const inv = 1 / Math.sqrt(norm);
    for (const [i, w] of row) row.set(i, w * inv);
  }
}

/** Trainings kept by `BuiltinEmbedder.train` (oldest dropped first); each is a few MB at most. */
const RECENT_TRAININGS = 4;
const recentTrainings = new Map<string, BuiltinState>();

/** What a training depends on: the config and every text, in order. */
function trainingKey(corpus: readonly string[], cfg: BuiltinConfig): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(cfg));
  for (const t of corpus) {
    h.update(`\u0000${t.length}\u0000`);
    h.update(t);
  }
  return `${corpus.length}:${h.digest('hex')}`;
}

/** TF-IDF vocabulary and randomized SVD of a corpus (see the class comment). */
function trainState(corpus: readonly string[], cfg: BuiltinConfig): BuiltinState {
  const docs = corpus.map((t) => textFeatures(t, cfg.ngramMin, cfg.ngramMax));
  const df = new Map<string, number>();
  for (const d of docs) for (const f of d.keys()) df.set(f, (df.get(f) ?? 0) + 1);
  const minDf = corpus.length < 50 ? 1 : cfg.minDf;
  let kept = [...df.entries()].filter(([, n]) => n >= minDf);
  if (kept.length > cfg.maxFeatures) {
    kept.sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
    kept = kept.slice(0, cfg.maxFeatures);
  }
  // Sorted vocabulary: the model does not depend on the order of the corpus.
  kept.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const vocab = kept.map(([f]) => f);
  const n = corpus.length;
  const idf = new Float32Array(vocab.length);
  for (let f = 0; f < vocab.length; f++) idf[f] = Math.log((1 + n) / (1 + kept[f]![1])) + 1;
  const index = new Map(vocab.map((f, i) => [f, i]));

  const indptr = new Int32Array(n + 1);
  const idx: number[] = [];
  const val: number[] = [];
  const row = new Map<number, number>();
  for (let d = 0; d < n; d++) {
    weighRow(docs[d]!, index, idf, cfg.charWeight, row);
    const sorted = [...row.keys()].sort((x, y) => x - y);
    for (const f of sorted) {
      idx.push(f);
      val.push(row.get(f)!);
    }
    indptr[d + 1] = idx.length;
  }
  const a: SparseMatrix = { rows: n, cols: vocab.length, indptr, indices: Int32Array.from(idx), values: Float32Array.from(val) };
  const svd = randomizedSvd(a, cfg.dim, new Rng(cfg.seed), { powerIterations: cfg.powerIterations });
  return { config: cfg, vocab, idf, components: svd.components, singularValues: svd.singularValues };
}

function validate(c: BuiltinConfig): void {
  const intAtLeast = (v: number, min: number, field: string): void => {
    if (!Number.isInteger(v) || v < min) throw new ConfigError(`expected an integer ≥ ${min}, got ${v}`, `embedder.builtin.${field}`);
  };
  intAtLeast(c.dim, 1, 'dim');
  intAtLeast(c.ngramMin, 1, 'ngramMin');
  intAtLeast(c.ngramMax, 0, 'ngramMax');
  intAtLeast(c.minDf, 1, 'minDf');
  intAtLeast(c.maxFeatures, 1, 'maxFeatures');
  intAtLeast(c.powerIterations, 0, 'powerIterations');
  if (!(c.charWeight >= 0)) throw new ConfigError(`expected a number ≥ 0, got ${c.charWeight}`, 'embedder.builtin.charWeight');
}
