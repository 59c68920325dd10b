/**
 * The streaming loop for delimited interaction files (CSV, TSV, "::", u.data, Last.fm): header
 * detection, the column mapping, a field-count check per record, then each row's raw fields to
 * the row checks.
 */
import { DataError } from '../errors.js';
import { delimitedMapping, splitFirstLine } from './column-mapping.js';
import { looksLikeHeader, type FormatPreset, type InteractionFormat } from './formats.js';
import type { ReadOptions } from './read-options.js';
import type { ColumnsUsed } from './report.js';
import type { RawRow, RowSink } from './row-checks.js';
import { columnOf, printable, scanRecords, type RecordCursor, type ScanResult } from './scan.js';

export interface DelimitedRead {
  scan: ScanResult;
  header?: string[];
  columns: ColumnsUsed;
}

export async function readDelimitedRows(
  path: string,
  firstLine: string,
  format: InteractionFormat,
  preset: FormatPreset,
  options: ReadOptions,
  sink: RowSink,
): Promise<DelimitedRead> {
  const delimiter = options.delimiter ?? preset.delimiter;
  const quoted = preset.quoted && delimiter !== '::';
  const firstFields = splitFirstLine(firstLine, delimiter, quoted);
  const hasHeader = options.header ?? (preset.header === 'auto' ? looksLikeHeader(firstFields) : preset.header);
  const header = hasHeader ? firstFields : undefined;
  const ncol = firstFields.length;
  const { mapping, used } = delimitedMapping(path, format, options.columns, preset.columns, header, ncol);
  const { user: uc, item: ic, value: vc, timestamp: tc, eventType: ec } = mapping;
  const names = header ?? [];
  let cur: RecordCursor | undefined;
  sink.begin({ value: vc !== null, timestamp: tc !== null, eventType: ec !== null }, (role) => {
    const idx = mapping[role]!;
    return { line: cur!.line, column: columnOf(cur!, idx, delimiter), field: names[idx] ?? `column ${idx + 1}` };
  });
  const raw: RawRow = { line: 0, user: undefined, item: undefined, value: undefined, timestamp: undefined, eventType: undefined };
  let skipHeader = hasHeader;
  const scan = await scanRecords(path, { delimiter, quoted, encoding: options.encoding, onProgress: options.onProgress }, (rec) => {
    if (skipHeader) {
      skipHeader = false;
      return;
    }
    const f = rec.fields;
    if (f.length !== ncol) {
      if (sink.strict) {
        const column = f.length > ncol ? columnOf(rec, ncol, delimiter) - delimiter.length : rec.text.length + 1;
        throw new DataError(`expected ${ncol} fields separated by "${printable(delimiter)}", found ${f.length}`, { file: path, line: rec.line, column });
      }
      sink.malformed(rec.line, `not ${ncol} fields`);
      return;
    }
    cur = rec;
    raw.line = rec.line;
    raw.user = f[uc];
    raw.item = f[ic];
    raw.value = vc === null ? undefined : f[vc];
    raw.timestamp = tc === null ? undefined : f[tc];
    raw.eventType = ec === null ? undefined : f[ec];
    sink.row(raw);
  });
  return { scan, header, columns: used };
}
