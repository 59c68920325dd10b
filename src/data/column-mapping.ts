/**
 * Column mapping: which input column (a header name, a 0-based field index, a JSON key) becomes
 * user, item, value, timestamp and event type. A role comes from the `columns` option when given,
 * else from the format's preset, else from a recognised header name or JSON key (`guessColumns`),
 * else, in a headerless file, from position (user, item, value, timestamp). Each mapping also says
 * which column it used and how it chose it, for the import's report.
 */
import { DataError } from '../errors.js';
import { guessColumns, headerIndex, type ColumnMapping, type ColumnRef, type InteractionFormat } from './formats.js';
import type { ColumnRole, ColumnSource, ColumnsUsed } from './report.js';

export const COLUMN_ROLES: readonly ColumnRole[] = ['user', 'item', 'value', 'timestamp', 'eventType'];

/** Field index per role in a delimited file; null when the file has no such column. */
export interface FieldMapping {
  user: number;
  item: number;
  value: number | null;
  timestamp: number | null;
  eventType: number | null;
}

/** JSON key (a dotted path reaches into nested objects) per role; null when absent. */
export interface KeyMapping {
  user: string;
  item: string;
  value: string | null;
  timestamp: string | null;
  eventType: string | null;
}

/** Where a role's column reference comes from, and the reference itself. */
function pickRef(
  role: ColumnRole,
  given: Partial<ColumnMapping> | undefined,
  preset: ColumnMapping | undefined,
  guessed: Partial<ColumnMapping>,
  guessSource: ColumnSource,
): { ref: ColumnRef | null | undefined; source: ColumnSource } {
  if (given && role in given) return { ref: given[role], source: 'given' };
  if (preset) return { ref: preset[role], source: 'preset' };
  return { ref: guessed[role], source: guessSource };
}

/**
 * Column refs → 0-based field indices for a delimited file, checking that the header has every
 * named column and that the first line has every indexed one.
 */
export function delimitedMapping(
  path: string,
  format: InteractionFormat,
  given: Partial<ColumnMapping> | undefined,
  preset: ColumnMapping | undefined,
  header: string[] | undefined,
  nfields: number,
): { mapping: FieldMapping; used: ColumnsUsed } {
  const byPosition: Partial<ColumnMapping> = nfields >= 3 ? { user: 0, item: 1, value: 2, timestamp: nfields >= 4 ? 3 : null } : { user: 0, item: 1 };
  const guessed = header ? guessColumns(header) : byPosition;
  const used = {} as ColumnsUsed;
  const toIndex = (role: ColumnRole, required: boolean): number | null => {
    const { ref, source } = pickRef(role, given, preset, guessed, header ? 'header' : 'position');
    const index = refToIndex(path, format, role, ref, required, header);
    used[role] = index === null ? null : { column: header?.[index] ?? `column ${index + 1}`, index, source };
    return index;
  };
  const mapping: FieldMapping = {
    user: toIndex('user', true)!,
    item: toIndex('item', true)!,
    value: toIndex('value', false),
    timestamp: toIndex('timestamp', false),
    eventType: toIndex('eventType', false),
  };
  const maxIdx = Math.max(...COLUMN_ROLES.map((r) => mapping[r] ?? -1));
  if (maxIdx >= nfields) {
    throw new DataError(`column ${maxIdx + 1} is mapped but the first line has only ${nfields} fields`, { file: path, line: 1, column: 1 });
  }
  return { mapping, used };
}

function refToIndex(
  path: string,
  format: InteractionFormat,
  role: ColumnRole,
  ref: ColumnRef | null | undefined,
  required: boolean,
  header: string[] | undefined,
): number | null {
  if (ref === undefined || ref === null) {
    if (required) {
      throw new DataError(
        header ? `no ${role} column: the header has ${header.map((h) => JSON.stringify(h)).join(', ')}; pass columns.${role}` : `no ${role} column; pass columns.${role}`,
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
}

/** Column refs → JSON keys, from the keys of the first object (at `line`). */
export function keyMapping(
  path: string,
  line: number,
  keys: string[],
  given: Partial<ColumnMapping> | undefined,
  preset: ColumnMapping | undefined,
): { mapping: KeyMapping; used: ColumnsUsed } {
  const guessed = guessColumns(keys);
  const used = {} as ColumnsUsed;
  const pick = (role: ColumnRole, required: boolean): string | null => {
    const { ref, source } = pickRef(role, given, preset, guessed, 'header');
    if (ref === undefined || ref === null) {
      if (required) {
        throw new DataError(`no ${role} key: the first object has ${keys.map((k) => JSON.stringify(k)).join(', ')}; pass columns.${role}`, {
          file: path,
          line,
          column: 1,
          field: role,
        });
      }
      used[role] = null;
      return null;
    }
    if (typeof ref === 'number') throw new DataError(`columns.${role} must be a key name for JSON lines`, { field: `columns.${role}` });
    used[role] = { column: ref, source };
    return ref;
  };
  const mapping: KeyMapping = {
    user: pick('user', true)!,
    item: pick('item', true)!,
    value: pick('value', false),
    timestamp: pick('timestamp', false),
    eventType: pick('eventType', false),
  };
  return { mapping, used };
}

/** The first line's fields (the header, or the first row that fixes the field count). */
export function splitFirstLine(line: string, delimiter: string, quoted: boolean): string[] {
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
