/**
 * Run every benchmark script in bench/ one after another (never in parallel: the machine has two
 * cores and a benchmark's figures are only meaningful undisturbed). Each script prints its own
 * table and writes its own section of docs/benchmarks.md.
 *
 *   npm run bench                      # all scripts
 *   npm run bench -- p1 nn-train       # only these
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const scripts = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run-all.ts' && !f.endsWith('.d.ts'))
  .filter((f) => only.length === 0 || only.includes(f.replace(/\.ts$/, '')))
  .sort();

const results: { script: string; status: number | null; seconds: number }[] = [];
for (const script of scripts) {
  process.stderr.write(`\n=== bench/${script} (load ${loadavg().map((x) => x.toFixed(2)).join(' ')})\n`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, script)], { stdio: 'inherit', cwd: join(here, '..') });
  results.push({ script, status: r.status, seconds: (performance.now() - t0) / 1000 });
}
process.stderr.write('\n');
for (const r of results) process.stderr.write(`${r.status === 0 ? 'ok  ' : 'FAIL'} bench/${r.script} (${r.seconds.toFixed(1)} s)\n`);
process.exitCode = results.every((r) => r.status === 0) ? 0 : 1;
