import { parse as csvParser } from 'csv-parse';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { z } from 'zod';
import { ChorusError } from '../errors.js';
import { RequestError } from './errors.js';
import { deeperThan } from './json-depth.js';
import { MAX_JSON_DEPTH } from './schemas.js';
import { firstSchemaIssue } from '../util/zod-issue.js';

const MAX_ROWS = 1_000_000;
/** Rows validated between two turns of the event loop: other requests run between chunks. */
export const IMPORT_CHUNK = 1000;

export interface ImportLimits {
  /** Largest body, bytes: a streamed body is counted as it arrives and refused past it (413). */
  maxBytes: number;
  /** The body's declared length (Content-Length), when known: refused before anything is read. */
  declaredBytes?: number;
}

function rowError(line: number, field: string | undefined, message: string): ChorusError {
  return new ChorusError('E_VALIDATION', message, { status: 400, location: { file: 'body', line, field } });
}

function tooLarge(limit: number): RequestError {
  return new RequestError(`the import body is larger than ${limit} bytes (importBodyLimit)`, '', 'E_BODY_TOO_LARGE', 413);
}

function tooMany(): RequestError {
  return new RequestError(`at most ${MAX_ROWS} records per import`, '');
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function check<S extends z.ZodType>(schema: S, v: unknown, line: number): z.infer<S> {
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  const { field, message } = firstSchemaIssue(r.error);
  throw rowError(line, field || undefined, message);
}

/** A CSV cell: numbers and booleans become typed (attributes), "a|b" lists for tags/categories. */
function csvRow(rec: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const attributes: Record<string, string | number | boolean> = {};
  for (const [k, raw] of Object.entries(rec)) {
    if (raw === '') continue;
    if (k === 'id' || k === 'title' || k === 'text') out[k] = raw;
    else if (k === 'tags' || k === 'categories' || k === 'genres') out[k === 'genres' ? 'categories' : k] = raw.split('|').filter(Boolean);
    else if (/^-?\d+(\.\d+)?(e-?\d+)?$/i.test(raw)) attributes[k] = Number(raw);
    else if (raw === 'true' || raw === 'false') attributes[k] = raw === 'true';
    else attributes[k] = raw;
  }
  if (Object.keys(attributes).length) out.attributes = attributes;
  return out;
}

/** The body's bytes as they arrive, refused once past `maxBytes`. A string or Buffer body counts as one chunk. */
async function* capped(body: unknown, limits: ImportLimits): AsyncGenerator<Buffer> {
  if (limits.declaredBytes !== undefined && limits.declaredBytes > limits.maxBytes) throw tooLarge(limits.maxBytes);
  const source: Iterable<unknown> | AsyncIterable<unknown> = typeof body === 'string' || Buffer.isBuffer(body) ? [body] : (body as AsyncIterable<unknown>);
  let n = 0;
  for await (const chunk of source) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    n += b.length;
    if (n > limits.maxBytes) throw tooLarge(limits.maxBytes);
    yield b;
  }
}

function isStreamed(body: unknown): boolean {
  return typeof body === 'string' || Buffer.isBuffer(body) || (typeof body === 'object' && body !== null && Symbol.asyncIterator in body);
}

/** NDJSON: one record per line (blank lines skipped), read as the bytes arrive; lines count from 1. */
async function ndjsonRows<S extends z.ZodType>(body: unknown, schema: S, limits: ImportLimits): Promise<z.infer<S>[]> {
  const out: z.infer<S>[] = [];
  const decoder = new StringDecoder('utf8');
  let line = 0;
  let rest = '';
  let sinceYield = 0;
  const take = (text: string): void => {
    line++;
    const t = text.trim();
    if (t === '') return;
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch (e) {
      throw rowError(line, undefined, `bad JSON: ${(e as Error).message}`);
    }
    // The same depth cap as application/json bodies (edge.ts): an import line is a body too.
    const deep = deeperThan(v, MAX_JSON_DEPTH);
    if (deep !== null) throw rowError(line, deep, `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    if (out.length >= MAX_ROWS) throw tooMany();
    out.push(check(schema, v, line));
    sinceYield++;
  };
  for await (const chunk of capped(body, limits)) {
    const text = rest + decoder.write(chunk);
    let from = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
      take(text.slice(from, nl));
      from = nl + 1;
      if (sinceYield >= IMPORT_CHUNK) {
        sinceYield = 0;
        await nextTurn();
      }
    }
    rest = text.slice(from);
  }
  rest += decoder.end();
  if (rest !== '') take(rest);
  return out;
}

/** CSV with a header row, parsed as the bytes arrive; a record's line is where it ends (the header is line 1). */
async function csvRows<S extends z.ZodType>(body: unknown, schema: S, limits: ImportLimits): Promise<z.infer<S>[]> {
  const out: z.infer<S>[] = [];
  const parser = csvParser({ columns: true, skip_empty_lines: true, trim: true, bom: true, info: true });
  // Errors of the source (the size cap) reach the parser, and so the loop below.
  const source = Readable.from(capped(body, limits));
  source.on('error', (e) => parser.destroy(e));
  source.pipe(parser);
  try {
    let sinceYield = 0;
    for await (const x of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      if (out.length >= MAX_ROWS) throw tooMany();
      out.push(check(schema, csvRow(x.record), x.info.lines));
      if (++sinceYield >= IMPORT_CHUNK) {
        sinceYield = 0;
        await nextTurn();
      }
    }
  } catch (e) {
    if (e instanceof ChorusError) throw e;
    const err = e as Error & { lines?: number; column?: string | number };
    throw rowError(err.lines ?? 0, err.column !== undefined ? String(err.column) : undefined, err.message);
  } finally {
    source.destroy();
  }
  return out;
}

/**
 * Parse and validate a bulk-import body by content type: a JSON array (already parsed, within
 * the route's body limit), or NDJSON and CSV read from the request stream as it arrives, counted
 * against `limits.maxBytes`. Rows are validated IMPORT_CHUNK at a time, letting the event loop run
 * between chunks, so a large import does not stall other requests. Any bad row fails the whole
 * import before anything is written (naming its line, or its array index for JSON).
 */
export async function parseImport<S extends z.ZodType>(contentType: string, body: unknown, schema: S, limits: ImportLimits): Promise<z.infer<S>[]> {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') {
    const arr = Array.isArray(body) ? body : (body as { items?: unknown } | null)?.items;
    if (!Array.isArray(arr)) throw new RequestError('expected a JSON array of records (or {"items": [...]})', '');
    if (arr.length > MAX_ROWS) throw tooMany();
    const out: z.infer<S>[] = [];
    for (let i = 0; i < arr.length; i++) {
      if (i > 0 && i % IMPORT_CHUNK === 0) await nextTurn();
      const r = schema.safeParse(arr[i]);
      if (!r.success) {
        const { field, message } = firstSchemaIssue(r.error, `[${i}]`);
        throw new RequestError(message, field);
      }
      out.push(r.data as z.infer<S>);
    }
    return out;
  }
  if (!isStreamed(body)) throw new RequestError(`unsupported content type "${type}"`, '', 'E_MEDIA_TYPE', 415);
  return type === 'text/csv' ? csvRows(body, schema, limits) : ndjsonRows(body, schema, limits);
}
