/**
 * `chorus import <path>`: read and validate an interaction file or a dataset folder, clean it by
 * the chosen policies, print the cleaning report and write a dataset snapshot that every other
 * command reads back fast.
 */
import { mkdir } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { ReadOptions } from '../../data/read-interactions.js';
import { formatCleaningReport } from '../../data/report.js';
import { saveDataset } from '../../data/snapshot.js';
import { activeCounts } from '../../data/split.js';
import { ConfigError } from '../../errors.js';
import { loadConfig } from '../config.js';
import { loadData, readOptions } from '../data.js';
import { withCleanStdout, writeJson, writeOut } from '../output.js';

interface ImportFlags {
  format?: string;
  columns?: string;
  duplicates?: string;
  missing?: string;
  fillValue?: string;
  outOfRange?: string;
  strict?: boolean;
  out?: string;
  config?: string;
  json?: boolean;
}

function numberFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ConfigError(`expected a number, got "${v}"`, flag);
  return n;
}

const COLUMN_ROLES = ['user', 'item', 'value', 'timestamp', 'eventType'] as const;

/** `user=uid,item=movie,value=2` → a column mapping (numbers are 0-based field indices, "none" = absent). */
function columnsFlag(v: string | undefined): ReadOptions['columns'] {
  if (v === undefined) return undefined;
  const out: Record<string, string | number | null> = {};
  for (const part of v.split(',')) {
    const eq = part.indexOf('=');
    const role = part.slice(0, eq).trim();
    const col = part.slice(eq + 1).trim();
    if (eq <= 0 || !col) throw new ConfigError(`expected role=column pairs, got "${part}"`, 'columns');
    if (!(COLUMN_ROLES as readonly string[]).includes(role)) throw new ConfigError(`unknown column role "${role}"; expected one of ${COLUMN_ROLES.join(', ')}`, 'columns');
    out[role] = col === 'none' ? null : /^\d+$/.test(col) ? Number(col) : col;
  }
  return out as ReadOptions['columns'];
}

function oneOf<T extends string>(v: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new ConfigError(`expected one of ${allowed.join(', ')}, got "${v}"`, flag);
  return v as T;
}

export function register(program: Command): void {
  program
    .command('import')
    .description('validate and clean an interaction file or dataset folder, print the cleaning report, write a snapshot')
    .argument('<path>', 'MovieLens/Last.fm folder, or a CSV/TSV/JSONL/ratings.dat/u.data file')
    .option('--format <name>', 'auto, movielens-csv, movielens-dat, udata, lastfm, csv, tsv, jsonl (default auto)')
    .option('--columns <mapping>', 'which column is what, e.g. user=uid,item=sku,value=qty,timestamp=ts (names or 0-based indices)')
    .option('--duplicates <policy>', 'repeated (user, item): first, last, sum, keep, error (default last)')
    .option('--missing <policy>', 'empty values: drop, mean, median, constant, error (default drop)')
    .option('--fill-value <x>', 'value used by --missing constant')
    .option('--out-of-range <policy>', 'values outside the valid range: drop, clamp, error (default drop)')
    .option('--no-strict', 'drop and report malformed rows instead of stopping at the first')
    .option('-o, --out <file>', 'snapshot path (default: <name>.chorus-dataset in the working directory)')
    .action(async function (this: Command, path: string) {
      const flags = this.optsWithGlobals<ImportFlags>();
      const { config } = loadConfig(flags.config);
      const overrides: ReadOptions = {
        format: oneOf(flags.format, ['auto', 'movielens-csv', 'movielens-dat', 'udata', 'lastfm', 'csv', 'tsv', 'jsonl'] as const, 'format'),
        columns: columnsFlag(flags.columns),
        duplicates: oneOf(flags.duplicates, ['first', 'last', 'sum', 'keep', 'error'] as const, 'duplicates'),
        missingValue: oneOf(flags.missing, ['drop', 'mean', 'median', 'constant', 'error'] as const, 'missing'),
        fillValue: numberFlag(flags.fillValue, 'fill-value'),
        outOfRange: oneOf(flags.outOfRange, ['drop', 'clamp', 'error'] as const, 'out-of-range'),
        strict: flags.strict === false ? false : undefined,
      };
      const json = Boolean(flags.json);
      await withCleanStdout(json, async () => {
        const { dataset, report, metadataReports } = await loadData(path, readOptions(config, overrides));
        const out = resolve(flags.out ?? config.import?.out ?? `${basename(dataset.name) || 'dataset'}.chorus-dataset`);
        await mkdir(dirname(out), { recursive: true });
        await saveDataset(dataset, out);
        const active = activeCounts(dataset);
        const summary = { name: dataset.name, users: active.users, items: active.items, interactions: dataset.nInteractions, eventTypes: dataset.eventTypes };
        if (json) {
          writeJson({ dataset: summary, report, metadataReports, snapshot: out });
          return;
        }
        writeOut(formatCleaningReport(report));
        for (const r of metadataReports) writeOut(formatCleaningReport(r));
        writeOut(
          `dataset "${summary.name}": ${summary.users.toLocaleString('en-US')} users, ${summary.items.toLocaleString('en-US')} items, ` +
            `${summary.interactions.toLocaleString('en-US')} interactions`,
        );
        writeOut(`snapshot written to ${out}`);
      });
    });
}
