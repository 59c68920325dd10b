/** Helpers shared by the bench scripts: `--name value` flags and their sections of docs/benchmarks.md. */
import { readFileSync, writeFileSync } from 'node:fs';

/** The number after `--name`, else `dflt`. */
export function numArg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

/** The string after `--name`, else `dflt` (undefined when none is given). */
export function strArg(name: string): string | undefined;
export function strArg(name: string, dflt: string): string;
export function strArg(name: string, dflt?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

/** Replace (or append) the block between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`. */
export function writeSection(file: string, name: string, body: string): void {
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const text = readFileSync(file, 'utf8');
  const block = `${start}\n${body}\n${end}`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  writeFileSync(file, a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + end.length) : `${text.trimEnd()}\n\n${block}\n`);
}
