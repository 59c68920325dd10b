/**
 * What `readInteractions` accepts and returns: the read options with their cleaning policies,
 * and the load result.
 */
import type { Dataset, IdMap } from './dataset.js';
import type { ColumnMapping, InteractionFormat } from './formats.js';
import type { CleaningReport } from './report.js';
import type { TextEncoding } from './scan.js';

export type DuplicatePolicy = 'first' | 'last' | 'sum' | 'keep' | 'error';
export type MissingPolicy = 'drop' | 'mean' | 'median' | 'constant' | 'error';
export type RangePolicy = 'drop' | 'clamp' | 'error';
export type UnknownPolicy = 'drop' | 'error';

/** A set of known ids: an IdMap, a Set or an array of external ids. */
export type IdCatalogue = IdMap | ReadonlySet<string> | readonly string[];

export interface ReadOptions {
  /** File format; detected from the name and first line when omitted or 'auto'. */
  format?: InteractionFormat | 'auto';
  /** Dataset name (default: the file's folder name for MovieLens/Last.fm files, else the file name). */
  name?: string;
  /** Override the format's field delimiter (csv/tsv). */
  delimiter?: string;
  /** Whether the first line is a header (csv/tsv); guessed when omitted. */
  header?: boolean;
  /** Which column holds what; defaults from the format preset or guessed from the header. */
  columns?: Partial<ColumnMapping>;
  encoding?: TextEncoding;
  /**
   * Malformed input (wrong field count, unparsable number or date, bad JSON line, non-object
   * JSON line): true (default) stops with a DataError at file:line:column; false drops the row
   * and reports it as 'malformed-row' or 'unparsable'. A required column missing from the
   * header always stops.
   */
  strict?: boolean;
  /**
   * Repeated (user, item, event type) rows: 'last' (default) keeps the last in file order;
   * 'first' the first; 'sum' keeps the first with the values summed and the latest timestamp;
   * 'keep' keeps all (event logs); 'error' stops at the second occurrence. Dropped and merged
   * rows are reported as 'duplicate'.
   */
  duplicates?: DuplicatePolicy;
  /**
   * Empty value field: 'drop' (default) drops the row; 'mean' / 'median' fill with the mean /
   * median of the present (in-range) values; 'constant' fills with `fillValue`; 'error' stops.
   * A missing user or item id always drops the row ('missing-id'); a missing timestamp keeps
   * the row with timestamp NaN ('missing-timestamp', kept).
   */
  missingValue?: MissingPolicy;
  fillValue?: number;
  /**
   * The value scale, inclusive, when you know it: values outside it go to `outOfRange`. Without it
   * the scale is read from the data (the observed values snapped to the format's scale or a usual
   * rating scale, else the observed range; see value-scale.ts) and no value is out of range.
   */
  valueRange?: [number, number];
  /** Values outside a declared `valueRange`: 'drop' (default), 'clamp' into the range, or 'error'. */
  outOfRange?: RangePolicy;
  /** Only these users / items are accepted; others are unknown ids (see `unknownIds`). */
  knownUsers?: IdCatalogue;
  knownItems?: IdCatalogue;
  /** Rows with unknown users/items/event types: 'drop' (default, reported) or 'error'. */
  unknownIds?: UnknownPolicy;
  /**
   * Start from these id maps (e.g. read a second log into the index space of a first dataset);
   * new ids are appended. Index order is then kept as given (no `sortIds`).
   */
  users?: IdMap;
  items?: IdMap;
  /** Fixed event-type vocabulary; without it types are taken in order of first appearance. */
  eventTypes?: readonly string[];
  /** Value per event type when the file has no value column (default `implicitValue`). */
  eventValues?: Readonly<Record<string, number>>;
  /** Value of a row when the file has no value column (default 1). */
  implicitValue?: number;
  /** Numeric timestamps are in seconds (default) or milliseconds (converted to seconds). */
  timestampUnit?: 's' | 'ms';
  /**
   * Give dense indices in external-id order (numeric when all ids are numbers), so the dataset
   * does not depend on row order (default true unless `users`/`items` are given).
   */
  sortIds?: boolean;
  /** How many `file:line` examples each report issue lists (default 5). */
  maxExamples?: number;
  /**
   * Share of rows (0–1) the read may drop before the result carries a `warning` (default 0.02).
   * The rows are dropped either way; the warning makes sure someone hears about it.
   */
  dropWarning?: number;
  /** Progress callback (bytes read, file size) for progress bars. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
}

export interface LoadResult {
  dataset: Dataset;
  report: CleaningReport;
  /** The report's `warning`: set when more than `dropWarning` of the rows were dropped. */
  warning?: string;
}

