/**
 * The loud warning for a read that lost many rows. A cleaning report lists every issue, but a
 * report nobody reads let a 0–10 rated file lose half its ratings quietly; above a threshold the
 * read says so in one multi-line text the CLI prints on stderr and puts in `--json` output.
 */
import type { CleaningIssue, CleaningReport, IssueKind } from './report.js';

/** Share of rows a read may drop before it warns (2 %). */
export const DEFAULT_DROP_WARNING = 0.02;

/** What to try for each reason a row is dropped. */
const REMEDY: Partial<Record<IssueKind, string>> = {
  'out-of-range': 'check the declared value range (--value-range lo,hi), or clamp with --out-of-range clamp',
  duplicate: 'keep repeated (user, item) rows with --duplicates keep, or add them up with --duplicates sum',
  'missing-value': 'fill empty values with --missing mean, median or constant',
  'missing-id': 'check the user and item columns (--columns)',
  unparsable: 'check the column mapping (--columns) and the format (--format)',
  'malformed-row': 'check the format and delimiter (--format), or the rows named',
  'unknown-user': 'the rows name users outside the given catalogue',
  'unknown-item': 'the rows name items outside the given catalogue',
  'unknown-event-type': 'the rows name event types outside the given list',
};

const TOP_REASONS = 3;

/**
 * The warning text when `report` dropped (or merged away) more than `threshold` of its rows, else
 * undefined: the file, the counts, and the top reasons with where they occur and what to try.
 */
export function dropWarning(report: CleaningReport, threshold = DEFAULT_DROP_WARNING): string | undefined {
  const lost = report.rowsRead - report.rowsKept;
  if (report.rowsRead === 0 || lost <= threshold * report.rowsRead) return undefined;
  const share = (100 * lost) / report.rowsRead;
  const reasons = report.issues
    .filter((i) => i.action === 'dropped' || i.action === 'merged')
    .sort((a, b) => b.count - a.count)
    .slice(0, TOP_REASONS);
  const lines = [
    `WARNING: ${report.file}: ${lost.toLocaleString('en-US')} of ${report.rowsRead.toLocaleString('en-US')} rows ` +
      `(${share.toFixed(share < 10 ? 1 : 0)} %) were dropped, more than the ${formatPercent(threshold)} warning threshold.`,
    ...reasons.map(reasonLine),
  ];
  return lines.join('\n');
}

function reasonLine(issue: CleaningIssue): string {
  const where = issue.examples.length ? ` at ${issue.examples.join(', ')}${issue.count > issue.examples.length ? ', …' : ''}` : '';
  const remedy = REMEDY[issue.kind];
  return `  ${issue.kind}: ${issue.count.toLocaleString('en-US')} ${issue.action} (${issue.detail})${where}${remedy ? `\n    → ${remedy}` : ''}`;
}

function formatPercent(fraction: number): string {
  return `${Number((fraction * 100).toPrecision(3))} %`;
}
