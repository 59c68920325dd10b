/**
 * ALS at scale: the seeded synthetic power-law generator (src/data/synthetic.ts) at 10 M
 * interactions, 200 k users, 50 k items; times data generation, the CSR views, and one ALS fit of
 * --iterations (default 1) iterations at 64 factors (CG, 3 steps), and reports peak RSS.
 *
 *   node --import tsx bench/als-scale.ts [--interactions 10000000] [--users 200000] [--items 50000]
 *        [--iterations 1] [--threads 0] [--seed 1] [--write]
 *
 * --write appends the table (with date, load and command) to docs/benchmarks.md.
 */
import { appendFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { syntheticPowerLaw } from '../src/data/synthetic.js';
import { kernels } from '../src/nn/kernels.js';
import { Als } from '../src/recommenders/als.js';
import { numArg as arg } from './args.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');

const interactions = arg('interactions', 10_000_000);
const users = arg('users', 200_000);
const items = arg('items', 50_000);
const iterations = arg('iterations', 1);
const threads = arg('threads', 0);
const seed = arg('seed', 1);

const loadBefore = loadavg().map((x) => x.toFixed(2)).join(' ');
let t = performance.now();
const { dataset } = syntheticPowerLaw({ users, items, interactions, seed });
const genS = (performance.now() - t) / 1000;
t = performance.now();
dataset.byUser();
const csrS = (performance.now() - t) / 1000;
const perIteration: number[] = [];
let last = performance.now();
const als = new Als({ factors: 64, iterations, threads, seed });
t = performance.now();
const cpu0 = process.cpuUsage();
await als.fit(dataset, {
  onProgress: () => {
    const now = performance.now();
    perIteration.push((now - last) / 1000);
    last = now;
  },
});
const fitS = (performance.now() - t) / 1000;
const cpu = process.cpuUsage(cpu0);
const fitCpuS = (cpu.user + cpu.system) / 1e6;
const peak = process.resourceUsage().maxRSS / 1024;
const loadAfter = loadavg().map((x) => x.toFixed(2)).join(' ');
const distinct = (() => {
  const csr = dataset.byUser();
  let n = 0;
  const last = new Int32Array(items).fill(-1);
  for (let u = 0; u < csr.rows; u++)
    for (let e = csr.indptr[u]!; e < csr.indptr[u + 1]!; e++) {
      if (last[csr.indices[e]!] !== u) {
        last[csr.indices[e]!] = u;
        n++;
      }
    }
  return n;
})();

const table = [
  '| interactions (distinct pairs) | users | items | generate s | CSR by user s | ALS fit s (iterations) | fit CPU s, all threads | s per iteration | peak RSS MiB | threads | GEMM kernel |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  `| ${interactions.toLocaleString('en')} (${distinct.toLocaleString('en')}) | ${users.toLocaleString('en')} | ${items.toLocaleString('en')} | ${genS.toFixed(1)} | ${csrS.toFixed(1)} | ${fitS.toFixed(1)} (${iterations}) | ${fitCpuS.toFixed(1)} | ${perIteration.map((s) => s.toFixed(1)).join(', ')} | ${peak.toFixed(0)} | ${threads === 0 ? 'auto' : threads} | ${kernels().name} |`,
].join('\n');
console.log(table);
console.log(`load before ${loadBefore}, after ${loadAfter}`);
if (process.argv.includes('--write')) {
  const cmd = `node --import tsx bench/als-scale.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
  appendFileSync(
    resolve(ROOT, 'docs/benchmarks.md'),
    `\n## ALS at 10 M synthetic interactions (bench/als-scale.ts)\n\n` +
      `Seeded synthetic power-law data (src/data/synthetic.ts, seed ${seed}; user exponent 0.8, item exponent 0.9), ALS 64 factors, CG 3 steps, reg 10, α 1. ` +
      `"s per iteration" includes building the confidence matrices in the first iteration.\n` +
      `Command: \`${cmd}\` — ${new Date().toISOString()}; /proc/loadavg before: ${loadBefore}, after: ${loadAfter}.\n\n${table}\n`,
  );
}
