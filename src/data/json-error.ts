/**
 * JSON read from files: one place that turns a syntax error into a DataError naming the file, the
 * line and the column of the first bad character.
 *
 * Where a JSON text first goes wrong: V8's JSON.parse messages give a position for some errors
 * and not for others ("Unexpected token '}', ... is not valid JSON"), so on the error path only
 * this small recursive-descent checker finds the 0-based offset of the first bad character.
 */
import { DataError } from '../errors.js';

/** Where a JSON text sits: its file and, for JSON lines, the line it is on (default 1). */
export interface JsonSource {
  file: string;
  line?: number;
  /** For JSON embedded in a binary file (dataset snapshots): the byte offset the text starts at. */
  byteOffset?: number;
}

/** How a JSON syntax error is worded and coded. */
export interface JsonErrorWording {
  /** Message head, e.g. "expected a JSON object per line" (default "not valid JSON"). */
  expected?: string;
  /** Error code (default E_DATA). */
  code?: string;
}

/** `JSON.parse` for text read from a file: a syntax error throws a DataError at file:line:column. */
export function parseJsonText(text: string, source: JsonSource, wording: JsonErrorWording = {}): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw jsonSyntaxError(text, source, err, wording);
  }
}

/** The DataError for a JSON.parse failure on `text` (for callers that catch it themselves). */
export function jsonSyntaxError(text: string, source: JsonSource, err: unknown, wording: JsonErrorWording = {}): DataError {
  const reason = (err as Error).message.split('\n')[0];
  const message = `${wording.expected ?? 'not valid JSON'}: ${reason}`;
  const at = Math.max(jsonErrorOffset(text), 0);
  if (source.byteOffset !== undefined) {
    const byte = source.byteOffset + Buffer.byteLength(text.slice(0, at), 'utf8');
    return new DataError(`${message} (at byte offset ${byte})`, { file: source.file }, wording.code);
  }
  const { line, column } = lineColumnAt(text, at);
  return new DataError(message, { file: source.file, line: (source.line ?? 1) + line - 1, column }, wording.code);
}

/** 1-based line and column of a 0-based offset in `text` (LF, CRLF or CR line breaks). */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

export function jsonErrorOffset(text: string): number {
  let i = 0;
  const n = text.length;
  class Bad extends Error {
    constructor(readonly at: number) {
      super('bad json');
    }
  }
  const ws = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\r' || text[i] === '\n')) i++;
  };
  const lit = (word: string): void => {
    for (let k = 0; k < word.length; k++, i++) if (text[i] !== word[k]) throw new Bad(i);
  };
  const str = (): void => {
    if (text[i] !== '"') throw new Bad(i);
    i++;
    while (i < n && text[i] !== '"') {
      const c = text.charCodeAt(i);
      if (c < 0x20) throw new Bad(i);
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') {
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) throw new Bad(i + k);
          i += 5;
          continue;
        }
        if (!'"\\/bfnrt'.includes(text[i] ?? '!')) throw new Bad(i);
      }
      i++;
    }
    if (i >= n) throw new Bad(n);
    i++;
  };
  const num = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m || m[0] === '' || m[0] === '-') throw new Bad(i + (m?.[0].length ?? 0));
    i += m[0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        str();
        ws();
        if (text[i] !== ':') throw new Bad(i);
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') return void i++;
        throw new Bad(i);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') return void i++;
        throw new Bad(i);
      }
    }
    if (c === '"') return str();
    if (c === 't') return lit('true');
    if (c === 'f') return lit('false');
    if (c === 'n') return lit('null');
    return num();
  };
  try {
    value();
    ws();
    return i < n ? i : -1;
  } catch (e) {
    if (e instanceof Bad) return Math.min(e.at, n);
    throw e;
  }
}
