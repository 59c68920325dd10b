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

export interface CleaningReport {
  file: string;
  format: string;
  /** Header fields when the file had a header row. */
  header?: string[];
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
  for (const i of report.issues) {
    const more = i.count > i.examples.length ? ', …' : '';
    lines.push(`  ${i.kind}: ${i.count} ${i.action} (${i.detail}) at ${i.examples.join(', ')}${more}`);
  }
  return lines.join('\n');
}
