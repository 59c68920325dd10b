/**
 * P1 — `ml-ls-t20` (../shared/PROTOCOLS.md): top-10 on ml-latest-small with a per-user temporal
 * 80/20 split. Variants: `all` (every rating is one implicit interaction) and `pos4` (ratings
 * ≥ 4.0 only, filtered before splitting). Full-catalogue ranking, metrics at K = 10.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { loadMovieLens } from '../data/movielens.js';
import { sha256File } from '../data/scan.js';
import { filterByMinValue, P1_SPLIT, temporalRatioSplit, validationSplit } from '../data/split.js';
import { DataError } from '../errors.js';
import type { ProtocolDefinition, ProtocolResult, ProtocolRunOptions } from './protocol.js';
import { fitProtocolSplit } from './run.js';

export const P1_ID = 'ml-ls-t20';
export const P1_VARIANTS = ['all', 'pos4'] as const;
export type P1Variant = (typeof P1_VARIANTS)[number];
/** sha256 of ml-latest-small/ratings.csv (2018-09 release), as listed in ../shared/datasets/README.md. */
export const ML_LATEST_SMALL_RATINGS_SHA256 = 'aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646';

export interface P1Data {
  /** The whole (variant-filtered) dataset, with item titles and genres. */
  full: Dataset;
  train: Dataset;
  test: Dataset;
  /** ratings.csv path and its sha256 (hex). */
  file: string;
  sha256: string;
  variant: P1Variant;
}

const cache = new Map<string, Promise<P1Data>>();
const rawCache = new Map<string, Promise<{ dataset: Dataset; sha256: string }>>();

/** Memoise a promise under `key`, forgetting it if it fails (so a fixed file can be retried). */
function memo<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = map.get(key);
  if (!p) {
    p = make();
    map.set(key, p);
    p.catch(() => map.delete(key));
  }
  return p;
}

/**
 * Load the MovieLens folder `dir` (ratings.csv; titles, genres and tags when present), filter for the
 * variant and split by P1's rule. Cached per (dir, variant, file mtime) within a process, so a
 * benchmark over many models reads the file once.
 */
export function loadP1(dir: string, variant: P1Variant): Promise<P1Data> {
  const ratings = join(dir, 'ratings.csv');
  if (!existsSync(ratings)) {
    const why = existsSync(dir) ? `no ratings.csv in ${dir}` : `data folder not found: ${dir}`;
    return Promise.reject(new DataError(`${P1_ID} needs a MovieLens folder with ratings.csv (and movies.csv): ${why}; for other data use --protocol t20 (P1's rule on any data)`, { file: ratings }));
  }
  const fileKey = `${ratings}|${statSync(ratings).mtimeMs}`;
  return memo(cache, `${fileKey}|${variant}`, async () => {
    const raw = await memo(rawCache, fileKey, async () => {
      const { dataset } = await loadMovieLens(dir);
      return { dataset, sha256: dataset.source?.sha256 ?? (await sha256File(ratings)) };
    });
    return splitVariant(raw.dataset, raw.sha256, ratings, variant);
  });
}

function splitVariant(dataset: Dataset, sha256: string, ratings: string, variant: P1Variant): P1Data {
  const full = variant === 'pos4' ? filterByMinValue(dataset, 4) : dataset;
  const { train, test } = temporalRatioSplit(full, 0.2);
  return { full, train, test, file: ratings, sha256, variant };
}

export async function runP1(options: ProtocolRunOptions & { variant: string; k: number; seed: number }): Promise<ProtocolResult> {
  const started = performance.now();
  const variant = options.variant as P1Variant;
  const dir = options.dataDir ?? P1_PROTOCOL.defaultDataDir!;
  const data = await loadP1(dir, variant);
  // Validation: fit on train minus each user's last 20 % of train rows, score those rows.
  const parts = options.split === 'validation' ? validationParts(data) : { train: data.train, test: data.test };
  const result = await fitProtocolSplit(
    options,
    {
      protocol: options.split === 'validation' ? `${P1_ID}/validation` : P1_ID,
      variant,
      train: parts.train,
      test: parts.test,
      datasetFile: data.file,
      datasetSha256: data.sha256,
    },
    started,
  );
  const note = referenceNote(data.sha256);
  if (note) result.note = note;
  return result;
}

function validationParts(data: P1Data): { train: Dataset; test: Dataset } {
  const { train, validation } = validationSplit(data.train, P1_SPLIT);
  return { train, test: validation };
}

/** A note for results on data other than ml-latest-small's ratings.csv (P1 rules, other data). */
export function referenceNote(sha256: string): string | undefined {
  if (sha256 === ML_LATEST_SMALL_RATINGS_SHA256) return undefined;
  return `data is not ml-latest-small's ratings.csv (sha256 ${sha256.slice(0, 12)}): P1's rules applied to other data; not comparable with PROTOCOLS.md figures`;
}

export const P1_PROTOCOL: ProtocolDefinition = {
  id: P1_ID,
  title: 'top-10 on ml-latest-small, per-user temporal 80/20 split, full-catalogue ranking',
  variants: P1_VARIANTS,
  defaultDataDir: '../shared/datasets/ml-latest-small',
  defaultK: 10,
  run: runP1,
};
