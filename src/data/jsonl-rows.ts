/**
 * The streaming loop for JSON-lines interaction files: one object per line, the key mapping taken
 * from the first object, each row's values (a dotted key reaches into nested objects) to the row
 * checks.
 */
import { DataError } from '../errors.js';
import { keyMapping, type KeyMapping } from './column-mapping.js';
import type { FormatPreset } from './formats.js';
import { jsonSyntaxError } from './json-error.js';
import type { ReadOptions } from './read-options.js';
import type { ColumnsUsed } from './report.js';
import type { RawRow, RowSink } from './row-checks.js';
import { scanLines, type ScanResult } from './scan.js';

export interface JsonlRead {
  scan: ScanResult;
  /** Undefined when the file had no object to take a mapping from. */
  columns?: ColumnsUsed;
}

/** `o[key]`, or the value at a dotted path ("event.item.id") when `o` has no such key. */
function valueAt(o: Record<string, unknown>, key: string | null): unknown {
  if (key === null) return undefined;
  if (key in o) return o[key];
  if (!key.includes('.')) return undefined;
  let cur: unknown = o;
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export async function readJsonlRows(path: string, preset: FormatPreset, options: ReadOptions, sink: RowSink): Promise<JsonlRead> {
  let mapping: KeyMapping | undefined;
  let columns: ColumnsUsed | undefined;
  let text = '';
  const raw: RawRow = { line: 0, user: undefined, item: undefined, value: undefined, timestamp: undefined, eventType: undefined };
  const locate = (role: keyof KeyMapping): { line: number; column: number; field: string } => {
    const key = mapping?.[role] ?? '';
    const at = text.indexOf(JSON.stringify(key));
    return { line: raw.line, column: at >= 0 ? at + 1 : 1, field: key };
  };
  const scan = await scanLines(
    path,
    options.encoding ?? 'utf8',
    (t, line) => {
      if (t.trim() === '') return;
      raw.line = line;
      text = t;
      let obj: unknown;
      try {
        obj = JSON.parse(t);
      } catch (err) {
        if (!sink.strict) return sink.malformed(line, 'not valid JSON');
        throw jsonSyntaxError(t, { file: path, line }, err, { expected: 'expected a JSON object per line' });
      }
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
        if (!sink.strict) return sink.malformed(line, 'not a JSON object');
        throw new DataError('expected a JSON object per line', { file: path, line, column: 1 });
      }
      const o = obj as Record<string, unknown>;
      if (!mapping) {
        ({ mapping, used: columns } = keyMapping(path, line, Object.keys(o), options.columns, preset.columns));
        sink.begin({ value: mapping.value !== null, timestamp: mapping.timestamp !== null, eventType: mapping.eventType !== null }, locate);
      }
      raw.user = valueAt(o, mapping.user);
      raw.item = valueAt(o, mapping.item);
      raw.value = valueAt(o, mapping.value);
      raw.timestamp = valueAt(o, mapping.timestamp);
      raw.eventType = valueAt(o, mapping.eventType);
      sink.row(raw);
    },
    options.onProgress,
  );
  return { scan, columns };
}
