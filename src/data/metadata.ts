/**
 * Item and user metadata readers: titles, free text, tags, categories and attributes, attached
 * to an existing Dataset by external id. Several rows for one id merge (tags and categories
 * accumulate; tags end up ordered by how often they were given, then first appearance), so a
 * `tags.csv` with one tag per row aggregates into one list per item.
 */
import { DataError } from '../errors.js';
import type { Dataset, IdMap, ItemMeta, UserMeta } from './dataset.js';
import { headerIndex, looksLikeHeader, readFirstLine, type ColumnRef } from './formats.js';
import { jsonSyntaxError, parseJsonText } from './json-error.js';
import { ReportBuilder, DEFAULT_MAX_EXAMPLES, type CleaningReport } from './report.js';
import { columnOf, printable, scanLines, scanRecords, type RecordCursor, type TextEncoding } from './scan.js';

export interface MetadataColumns {
  /** The item (or user) id column. */
  id: ColumnRef;
  title?: ColumnRef;
  text?: ColumnRef;
  /** A tag field (split on `listSeparator` when one is set). */
  tags?: ColumnRef;
  /** A category field, split on `listSeparator` (MovieLens genres: '|'). */
  categories?: ColumnRef;
  /** Other columns kept as attributes: name → column. Numeric strings become numbers. */
  attributes?: Readonly<Record<string, ColumnRef>>;
}

export interface MetadataOptions {
  /** Which column holds what; guessed from the header (or first JSON object) when omitted. */
  columns?: MetadataColumns;
  /** 'csv' (RFC 4180 quotes), 'tsv', 'jsonl', or any delimited text with `delimiter`. */
  format?: 'csv' | 'tsv' | 'jsonl' | 'delimited';
  delimiter?: string;
  /** First line is a header; guessed when omitted (delimited formats). */
  header?: boolean;
  encoding?: TextEncoding;
  /** Separator inside list fields (tags, categories); default '|'. Empty string: no split. */
  listSeparator?: string;
  /** List entries that mean "none" (MovieLens: '(no genres listed)'). */
  noneValues?: readonly string[];
  /** Map raw tag values through this table (Last.fm: tag id → tag text). */
  tagLookup?: ReadonlyMap<string, string>;
  /**
   * Categories from 0/1 flag columns (ml-100k u.item): field `from + j` set to "1" adds `names[j]`.
   */
  categoryFlags?: { from: number; names: readonly string[] };
  /**
   * Rows whose id is not in the dataset: 'drop' (default; counted as unknown-item/unknown-user)
   * or 'error'. Metadata never adds ids: the dataset's index space is fixed once loaded.
   */
  unknownIds?: 'drop' | 'error';
  /**
   * Wrong field count or bad JSON line: true (default) stops with a DataError naming
   * file:line:column; false drops and reports the row.
   */
  strict?: boolean;
  maxExamples?: number;
}

interface RowAccess {
  line: number;
  get(ref: ColumnRef | undefined): string | undefined;
  column(ref: ColumnRef): number;
}

/** Stream the rows of a delimited or JSONL metadata file. */
async function forEachRow(
  path: string,
  options: MetadataOptions,
  onRow: (row: RowAccess) => void,
  onMalformed: (line: number, why: string) => void,
): Promise<void> {
  const format = options.format ?? (path.endsWith('.jsonl') ? 'jsonl' : path.endsWith('.csv') ? 'csv' : 'tsv');
  const strict = options.strict ?? true;
  if (format === 'jsonl') {
    let obj: Record<string, unknown> = {};
    let text = '';
    const row: RowAccess = {
      line: 0,
      get: (ref) => {
        if (ref === undefined) return undefined;
        const v = obj[String(ref)];
        return v === undefined || v === null ? undefined : Array.isArray(v) ? v.join(options.listSeparator ?? '|') : String(v);
      },
      column: (ref) => Math.max(0, text.indexOf(JSON.stringify(String(ref)))) + 1,
    };
    await scanLines(path, options.encoding ?? 'utf8', (t, line) => {
      if (t.trim() === '') return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(t);
      } catch (err) {
        if (!strict) return onMalformed(line, 'not valid JSON');
        throw jsonSyntaxError(t, { file: path, line }, err, { expected: 'expected a JSON object per line' });
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        if (!strict) return onMalformed(line, 'not a JSON object');
        throw new DataError('expected a JSON object per line', { file: path, line, column: 1 });
      }
      obj = parsed as Record<string, unknown>;
      text = t;
      row.line = line;
      onRow(row);
    });
    return;
  }
  const delimiter = options.delimiter ?? (format === 'csv' ? ',' : '\t');
  const quoted = format === 'csv';
  let header: string[] | undefined;
  let ncol = -1;
  let cur: RecordCursor | undefined;
  const indexOf = (ref: ColumnRef): number => {
    if (typeof ref === 'number') return ref;
    if (!header) throw new DataError(`column "${ref}" named but the file has no header; use a 0-based index`, { file: path, line: 1, column: 1, field: ref });
    const j = headerIndex(header, ref);
    if (j < 0) {
      throw new DataError(`missing required column "${ref}" in the header; found ${header.map((h) => JSON.stringify(h)).join(', ')}`, {
        file: path,
        line: 1,
        column: 1,
        field: ref,
      });
    }
    return j;
  };
  const cache = new Map<ColumnRef, number>();
  const idx = (ref: ColumnRef): number => {
    let j = cache.get(ref);
    if (j === undefined) {
      j = indexOf(ref);
      cache.set(ref, j);
    }
    return j;
  };
  const row: RowAccess = {
    line: 0,
    get: (ref) => (ref === undefined ? undefined : cur!.fields[idx(ref)]),
    column: (ref) => columnOf(cur!, idx(ref), delimiter),
  };
  await scanRecords(path, { delimiter, quoted, encoding: options.encoding }, (rec) => {
    if (ncol < 0) {
      ncol = rec.fields.length;
      const isHeader = options.header ?? looksLikeHeader(rec.fields);
      if (isHeader) {
        header = rec.fields.slice();
        // Resolve every named column now, so a missing one fails at the header.
        const c = options.columns!;
        for (const ref of [c.id, c.title, c.text, c.tags, c.categories, ...Object.values(c.attributes ?? {})]) if (ref !== undefined) idx(ref);
        return;
      }
    }
    if (rec.fields.length !== ncol) {
      if (!strict) return onMalformed(rec.line, `not ${ncol} fields`);
      const column = rec.fields.length > ncol ? columnOf(rec, ncol, delimiter) - delimiter.length : rec.text.length + 1;
      throw new DataError(`expected ${ncol} fields separated by "${printable(delimiter)}", found ${rec.fields.length}`, {
        file: path,
        line: rec.line,
        column,
      });
    }
    cur = rec;
    row.line = rec.line;
    onRow(row);
  });
}

function splitList(raw: string | undefined, sep: string, none: readonly string[]): string[] {
  if (raw === undefined) return [];
  const parts = sep === '' ? [raw] : raw.split(sep);
  const out: string[] = [];
  for (const p of parts) {
    const s = p.trim();
    if (s !== '' && !none.includes(s)) out.push(s);
  }
  return out;
}

function attributeValue(raw: string): string | number {
  const t = raw.trim();
  const n = Number(t);
  return t !== '' && Number.isFinite(n) ? n : raw;
}

/** Tag counts per entity, to order tags by frequency once the file is read. */
class TagTally {
  private readonly counts = new Map<number, Map<string, { tag: string; count: number }>>();

  add(index: number, tag: string): void {
    let m = this.counts.get(index);
    if (!m) this.counts.set(index, (m = new Map()));
    const key = tag.toLowerCase();
    const e = m.get(key);
    if (e) e.count++;
    else m.set(key, { tag, count: 1 });
  }

  apply(make: (i: number) => { tags?: string[] }): void {
    for (const [i, m] of this.counts) {
      // Array.prototype.sort is stable: equal counts keep first-appearance order.
      const ranked = [...m.values()].sort((a, b) => b.count - a.count).map((e) => e.tag);
      const target = make(i);
      const existing = target.tags ?? [];
      const seen = new Set(existing.map((t) => t.toLowerCase()));
      target.tags = existing.concat(ranked.filter((t) => !seen.has(t.toLowerCase())));
    }
  }
}

async function readMetadata(
  kind: 'item' | 'user',
  path: string,
  ids: IdMap,
  metaArray: ((ItemMeta | UserMeta) | undefined)[],
  options: MetadataOptions,
): Promise<CleaningReport> {
  const report = new ReportBuilder(path, options.maxExamples ?? DEFAULT_MAX_EXAMPLES);
  const c = options.columns ?? (await guessMetadataColumns(path, options));
  options = { ...options, columns: c };
  const sep = options.listSeparator ?? '|';
  const none = options.noneValues ?? [];
  const tally = new TagTally();
  let rowsRead = 0;
  let kept = 0;
  const make = (i: number): ItemMeta => {
    let m = metaArray[i] as ItemMeta | undefined;
    if (!m) metaArray[i] = m = {};
    return m;
  };
  await forEachRow(
    path,
    options,
    (row) => {
      rowsRead++;
      const id = row.get(c.id)?.trim();
      if (id === undefined || id === '') {
        report.add('missing-id', 'dropped', row.line, `empty ${kind} id`);
        return;
      }
      const i = ids.toIndex(id);
      if (i < 0) {
        if (options.unknownIds === 'error') {
          throw new DataError(`unknown ${kind} id "${id}" (not in the dataset)`, {
            file: path,
            line: row.line,
            column: row.column(c.id),
            field: String(c.id),
          });
        }
        report.add(kind === 'item' ? 'unknown-item' : 'unknown-user', 'dropped', row.line, `${kind} not in the dataset`);
        return;
      }
      kept++;
      const m = make(i);
      const title = row.get(c.title);
      if (title !== undefined && title !== '' && kind === 'item') m.title = title;
      const text = row.get(c.text);
      if (text !== undefined && text !== '') m.text = text;
      if (c.tags !== undefined && kind === 'item') {
        for (const t of splitList(row.get(c.tags), sep, none)) tally.add(i, options.tagLookup?.get(t) ?? t);
      }
      if (kind === 'item' && (c.categories !== undefined || options.categoryFlags)) {
        const cats = c.categories !== undefined ? splitList(row.get(c.categories), sep, none) : [];
        const flags = options.categoryFlags;
        if (flags) flags.names.forEach((name, j) => row.get(flags.from + j)?.trim() === '1' && cats.push(name));
        const existing = m.categories ?? [];
        m.categories = existing.concat(cats.filter((x) => !existing.includes(x)));
      }
      if (c.attributes) {
        m.attributes ??= {};
        for (const [name, ref] of Object.entries(c.attributes)) {
          const v = row.get(ref);
          if (v !== undefined && v !== '') m.attributes[name] = attributeValue(v);
        }
      }
    },
    (line, why) => {
      rowsRead++;
      report.add('malformed-row', 'dropped', line, why);
    },
  );
  tally.apply(make);
  return report.build(`${kind}-metadata`, rowsRead, kept);
}

const META_ALIASES: Record<Exclude<keyof MetadataColumns, 'attributes'>, string[]> = {
  id: ['movieid', 'itemid', 'item', 'id', 'artistid', 'productid', 'asin', 'bookid', 'userid', 'user'],
  title: ['title', 'name', 'headline'],
  text: ['text', 'description', 'overview', 'summary', 'abstract', 'body', 'bio'],
  tags: ['tags', 'tag', 'keywords'],
  categories: ['categories', 'category', 'genres', 'genre'],
};

/** Guess metadata columns from a header line or the first JSON object's keys. */
async function guessMetadataColumns(path: string, options: MetadataOptions): Promise<MetadataColumns> {
  const first = await readFirstLine(path);
  let names: string[];
  if (options.format === 'jsonl' || path.endsWith('.jsonl') || first.trimStart().startsWith('{')) {
    names = Object.keys(parseJsonText(first, { file: path }, { expected: 'expected a JSON object on the first line' }) as object);
  } else {
    names = first.split(options.delimiter ?? (path.endsWith('.csv') || options.format === 'csv' ? ',' : '\t')).map((h) => h.replace(/^"|"$/g, ''));
  }
  const norm = names.map((n) => n.toLowerCase().replace(/[_\-\s]/g, ''));
  const out: Partial<MetadataColumns> = {};
  for (const role of Object.keys(META_ALIASES) as (keyof typeof META_ALIASES)[]) {
    for (const alias of META_ALIASES[role]) {
      const j = norm.indexOf(alias);
      if (j >= 0) {
        out[role] = names[j]!;
        break;
      }
    }
  }
  if (out.id === undefined) {
    throw new DataError(`no id column: the header has ${names.map((n) => JSON.stringify(n)).join(', ')}; pass columns.id`, {
      file: path,
      line: 1,
      column: 1,
      field: 'id',
    });
  }
  return out as MetadataColumns;
}

/** Attach item metadata from `path` to `dataset.itemMeta` (merging with what is there). */
export function readItemMetadata(path: string, dataset: Dataset, options: MetadataOptions = {}): Promise<CleaningReport> {
  return readMetadata('item', path, dataset.items, dataset.itemMeta, options);
}

/** Attach user metadata (text, attributes) from `path` to `dataset.userMeta`. */
export function readUserMetadata(path: string, dataset: Dataset, options: MetadataOptions = {}): Promise<CleaningReport> {
  return readMetadata('user', path, dataset.users, dataset.userMeta, options);
}

/** Read a two-column id → value table (Last.fm tags.dat: tagID, tagValue). */
export async function readLookup(
  path: string,
  options: { delimiter?: string; encoding?: TextEncoding; header?: boolean } = {},
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const delimiter = options.delimiter ?? '\t';
  let first = true;
  await scanRecords(path, { delimiter, quoted: false, encoding: options.encoding }, (rec) => {
    if (first) {
      first = false;
      if (options.header ?? looksLikeHeader(rec.fields)) return;
    }
    if (rec.fields.length < 2) {
      throw new DataError(`expected 2 fields separated by "${printable(delimiter)}", found ${rec.fields.length}`, {
        file: path,
        line: rec.line,
        column: rec.text.length + 1,
      });
    }
    out.set(rec.fields[0]!.trim(), rec.fields.slice(1).join(delimiter));
  });
  return out;
}

/** Year in a MovieLens title, "Heat (1995)" → 1995. */
export function titleYear(title: string): number | undefined {
  const m = /\((\d{4})(?:[–-]\d{0,4})?\)\s*$/.exec(title);
  return m ? Number(m[1]) : undefined;
}
