/**
 * `readInteractions`: stream an interaction file (MovieLens csv/dat, u.data, Last.fm, generic
 * CSV/TSV/JSONL with a column mapping) into a `Dataset`, validating and cleaning on the way.
 *
 * Two classes of problems:
 * - *malformed* input (wrong number of fields, a number that does not parse, a bad JSON line, a
 *   required column missing from the header, bytes that are not UTF-8) stops the load with one
 *   `DataError` naming `file:line:column`, unless `strict: false`, which drops such rows and
 *   reports them;
 * - *dirty* but well-formed rows (missing values, duplicates, values outside a declared range,
 *   unknown ids) are cleaned by the chosen policy and every one is counted in the `CleaningReport`.
 * A load either returns the whole dataset with its report or throws: never half a dataset. A file
 * with no data rows is an error; a load that drops more than `dropWarning` of its rows carries a
 * `warning`.
 *
 * The parts, in the order a row meets them: format detection (formats.ts), the streaming loop
 * for delimited text (delimited-rows.ts) or JSON lines (jsonl-rows.ts) with its column mapping
 * (column-mapping.ts), the row checks and value policy (row-checks.ts), then fill, id order and
 * duplicates (assemble.ts), the value scale (value-scale.ts) and the drop warning (drop-warning.ts).
 */
import { basename, dirname, extname } from 'node:path';
import { DataError } from '../errors.js';
import { assembleDataset } from './assemble.js';
import { readDelimitedRows } from './delimited-rows.js';
import { DEFAULT_DROP_WARNING, dropWarning } from './drop-warning.js';
import { PRESETS, detectFormat, readFirstLine, type InteractionFormat } from './formats.js';
import { readJsonlRows } from './jsonl-rows.js';
import type { LoadResult, ReadOptions } from './read-options.js';
import { ReportBuilder, DEFAULT_MAX_EXAMPLES, type CleaningReport, type ColumnsUsed } from './report.js';
import { RowChecker } from './row-checks.js';
import type { ScanResult } from './scan.js';
import { observeValues, ratingRange, valueScale } from './value-scale.js';

export type { DuplicatePolicy, IdCatalogue, LoadResult, MissingPolicy, RangePolicy, ReadOptions, UnknownPolicy } from './read-options.js';

function defaultName(path: string, format: InteractionFormat): string {
  if (format === 'movielens-csv' || format === 'movielens-dat' || format === 'udata' || format === 'lastfm') {
    return basename(dirname(path)) || basename(path);
  }
  return basename(path, extname(path));
}

/** Read an interaction file into a Dataset, with a cleaning report. See `ReadOptions`. */
export async function readInteractions(path: string, options: ReadOptions = {}): Promise<LoadResult> {
  const first = await readFirstLine(path);
  if (first.trim() === '') {
    throw new DataError('the first line is empty: expected a header or a data row', { file: path, line: 1, column: 1 });
  }
  const format: InteractionFormat = !options.format || options.format === 'auto' ? detectFormat(path, first) : options.format;
  const preset = PRESETS[format];
  const report = new ReportBuilder(path, options.maxExamples ?? DEFAULT_MAX_EXAMPLES);
  const checker = new RowChecker(path, options, report);

  let scan: ScanResult;
  let header: string[] | undefined;
  let columns: ColumnsUsed | undefined;
  if (format === 'jsonl') {
    ({ scan, columns } = await readJsonlRows(path, preset, options, checker));
  } else {
    ({ scan, header, columns } = await readDelimitedRows(path, first, format, preset, options, checker));
  }
  if (checker.rowsRead === 0) {
    throw new DataError(header ? 'no data rows: the file has a header line and nothing after it' : 'no data rows', { file: path });
  }

  const dataset = assembleDataset({
    path,
    name: options.name ?? defaultName(path, format),
    source: { file: path, sha256: scan.sha256, format },
    rows: checker.rows,
    users: checker.userIds(),
    items: checker.itemIds(),
    eventTypes: checker.eventTypes,
    report,
    options,
    policies: checker.policies,
  });
  const built: CleaningReport = { ...report.build(format, checker.rowsRead, dataset.nInteractions, header), columns };
  if (columns?.value) {
    built.valueScale = valueScale(observeValues(dataset.interactions.value), options.valueRange, preset.valueRange);
    const range = ratingRange(built.valueScale);
    if (range) built.valueRange = range;
    dataset.source!.valueScale = built.valueScale;
  }
  const warning = dropWarning(built, options.dropWarning ?? DEFAULT_DROP_WARNING);
  if (warning) built.warning = warning;
  return warning ? { dataset, report: built, warning } : { dataset, report: built };
}
