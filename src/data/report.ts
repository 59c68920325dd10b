/**
 * Cleaning report: what a reader dropped or repaired, with counts and the first few places
 * (`file:line`) for each kind of problem, so nothing is lost silently.
 */

export type IssueKind =
  | 'duplicate'
  | 'missing-id'
  | 'missing-value'
  | 'missing-timestamp'
  | 'unparsable'
  | 'malformed-row'
  | 'out-of-range'
  | 'unknown-user'
  | 'unknown-item'
  | 'unknown-event-type';

/** dropped: the row is gone; repaired: a field was filled/clamped; merged: folded into another row. */
export type IssueAction = 'dropped' | 'repaired' | 'merged' | 'kept';

export interface CleaningIssue {
  kind: IssueKind;
  action: IssueAction;
  /** Number of rows this issue applied to. */
  count: number;
  /** The first few rows, as `file:line`, in file order. */
  examples: string[];
  /** What was done, in words (e.g. "filled with the mean 3.50", "kept the last"). */
  detail: string;
}

/** A role an interaction file's column can play. */
export type ColumnRole = 'user' | 'item' | 'value' | 'timestamp' | 'eventType';

/**
 * How a column was chosen: `given` (the columns option or `--columns`), `preset` (the format's
 * fixed layout), `header` (a recognised header name or JSON key), `position` (the first fields
 * of a headerless file: user, item, value, timestamp).
 */
export type ColumnSource = 'given' | 'preset' | 'header' | 'position';

/** The input column a role was read from. */
export interface ColumnUse {
  /** Header name or JSON key; "column 3" (1-based) in a headerless file. */
  column: string;
  /** 0-based field index (delimited files). */
  index?: number;
  source: ColumnSource;
}

/** Which input column became user, item, value…; null when the file has none for that role. */
export type ColumnsUsed = Record<ColumnRole, ColumnUse | null>;

/**
 * The scale of the value column. `declared`: given as `valueRange` (values outside it went to the
 * out-of-range policy); `standard`: the observed values fit a usual rating scale (0.5–5, 1–5,
 * 1–10, 0–10, 0–100 …), which is taken; `observed`: no usual scale fits (play counts, weights),
 * so the scale is the observed range.
 */
export interface ValueScale {
  lo: number;
  hi: number;
  source: 'declared' | 'standard' | 'observed';
  /** Smallest and largest value kept (NaN when no row was kept). */
  min: number;
  max: number;
}

export interface CleaningReport {
  file: string;
  format: string;
  /** Header fields when the file had a header row. */
  header?: string[];
  /** Interaction files: the column each role was read from, and how it was chosen. */
  columns?: ColumnsUsed;
  /** Interaction files with a value column: the value scale, declared or read from the data. */
  valueScale?: ValueScale;
  /** `valueScale`'s [lo, hi] when it is a rating scale (declared or standard); absent for counts and implicit data. */
  valueRange?: [number, number];
  /** Set when the read dropped more than the warning threshold of its rows: what, how many, why. */
  warning?: string;
  /** Data rows read (blank lines excluded). */
  rowsRead: number;
  /** Rows in the resulting dataset. */
  rowsKept: number;
  rowsDropped: number;
  rowsRepaired: number;
  issues: CleaningIssue[];
}

export const DEFAULT_MAX_EXAMPLES = 5;

/** Accumulates issues while a file is read. */
export class ReportBuilder {
  private readonly issues = new Map<string, CleaningIssue>();

  constructor(
    readonly file: string,
    readonly maxExamples = DEFAULT_MAX_EXAMPLES,
  ) {}

  /** Count one row under (kind, action); `line` is recorded while fewer than maxExamples are kept. */
  add(kind: IssueKind, action: IssueAction, line: number, detail: string, file = this.file): void {
    const key = `${kind}/${action}`;
    let issue = this.issues.get(key);
    if (!issue) {
      issue = { kind, action, count: 0, examples: [], detail };
      this.issues.set(key, issue);
    }
    issue.count++;
    if (issue.examples.length < this.maxExamples) issue.examples.push(`${file}:${line}`);
  }

  /** Replace the detail text of an issue (e.g. once the fill value is known). */
  setDetail(kind: IssueKind, action: IssueAction, detail: string): void {
    const issue = this.issues.get(`${kind}/${action}`);
    if (issue) issue.detail = detail;
  }

  count(kind: IssueKind, action?: IssueAction): number {
    let c = 0;
    for (const i of this.issues.values()) if (i.kind === kind && (action === undefined || i.action === action)) c += i.count;
    return c;
  }

  build(format: string, rowsRead: number, rowsKept: number, header?: string[]): CleaningReport {
    const issues = [...this.issues.values()];
    let dropped = 0;
    let repaired = 0;
    for (const i of issues) {
      if (i.action === 'dropped' || i.action === 'merged') dropped += i.count;
      if (i.action === 'repaired') repaired += i.count;
    }
    return { file: this.file, format, header, rowsRead, rowsKept, rowsDropped: dropped, rowsRepaired: repaired, issues };
  }
}

/** The report as a few human-readable lines (the CLI prints this after an import). */
export function formatCleaningReport(report: CleaningReport): string {
  const lines = [
    `${report.file} (${report.format}): ${report.rowsRead} rows read, ${report.rowsKept} kept, ` +
      `${report.rowsDropped} dropped, ${report.rowsRepaired} repaired`,
  ];
  if (report.columns) lines.push(`  columns: ${formatColumns(report.columns)}`);
  if (report.valueScale) lines.push(`  values: ${formatValueScale(report.valueScale)}`);
  for (const i of report.issues) {
    const more = i.count > i.examples.length ? ', …' : '';
    lines.push(`  ${i.kind}: ${i.count} ${i.action} (${i.detail}) at ${i.examples.join(', ')}${more}`);
  }
  return lines.join('\n');
}

/** "user ← userId (preset), item ← movieId (preset), value ← rating (preset), timestamp: none". */
export function formatColumns(columns: ColumnsUsed): string {
  return (Object.entries(columns) as [ColumnRole, ColumnUse | null][])
    .map(([role, use]) => (use ? `${role} ← ${use.column} (${use.source})` : `${role}: none`))
    .join(', ');
}

/** "scale 0–10 (standard; observed 0–10)". */
export function formatValueScale(scale: ValueScale): string {
  const observed = Number.isNaN(scale.min) ? 'no values kept' : `observed ${scale.min}–${scale.max}`;
  const how = { declared: 'declared', standard: 'read from the data, a standard scale', observed: 'read from the data' }[scale.source];
  return `scale ${scale.lo}–${scale.hi} (${how}; ${observed})`;
}
