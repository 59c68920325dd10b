/**
 * Interaction file formats: presets (delimiter, header, columns, value range) and detection from
 * the file name and first line.
 */
import { open } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { DataError } from '../errors.js';

export type InteractionFormat = 'movielens-csv' | 'movielens-dat' | 'udata' | 'lastfm' | 'csv' | 'tsv' | 'jsonl';

export const INTERACTION_FORMATS: readonly InteractionFormat[] = ['movielens-csv', 'movielens-dat', 'udata', 'lastfm', 'csv', 'tsv', 'jsonl'];

/** A column: header name / JSON key (string) or 0-based field index (number). */
export type ColumnRef = string | number;

/** Which column holds what. `null` (or omitted for optional ones) means the file has no such column. */
export interface ColumnMapping {
  user: ColumnRef;
  item: ColumnRef;
  /** Rating / play count / weight. Without it every row gets `implicitValue` (or its event value). */
  value?: ColumnRef | null;
  /** Unix seconds (or ms with timestampUnit 'ms'), or an ISO 8601 date. */
  timestamp?: ColumnRef | null;
  /** Event type string (view, click, purchase …), mapped to `Dataset.eventTypes`. */
  eventType?: ColumnRef | null;
}

export interface FormatPreset {
  delimiter: string;
  quoted: boolean;
  /** Whether the first line is a header; 'auto' guesses (see `looksLikeHeader`). */
  header: boolean | 'auto';
  /** Fixed columns; when absent, columns are guessed from the header (or 0,1,2,3 without one). */
  columns?: ColumnMapping;
  valueRange?: [number, number];
}

export const PRESETS: Record<InteractionFormat, FormatPreset> = {
  'movielens-csv': {
    delimiter: ',',
    quoted: true,
    header: true,
    columns: { user: 'userId', item: 'movieId', value: 'rating', timestamp: 'timestamp' },
    valueRange: [0.5, 5],
  },
  'movielens-dat': {
    delimiter: '::',
    quoted: false,
    header: false,
    columns: { user: 0, item: 1, value: 2, timestamp: 3 },
    valueRange: [0.5, 5],
  },
  udata: { delimiter: '\t', quoted: false, header: false, columns: { user: 0, item: 1, value: 2, timestamp: 3 }, valueRange: [1, 5] },
  lastfm: { delimiter: '\t', quoted: false, header: true, columns: { user: 'userID', item: 'artistID', value: 'weight', timestamp: null } },
  csv: { delimiter: ',', quoted: true, header: 'auto' },
  tsv: { delimiter: '\t', quoted: false, header: 'auto' },
  jsonl: { delimiter: '', quoted: false, header: false },
};

/** Header names recognised when guessing columns (compared lower-case without '_' and '-'). */
const ALIASES: Record<keyof ColumnMapping, string[]> = {
  user: ['user', 'userid', 'uid', 'visitorid', 'customerid', 'readerid', 'reviewerid', 'sessionid'],
  item: ['item', 'itemid', 'movieid', 'artistid', 'productid', 'iid', 'asin', 'bookid', 'isbn', 'trackid', 'songid', 'newsid'],
  value: ['rating', 'value', 'weight', 'score', 'count', 'plays', 'playcount', 'stars', 'overall'],
  timestamp: ['timestamp', 'ts', 'time', 'date', 'datetime', 'unixtime', 'eventtime', 'unixreviewtime'],
  eventType: ['event', 'eventtype', 'type', 'action', 'behavior', 'behaviour', 'interaction'],
};

function norm(s: string): string {
  return s.toLowerCase().replace(/[_\-\s]/g, '');
}

/** Guess a mapping from header names (or JSON keys). Returns undefined for a role with no match. */
export function guessColumns(names: readonly string[]): Partial<ColumnMapping> {
  const n = names.map(norm);
  const out: Partial<ColumnMapping> = {};
  for (const role of Object.keys(ALIASES) as (keyof ColumnMapping)[]) {
    for (const alias of ALIASES[role]) {
      const j = n.indexOf(alias);
      if (j >= 0) {
        out[role] = names[j]!;
        break;
      }
    }
  }
  return out;
}

/** Index of the header column `name`: an exact match, else a case-insensitive one; −1 when absent. */
export function headerIndex(header: readonly string[], name: string): number {
  const j = header.indexOf(name);
  if (j >= 0) return j;
  const lower = name.toLowerCase();
  return header.findIndex((h) => h.toLowerCase() === lower);
}

/**
 * A first line is a header when one of its fields is a known column name, or when none of its
 * fields is a number. Pass `header` explicitly for files where this guess is wrong
 * (e.g. headerless files whose ids and values are all non-numeric).
 */
export function looksLikeHeader(fields: readonly string[]): boolean {
  const g = guessColumns(fields);
  if (g.user !== undefined || g.item !== undefined) return true;
  return fields.every((f) => f.trim() === '' || !Number.isFinite(Number(f)));
}

/** Up to the first 64 KiB of a file, first line only (LF, CRLF or CR ends it), without line ending or BOM. */
export async function readFirstLine(path: string): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new DataError('file not found', { file: path }, 'E_NOT_FOUND');
    throw err;
  }
  try {
    const buf = Buffer.alloc(65536);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    let s = buf.subarray(0, bytesRead).toString('utf8');
    if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    // The first line ends at LF, CRLF or a lone CR (classic Mac files), as in scanLines.
    const end = s.search(/[\r\n]/);
    return end >= 0 ? s.slice(0, end) : s;
  } finally {
    await fh.close();
  }
}

/** Pick a format from the file name, then from the first line. */
export function detectFormat(path: string, firstLine: string): InteractionFormat {
  const name = basename(path).toLowerCase();
  const ext = extname(name);
  if (name === 'u.data') return 'udata';
  if (name === 'user_artists.dat') return 'lastfm';
  if (firstLine.includes('::')) return 'movielens-dat';
  if (ext === '.jsonl' || ext === '.ndjson' || firstLine.trimStart().startsWith('{')) return 'jsonl';
  if (norm(firstLine) === 'userid,movieid,rating,timestamp') return 'movielens-csv';
  if (ext === '.tsv' || firstLine.includes('\t')) return 'tsv';
  return 'csv';
}
