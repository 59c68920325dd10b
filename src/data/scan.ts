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
 * Stream `path` line by line, calling `onLine(text, line)` for every line including blank ones.
 * Lines end at LF, CRLF, or a lone CR (classic Mac files; the first line break decides), and a
 * UTF-8 BOM is dropped. UTF-8 is checked: an invalid byte sequence stops the scan with a DataError
 * naming its line and byte offset, rather than turning silently into U+FFFD. Also hashes the bytes
 * (sha256) on the way.
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
  // The decoder turns invalid UTF-8 into U+FFFD, so a U+FFFD in its output is the cue to look at
  // the bytes (a native indexOf per chunk; a fatal TextDecoder cost a third more per byte).
  // The first such chunk has the whole file checked; if its U+FFFD characters are real ones
  // (written as EF BF BD), the file is valid and later chunks are not looked at again.
  let checkUtf8 = encoding === 'utf8';
  const decode = async (text: string): Promise<string> => {
    if (checkUtf8 && text.indexOf('\ufffd') >= 0) {
      const bad = await findInvalidUtf8(path);
      if (bad) throw invalidUtf8Error(path, bad);
      checkUtf8 = false;
    }
    return text;
  };
  let line = 0;
  let bytes = 0;
  let first = true;
  const splitter = new LineSplitter((s) => onLine(s, ++line));
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
      let s = await decode(decoder.write(chunk));
      if (first && s.length > 0) {
        if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
        first = false;
      }
      splitter.push(s);
      onProgress?.(bytes, total);
    }
    splitter.push(await decode(decoder.end()));
  } catch (err) {
    if (err instanceof DataError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new DataError(`file not found`, { file: path }, 'E_NOT_FOUND');
    if (e.code === 'EISDIR') throw new DataError(`expected a file, found a directory`, { file: path });
    throw err;
  } finally {
    stream.destroy();
  }
  splitter.end();
  return { sha256: hash.digest('hex'), lines: line, bytes };
}

/**
 * Cuts decoded text into lines across chunk boundaries. The first line break fixes the style:
 * LF (a CR before it is dropped, so CRLF works too), or a lone CR, after which CR, CRLF and LF
 * all end lines.
 */
class LineSplitter {
  private carry = '';
  private style: 'unknown' | 'lf' | 'cr' = 'unknown';

  constructor(private readonly emit: (line: string) => void) {}

  push(text: string): void {
    const s = this.carry + text;
    if (this.style === 'unknown') this.style = lineBreakStyle(s);
    if (this.style === 'unknown') {
      this.carry = s;
      return;
    }
    this.carry = this.style === 'lf' ? this.splitLf(s) : this.splitCr(s);
  }

  /** The last line, when the text does not end with a line break. */
  end(): void {
    const s = this.carry;
    this.carry = '';
    if (s.length === 0) return;
    if (this.style === 'cr' && s.endsWith('\r')) this.emit(s.slice(0, -1));
    else this.emit(s.charCodeAt(s.length - 1) === 13 ? s.slice(0, -1) : s);
  }

  /** Emits every complete line of `s`; returns the unfinished rest. */
  private splitLf(s: string): string {
    let start = 0;
    for (;;) {
      const nl = s.indexOf('\n', start);
      if (nl < 0) break;
      const end = nl > start && s.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      this.emit(s.slice(start, end));
      start = nl + 1;
    }
    return start === 0 ? s : s.slice(start);
  }

  private splitCr(s: string): string {
    let start = 0;
    for (;;) {
      let cr = s.indexOf('\r', start);
      const nl = s.indexOf('\n', start);
      if (cr < 0 && nl < 0) break;
      if (cr < 0 || (nl >= 0 && nl < cr)) {
        this.emit(s.slice(start, nl));
        start = nl + 1;
        continue;
      }
      // A CR as the last character may be the first half of a CRLF that the next chunk completes.
      if (cr === s.length - 1) break;
      this.emit(s.slice(start, cr));
      if (s.charCodeAt(cr + 1) === 10) cr++;
      start = cr + 1;
    }
    return start === 0 ? s : s.slice(start);
  }
}

/** The style of the first line break in `s`; 'unknown' while there is none (or only a final CR). */
function lineBreakStyle(s: string): 'unknown' | 'lf' | 'cr' {
  const nl = s.indexOf('\n');
  const cr = s.indexOf('\r');
  if (cr >= 0 && (nl < 0 || cr < nl)) {
    if (cr === s.length - 1) return 'unknown';
    return s.charCodeAt(cr + 1) === 10 ? 'lf' : 'cr';
  }
  return nl >= 0 ? 'lf' : 'unknown';
}

/** The DataError for a file that is not valid UTF-8, naming where its first bad sequence starts. */
function invalidUtf8Error(path: string, bad: InvalidUtf8): DataError {
  return new DataError(
    `not valid UTF-8: invalid byte sequence at byte offset ${bad.offset} (byte 0x${bad.byte.toString(16).padStart(2, '0')}); ` +
      're-save the file as UTF-8, or read it as Latin-1 (--encoding latin1)',
    { file: path, line: bad.line, column: bad.column },
    'E_ENCODING',
  );
}

export interface InvalidUtf8 {
  /** 0-based byte offset of the first byte of the bad sequence. */
  offset: number;
  byte: number;
  /** 1-based line (LF, CRLF or CR breaks) and character column where it starts. */
  line: number;
  column: number;
}

/** The first invalid UTF-8 sequence in a file (the rules TextDecoder's fatal mode applies), or undefined. */
export async function findInvalidUtf8(path: string): Promise<InvalidUtf8 | undefined> {
  let offset = 0;
  let line = 1;
  let column = 1;
  let prevCr = false;
  // The sequence being read: bytes still needed, the allowed range of the next byte, where it began.
  let need = 0;
  let lo = 0x80;
  let hi = 0xbf;
  let seqStart = 0;
  let seqByte = 0;
  let seqLine = 1;
  let seqColumn = 1;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    for (let k = 0; k < chunk.length; k++, offset++) {
      const b = chunk[k]!;
      if (need > 0) {
        if (b < lo || b > hi) return { offset: seqStart, byte: seqByte, line: seqLine, column: seqColumn };
        lo = 0x80;
        hi = 0xbf;
        need--;
        continue;
      }
      seqStart = offset;
      seqByte = b;
      seqLine = line;
      seqColumn = column;
      if (b < 0x80) {
        if (b === 10) {
          if (!prevCr) line++;
          column = 1;
        } else if (b === 13) {
          line++;
          column = 1;
        } else {
          column++;
        }
        prevCr = b === 13;
        continue;
      }
      prevCr = false;
      column++;
      if (b >= 0xc2 && b <= 0xdf) need = 1;
      else if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        if (b === 0xe0) lo = 0xa0; // overlong
        if (b === 0xed) hi = 0x9f; // UTF-16 surrogates
      } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        if (b === 0xf0) lo = 0x90; // overlong
        if (b === 0xf4) hi = 0x8f; // above U+10FFFF
      } else {
        return { offset, byte: b, line, column: column - 1 };
      }
    }
  }
  return need > 0 ? { offset: seqStart, byte: seqByte, line: seqLine, column: seqColumn } : undefined;
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
