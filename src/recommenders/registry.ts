/**
 * The one table of recommender names. Every caller that builds a model from a name (the CLI, the
 * server, `loadModel`) goes through `createRecommender` / `restoreRecommender`, so a name, its
 * defaults and its config schema live in exactly one place. The built-in models are a constant
 * table; layers above (src/marl) add theirs with `registerRecommender` when told to.
 */
import type { z } from 'zod';
import { ConfigError, ModelStateError, UnknownNameError } from '../errors.js';
import { Als, ALS_DEFAULTS, alsConfigSchema } from './als.js';
import { Bpr, BPR_DEFAULTS, bprConfigSchema } from './bpr.js';
import { CONTENT_DEFAULTS, contentConfigSchema, ContentRecommender } from './content.js';
import { HYBRID_DEFAULTS, HYBRID_SEQ_DEFAULTS, hybridConfigSchema, HybridRecommender } from './hybrid.js';
import { POPULARITY_GENRE_DEFAULTS, popularityGenreConfigSchema, PopularityGenre } from './popularity-genre.js';
import { Ease, EASE_DEFAULTS, easeConfigSchema } from './ease.js';
import { ItemKnn, ITEMKNN_DEFAULTS, itemKnnConfigSchema, KNN_DEFAULTS, knnConfigSchema, UserKnn } from './knn.js';
import { BiasedMf, MF_DEFAULTS, mfConfigSchema } from './mf.js';
import { Popularity, POPULARITY_DEFAULTS, popularityConfigSchema } from './popularity.js';
import { Gru4Rec, GRU4REC_DEFAULTS, gru4RecConfigSchema } from './gru4rec.js';
import { SasRec, SASREC_DEFAULTS, sasRecConfigSchema } from './sasrec.js';
import type { Recommender, SavedModel } from './types.js';
import { firstSchemaIssue } from '../util/zod-issue.js';

/** A recommender that can take its state back from `toJSON()` output (BaseRecommender does). */
export interface RestorableRecommender extends Recommender {
  restore(saved: SavedModel): void;
}

export interface RecommenderEntry<C extends object = object> {
  readonly name: string;
  /** One line for `chorus train --help` and listings. */
  readonly description: string;
  /** A complete config; every field a user leaves out takes its value from here. */
  readonly defaults: Readonly<C>;
  /** Schema of a complete config (strict: unknown fields are errors). */
  readonly schema: z.ZodType<C>;
  /** A new, unfitted model; `config` is merged over `defaults` and validated. */
  create(config?: Partial<C> | Record<string, unknown>): Recommender;
  /** A fitted model from `toJSON()` output (kind and version already match `name`). */
  restore(saved: SavedModel): Recommender;
}

/**
 * Build an entry from a constructor-like factory; `create` and `restore` validate the config
 * against `schema` first, so a model never sees an invalid config.
 */
export function defineRecommender<C extends object>(spec: {
  name: string;
  description: string;
  defaults: C;
  schema: z.ZodType<C>;
  make: (config: C) => RestorableRecommender;
}): RecommenderEntry<C> {
  const defaults = Object.freeze({ ...spec.defaults });
  return Object.freeze({
    name: spec.name,
    description: spec.description,
    defaults,
    schema: spec.schema,
    create(config?: Partial<C> | Record<string, unknown>): Recommender {
      return spec.make(validateRecommenderConfig(spec.name, spec.schema, defaults, config));
    },
    restore(saved: SavedModel): Recommender {
      const config = saved.config;
      if (config === null || typeof config !== 'object') {
        throw new ModelStateError(`saved ${spec.name} model has no config object`, 'E_MODEL_CORRUPT');
      }
      const model = spec.make(validateRecommenderConfig(spec.name, spec.schema, defaults, config as Record<string, unknown>));
      model.restore(saved);
      return model;
    },
  });
}

/**
 * Merge `partial` over `defaults` and validate. The error names the field, what was expected and
 * what was given, e.g. `field "k": itemknn: expected a positive integer, got -3`.
 */
export function validateRecommenderConfig<C extends object>(
  name: string,
  schema: z.ZodType<C>,
  defaults: Readonly<C>,
  partial: Partial<C> | Record<string, unknown> | undefined,
): C {
  if (partial !== undefined && (partial === null || typeof partial !== 'object' || Array.isArray(partial))) {
    throw new ConfigError(`${name}: config must be an object`);
  }
  const merged: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(partial ?? {})) if (v !== undefined) merged[k] = v;
  const res = schema.safeParse(merged);
  if (res.success) return res.data;
  const issue = firstSchemaIssue(res.error);
  const key = issue.unknownKeys[0];
  if (key !== undefined) {
    throw new ConfigError(`${name}: unknown option "${key}"; expected one of: ${Object.keys(defaults).join(', ')}`, key);
  }
  const got = issue.path.length > 0 ? lookup(merged, issue.path) : merged;
  throw new ConfigError(`${name}: ${issue.message}, got ${JSON.stringify(got)}`, issue.field || undefined);
}

function lookup(obj: unknown, path: readonly PropertyKey[]): unknown {
  let cur = obj;
  for (const p of path) cur = cur !== null && typeof cur === 'object' ? (cur as Record<PropertyKey, unknown>)[p] : undefined;
  return cur;
}

/**
 * The built-in models, as a constant: the table holds them before anything else runs, whatever
 * imported this module first. Layers above (src/marl) add theirs with `registerRecommender`.
 */
const BUILTIN_RECOMMENDERS: readonly RecommenderEntry[] = [
  defineRecommender({
    name: 'popularity',
    description: 'Most interacted-with items (optionally time-decayed); the same list for everyone',
    defaults: POPULARITY_DEFAULTS,
    schema: popularityConfigSchema,
    make: (c) => new Popularity(c),
  }),
  defineRecommender({
    name: 'itemknn',
    description: 'Item-based k-nearest neighbours, cosine similarity with shrinkage, K neighbours per item',
    defaults: ITEMKNN_DEFAULTS,
    schema: itemKnnConfigSchema,
    make: (c) => new ItemKnn(c),
  }),
  defineRecommender({
    name: 'userknn',
    description: 'User-based k-nearest neighbours, cosine similarity with shrinkage, K neighbours per user',
    defaults: KNN_DEFAULTS,
    schema: knnConfigSchema,
    make: (c) => new UserKnn(c),
  }),
  defineRecommender({
    name: 'bpr',
    description: 'BPR matrix factorisation (pairwise ranking loss, SGD with negative sampling, item bias)',
    defaults: BPR_DEFAULTS,
    schema: bprConfigSchema,
    make: (c) => new Bpr(c),
  }),
  defineRecommender({
    name: 'mf',
    description: 'Biased matrix factorisation for explicit ratings (SGD, as Surprise SVD); predicts ratings',
    defaults: MF_DEFAULTS,
    schema: mfConfigSchema,
    make: (c) => new BiasedMf(c),
  }),
  defineRecommender({
    name: 'als',
    description: 'Implicit-feedback ALS (Hu, Koren & Volinsky 2008): confidence 1 + α·r, conjugate-gradient or exact solver',
    defaults: ALS_DEFAULTS,
    schema: alsConfigSchema,
    make: (c) => new Als(c),
  }),
  defineRecommender({
    name: 'ease',
    description: 'EASE (Steck 2019): closed-form item-item weights B = I − P·diag(1/diag P), P = (XᵀX + λI)⁻¹',
    defaults: EASE_DEFAULTS,
    schema: easeConfigSchema,
    make: (c) => new Ease(c),
  }),
  // Content-based, hybrid and popularity-by-genre (issue 3; src/recommenders/{content,hybrid,popularity-genre}.ts).
  defineRecommender({
    name: 'content',
    description: 'Content-based: item text embeddings (built-in TF-IDF+SVD, transformers.js or HTTP); user = recency-weighted mean of item vectors',
    defaults: CONTENT_DEFAULTS,
    schema: contentConfigSchema,
    make: (c) => new ContentRecommender(c),
  }),
  defineRecommender({
    name: 'hybrid',
    description: 'Fuses recommenders: per-user z-score/min-max score fusion or Borda/reciprocal-rank fusion, weights tuned on a validation split',
    defaults: HYBRID_DEFAULTS,
    schema: hybridConfigSchema,
    make: (c) => new HybridRecommender(c, { create: createRecommender, restore: restoreRecommender }),
  }),
  defineRecommender({
    name: 'hybrid-seq',
    description: 'BPR, content, SASRec and GRU4Rec fused, weights tuned on a validation split: the member set chosen on P1 validation (slow: fits each member twice)',
    defaults: HYBRID_SEQ_DEFAULTS,
    schema: hybridConfigSchema,
    make: (c) => new HybridRecommender(c, { create: createRecommender, restore: restoreRecommender }),
  }),
  defineRecommender({
    name: 'popularity-genre',
    description: "Popularity within the user's preferred genres (P2 baseline)",
    defaults: POPULARITY_GENRE_DEFAULTS,
    schema: popularityGenreConfigSchema,
    make: (c) => new PopularityGenre(c),
  }),
  // Sequence-aware models (issue 23; src/recommenders/{sasrec,gru4rec,sequence}.ts, encoders in src/nn/seq).
  defineRecommender({
    name: 'sasrec',
    description: 'SASRec (Kang & McAuley 2018): causal self-attention over the latest items predicts the next; fold-in by encoding a history',
    defaults: SASREC_DEFAULTS,
    schema: sasRecConfigSchema,
    make: (c) => new SasRec(c),
  }),
  defineRecommender({
    name: 'gru4rec',
    description: 'GRU4Rec (Hidasi et al. 2016): a GRU over the latest items predicts the next; fold-in by encoding a history',
    defaults: GRU4REC_DEFAULTS,
    schema: gru4RecConfigSchema,
    make: (c) => new Gru4Rec(c),
  }),
];

const table = new Map<string, RecommenderEntry>(BUILTIN_RECOMMENDERS.map((e) => [e.name, e]));

/** Add a model to the table: for layers above this one (src/marl's team) and plug-ins; a name is taken once. */
export function registerRecommender<C extends object>(entry: RecommenderEntry<C>): void {
  if (table.has(entry.name)) throw new ConfigError(`recommender "${entry.name}" is already registered`, 'name', 'E_DUPLICATE_NAME');
  table.set(entry.name, entry as unknown as RecommenderEntry);
}

/**
 * Names that were given up because they said more than the model does: old name → new name and
 * why. Creating a model by an old name fails with that reason; a file saved under it still loads
 * (as the model it always was).
 */
const renamed = new Map<string, { to: string; why: string }>();

/**
 * The error that names a recommender's former name: its new name and why (E_RENAMED), or null when
 * `name` is not a former name. No field: the old name may come from --model, a hybrid's member or a
 * team's extras, and the caller knows which.
 */
export function renamedRecommenderError(name: string): ConfigError | null {
  const r = table.has(name) ? undefined : renamed.get(name);
  return r ? new ConfigError(`recommender "${name}" is now "${r.to}": ${r.why}`, undefined, 'E_RENAMED') : null;
}

/** Record that `from` is now `to` (registered separately), with the reason users will read. */
export function renameRecommender(from: string, to: string, why: string): void {
  if (table.has(from)) throw new ConfigError(`recommender "${from}" is registered; it cannot also be a renamed one`, 'name', 'E_DUPLICATE_NAME');
  renamed.set(from, { to, why });
}

export function getRecommenderEntry(name: string): RecommenderEntry {
  const e = table.get(name);
  if (e) return e;
  throw renamedRecommenderError(name) ?? new UnknownNameError('recommender', name, [...table.keys()]);
}

/** A new unfitted model by registry name, e.g. `createRecommender('itemknn', { k: 50 })`. */
export function createRecommender(name: string, config?: Record<string, unknown>): Recommender {
  return getRecommenderEntry(name).create(config);
}

/** A fitted model from `toJSON()` output, by its `kind`. */
export function restoreRecommender(saved: SavedModel): Recommender {
  const r = renamed.get(saved.kind);
  if (r && !table.has(saved.kind)) return getRecommenderEntry(r.to).restore({ ...saved, kind: r.to });
  return getRecommenderEntry(saved.kind).restore(saved);
}

export function listRecommenders(): { name: string; description: string; defaults: Readonly<object> }[] {
  return [...table.values()].map((e) => ({ name: e.name, description: e.description, defaults: e.defaults }));
}
