/**
 * Content-based recommender: items are text embeddings (any `Embedder`; the built-in encoder by
 * default), a user is the recency-weighted mean of the vectors of the items they interacted with,
 * and an item's score is its cosine with that profile (item–item cosine, aggregated). New items
 * are scored like any other, from their text; new and nearly-new users get popularity blended in
 * (see ./coldstart.ts).
 */
import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { BuiltinEmbedder, type BuiltinState } from '../embed/builtin.js';
import { CachedEmbedder, EmbeddingCache } from '../embed/cache.js';
import { createEmbedder, parseEmbedderSpec } from '../embed/registry.js';
import { itemTexts } from '../embed/text.js';
import type { Embedder } from '../embed/types.js';
import { BaseRecommender } from './base.js';
import { coldUserPopularityShare, contentPopularity, recencyWeight } from './coldstart.js';
import { logPopularity } from '../util/log-popularity.js';
import { typedField } from './saved-state.js';
import type { FitOptions, UserRef } from './types.js';

export const contentConfigSchema = z.strictObject({
  /** Encoder spec: builtin | default | onnx:<model or folder> | http:<base url>#<model>. */
  embedder: z.string().min(1),
  /** Dimension of the built-in encoder (ignored by the others). */
  dim: z.number().int().min(2).max(1024),
  /** Append item tags to the item text (P2's second row). */
  tags: z.boolean(),
  /** Recency half-life of the user profile, in interactions (0: all equal). */
  halfLife: z.number().min(0),
  /** Below this many interactions a user is nearly new: popularity is blended in, fully at 0. */
  coldUserInteractions: z.number().int().min(0),
  /** Popularity added for every user (0: pure content); new items use content-estimated popularity. */
  popularityWeight: z.number().min(0),
  /** Known neighbours behind a new item's content-estimated popularity. */
  popularityNeighbours: z.number().int().min(0),
  /** Cache non-built-in embeddings in the persistent embedding cache. */
  cache: z.boolean(),
  /** Seed of the built-in encoder's randomized SVD. */
  seed: z.number().int(),
});
export type ContentConfig = z.infer<typeof contentConfigSchema>;
export const CONTENT_DEFAULTS: ContentConfig = {
  embedder: 'builtin',
  dim: 64,
  tags: false,
  halfLife: 20,
  coldUserInteractions: 5,
  popularityWeight: 0,
  popularityNeighbours: 20,
  cache: true,
  seed: 42,
};

export interface ContentDeps {
  /** A ready encoder (overrides `config.embedder`); the caller owns it. */
  embedder?: Embedder;
  /** One-line notices (an encoder fallback); default stderr. */
  warn?: (line: string) => void;
}

export class ContentRecommender extends BaseRecommender<ContentConfig> {
  readonly kind = 'content';
  readonly version = 1;
  /** Scores items nobody has interacted with (from their text): the hybrid relies on it. */
  readonly coversNewItems = true;
  private dim = 0;
  /** nItems × dim, unit rows (zero rows for items without text). */
  private vectors: Float32Array = new Float32Array(0);
  /** Normalised popularity; for new items estimated from content. */
  private popularity: Float32Array = new Float32Array(0);
  private embedderId = '';
  private builtinState: BuiltinState | undefined;
  private readonly deps: ContentDeps;
  private profile: Float64Array = new Float64Array(0);

  constructor(config: Partial<ContentConfig> = {}, deps: ContentDeps = {}) {
    super({ ...CONTENT_DEFAULTS, ...config });
    this.deps = deps;
  }

  /** The encoder that produced the item vectors (id of the model + version). */
  get encoderId(): string {
    return this.embedderId;
  }

  /** Item vectors, nItems × dim (read-only view for the hybrid and the content agent). */
  itemVectors(): { vectors: Float32Array; dim: number } {
    this.assertFitted();
    return { vectors: this.vectors, dim: this.dim };
  }

  protected async fitModel(train: Dataset, options: FitOptions): Promise<void> {
    const texts = itemTexts(train, { tags: this.config.tags });
    const embedder = this.deps.embedder ?? (await this.buildEmbedder(texts));
    this.embedderId = embedder.id;
    this.builtinState = embedder instanceof BuiltinEmbedder ? embedder.toJSON() : undefined;
    // Embed in chunks so the caller sees progress on slow encoders.
    const chunk = 256;
    const parts: Float32Array[] = [];
    for (let s = 0; s < texts.length; s += chunk) {
      parts.push(await embedder.embed(texts.slice(s, s + chunk)));
      options.onProgress?.(Math.min(s + chunk, texts.length), texts.length, 'items');
    }
    const dim = texts.length > 0 ? parts.reduce((a, p) => a + p.length, 0) / texts.length : embedder.dim;
    const vectors = new Float32Array(texts.length * dim);
    let o = 0;
    for (const p of parts) {
      vectors.set(p, o);
      o += p.length;
    }
    for (let i = 0; i < texts.length; i++) {
      // Unit rows; an item without text keeps a zero vector (it can only be found by popularity).
      if (!texts[i]) vectors.fill(0, i * dim, (i + 1) * dim);
      normalizeRow(vectors, i * dim, dim);
    }
    this.dim = dim;
    this.vectors = vectors;
    const counts = train.itemCounts();
    this.popularity = contentPopularity(vectors, dim, logPopularity(counts, new Float32Array(counts.length)), counts, this.config.popularityNeighbours);
  }

  private async buildEmbedder(texts: string[]): Promise<Embedder> {
    const spec = parseEmbedderSpec(this.config.embedder, 'content.embedder');
    const e = await createEmbedder(spec, {
      corpus: texts.filter((t) => t.length > 0),
      builtin: { dim: this.config.dim, seed: this.config.seed },
      warn: this.deps.warn,
    });
    if (e instanceof BuiltinEmbedder || !this.config.cache) return e;
    return new CachedEmbedder(e, new EmbeddingCache());
  }

  scoreAll(user: UserRef, out?: Float32Array): Float32Array {
    this.assertFitted();
    const o = out ?? new Float32Array(this.nItems);
    const hist = this.seenItems(user);
    const n = hist.length;
    const d = this.dim;
    const v = this.vectors;
    if (this.profile.length !== d) this.profile = new Float64Array(d);
    const prof = this.profile;
    prof.fill(0);
    for (let p = 0; p < n; p++) {
      const w = recencyWeight(p, n, this.config.halfLife);
      const oi = hist[p]! * d;
      for (let m = 0; m < d; m++) prof[m] += w * v[oi + m]!;
    }
    let norm = 0;
    for (let m = 0; m < d; m++) norm += prof[m]! * prof[m]!;
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    const share = coldUserPopularityShare(n, this.config.coldUserInteractions);
    const popW = this.config.popularityWeight + share;
    const contentW = 1 - share;
    const pop = this.popularity;
    const nItems = this.nItems;
    // Four items at a time: four independent sums, each added in the order one at a time would
    // use, sharing the loads of the profile.
    let i = 0;
    for (; i + 4 <= nItems; i += 4) {
      const o0 = i * d;
      const o1 = o0 + d;
      const o2 = o1 + d;
      const o3 = o2 + d;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let m = 0; m < d; m++) {
        const x = prof[m]!;
        s0 += x * v[o0 + m]!;
        s1 += x * v[o1 + m]!;
        s2 += x * v[o2 + m]!;
        s3 += x * v[o3 + m]!;
      }
      o[i] = contentW * s0 * inv + popW * pop[i]!;
      o[i + 1] = contentW * s1 * inv + popW * pop[i + 1]!;
      o[i + 2] = contentW * s2 * inv + popW * pop[i + 2]!;
      o[i + 3] = contentW * s3 * inv + popW * pop[i + 3]!;
    }
    for (; i < nItems; i++) {
      const oi = i * d;
      let s = 0;
      for (let m = 0; m < d; m++) s += prof[m]! * v[oi + m]!;
      o[i] = contentW * s * inv + popW * pop[i]!;
    }
    return o;
  }

  protected getState(): Record<string, unknown> {
    return {
      dim: this.dim,
      vectors: this.vectors,
      popularity: this.popularity,
      embedderId: this.embedderId,
      // The built-in encoder is saved with the model, so new text can be embedded after loading.
      builtin: this.builtinState,
    };
  }

  protected setState(state: Record<string, unknown>): void {
    this.dim = state.dim as number;
    this.vectors = typedField(state, 'vectors', Float32Array, this.nItems * this.dim);
    this.popularity = typedField(state, 'popularity', Float32Array, this.nItems);
    this.embedderId = String(state.embedderId ?? '');
    this.builtinState = state.builtin as BuiltinState | undefined;
  }

  /** The built-in encoder the model was trained with (undefined for other encoders). */
  builtinEncoder(): BuiltinEmbedder | undefined {
    return this.builtinState ? BuiltinEmbedder.fromState(this.builtinState) : undefined;
  }
}

function normalizeRow(v: Float32Array, o: number, d: number): void {
  let norm = 0;
  for (let m = 0; m < d; m++) norm += v[o + m]! * v[o + m]!;
  if (norm === 0) return;
  const inv = 1 / Math.sqrt(norm);
  for (let m = 0; m < d; m++) v[o + m] *= inv;
}
