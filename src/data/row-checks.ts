/**
 * The checks every interaction row goes through, whatever its format: ids, catalogues, event
 * type, value (missing, unparsable, out of a declared range), timestamp. A row that passes goes
 * into the row buffer; a dirty one is dropped, repaired or kept by the chosen policy and counted
 * in the report; malformed input under `strict` stops the read at the field's file:line:column.
 */
import { DataError } from '../errors.js';
import type { IdMap } from './dataset.js';
import { idString, isEmptyField, numberOf, parseTimestamp } from './field-values.js';
import { IdInterner } from './interner.js';
import type { DuplicatePolicy, IdCatalogue, MissingPolicy, RangePolicy, ReadOptions, UnknownPolicy } from './read-options.js';
import type { ColumnRole, ReportBuilder } from './report.js';
import { RowBuffer } from './row-buffer.js';

/** One row's raw fields as a reader hands them over (readers reuse the object from row to row). */
export interface RawRow {
  line: number;
  user: unknown;
  item: unknown;
  value: unknown;
  timestamp: unknown;
  eventType: unknown;
}

/** Which optional columns the file has; fixed once the reader knows its mapping. */
export interface PresentColumns {
  value: boolean;
  timestamp: boolean;
  eventType: boolean;
}

/** Where a role's field of the current row is, for errors. */
export type Locate = (role: ColumnRole) => { line: number; column: number; field: string };

/** What a format reader feeds: the mapping once known, then each row or malformed line. */
export interface RowSink {
  readonly strict: boolean;
  begin(present: PresentColumns, locate: Locate): void;
  row(raw: RawRow): void;
  /** A row that cannot be read at all (wrong field count, bad JSON), under `strict: false`. */
  malformed(line: number, why: string): void;
}

function asLookup(c: IdCatalogue | undefined): { has(id: string): boolean } | undefined {
  if (!c) return undefined;
  if (Array.isArray(c)) return new Set(c as readonly string[]);
  return c as { has(id: string): boolean };
}

/** The read's policies with their defaults filled in. */
export interface Policies {
  strict: boolean;
  missing: MissingPolicy;
  duplicates: DuplicatePolicy;
  outOfRange: RangePolicy;
  unknownIds: UnknownPolicy;
}

export function policiesOf(options: ReadOptions): Policies {
  const p: Policies = {
    strict: options.strict ?? true,
    missing: options.missingValue ?? 'drop',
    duplicates: options.duplicates ?? 'last',
    outOfRange: options.outOfRange ?? 'drop',
    unknownIds: options.unknownIds ?? 'drop',
  };
  if (p.missing === 'constant' && options.fillValue === undefined) {
    throw new DataError("missingValue 'constant' needs a fillValue", { field: 'fillValue' });
  }
  return p;
}

export class RowChecker implements RowSink {
  readonly strict: boolean;
  /** Data rows seen (blank lines excluded), kept or not. */
  rowsRead = 0;
  readonly rows = new RowBuffer();
  readonly eventTypes: string[];
  private readonly users: IdInterner;
  private readonly items: IdInterner;
  /** The read's policies, defaults filled in (assemble.ts applies the missing and duplicate ones). */
  readonly policies: Policies;
  private readonly range: readonly [number, number] | undefined;
  private readonly tsScale: number;
  private readonly implicitValue: number;
  private readonly eventValues: Readonly<Record<string, number>> | undefined;
  private readonly knownUsers: { has(id: string): boolean } | undefined;
  private readonly knownItems: { has(id: string): boolean } | undefined;
  private readonly fixedTypes: boolean;
  private readonly typeIndex: Map<string, number>;
  private present: PresentColumns = { value: false, timestamp: false, eventType: false };
  private locate: Locate = () => ({ line: 0, column: 0, field: '' });
  // The current row's ids and event type name, set by the checks in order.
  private userStr = '';
  private itemStr = '';
  private typeName = '';
  // Rows of one user usually come together: skip the interner for a repeated user.
  private lastUserStr = '';
  private lastUser = -1;

  constructor(
    private readonly path: string,
    options: ReadOptions,
    private readonly report: ReportBuilder,
  ) {
    this.policies = policiesOf(options);
    this.strict = this.policies.strict;
    this.range = options.valueRange;
    this.tsScale = options.timestampUnit === 'ms' ? 1 / 1000 : 1;
    this.implicitValue = options.implicitValue ?? 1;
    this.eventValues = options.eventValues;
    this.knownUsers = asLookup(options.knownUsers);
    this.knownItems = asLookup(options.knownItems);
    this.users = new IdInterner(options.users);
    this.items = new IdInterner(options.items);
    this.fixedTypes = options.eventTypes !== undefined;
    this.eventTypes = options.eventTypes ? [...options.eventTypes] : [];
    this.typeIndex = new Map(this.eventTypes.map((t, i) => [t, i]));
  }

  begin(present: PresentColumns, locate: Locate): void {
    this.present = present;
    this.locate = locate;
  }

  malformed(line: number, why: string): void {
    this.rowsRead++;
    this.report.add('malformed-row', 'dropped', line, why);
  }

  row(raw: RawRow): void {
    this.rowsRead++;
    if (!this.acceptIds(raw)) return;
    const et = this.eventTypeOf(raw);
    if (et === undefined) return;
    const value = this.valueOf(raw);
    if (value === undefined) return;
    const ts = this.timestampOf(raw);
    if (ts === undefined) return;
    this.rows.push(this.userIndex(), this.items.add(this.itemStr), value, ts, et, raw.line);
  }

  userIds(): IdMap {
    return this.users.toIdMap();
  }

  itemIds(): IdMap {
    return this.items.toIdMap();
  }

  private fail(role: ColumnRole, expected: string): never {
    const loc = this.locate(role);
    throw new DataError(expected, { file: this.path, line: loc.line, column: loc.column, field: loc.field });
  }

  /** User and item ids present, well-formed and in the catalogues. */
  private acceptIds(raw: RawRow): boolean {
    const userStr = idString(raw.user);
    const itemStr = idString(raw.item);
    if (userStr === undefined || itemStr === undefined) {
      if (this.strict) this.fail(userStr === undefined ? 'user' : 'item', 'expected an id (a string or a number)');
      this.report.add('malformed-row', 'dropped', raw.line, 'id is not a string or number');
      return false;
    }
    if (userStr === null || itemStr === null) {
      this.report.add('missing-id', 'dropped', raw.line, 'empty user or item id');
      return false;
    }
    if (this.knownUsers && !this.knownUsers.has(userStr)) {
      if (this.policies.unknownIds === 'error') this.fail('user', `unknown user id "${userStr}" (not in the given catalogue)`);
      this.report.add('unknown-user', 'dropped', raw.line, 'user not in the given catalogue');
      return false;
    }
    if (this.knownItems && !this.knownItems.has(itemStr)) {
      if (this.policies.unknownIds === 'error') this.fail('item', `unknown item id "${itemStr}" (not in the given catalogue)`);
      this.report.add('unknown-item', 'dropped', raw.line, 'item not in the given catalogue');
      return false;
    }
    this.userStr = userStr;
    this.itemStr = itemStr;
    return true;
  }

  /** Event type index (0 without an event column); undefined when the row is dropped. */
  private eventTypeOf(raw: RawRow): number | undefined {
    this.typeName = '';
    if (!this.present.eventType) return 0;
    const s = idString(raw.eventType);
    const name = s ?? '';
    this.typeName = name;
    const k = this.typeIndex.get(name);
    if (k !== undefined) return k;
    if (this.fixedTypes || s === null || s === undefined) {
      if (this.policies.unknownIds === 'error' || (s === undefined && this.strict)) {
        this.fail('eventType', `unknown event type "${name}"; expected one of: ${this.eventTypes.join(', ')}`);
      }
      this.report.add('unknown-event-type', 'dropped', raw.line, `event type not in: ${this.eventTypes.join(', ') || '(none)'}`);
      return undefined;
    }
    if (this.eventTypes.length === 256) this.fail('eventType', 'more than 256 distinct event types');
    this.eventTypes.push(name);
    this.typeIndex.set(name, this.eventTypes.length - 1);
    return this.eventTypes.length - 1;
  }

  /**
   * The row's value: parsed, NaN when missing and to be filled later, clamped into a declared
   * range under 'clamp'; the implicit (or event-type) value without a value column; undefined
   * when the row is dropped.
   */
  private valueOf(raw: RawRow): number | undefined {
    if (!this.present.value) return this.present.eventType ? (this.eventValues?.[this.typeName] ?? this.implicitValue) : this.implicitValue;
    const value = numberOf(raw.value);
    if (Number.isNaN(value)) {
      const missing = this.policies.missing;
      if (!isEmptyField(raw.value)) {
        if (this.strict) this.fail('value', `expected a number, got ${JSON.stringify(raw.value)}`);
        this.report.add('unparsable', 'dropped', raw.line, 'value is not a number');
        return undefined;
      }
      if (missing === 'error') this.fail('value', 'expected a value, found an empty field');
      this.report.add('missing-value', missing === 'drop' ? 'dropped' : 'repaired', raw.line, missing === 'drop' ? 'row dropped' : `filled (${missing})`);
      return missing === 'drop' ? undefined : NaN;
    }
    const range = this.range;
    if (!range || (value >= range[0] && value <= range[1])) return value;
    const policy = this.policies.outOfRange;
    if (policy === 'error') this.fail('value', `value ${value} outside the valid range [${range[0]}, ${range[1]}]`);
    if (policy === 'drop') {
      this.report.add('out-of-range', 'dropped', raw.line, `outside [${range[0]}, ${range[1]}]`);
      return undefined;
    }
    this.report.add('out-of-range', 'repaired', raw.line, `clamped into [${range[0]}, ${range[1]}]`);
    return Math.min(range[1], Math.max(range[0], value));
  }

  /** Unix seconds, NaN when missing (kept), undefined when unparsable and dropped. */
  private timestampOf(raw: RawRow): number | undefined {
    if (!this.present.timestamp) return NaN;
    const r = parseTimestamp(raw.timestamp);
    if (r === null) {
      this.report.add('missing-timestamp', 'kept', raw.line, 'kept with timestamp NaN');
      return NaN;
    }
    if (Number.isNaN(r.value)) {
      if (this.strict) this.fail('timestamp', `expected a Unix time or an ISO 8601 date, got ${JSON.stringify(raw.timestamp)}`);
      this.report.add('unparsable', 'dropped', raw.line, 'timestamp is not a number or date');
      return undefined;
    }
    return r.numeric ? r.value * this.tsScale : r.value;
  }

  private userIndex(): number {
    if (this.userStr === this.lastUserStr && this.lastUser >= 0) return this.lastUser;
    this.lastUserStr = this.userStr;
    this.lastUser = this.users.add(this.userStr);
    return this.lastUser;
  }
}
