/**
 * `readInteractions`: stream an interaction file (MovieLens csv/dat, u.data, Last.fm, generic
 * CSV/TSV/JSONL with a column mapping) into a `Dataset`, validating and cleaning on the way.
 *
 * Two classes of problems:
 * - *malformed* input (wrong number of fields, a number that does not parse, a bad JSON line, a
 *   required column missing from the header) stops the load with one `DataError` naming
 *   `file:line:column`, unless `strict: false`, which drops such rows and reports them;
 * - *dirty* but well-formed rows (missing values, duplicates, out-of-range values, unknown ids)
 *   are cleaned by the chosen policy and every one is counted in the `CleaningReport`.
 * A load either returns the whole dataset with its report or throws: never half a dataset.
 */
import { basename, dirname, extname } from 'node:path';
import { DataError } from '../errors.js';
import { Dataset, IdMap, type Interactions } from './dataset.js';
import { PRESETS, detectFormat, guessColumns, headerIndex, looksLikeHeader, readFirstLine, type ColumnMapping, type ColumnRef, type InteractionFormat } from './formats.js';
import { ReportBuilder, DEFAULT_MAX_EXAMPLES, type CleaningReport } from './report.js';
import { columnOf, printable, scanLines, scanRecords, type RecordCursor, type ScanResult, type TextEncoding } from './scan.js';
import { IdInterner } from './interner.js';
import { jsonErrorOffset } from './json-error.js';
import { countingSort, externalIdOrder } from './sort.js';

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
  /** Inclusive valid range of values (MovieLens presets: [0.5, 5], u.data: [1, 5]). */
  valueRange?: [number, number];
  /** Values outside `valueRange`: 'drop' (default), 'clamp' into the range, or 'error'. */
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
  /** Progress callback (bytes read, file size) for progress bars. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
}

export interface LoadResult {
  dataset: Dataset;
  report: CleaningReport;
}

/** Positions → line numbers, stored as breakpoints (lines grow with positions, mostly by 1). */
class LineIndex {
  private pos: number[] = [];
  private off: number[] = [];

  push(k: number, line: number): void {
    const o = line - k;
    if (this.off.length === 0 || this.off[this.off.length - 1] !== o) {
      this.pos.push(k);
      this.off.push(o);
    }
  }

  lineOf(k: number): number {
    let lo = 0;
    let hi = this.pos.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.pos[mid]! <= k) lo = mid;
      else hi = mid - 1;
    }
    return k + (this.off[lo] ?? 0);
  }
}

/** Growable columns (capacity doubles), trimmed to length at the end. */
class Columns {
  n = 0;
  user = new Int32Array(1024);
  item = new Int32Array(1024);
  value = new Float32Array(1024);
  ts = new Float64Array(1024);
  et = new Uint8Array(1024);
  readonly lines = new LineIndex();

  push(u: number, i: number, v: number, t: number, e: number, line: number): void {
    if (this.n === this.user.length) this.grow();
    const k = this.n++;
    this.user[k] = u;
    this.item[k] = i;
    this.value[k] = v;
    this.ts[k] = t;
    this.et[k] = e;
    this.lines.push(k, line);
  }

  private grow(): void {
    const cap = this.user.length * 2;
    const g = <T extends Int32Array | Float32Array | Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.user = g(this.user, (n) => new Int32Array(n));
    this.item = g(this.item, (n) => new Int32Array(n));
    this.value = g(this.value, (n) => new Float32Array(n));
    this.ts = g(this.ts, (n) => new Float64Array(n));
    this.et = g(this.et, (n) => new Uint8Array(n));
  }
}

interface Resolved {
  user: number | string;
  item: number | string;
  value: number | string | null;
  timestamp: number | string | null;
  eventType: number | string | null;
}

function asLookup(c: IdCatalogue | undefined): { has(id: string): boolean } | undefined {
  if (!c) return undefined;
  if (Array.isArray(c)) return new Set(c as readonly string[]);
  return c as { has(id: string): boolean };
}

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
  const strict = options.strict ?? true;
  const report = new ReportBuilder(path, options.maxExamples ?? DEFAULT_MAX_EXAMPLES);
  const missingPolicy = options.missingValue ?? 'drop';
  const dupPolicy = options.duplicates ?? 'last';
  const rangePolicy = options.outOfRange ?? 'drop';
  const unknownPolicy = options.unknownIds ?? 'drop';
  const range = options.valueRange ?? preset.valueRange;
  const tsScale = options.timestampUnit === 'ms' ? 1 / 1000 : 1;
  const implicitValue = options.implicitValue ?? 1;
  const knownUsers = asLookup(options.knownUsers);
  const knownItems = asLookup(options.knownItems);
  if (missingPolicy === 'constant' && options.fillValue === undefined) {
    throw new DataError("missingValue 'constant' needs a fillValue", { field: 'fillValue' });
  }

  const users = new IdInterner(options.users);
  const items = new IdInterner(options.items);
  const fixedTypes = options.eventTypes !== undefined;
  const eventTypes: string[] = options.eventTypes ? [...options.eventTypes] : [];
  const typeIndex = new Map(eventTypes.map((t, i) => [t, i]));
  const cols = new Columns();
  let rowsRead = 0;
  let header: string[] | undefined;
  let lastUserStr = '';
  let lastUser = -1;

  /** Where the current row's field is, for errors: set per format before rows arrive. */
  let locate: Locate = () => ({ line: 0, column: 0, field: '' });
  const fail = (role: keyof Resolved, expected: string): never => {
    const loc = locate(role);
    throw new DataError(expected, { file: path, line: loc.line, column: loc.column, field: loc.field });
  };

  /** One row's raw fields → checks → columns. Returns silently when the row is dropped. */
  const handle: Handle = (line, userRaw, itemRaw, valueRaw, tsRaw, etRaw, hasValue, hasTs, hasEt) => {
    rowsRead++;
    const userStr = idString(userRaw);
    const itemStr = idString(itemRaw);
    if (userStr === undefined || itemStr === undefined) {
      if (strict) fail(userStr === undefined ? 'user' : 'item', 'expected an id (a string or a number)');
      report.add('malformed-row', 'dropped', line, 'id is not a string or number');
      return;
    }
    if (userStr === null || itemStr === null) {
      report.add('missing-id', 'dropped', line, 'empty user or item id');
      return;
    }
    if (knownUsers && !knownUsers.has(userStr)) {
      if (unknownPolicy === 'error') fail('user', `unknown user id "${userStr}" (not in the given catalogue)`);
      report.add('unknown-user', 'dropped', line, 'user not in the given catalogue');
      return;
    }
    if (knownItems && !knownItems.has(itemStr)) {
      if (unknownPolicy === 'error') fail('item', `unknown item id "${itemStr}" (not in the given catalogue)`);
      report.add('unknown-item', 'dropped', line, 'item not in the given catalogue');
      return;
    }
    let et = 0;
    let typeName = '';
    if (hasEt) {
      const s = idString(etRaw);
      typeName = s ?? '';
      let k = typeIndex.get(typeName);
      if (k === undefined) {
        if (fixedTypes || s === null || s === undefined) {
          if (unknownPolicy === 'error' || (s === undefined && strict)) {
            fail('eventType', `unknown event type "${typeName}"; expected one of: ${eventTypes.join(', ')}`);
          }
          report.add('unknown-event-type', 'dropped', line, `event type not in: ${eventTypes.join(', ') || '(none)'}`);
          return;
        }
        if (eventTypes.length === 256) fail('eventType', 'more than 256 distinct event types');
        k = eventTypes.length;
        eventTypes.push(typeName);
        typeIndex.set(typeName, k);
      }
      et = k;
    }
    let value: number;
    if (hasValue) {
      value = numberOf(valueRaw);
      if (Number.isNaN(value)) {
        if (valueRaw === undefined || valueRaw === null || (typeof valueRaw === 'string' && valueRaw.trim() === '')) {
          if (missingPolicy === 'error') fail('value', 'expected a value, found an empty field');
          report.add('missing-value', missingPolicy === 'drop' ? 'dropped' : 'repaired', line, missingPolicy === 'drop' ? 'row dropped' : `filled (${missingPolicy})`);
          if (missingPolicy === 'drop') return;
        } else {
          if (strict) fail('value', `expected a number, got ${JSON.stringify(valueRaw)}`);
          report.add('unparsable', 'dropped', line, 'value is not a number');
          return;
        }
      } else if (range && (value < range[0] || value > range[1])) {
        if (rangePolicy === 'error') fail('value', `value ${value} outside the valid range [${range[0]}, ${range[1]}]`);
        if (rangePolicy === 'drop') {
          report.add('out-of-range', 'dropped', line, `outside [${range[0]}, ${range[1]}]`);
          return;
        }
        report.add('out-of-range', 'repaired', line, `clamped into [${range[0]}, ${range[1]}]`);
        value = Math.min(range[1], Math.max(range[0], value));
      }
    } else {
      value = hasEt ? (options.eventValues?.[typeName] ?? implicitValue) : implicitValue;
    }
    let ts = NaN;
    if (hasTs) {
      const r = parseTimestamp(tsRaw);
      if (r === null) {
        report.add('missing-timestamp', 'kept', line, 'kept with timestamp NaN');
      } else if (Number.isNaN(r.value)) {
        if (strict) fail('timestamp', `expected a Unix time or an ISO 8601 date, got ${JSON.stringify(tsRaw)}`);
        report.add('unparsable', 'dropped', line, 'timestamp is not a number or date');
        return;
      } else {
        ts = r.numeric ? r.value * tsScale : r.value;
      }
    }
    let u: number;
    if (userStr === lastUserStr && lastUser >= 0) u = lastUser;
    else {
      u = users.add(userStr);
      lastUserStr = userStr;
      lastUser = u;
    }
    cols.push(u, items.add(itemStr), value, ts, et, line);
  };

  let scan: ScanResult;
  if (format === 'jsonl') {
    const dropMalformed = (line: number, why: string): void => {
      rowsRead++;
      report.add('malformed-row', 'dropped', line, why);
    };
    scan = await readJsonl(path, options, preset.columns, handle, (fn) => (locate = fn), strict, dropMalformed);
  } else {
    const delimiter = options.delimiter ?? preset.delimiter;
    const quoted = preset.quoted && delimiter !== '::';
    const firstFields = splitFirst(first, delimiter, quoted);
    const hasHeader = options.header ?? (preset.header === 'auto' ? looksLikeHeader(firstFields) : preset.header);
    if (hasHeader) header = firstFields;
    const mapping = resolveMapping(path, format, options.columns, preset.columns, header, firstFields.length);
    const ncol = firstFields.length;
    const maxIdx = Math.max(...[mapping.user, mapping.item, mapping.value, mapping.timestamp, mapping.eventType].map((x) => (typeof x === 'number' ? x : -1)));
    if (maxIdx >= ncol) {
      throw new DataError(`column ${maxIdx + 1} is mapped but the first line has only ${ncol} fields`, { file: path, line: 1, column: 1 });
    }
    const uc = mapping.user as number;
    const ic = mapping.item as number;
    const vc = mapping.value as number | null;
    const tc = mapping.timestamp as number | null;
    const ec = mapping.eventType as number | null;
    const names = header ?? [];
    let cur: RecordCursor | undefined;
    locate = (role) => {
      const idx = mapping[role] as number;
      return { line: cur!.line, column: columnOf(cur!, idx, delimiter), field: names[idx] ?? `column ${idx + 1}` };
    };
    let skipHeader = hasHeader;
    scan = await scanRecords(path, { delimiter, quoted, encoding: options.encoding, onProgress: options.onProgress }, (rec) => {
      if (skipHeader) {
        skipHeader = false;
        return;
      }
      const f = rec.fields;
      if (f.length !== ncol) {
        if (strict) {
          const column = f.length > ncol ? columnOf(rec, ncol, delimiter) - delimiter.length : rec.text.length + 1;
          throw new DataError(`expected ${ncol} fields separated by "${printable(delimiter)}", found ${f.length}`, {
            file: path,
            line: rec.line,
            column,
          });
        }
        rowsRead++;
        report.add('malformed-row', 'dropped', rec.line, `not ${ncol} fields`);
        return;
      }
      cur = rec;
      handle(
        rec.line,
        f[uc],
        f[ic],
        vc === null ? undefined : f[vc],
        tc === null ? undefined : f[tc],
        ec === null ? undefined : f[ec],
        vc !== null,
        tc !== null,
        ec !== null,
      );
    });
  }

  return finish(path, format, options, cols, users.toIdMap(), items.toIdMap(), eventTypes.length ? eventTypes : ['interaction'], report, rowsRead, header, scan, {
    missingPolicy,
    dupPolicy,
  });
}

function splitFirst(line: string, delimiter: string, quoted: boolean): string[] {
  if (!quoted || !line.includes('"')) return line.split(delimiter);
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let v = '';
      let j = i + 1;
      for (;;) {
        const q = line.indexOf('"', j);
        if (q < 0) {
          v += line.slice(j);
          j = line.length;
          break;
        }
        v += line.slice(j, q);
        if (line[q + 1] === '"') {
          v += '"';
          j = q + 2;
        } else {
          j = q + 1;
          break;
        }
      }
      out.push(v);
      i = j + delimiter.length;
    } else {
      const d = line.indexOf(delimiter, i);
      if (d < 0) {
        out.push(line.slice(i));
        break;
      }
      out.push(line.slice(i, d));
      i = d + delimiter.length;
    }
  }
  return out;
}

/** Column refs → 0-based indices (or null), checking the header has every required column. */
function resolveMapping(
  path: string,
  format: InteractionFormat,
  given: Partial<ColumnMapping> | undefined,
  presetCols: ColumnMapping | undefined,
  header: string[] | undefined,
  nfields: number,
): { user: number; item: number; value: number | null; timestamp: number | null; eventType: number | null } {
  const guessed: Partial<ColumnMapping> = header ? guessColumns(header) : nfields >= 3 ? { user: 0, item: 1, value: 2, timestamp: nfields >= 4 ? 3 : null } : { user: 0, item: 1 };
  const base = presetCols ?? guessed;
  const pick = (role: keyof ColumnMapping): ColumnRef | null | undefined => (given && role in given ? given[role] : base[role]);
  const toIndex = (role: keyof ColumnMapping, required: boolean): number | null => {
    const ref = pick(role);
    if (ref === undefined || ref === null) {
      if (required) {
        throw new DataError(
          header
            ? `no ${role} column: the header has ${header.map((h) => JSON.stringify(h)).join(', ')}; pass columns.${role}`
            : `no ${role} column; pass columns.${role}`,
          { file: path, line: 1, column: 1, field: role },
        );
      }
      return null;
    }
    if (typeof ref === 'number') {
      if (!Number.isInteger(ref) || ref < 0) throw new DataError(`columns.${role} must be a 0-based index or a header name`, { field: `columns.${role}` });
      return ref;
    }
    if (!header) {
      throw new DataError(`columns.${role} is "${ref}" but the ${format} file has no header; use a 0-based index`, { file: path, line: 1, column: 1, field: role });
    }
    const j = headerIndex(header, ref);
    if (j < 0) {
      throw new DataError(`missing required column "${ref}" (${role}) in the header; found ${header.map((h) => JSON.stringify(h)).join(', ')}`, {
        file: path,
        line: 1,
        column: 1,
        field: ref,
      });
    }
    return j;
  };
  return {
    user: toIndex('user', true)!,
    item: toIndex('item', true)!,
    value: toIndex('value', false),
    timestamp: toIndex('timestamp', false),
    eventType: toIndex('eventType', false),
  };
}

/** External id from a raw field: string (trimmed), finite number → string, empty → null, other → undefined. */
function idString(raw: unknown): string | null | undefined {
  if (typeof raw === 'string') {
    const n = raw.length;
    const s = n > 0 && (raw.charCodeAt(0) <= 32 || raw.charCodeAt(n - 1) <= 32) ? raw.trim() : raw;
    return s === '' ? null : s;
  }
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  if (raw === null || raw === undefined) return null;
  return undefined;
}

/** Number from a raw field; NaN for empty or unparsable (callers tell those apart). */
function numberOf(raw: unknown): number {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : NaN;
  if (typeof raw !== 'string' || raw.length === 0) return NaN;
  const v = Number(raw);
  return Number.isFinite(v) && raw.trim() !== '' ? v : NaN;
}

/** null = missing; value NaN = unparsable; numeric = it was a number (unit applies). */
function parseTimestamp(raw: unknown): { value: number; numeric: boolean } | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw === 'number') return { value: Number.isFinite(raw) ? raw : NaN, numeric: true };
  if (typeof raw !== 'string') return { value: NaN, numeric: false };
  const s = raw.trim();
  if (s === '') return null;
  const v = Number(s);
  if (Number.isFinite(v)) return { value: v, numeric: true };
  const d = Date.parse(s);
  return { value: Number.isNaN(d) ? NaN : d / 1000, numeric: false };
}

/** Where a role's field of the current row is (for error locations). */
type Locate = (role: keyof Resolved) => { line: number; column: number; field: string };

/** One row's raw fields, as each reader hands them to the shared checks. */
type Handle = (
  line: number,
  userRaw: unknown,
  itemRaw: unknown,
  valueRaw: unknown,
  tsRaw: unknown,
  etRaw: unknown,
  hasValue: boolean,
  hasTs: boolean,
  hasEt: boolean,
) => void;

async function readJsonl(
  path: string,
  options: ReadOptions,
  presetCols: ColumnMapping | undefined,
  handle: Handle,
  setLocate: (fn: Locate) => void,
  strict: boolean,
  dropMalformed: (line: number, why: string) => void,
): Promise<ScanResult> {
  let mapping: { user: string; item: string; value: string | null; timestamp: string | null; eventType: string | null } | undefined;
  let line = 0;
  let text = '';
  setLocate((role) => {
    const key = mapping ? (mapping[role as keyof typeof mapping] ?? '') : '';
    const at = text.indexOf(JSON.stringify(key));
    return { line, column: at >= 0 ? at + 1 : 1, field: key };
  });
  const get = (o: Record<string, unknown>, key: string | null): unknown => {
    if (key === null) return undefined;
    if (key in o) return o[key];
    if (!key.includes('.')) return undefined;
    let cur: unknown = o;
    for (const part of key.split('.')) {
      if (cur === null || typeof cur !== 'object') return undefined;
      cur = (cur as Record<string, unknown>)[part];
    }
    return cur;
  };
  return scanLines(
    path,
    options.encoding ?? 'utf8',
    (t, ln) => {
      if (t.trim() === '') return;
      line = ln;
      text = t;
      let obj: unknown;
      try {
        obj = JSON.parse(t);
      } catch (err) {
        if (!strict) {
          dropMalformed(ln, 'not valid JSON');
          return;
        }
        const at = jsonErrorOffset(t);
        throw new DataError(`expected a JSON object per line: ${(err as Error).message}`, { file: path, line: ln, column: Math.max(at, 0) + 1 });
      }
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
        if (!strict) {
          dropMalformed(ln, 'not a JSON object');
          return;
        }
        throw new DataError('expected a JSON object per line', { file: path, line: ln, column: 1 });
      }
      const o = obj as Record<string, unknown>;
      if (!mapping) mapping = jsonMapping(path, ln, Object.keys(o), options.columns, presetCols);
      handle(
        ln,
        get(o, mapping.user),
        get(o, mapping.item),
        get(o, mapping.value),
        get(o, mapping.timestamp),
        get(o, mapping.eventType),
        mapping.value !== null,
        mapping.timestamp !== null,
        mapping.eventType !== null,
      );
    },
    options.onProgress,
  );
}

function jsonMapping(
  path: string,
  line: number,
  keys: string[],
  given: Partial<ColumnMapping> | undefined,
  presetCols: ColumnMapping | undefined,
): { user: string; item: string; value: string | null; timestamp: string | null; eventType: string | null } {
  const guessed = guessColumns(keys);
  const base = presetCols ?? guessed;
  const pick = (role: keyof ColumnMapping, required: boolean): string | null => {
    const ref = given && role in given ? given[role] : base[role];
    if (ref === undefined || ref === null) {
      if (required) {
        throw new DataError(`no ${role} key: the first object has ${keys.map((k) => JSON.stringify(k)).join(', ')}; pass columns.${role}`, {
          file: path,
          line,
          column: 1,
          field: role,
        });
      }
      return null;
    }
    if (typeof ref === 'number') throw new DataError(`columns.${role} must be a key name for JSON lines`, { field: `columns.${role}` });
    return ref;
  };
  return {
    user: pick('user', true)!,
    item: pick('item', true)!,
    value: pick('value', false),
    timestamp: pick('timestamp', false),
    eventType: pick('eventType', false),
  };
}

/** Missing-value fill, duplicate policy, id order, then the final typed arrays and report. */
function finish(
  path: string,
  format: InteractionFormat,
  options: ReadOptions,
  cols: Columns,
  users: IdMap,
  items: IdMap,
  eventTypes: string[],
  report: ReportBuilder,
  rowsRead: number,
  header: string[] | undefined,
  scan: ScanResult,
  p: { missingPolicy: MissingPolicy; dupPolicy: DuplicatePolicy },
): LoadResult {
  const n = cols.n;
  const value = cols.value.subarray(0, n);
  let user: Int32Array = cols.user.subarray(0, n);
  let item: Int32Array = cols.item.subarray(0, n);
  const ts = cols.ts.subarray(0, n);
  const et = cols.et.subarray(0, n);

  // Missing values (NaN here: unparsable ones were dropped or rejected already).
  if (p.missingPolicy !== 'drop' && report.count('missing-value') > 0) {
    const fill = fillValue(value, p.missingPolicy, options.fillValue);
    for (let k = 0; k < n; k++) if (Number.isNaN(value[k]!)) value[k] = fill;
    report.setDetail('missing-value', 'repaired', `filled with the ${p.missingPolicy === 'constant' ? 'constant' : p.missingPolicy} ${fill}`);
  }

  // Dense indices in external-id order, so the dataset does not depend on row order.
  const sortIds = options.sortIds ?? (options.users === undefined && options.items === undefined);
  if (sortIds) {
    [users, user] = reorder(users, user);
    [items, item] = reorder(items, item);
  }

  // Duplicates: group by (user, item) with two stable counting sorts (file order kept inside).
  const drop = new Uint8Array(n);
  let dropped = 0;
  if (p.dupPolicy !== 'keep' && n > 1) {
    const { perm: byItem } = countingSort(item, items.size);
    const { perm } = countingSort(user, users.size, byItem);
    let k = 0;
    while (k < n) {
      let e = k + 1;
      const a = perm[k]!;
      while (e < n && user[perm[e]!] === user[a] && item[perm[e]!] === item[a]) e++;
      if (e - k > 1) dropped += resolveDuplicates(perm, k, e, et, value, ts, drop, p.dupPolicy, path, cols.lines, users, items, user, item);
      k = e;
    }
  }

  const m = n - dropped;
  const out: Interactions = {
    length: m,
    user: new Int32Array(m),
    item: new Int32Array(m),
    value: new Float32Array(m),
    timestamp: new Float64Array(m),
    eventType: new Uint8Array(m),
  };
  const dupDetail = { first: 'kept the first', last: 'kept the last', sum: 'summed into the first', keep: '', error: '' }[p.dupPolicy];
  for (let k = 0, j = 0; k < n; k++) {
    if (drop[k]) {
      report.add('duplicate', p.dupPolicy === 'sum' ? 'merged' : 'dropped', cols.lines.lineOf(k), `repeated (user, item${eventTypes.length > 1 ? ', event type' : ''}): ${dupDetail}`);
      continue;
    }
    (out.user as Int32Array)[j] = user[k]!;
    (out.item as Int32Array)[j] = item[k]!;
    (out.value as Float32Array)[j] = value[k]!;
    (out.timestamp as Float64Array)[j] = ts[k]!;
    (out.eventType as Uint8Array)[j] = et[k]!;
    j++;
  }
  const dataset = new Dataset({
    name: options.name ?? defaultName(path, format),
    users,
    items,
    interactions: out,
    eventTypes,
    source: { file: path, sha256: scan.sha256, format },
  });
  return { dataset, report: report.build(format, rowsRead, m, header) };
}

function reorder(map: IdMap, idx: Int32Array): [IdMap, Int32Array] {
  const ids = map.ids();
  const rank = externalIdOrder(ids);
  let identity = true;
  for (let i = 0; i < rank.length; i++) if (rank[i] !== i) identity = false;
  if (identity) return [map, idx];
  const sorted = new Array<string>(ids.length);
  for (let i = 0; i < ids.length; i++) sorted[rank[i]!] = ids[i]!;
  for (let k = 0; k < idx.length; k++) idx[k] = rank[idx[k]!]!;
  return [IdMap.from(sorted), idx];
}

function fillValue(value: Float32Array, policy: MissingPolicy, constant: number | undefined): number {
  if (policy === 'constant') return constant!;
  let count = 0;
  let sum = 0;
  for (let k = 0; k < value.length; k++) {
    const v = value[k]!;
    if (!Number.isNaN(v)) {
      count++;
      sum += v;
    }
  }
  if (count === 0) return constant ?? 0;
  if (policy === 'mean') return sum / count;
  const present = new Float32Array(count);
  for (let k = 0, j = 0; k < value.length; k++) if (!Number.isNaN(value[k]!)) present[j++] = value[k]!;
  present.sort();
  const mid = count >> 1;
  return count % 2 === 1 ? present[mid]! : (present[mid - 1]! + present[mid]!) / 2;
}

/** Apply the duplicate policy to perm[lo..hi) (same user and item, file order). Returns rows dropped. */
function resolveDuplicates(
  perm: Int32Array,
  lo: number,
  hi: number,
  et: Uint8Array,
  value: Float32Array,
  ts: Float64Array,
  drop: Uint8Array,
  policy: DuplicatePolicy,
  path: string,
  lines: LineIndex,
  users: IdMap,
  items: IdMap,
  user: Int32Array,
  item: Int32Array,
): number {
  let dropped = 0;
  // Sub-groups by event type; groups are tiny, so a quadratic scan is the cheap option.
  for (let a = lo; a < hi; a++) {
    const pa = perm[a]!;
    if (drop[pa] !== 0) continue; // already in an earlier sub-group
    let keep = pa;
    for (let b = a + 1; b < hi; b++) {
      const pb = perm[b]!;
      if (drop[pb] !== 0 || et[pb] !== et[pa]) continue;
      if (policy === 'error') {
        throw new DataError(
          `duplicate (user "${users.toExternal(user[pa]!)}", item "${items.toExternal(item[pa]!)}"), first at line ${lines.lineOf(pa)}`,
          { file: path, line: lines.lineOf(pb), column: 1 },
        );
      }
      drop[pb] = 2;
      if (policy === 'sum') {
        value[pa] = value[pa]! + value[pb]!;
        if (!(ts[pb]! <= ts[pa]!)) ts[pa] = Number.isNaN(ts[pb]!) ? ts[pa]! : ts[pb]!;
      } else if (policy === 'last') {
        drop[keep] = 2;
        keep = pb;
      }
      dropped++;
    }
    drop[keep] = 3; // kept: mark so later passes skip it
  }
  for (let a = lo; a < hi; a++) {
    const pa = perm[a]!;
    drop[pa] = drop[pa] === 2 ? 1 : 0;
  }
  return dropped;
}
