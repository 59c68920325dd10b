import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { gram } from '../util/linalg.js';
import { Rng } from '../util/rng.js';
import { words } from './text.js';
import type { Embedder } from './types.js';
import type { WordVectorTable } from './word-vector-file.js';

/** Knobs of the SIF word-vector encoder (Arora, Liang & Ma 2017, "A simple but tough-to-beat baseline"). */
export interface WordVectorConfig {
  /** SIF smoothing a: a word of probability p weighs a / (a + p). The paper's range is 1e-4 … 1e-3. */
  a: number;
  /**
   * Where p(w) comes from. `corpus`: token counts of the texts the encoder is fitted on (the
   * catalogue), so words frequent in this catalogue ("genres", "drama") weigh little; a word absent
   * from it gets p = 0 (weight 1). `rank`: Zipf's law on the vector file's order (wink's rows are
   * in frequency order): p = 1 / ((rank + 1) · H_N), no corpus statistics.
   */
  frequencies: 'corpus' | 'rank';
  /** Remove the projection on the first principal component of the fitted corpus's vectors. */
  removePc: boolean;
  /** L2-normalise each output row (so a dot product is a cosine, as the built-in encoder's). */
  normalize: boolean;
  /** Seed of the power iteration's start vector. */
  seed: number;
}

export const WORD_VECTOR_DEFAULTS: WordVectorConfig = { a: 1e-3, frequencies: 'corpus', removePc: true, normalize: true, seed: 42 };

/**
 * Text → SIF-weighted average of its words' pretrained vectors. Words come from the built-in
 * encoder's tokeniser (`words`: lower-cased, accents stripped, letters/digits runs); a word missing
 * from the table is skipped; a text with no known word gets the zero vector (content then treats
 * the item as text-less). v(s) = (1/|known words of s|) Σ a/(a + p(w)) · v(w), then
 * v(s) − u uᵀ v(s) with u the first right singular vector of the (uncentred) matrix of the fitted
 * corpus's v(s), as in the paper. Fit once on the catalogue: each text's vector then depends only
 * on that text, so vectors can be cached per text under `id`.
 */
export class WordVectorEmbedder implements Embedder {
  readonly id: string;
  readonly dim: number;
  readonly config: WordVectorConfig;
  private readonly table: WordVectorTable;
  private readonly index: Map<string, number>;
  /** p(w) by table row; NaN-free, 0 for words never counted. */
  private readonly prob: Float64Array;
  /** Unit first principal component (length dim), or undefined when not removed. */
  private readonly pc: Float64Array | undefined;

  private constructor(table: WordVectorTable, index: Map<string, number>, config: WordVectorConfig, prob: Float64Array, pc: Float64Array | undefined) {
    this.table = table;
    this.index = index;
    this.config = config;
    this.prob = prob;
    this.pc = pc;
    this.dim = table.dim;
    // The id names everything a vector depends on, so the embedding cache never mixes two fits.
    const h = createHash('sha256');
    h.update(JSON.stringify(config));
    h.update(table.source);
    h.update(Buffer.from(prob.buffer, prob.byteOffset, prob.byteLength));
    if (pc) h.update(Buffer.from(pc.buffer, pc.byteOffset, pc.byteLength));
    this.id = `words:sif:v1:${table.source}:${h.digest('hex').slice(0, 16)}`;
  }

  /** Fit the word frequencies (`corpus` mode) and the common component on the catalogue's texts. */
  static fit(table: WordVectorTable, corpus: readonly string[], config: Partial<WordVectorConfig> = {}): WordVectorEmbedder {
    const cfg = { ...WORD_VECTOR_DEFAULTS, ...config };
    validate(cfg);
    const index = tableIndex(table);
    const n = table.words.length;
    const prob = new Float64Array(n);
    if (cfg.frequencies === 'rank') {
      let harmonic = 0;
      for (let r = n; r >= 1; r--) harmonic += 1 / r;
      for (let r = 0; r < n; r++) prob[r] = 1 / ((r + 1) * harmonic);
    } else {
      // Every token counts in the total, known or not: p is the word's share of the corpus's tokens.
      let total = 0;
      for (const t of corpus) {
        for (const w of words(t)) {
          total++;
          const i = index.get(w);
          if (i !== undefined) prob[i]!++;
        }
      }
      if (total > 0) for (let i = 0; i < n; i++) prob[i]! /= total;
    }
    const base = new WordVectorEmbedder(table, index, { ...cfg, removePc: false, normalize: false }, prob, undefined);
    let pc: Float64Array | undefined;
    if (cfg.removePc && corpus.length > 0) pc = firstComponent(base.embedSync(corpus), corpus.length, table.dim, new Rng(cfg.seed));
    return new WordVectorEmbedder(table, index, cfg, prob, pc);
  }

  /** How many of a text's words have a vector (0: the text embeds to the zero vector). */
  knownWords(text: string): number {
    let k = 0;
    for (const w of words(text)) if (this.index.has(w)) k++;
    return k;
  }

  async embed(texts: readonly string[]): Promise<Float32Array> {
    return this.embedSync(texts);
  }

  embedSync(texts: readonly string[]): Float32Array {
    const d = this.dim;
    const { vectors } = this.table;
    const a = this.config.a;
    const out = new Float32Array(texts.length * d);
    const acc = new Float64Array(d);
    for (let t = 0; t < texts.length; t++) {
      acc.fill(0);
      let known = 0;
      for (const w of words(texts[t]!)) {
        const i = this.index.get(w);
        if (i === undefined) continue;
        known++;
        const wt = a / (a + this.prob[i]!);
        const base = i * d;
        for (let m = 0; m < d; m++) acc[m] += wt * vectors[base + m]!;
      }
      if (known === 0) continue; // zero row: nothing known about this text
      for (let m = 0; m < d; m++) acc[m] /= known;
      if (this.pc) {
        let dot = 0;
        for (let m = 0; m < d; m++) dot += this.pc[m]! * acc[m]!;
        for (let m = 0; m < d; m++) acc[m] -= dot * this.pc[m]!;
      }
      let norm = 1;
      if (this.config.normalize) {
        let s = 0;
        for (let m = 0; m < d; m++) s += acc[m]! * acc[m]!;
        norm = s > 0 ? Math.sqrt(s) : 1;
      }
      const o = t * d;
      for (let m = 0; m < d; m++) out[o + m] = acc[m]! / norm;
    }
    return out;
  }
}

/**
 * Lookup from the tokeniser's form of each table word to its row. Table words are mapped through
 * the same normalisation as text (lower case, accents stripped); when two rows meet ("café",
 * "cafe"), the earlier — in wink's file, the more frequent — wins. Rows whose word is not a single
 * token ("sci-fi", ",") can never match and are left out.
 */
function tableIndex(table: WordVectorTable): Map<string, number> {
  const cached = indexCache.get(table);
  if (cached) return cached;
  const index = new Map<string, number>();
  const simple = /^[a-z0-9]+$/;
  for (let r = 0; r < table.words.length; r++) {
    const w = table.words[r]!;
    let key: string | undefined = w;
    if (!simple.test(w)) {
      const toks = words(w);
      key = toks.length === 1 ? toks[0] : undefined;
    }
    if (key !== undefined && !index.has(key)) index.set(key, r);
  }
  indexCache.set(table, index);
  return index;
}
const indexCache = new WeakMap<WordVectorTable, Map<string, number>>();

/**
 * Unit top eigenvector of XᵀX (X: rows × d, uncentred, as the paper's TruncatedSVD) by power
 * iteration from a seeded start; sign fixed so its largest-magnitude entry is positive.
 */
export function firstComponent(x: Float32Array, rows: number, d: number, rng: Rng): Float64Array {
  const g = gram(x, rows, d, new Float64Array(d * d));
  let u = new Float64Array(d);
  for (let m = 0; m < d; m++) u[m] = rng.normal();
  let next = new Float64Array(d);
  for (let it = 0; it < 10_000; it++) {
    let s = 0;
    for (let i = 0; i < d; i++) {
      let v = 0;
      for (let j = 0; j < d; j++) v += g[i * d + j]! * u[j]!;
      next[i] = v;
      s += v * v;
    }
    if (s === 0) return new Float64Array(d); // all-zero corpus: nothing to remove
    const inv = 1 / Math.sqrt(s);
    let change = 0;
    for (let i = 0; i < d; i++) {
      next[i] *= inv;
      change = Math.max(change, Math.abs(next[i]! - u[i]!));
    }
    [u, next] = [next, u];
    if (change < 1e-12) break;
  }
  let big = 0;
  for (let i = 1; i < d; i++) if (Math.abs(u[i]!) > Math.abs(u[big]!)) big = i;
  if (u[big]! < 0) for (let i = 0; i < d; i++) u[i] = -u[i]!;
  return u;
}

function validate(c: WordVectorConfig): void {
  if (!(c.a > 0) || !Number.isFinite(c.a)) throw new ConfigError(`expected a number > 0, got ${c.a}`, 'embedder.words.a');
  if (c.frequencies !== 'corpus' && c.frequencies !== 'rank') throw new ConfigError(`expected corpus or rank, got "${String(c.frequencies)}"`, 'embedder.words.frequencies');
  if (!Number.isInteger(c.seed)) throw new ConfigError(`expected an integer, got ${c.seed}`, 'embedder.words.seed');
}
