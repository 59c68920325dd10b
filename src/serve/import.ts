import { parse as parseCsv } from 'csv-parse/sync';
import type { z } from 'zod';
import { ChorusError } from '../errors.js';
import { RequestError } from './errors.js';
import { fieldPath } from './schemas.js';

const MAX_ROWS = 1_000_000;

function rowError(line: number, field: string | undefined, message: string): ChorusError {
  return new ChorusError('E_VALIDATION', message, { status: 400, location: { file: 'body', line, field } });
}

function check<S extends z.ZodType>(schema: S, v: unknown, line: number): z.infer<S> {
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = fieldPath(issue.path) || undefined;
  const message = issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message;
  throw rowError(line, field, message);
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

/**
 * Parse and validate a bulk-import body by content type. Any bad row fails the whole import
 * (naming its line, or its array index for JSON), so an import is all or nothing.
 */
export function parseImport<S extends z.ZodType>(contentType: string, body: unknown, schema: S): z.infer<S>[] {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') {
    const arr = Array.isArray(body) ? body : (body as { items?: unknown } | null)?.items;
    if (!Array.isArray(arr)) throw new RequestError('expected a JSON array of records (or {"items": [...]})', '');
    if (arr.length > MAX_ROWS) throw new RequestError(`at most ${MAX_ROWS} records per import`, '');
    return arr.map((v, i) => {
      const r = schema.safeParse(v);
      if (r.success) return r.data as z.infer<S>;
      const issue = r.error.issues[0]!;
      const field = fieldPath(issue.path, `[${i}]`);
      const message = issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message;
      throw new RequestError(message, field);
    });
  }
  if (typeof body !== 'string') throw new RequestError(`unsupported content type "${type}"`, '', 'E_MEDIA_TYPE', 415);
  if (type === 'text/csv') {
    let recs: Record<string, string>[];
    try {
      recs = parseCsv(body, { columns: true, skip_empty_lines: true, trim: true, bom: true }) as Record<string, string>[];
    } catch (e) {
      const err = e as Error & { lines?: number; column?: string | number };
      throw rowError(err.lines ?? 0, err.column !== undefined ? String(err.column) : undefined, err.message);
    }
    // Line numbers count the header as line 1.
    return recs.map((r, i) => check(schema, csvRow(r), i + 2));
  }
  const out: z.infer<S>[] = [];
  const lines = body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw rowError(i + 1, undefined, `bad JSON: ${(e as Error).message}`);
    }
    out.push(check(schema, v, i + 1));
  }
  return out;
}
