/**
 * Streaming record scanner for delimited text and JSON lines.
 *
 * Reads the file in 1 MiB chunks and hands each record to a synchronous callback, so a file of
 * any size is never held in one string and there is one `await` per chunk, not per row. It is
 * hand-written rather than csv-parse because errors must name the exact character column of a
 * bad field (csv-parse reports only the line), and because the common case (no quotes in a
 * line) reduces to `String.prototype.split` (see docs/benchmarks.md, "Data layer", for the measured
 * rate against csv-parse). Quoted fields follow RFC 4180 ("" escapes a quote; a quoted field
 * may span lines); a quote inside an unquoted field is kept as an ordinary character.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { DataError } from '../errors.js';

export type TextEncoding = 'utf8' | 'latin1';

export interface ScanOptions {
  /** Field delimiter: ',', '\t', '::', '|' … (any string). */
  delimiter: string;
  /** Honour RFC 4180 double quotes (CSV). When false a '"' is an ordinary character. */
  quoted: boolean;
  encoding?: TextEncoding;
  /** Called after each chunk with bytes read so far and the file size (progress bars). */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
}

/** One record as the scanner hands it out. The object and its arrays are reused: copy what you keep. */
export interface RecordCursor {
  /** 1-based line where the record starts. */
  line: number;
  /** The record's text (without the line ending). */
  text: string;
  /** Field values, unquoted. */
  fields: string[];
  /**
   * 0-based character offset of each field in `text` when the record had quotes; empty otherwise
   * (then offsets follow from the field lengths, see `columnOf`).
   */
  starts: number[];
}

/** 1-based character column where field `index` of the record starts. */
export function columnOf(rec: RecordCursor, index: number, delimiter: string): number {
  if (rec.starts.length > index) return rec.starts[index]! + 1;
  let col = 0;
  for (let j = 0; j < index && j < rec.fields.length; j++) col += rec.fields[j]!.length + delimiter.length;
  return col + 1;
}

export interface ScanResult {
  sha256: string;
  /** Physical lines in the file. */
  lines: number;
  bytes: number;
}

/**
 * Stream `path` line by line (LF or CRLF; a UTF-8 BOM is dropped), calling `onLine(text, line)`
 * for every line including blank ones. Also hashes the bytes (sha256) on the way.
 */
export async function scanLines(
  path: string,
  encoding: TextEncoding,
  onLine: (text: string, line: number) => void,
  onProgress?: (bytesRead: number, totalBytes: number) => void,
): Promise<ScanResult> {
  let total = 0;
  if (onProgress) total = (await stat(path)).size;
  const hash = createHash('sha256');
  const decoder = new StringDecoder(encoding);
  let carry = '';
  let line = 0;
  let bytes = 0;
  let first = true;
  const emit = (s: string): void => {
    line++;
    const end = s.length > 0 && s.charCodeAt(s.length - 1) === 13 ? s.length - 1 : s.length;
    onLine(end === s.length ? s : s.slice(0, end), line);
  };
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
      let s = carry + decoder.write(chunk);
      if (first && s.length > 0) {
        if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
        first = false;
      }
      let start = 0;
      for (;;) {
        const nl = s.indexOf('\n', start);
        if (nl < 0) break;
        emit(s.slice(start, nl));
        start = nl + 1;
      }
      carry = start === 0 ? s : s.slice(start);
      onProgress?.(bytes, total);
    }
  } catch (err) {
    if (err instanceof DataError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new DataError(`file not found`, { file: path }, 'E_NOT_FOUND');
    if (e.code === 'EISDIR') throw new DataError(`expected a file, found a directory`, { file: path });
    throw err;
  } finally {
    stream.destroy();
  }
  const rest = carry + decoder.end();
  if (rest.length > 0) emit(rest);
  return { sha256: hash.digest('hex'), lines: line, bytes };
}

/**
 * Stream the delimited records of `path`. Blank lines are skipped. `onRecord` returning `false`
 * stops the scan early (the hash is then of the part read).
 */
export async function scanRecords(
  path: string,
  options: ScanOptions,
  onRecord: (rec: RecordCursor) => void,
): Promise<ScanResult> {
  const delim = options.delimiter;
  const quoted = options.quoted;
  const rec: RecordCursor = { line: 0, text: '', fields: [], starts: [] };
  // A quoted field that spans lines: the record so far and the line it began on.
  let pending: string | null = null;
  let pendingLine = 0;
  const result = await scanLines(
    path,
    options.encoding ?? 'utf8',
    (text, line) => {
      if (pending !== null) {
        pending += '\n' + text;
        if (endsInsideQuotes(pending, delim)) return;
        text = pending;
        line = pendingLine;
        pending = null;
      } else if (text.length === 0) {
        return;
      } else if (quoted && text.indexOf('"') >= 0 && endsInsideQuotes(text, delim)) {
        pending = text;
        pendingLine = line;
        return;
      }
      rec.line = line;
      rec.text = text;
      if (quoted && text.indexOf('"') >= 0) {
        splitQuoted(text, delim, rec, path);
      } else {
        rec.fields = text.split(delim);
        rec.starts.length = 0;
      }
      onRecord(rec);
    },
    options.onProgress,
  );
  // TS cannot see the callback's writes to `pending`; re-read it through a widened type.
  const open = pending as string | null;
  if (open !== null) {
    throw new DataError('unterminated quoted field at end of file: expected a closing \'"\'', {
      file: path,
      line: pendingLine,
      column: open.indexOf('"') + 1,
    });
  }
  return result;
}

/**
 * Whether a record ends inside a quoted field (so it continues on the next line). Only a quote
 * at the start of a field opens a quoted field; a quote inside an unquoted field (5" screen) is
 * an ordinary character, as most CSV writers produce it.
 */
function endsInsideQuotes(s: string, delim: string): boolean {
  let i = 0;
  for (;;) {
    if (s.charCodeAt(i) === 34 /* " */) {
      let j = i + 1;
      for (;;) {
        const q = s.indexOf('"', j);
        if (q < 0) return true;
        if (s.charCodeAt(q + 1) === 34) {
          j = q + 2;
          continue;
        }
        j = q + 1;
        break;
      }
      i = j;
    }
    const d = s.indexOf(delim, i);
    if (d < 0) return false;
    i = d + delim.length;
  }
}

/** RFC 4180 field split of one record that contains quotes. */
function splitQuoted(text: string, delim: string, rec: RecordCursor, file: string): void {
  const fields: string[] = [];
  const starts: number[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    starts.push(i);
    if (text.charCodeAt(i) === 34 /* " */) {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) {
          throw new DataError('unterminated quoted field: expected a closing \'"\'', { file, line: rec.line, column: i + 1 });
        }
        value += text.slice(j, q);
        if (text.charCodeAt(q + 1) === 34) {
          value += '"';
          j = q + 2;
          continue;
        }
        j = q + 1;
        break;
      }
      fields.push(value);
      if (j >= n) break;
      if (!text.startsWith(delim, j)) {
        throw new DataError(`unexpected character after a closing quote: expected "${printable(delim)}" or end of line`, {
          file,
          line: rec.line,
          column: j + 1,
        });
      }
      i = j + delim.length;
    } else {
      const d = text.indexOf(delim, i);
      if (d < 0) {
        fields.push(text.slice(i));
        break;
      }
      fields.push(text.slice(i, d));
      i = d + delim.length;
    }
    if (i > n) break;
  }
  rec.fields = fields;
  rec.starts = starts;
}

export function printable(delim: string): string {
  return delim === '\t' ? '\\t' : delim;
}

/** sha256 of a file, hex, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) hash.update(chunk);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new DataError('file not found', { file: path }, 'E_NOT_FOUND');
    throw err;
  }
  return hash.digest('hex');
}
