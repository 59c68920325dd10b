/**
 * P2 — `ml-ls-cold` (../shared/PROTOCOLS.md): cold-start items on ml-latest-small.
 *
 * 1. Data: ratings.csv, variant `all` of P1 (every rating is one implicit interaction).
 * 2. Cold items: the items with ≥ 5 ratings, in ascending numeric movieId order, are shuffled by
 *    Fisher–Yates with the project's generator `Rng` (src/util/rng.ts: sfc32 seeded through
 *    splitmix32, 12 warm-up draws; `int(n) = floor(next() · n)`), seed 42 (PROTOCOLS.md fixes it;
 *    `--seed` does not change it); the first floor(10 % · n) are the cold items.
 * 3. All interactions of cold items leave train; the rest is split by P1's rule (per user, last
 *    20 % by (timestamp, movieId) held out — that held-out part is not used here).
 * 4. Test: for each user, the cold items the user rated; users with ≥ 1 are evaluated. Only cold
 *    items are ranked (the model never saw an interaction with them). Metrics at K = 10 as P1.
 * 5. Item text (variant): `title-genres` — title (with year) and genres from movies.csv, the
 *    primary row; `tags` — the same plus the item's tags from tags.csv, reported separately
 *    because tags were written after viewing. The protocol sets every item's text itself and
 *    removes tags in the primary row, so no model can read more than the row allows.
 * `split: "validation"` applies the same procedure to P2's train (cold items drawn again among
 * the train items, seed 43), for tuning without touching the test.
 */
import type { Dataset, ItemMeta } from '../data/dataset.js';
import { Dataset as DatasetClass } from '../data/dataset.js';
import { P1_SPLIT, splitDataset } from '../data/split.js';
import { DataError } from '../errors.js';
import type { ProgressFn, Recommender } from '../recommenders/types.js';
import { Rng } from '../util/rng.js';
import { createEvalModel, modelTakesSeed } from './models.js';
import { loadP1, ML_LATEST_SMALL_RATINGS_SHA256 } from './p1.js';
import type { ProtocolDefinition, ProtocolResult, ProtocolRunOptions } from './protocol.js';
import { evaluateRanking, type PerUserResults } from './ranking.js';
import { cpuSecondsSince } from './run.js';
import { codeVersion, SHA_PREFIX } from './stamp.js';
import { bootstrapMean } from './stats.js';

export const P2_ID = 'ml-ls-cold';
export const P2_VARIANTS = ['title-genres', 'tags'] as const;
export type P2Variant = (typeof P2_VARIANTS)[number];
export const P2_COLD_SEED = 42;
export const P2_COLD_SHARE = 0.1;
export const P2_MIN_RATINGS = 5;

export interface ColdSplit {
  train: Dataset;
  /** Every interaction with a cold item. */
  test: Dataset;
  /** Cold item indices, ascending. */
  coldItems: Int32Array;
  /** Items eligible for the draw (≥ 5 interactions). */
  eligible: number;
}

/**
 * Draw the cold items of `full` and build P2's train and test (steps 2–4 above). `full` must
 * hold item text already arranged for the variant (see `withItemText`).
 */
export function coldItemSplit(full: Dataset, seed = P2_COLD_SEED, share = P2_COLD_SHARE, minRatings = P2_MIN_RATINGS): ColdSplit {
  const counts = full.itemCounts();
  const eligible: number[] = [];
  for (let i = 0; i < full.nItems; i++) if (counts[i]! >= minRatings) eligible.push(i);
  // Fixed order before shuffling: numeric external id when every id is a number, else string order.
  const ids = full.items.ids();
  const numeric = eligible.every((i) => /^-?\d+$/.test(ids[i]!));
  eligible.sort((a, b) => (numeric ? Number(ids[a]) - Number(ids[b]) : ids[a]! < ids[b]! ? -1 : ids[a]! > ids[b]! ? 1 : 0));
  new Rng(seed).shuffle(eligible);
  const nCold = Math.floor(share * eligible.length + 1e-9);
  if (nCold === 0) throw new DataError(`${P2_ID}: no item has ≥ ${minRatings} interactions, so no cold item can be drawn`, { file: full.source?.file });
  const coldItems = Int32Array.from(eligible.slice(0, nCold)).sort();
  const isCold = new Uint8Array(full.nItems);
  for (const i of coldItems) isCold[i] = 1;
  const item = full.interactions.item;
  let nc = 0;
  for (let k = 0; k < item.length; k++) nc += isCold[item[k]!]!;
  const warmPos = new Int32Array(item.length - nc);
  const coldPos = new Int32Array(nc);
  for (let k = 0, a = 0, b = 0; k < item.length; k++) {
    if (isCold[item[k]!]) coldPos[b++] = k;
    else warmPos[a++] = k;
  }
  const rest = full.subset(warmPos, `${full.name}:warm`);
  const { train } = splitDataset(rest, P1_SPLIT);
  const test = full.subset(coldPos, `${full.name}:cold`);
  return { train, test, coldItems, eligible: eligible.length };
}

/** A dataset whose item text is exactly what the variant allows (tags only in `tags`). */
export function withItemText(ds: Dataset, variant: P2Variant): Dataset {
  const meta = ds.itemMeta.map((m): ItemMeta | undefined => {
    if (!m) return undefined;
    const base = m.text ?? [m.title, (m.categories ?? []).join(', ')].filter(Boolean).join('. ');
    const text = variant === 'tags' && m.tags && m.tags.length > 0 ? `${base} Tags: ${m.tags.join(', ')}.` : base;
    const { tags: _tags, ...rest } = m;
    return { ...rest, text };
  });
  return new DatasetClass({
    name: ds.name,
    users: ds.users,
    items: ds.items,
    interactions: ds.interactions,
    eventTypes: ds.eventTypes,
    itemMeta: meta,
    userMeta: ds.userMeta,
    source: ds.source,
  });
}

export interface ColdEvalResult {
  users: number;
  metrics: Record<string, number>;
  perUser: PerUserResults;
  evalSeconds: number;
}

/** The metrics P2 reports, in its order (novelty, diversity and Gini say little about cold items alone). */
const P2_METRICS = ['recall', 'ndcg', 'precision', 'hr', 'map', 'mrr', 'f1', 'coverage'] as const;

/**
 * Rank only `coldItems` for every user with ≥ 1 cold test item; P1's metrics at K. This is
 * `evaluateRanking` with the cold items as the catalogue (they have no training interaction, so
 * no user's own items need removing), reporting P2's metrics.
 */
export function evaluateCold(model: Recommender, train: Dataset, test: Dataset, coldItems: Int32Array, k: number, onProgress?: ProgressFn): ColdEvalResult {
  const r = evaluateRanking(model, train, test, { k, catalogue: coldItems, onProgress });
  const metrics: Record<string, number> = {};
  for (const name of P2_METRICS) metrics[`${name}@${k}`] = r.metrics[`${name}@${k}`]!;
  return { users: r.users, metrics, perUser: r.perUser, evalSeconds: r.evalSeconds };
}

export async function runP2(options: ProtocolRunOptions & { variant: string; k: number; seed: number }): Promise<ProtocolResult> {
  const started = performance.now();
  const variant = options.variant as P2Variant;
  const dir = options.dataDir ?? P2_PROTOCOL.defaultDataDir!;
  const p1 = await loadP1(dir, 'all');
  const full = withItemText(p1.full, variant);
  let parts = coldItemSplit(full);
  if (options.split === 'validation') parts = coldItemSplit(parts.train, P2_COLD_SEED + 1);
  const { train, test, coldItems } = parts;

  const config = { ...(options.modelConfig ?? {}) };
  if (config.seed === undefined && modelTakesSeed(options.model)) config.seed = options.seed;
  const model = createEvalModel(options.model, config);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await model.fit(train, { onProgress: options.onProgress ? (d, t, u) => options.onProgress!('fit', d, t, u) : undefined });
  const fitSeconds = (performance.now() - t0) / 1000;
  const fitCpuSeconds = cpuSecondsSince(c0);
  const c1 = process.cpuUsage();
  const r = evaluateCold(model, train, test, coldItems, options.k, options.onProgress ? (d, t, u) => options.onProgress!('evaluate', d, t, u) : undefined);
  const evalCpuSeconds = cpuSecondsSince(c1);

  const samples = options.bootstrap ?? 1000;
  const intervals: Record<string, { lo: number; hi: number }> = {};
  if (samples > 0) {
    const arrays: Record<string, Float64Array> = { recall: r.perUser.recall, ndcg: r.perUser.ndcg, precision: r.perUser.precision, hr: r.perUser.hr, map: r.perUser.ap, mrr: r.perUser.rr, f1: r.perUser.f1 };
    for (const [name, arr] of Object.entries(arrays)) {
      const iv = bootstrapMean(arr, { samples, seed: options.seed });
      intervals[`${name}@${options.k}`] = { lo: iv.lo, hi: iv.hi };
    }
  }
  const hyperparameters = { ...model.config };
  const protocolLabel = options.split === 'validation' ? `${P2_ID}/validation` : P2_ID;
  let trainItems = 0;
  for (const c of train.itemCounts()) if (c > 0) trainItems++;
  let testUsers = 0;
  for (const c of test.userCounts()) if (c > 0) testUsers++;
  const result: ProtocolResult = {
    protocol: protocolLabel,
    variant,
    model: model.kind,
    k: options.k,
    seed: options.seed,
    metrics: r.metrics,
    intervals: samples > 0 ? intervals : undefined,
    fitSeconds,
    evalSeconds: r.evalSeconds,
    fitCpuSeconds,
    evalCpuSeconds,
    users: r.users,
    // Candidates: the cold items only (catalogueSize = their number).
    candidates: { mode: 'full', catalogueSize: coldItems.length },
    hyperparameters,
    split: { users: testUsers, items: trainItems + coldItems.length, train: train.nInteractions, test: test.nInteractions },
    note: `candidates are the ${coldItems.length} cold items only (10 % of the ${parts.eligible} items with ≥ ${P2_MIN_RATINGS} ratings, Rng seed ${options.split === 'validation' ? P2_COLD_SEED + 1 : P2_COLD_SEED}); item text: ${variant === 'tags' ? 'title, year, genres and tags' : 'title, year and genres'}`,
    stamp: {
      protocol: protocolLabel,
      dataset: { file: p1.file, sha256: p1.sha256.slice(0, SHA_PREFIX) },
      variant,
      k: options.k,
      seeds: [P2_COLD_SEED, options.seed],
      model: model.kind,
      hyperparameters,
      codeVersion: codeVersion(),
      wallSeconds: (performance.now() - started) / 1000,
      date: new Date().toISOString(),
    },
  };
  if (p1.sha256 !== ML_LATEST_SMALL_RATINGS_SHA256) result.note += `; data is not ml-latest-small's ratings.csv: not comparable with PROTOCOLS.md`;
  if (options.perUser ?? true) {
    result.perUser = r.perUser;
    result.perUserIds = Array.from(r.perUser.user, (u) => train.users.toExternal(u));
  }
  return result;
}

export const P2_PROTOCOL: ProtocolDefinition = {
  id: P2_ID,
  title: 'cold-start items on ml-latest-small: 10 % of items with ≥ 5 ratings held out entirely, only they are ranked',
  variants: P2_VARIANTS,
  defaultDataDir: '../shared/datasets/ml-latest-small',
  defaultK: 10,
  run: runP2,
};
