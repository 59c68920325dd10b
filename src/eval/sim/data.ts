/**
 * Data for simulator runs: ml-latest-small's ratings (all of them — the hidden user model needs
 * the full data) with titles and genres, and P1's train split (what the agents may learn from).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { Dataset, IdMap, interactionsFrom, type ItemMeta } from '../../data/dataset.js';
import { temporalRatioSplit } from '../../data/split.js';
import { DataError } from '../../errors.js';

export interface SimData {
  full: Dataset;
  train: Dataset;
  /** Directory the data came from. */
  dir: string;
}

function readCsv(path: string): string[][] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError(`cannot read ${path}: ${(e as Error).message}`, { file: path });
  }
  try {
    return parse(text, { relax_column_count: false }) as string[][];
  } catch (e) {
    const err = e as { lines?: number; message: string };
    throw new DataError(err.message, { file: path, line: err.lines });
  }
}

/** ratings.csv + movies.csv of a MovieLens "latest" folder → full dataset; P1 train split. */
export function loadSimData(dir: string): SimData {
  const ratingsPath = join(dir, 'ratings.csv');
  const rows = readCsv(ratingsPath);
  const users = new IdMap();
  const items = new IdMap();
  const n = rows.length - 1;
  const u = new Int32Array(n);
  const i = new Int32Array(n);
  const v = new Float32Array(n);
  const t = new Float64Array(n);
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r]!;
    const rating = Number(row[2]);
    const ts = Number(row[3]);
    if (!Number.isFinite(rating)) throw new DataError(`rating "${row[2]}" is not a number`, { file: ratingsPath, line: r + 1, column: 3, field: 'rating' });
    if (!Number.isFinite(ts)) throw new DataError(`timestamp "${row[3]}" is not a number`, { file: ratingsPath, line: r + 1, column: 4, field: 'timestamp' });
    u[r - 1] = users.add(row[0]!);
    i[r - 1] = items.add(row[1]!);
    v[r - 1] = rating;
    t[r - 1] = ts;
  }
  const meta: (ItemMeta | undefined)[] = new Array(items.size);
  const moviesPath = join(dir, 'movies.csv');
  const movies = readCsv(moviesPath);
  for (let r = 1; r < movies.length; r++) {
    const [id, title, genres] = movies[r]!;
    const idx = items.toIndex(id!);
    if (idx < 0) continue;
    meta[idx] = { title, categories: (genres ?? '').split('|').filter((g) => g.length > 0) };
  }
  const full = new Dataset({
    name: 'ml-latest-small',
    users,
    items,
    interactions: interactionsFrom({ user: u, item: i, value: v, timestamp: t }),
    itemMeta: meta,
    source: { file: ratingsPath, format: 'movielens-csv' },
  });
  const { train } = temporalRatioSplit(full, 0.2);
  return { full, train, dir };
}
