/**
 * Data for CLI commands: one path (MovieLens or Last.fm folder, interaction file, or dataset
 * snapshot) through the data layer's front door, with the config's read options and a progress
 * bar while the file streams in. The flags that say how to read a file (format, column mapping,
 * value scale, encoding, drop warning) are declared here once, for every command that reads data.
 */
import type { Command } from 'commander';
import { COLUMN_ROLES } from '../data/column-mapping.js';
import { INTERACTION_FORMATS } from '../data/formats.js';
import { loadDataDir } from '../data/load.js';
import type { FolderLoadResult } from '../data/movielens.js';
import type { ReadOptions } from '../data/read-interactions.js';
import { ConfigError } from '../errors.js';
import type { ChorusConfig } from './config.js';
import { writeErr } from './output.js';
import { demoDataDir } from './paths.js';
import { progressBar } from './progress.js';

/** The data path a command uses: the flag, else config "data", else the bundled demo data. */
export function dataPath(flag: string | undefined, config: ChorusConfig): string {
  return flag ?? config.data ?? demoDataDir();
}

/** Read options from the config's `import` section (minus CLI-only keys), flags merged over them. */
export function readOptions(config: ChorusConfig, overrides: ReadOptions = {}): ReadOptions {
  const { out: _out, ...rest } = config.import ?? {};
  const opts = { ...rest, ...overrides } as ReadOptions;
  if (rest.columns && overrides.columns) opts.columns = { ...rest.columns, ...overrides.columns } as ReadOptions['columns'];
  for (const k of Object.keys(opts) as (keyof ReadOptions)[]) if (opts[k] === undefined) delete opts[k];
  return opts;
}

/**
 * Load data with a progress bar. When the read dropped more than its warning threshold of rows,
 * the warning goes to stderr here, so no command can lose rows quietly (it stays in the result
 * for `--json` output).
 */
export async function loadData(path: string, options: ReadOptions = {}): Promise<FolderLoadResult> {
  const bar = progressBar('read');
  let result: FolderLoadResult;
  try {
    result = await loadDataDir(path, { ...options, onProgress: (done, total) => bar.update(Math.round(done / 1024), Math.round(total / 1024), 'KiB') });
  } finally {
    bar.stop();
  }
  printLoadWarning(result);
  return result;
}

/** Print a load result's drop warning (if any) on stderr. */
export function printLoadWarning(result: { warning?: string }): void {
  if (result.warning) writeErr(result.warning);
}

/** The shared data flags as commander hands them over (strings, checked by `dataFlagOptions`). */
export interface DataFlags {
  format?: string;
  columns?: string;
  valueRange?: string;
  outOfRange?: string;
  encoding?: string;
  dropWarning?: string;
}

/** Declare the flags that say how to read an interaction file (see `DataFlags`) on `command`. */
export function addDataFlags(command: Command): Command {
  return command
    .option('--format <name>', `interaction file format: auto, ${INTERACTION_FORMATS.join(', ')} (default auto)`)
    .option('--columns <mapping>', 'which column is what, e.g. user=uid,item=sku,value=qty,timestamp=ts (names or 0-based indices; "none" for absent)')
    .option('--value-range <lo,hi>', 'the value scale, e.g. 1,5 or 0,10; values outside it follow --out-of-range (default: read from the data, nothing dropped)')
    .option('--out-of-range <policy>', 'values outside --value-range: drop, clamp, error (default drop)')
    .option('--encoding <name>', 'text encoding: utf8 (default; invalid bytes are an error) or latin1')
    .option('--drop-warning <percent>', 'warn on stderr (and in --json) when a read drops more than this share of rows (default 2)');
}

/** Read options from the shared data flags; a bad value is a ConfigError naming the flag. */
export function dataFlagOptions(flags: DataFlags): ReadOptions {
  const opts: ReadOptions = {
    format: oneOf(flags.format, ['auto', ...INTERACTION_FORMATS] as const, 'format'),
    columns: columnsFlag(flags.columns),
    valueRange: valueRangeFlag(flags.valueRange),
    outOfRange: oneOf(flags.outOfRange, ['drop', 'clamp', 'error'] as const, 'out-of-range'),
    encoding: oneOf(flags.encoding, ['utf8', 'latin1'] as const, 'encoding'),
    dropWarning: percentFlag(flags.dropWarning, 'drop-warning'),
  };
  for (const k of Object.keys(opts) as (keyof ReadOptions)[]) if (opts[k] === undefined) delete opts[k];
  return opts;
}

export function numberFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`expected a number, got "${v}"`, flag);
  return n;
}

export function oneOf<T extends string>(v: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new ConfigError(`expected one of ${allowed.join(', ')}, got "${v}"`, flag);
  return v as T;
}


/** `user=uid,item=movie,value=2` → a column mapping (numbers are 0-based field indices, "none" = absent). */
export function columnsFlag(v: string | undefined): ReadOptions['columns'] {
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

/** `1,5` → [1, 5]; the low end must be below the high end. */
export function valueRangeFlag(v: string | undefined): [number, number] | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(',');
  const lo = numberFlag(parts[0], 'value-range');
  const hi = numberFlag(parts[1], 'value-range');
  if (parts.length !== 2 || lo === undefined || hi === undefined) throw new ConfigError(`expected lo,hi (e.g. 1,5), got "${v}"`, 'value-range');
  if (!(lo < hi)) throw new ConfigError(`expected lo < hi, got "${v}"`, 'value-range');
  return [lo, hi];
}

/** A percentage flag (0–100) → a fraction. */
function percentFlag(v: string | undefined, flag: string): number | undefined {
  const n = numberFlag(v, flag);
  if (n === undefined) return undefined;
  if (n < 0 || n > 100) throw new ConfigError(`expected a percentage between 0 and 100, got "${v}"`, flag);
  return n / 100;
}
