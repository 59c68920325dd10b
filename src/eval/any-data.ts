/**
 * Protocols that run on any dataset Chorus can read (a MovieLens or Last.fm folder, a CSV/TSV/
 * JSONL interaction file with a column mapping, a dataset snapshot), each stamped with the
 * dataset's own name and sha256 rather than ml-latest-small's:
 *
 * - `t20`: P1's rule (each user's last 20 % by time to test). On data without timestamps there is
 *   no time order, so the run falls back to `random20` and says so in `protocol` and `note`.
 * - `random20`: a seeded per-user random 20 % (the seed is the run's `--seed`).
 * - `last-n`: each user's last n interactions by time (default 1), keeping at least one in train.
 * - `time-cut`: one global cut; every interaction at or after it is test (default: the time below
 *   which 80 % of the rows fall; or `cut`, Unix seconds).
 *
 * Variants: `all` (every interaction counts as a positive) and `pos` (only values in the top
 * quarter of the value scale, filtered before splitting: ≥ 3.875 on MovieLens's 0.5–5, so the
 * same rows as P1's `pos4`; ≥ 7.5 on 0–10). `pos` needs explicit ratings; implicit data (play
 * counts, clicks) has no scale and is refused with a clear error.
 *
 * On ml-latest-small `t20` gives exactly P1's figures: the same loader, the same split.
 */
import { stat } from 'node:fs/promises';
import type { Dataset } from '../data/dataset.js';
import { loadDataDir } from '../data/load.js';
import type { FolderLoadResult } from '../data/movielens.js';
import type { ReadOptions } from '../data/read-interactions.js';
import { sha256File } from '../data/scan.js';
import { filterByMinValue, splitDataset, t20Rule, timestampedShare, validationSplit, type Split, type SplitRule } from '../data/split.js';
import { ConfigError, DataError } from '../errors.js';
import type { ProtocolDefinition, ProtocolResult, ProtocolRunOptions } from './protocol.js';
import { fitProtocolSplit } from './run.js';

export const ANY_DATA_VARIANTS = ['all', 'pos'] as const;
export type AnyDataVariant = (typeof ANY_DATA_VARIANTS)[number];

/** Split parameters that only some protocols read (`--test-ratio`, `--last-n`, `--cut`). */
export interface SplitParams {
  /** Share of each user's rows (t20, random20) or of all rows (time-cut) that go to test. */
  testRatio?: number;
  /** last-n: interactions per user held out. */
  n?: number;
  /** time-cut: Unix seconds; rows at or after it are test. */
  cut?: number;
}

/** What a loaded dataset is, for stamps and JSON: its own name and hash, its size and its scale. */
export interface DataSummary {
  name: string;
  /** The file or folder given. */
  path: string;
  /** The interaction file read (inside a folder) or the file itself. */
  file: string;
  format: string;
  sha256: string;
  users: number;
  items: number;
  interactions: number;
  /** Share of interactions that carry a timestamp (1 for MovieLens; 0 for a CSV without one). */
  timestamped: number;
  /** The value scale: declared (`valueRange`), read from the data, or null for implicit data. */
  valueScale: { lo: number; hi: number; source: 'declared' | 'data' } | null;
  /** Rows read and dropped by the import, with the import's own warning when it dropped many. */
  rowsRead: number;
  rowsDropped: number;
  warning?: string;
}

export interface LoadedData {
  dataset: Dataset;
  summary: DataSummary;
}

const loaded = new Map<string, Promise<LoadedData>>();

/**
 * Load any dataset through the data layer's front door, once per (path, mtime, read options) in a
 * process, so a benchmark over many models reads the file once.
 */
export async function loadAnyData(path: string, options: ReadOptions = {}): Promise<LoadedData> {
  let mtime: number;
  try {
    mtime = (await stat(path)).mtimeMs;
  } catch {
    throw new DataError('no such file or folder', { file: path }, 'E_NOT_FOUND');
  }
  const { onProgress: _p, ...keyed } = options;
  const key = JSON.stringify([path, mtime, keyed]);
  let p = loaded.get(key);
  if (!p) {
    p = loadDataDir(path, options).then((r) => summarise(path, r, options));
    loaded.set(key, p);
    p.catch(() => loaded.delete(key));
  }
  return p;
}

async function summarise(path: string, r: FolderLoadResult, options: ReadOptions): Promise<LoadedData> {
  const ds = r.dataset;
  // A snapshot is stamped as itself (its bytes are what was read), not as the file it was made from.
  const snapshot = r.report.format === 'snapshot';
  const file = snapshot ? path : (ds.source?.file ?? r.report.file ?? path);
  const sha256 = (!snapshot && ds.source?.sha256) || (await sha256File(file));
  const summary: DataSummary = {
    name: ds.name,
    path,
    file,
    format: snapshot ? 'snapshot' : (ds.source?.format ?? r.report.format),
    sha256,
    users: ds.nUsers,
    items: ds.nItems,
    interactions: ds.nInteractions,
    timestamped: timestampedShare(ds),
    valueScale: valueScaleOf(options, r),
    rowsRead: r.report.rowsRead,
    rowsDropped: r.report.rowsDropped,
  };
  if (r.warning) summary.warning = r.warning;
  return { dataset: ds, summary };
}

/**
 * The rating scale the data layer read (declared with `valueRange`, or a usual rating scale that
 * holds the values: 0.5–5, 1–10, 0–10 …), or null for implicit data: a file without a value
 * column (every value is the implicit 1) or values no rating scale holds (play counts).
 */
function valueScaleOf(options: ReadOptions, r: FolderLoadResult): DataSummary['valueScale'] {
  const range = r.report.valueRange;
  if (!range) return null;
  if (options.valueRange) return { lo: range[0], hi: range[1], source: 'declared' };
  if (r.report.columns && r.report.columns.value === null) return null;
  return { lo: range[0], hi: range[1], source: 'data' };
}

/** The `pos` variant's threshold: the top quarter of the value scale. */
export function positiveThreshold(scale: { lo: number; hi: number }): number {
  return scale.lo + 0.75 * (scale.hi - scale.lo);
}

function variantData(data: LoadedData, variant: AnyDataVariant): Dataset {
  if (variant === 'all') return data.dataset;
  const scale = data.summary.valueScale;
  if (!scale) {
    throw new ConfigError(
      `variant pos keeps ratings in the top quarter of the value scale, but ${data.summary.path} has no rating scale (implicit values); declare one with --value-range lo,hi or use --variant all`,
      'variant',
    );
  }
  return filterByMinValue(data.dataset, positiveThreshold(scale));
}

interface AnyDataProtocol {
  id: string;
  title: string;
  /** The split rule for this dataset, or the id of the protocol it falls back to and why. */
  rule(ds: Dataset, summary: DataSummary, p: SplitParams, seed: number): SplitRule;
}

const needTime = (summary: DataSummary, id: string): void => {
  if (summary.timestamped < 1) {
    const missing = Math.round((1 - summary.timestamped) * summary.interactions);
    throw new DataError(`${id} splits by time, but ${missing.toLocaleString('en-US')} of ${summary.interactions.toLocaleString('en-US')} interactions have no timestamp; use --protocol random20`, {
      file: summary.file,
      field: 'timestamp',
    });
  }
};

const ratio = (p: SplitParams): number => p.testRatio ?? 0.2;

const PROTOCOL_RULES: AnyDataProtocol[] = [
  {
    id: 't20',
    title: "P1's rule on any data: each user's last 20 % by time to test (random20 without timestamps)",
    // The fallback happens in runAnyData; here the data has timestamps.
    rule: (_ds, _s, p) => ({ kind: 'temporal-ratio', testRatio: ratio(p) }),
  },
  {
    id: 'random20',
    title: "seeded random 20 % of each user's interactions to test (data without timestamps)",
    rule: (_ds, _s, p, seed) => ({ kind: 'random', seed, testRatio: ratio(p), perUser: true }),
  },
  {
    id: 'last-n',
    title: "each user's last n interactions by time to test (default n = 1)",
    rule: (_ds, s, p) => {
      needTime(s, 'last-n');
      return { kind: 'leave-last-n', n: p.n ?? 1, minTrain: 1 };
    },
  },
  {
    id: 'time-cut',
    title: 'one global time cut: the last 20 % of all interactions by time to test (or --cut)',
    rule: (_ds, s, p) => {
      needTime(s, 'time-cut');
      return p.cut !== undefined ? { kind: 'time-cut', cut: p.cut } : { kind: 'time-cut', testRatio: ratio(p) };
    },
  },
];

/** The split rule a protocol applies to a dataset, after t20's fallback; with the protocol's id as run. */
export function anyDataRule(id: string, data: LoadedData, p: SplitParams, seed: number): { id: string; rule: SplitRule; note?: string } {
  const def = PROTOCOL_RULES.find((d) => d.id === id);
  if (!def) throw new ConfigError(`no any-data protocol "${id}"`, 'protocol');
  if (id === 't20' && data.summary.timestamped < 1) {
    return {
      id: 'random20',
      rule: t20Rule(data.dataset, seed, ratio(p)),
      note: `${data.summary.name} has no timestamp on ${Math.round((1 - data.summary.timestamped) * 100)} % of its interactions: P1's time order cannot apply, so the split is random20 (seed ${seed})`,
    };
  }
  return { id, rule: def.rule(data.dataset, data.summary, p, seed) };
}

async function runAnyData(id: string, options: ProtocolRunOptions & { variant: string; k: number; seed: number }): Promise<ProtocolResult> {
  const started = performance.now();
  if (!options.dataDir) throw new ConfigError(`protocol ${id} runs on the data you name: give --data <folder or file>`, 'data');
  const data = await loadAnyData(options.dataDir, options.readOptions);
  const variant = options.variant as AnyDataVariant;
  const ds = variantData(data, variant);
  const { id: ranAs, rule, note } = anyDataRule(id, { dataset: ds, summary: data.summary }, options.splitParams ?? {}, options.seed);
  const outer = splitDataset(ds, rule);
  if (outer.test.nInteractions === 0) {
    throw new DataError(`the ${ranAs} split of ${data.summary.name} leaves no test interactions (${ds.nInteractions} interactions after the ${variant} filter)`, { file: data.summary.file });
  }
  // Validation: the same rule cut again from train, so tuning never touches test.
  const parts: Split = options.split === 'validation' ? ((v) => ({ train: v.train, test: v.validation }))(validationSplit(outer.train, rule)) : outer;
  const result = await fitProtocolSplit(
    options,
    {
      protocol: options.split === 'validation' ? `${ranAs}/validation` : ranAs,
      variant,
      train: parts.train,
      test: parts.test,
      datasetFile: data.summary.file,
      datasetSha256: data.summary.sha256,
      datasetName: data.summary.name,
    },
    started,
  );
  result.data = data.summary;
  const notes = [note, data.summary.warning].filter((x): x is string => Boolean(x));
  if (notes.length > 0) result.note = notes.join('; ');
  return result;
}

/** The any-data protocols as registry entries. */
export const ANY_DATA_PROTOCOLS: ProtocolDefinition[] = PROTOCOL_RULES.map((d) => ({
  id: d.id,
  title: d.title,
  variants: ANY_DATA_VARIANTS,
  defaultK: 10,
  run: (o) => runAnyData(d.id, o),
}));
