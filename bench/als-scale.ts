/**
 * ALS at scale: the seeded synthetic power-law generator (src/data/synthetic.ts) at 10 M
 * interactions, 200 k users, 50 k items; times data generation, the CSR views, and an ALS fit of
 * --iterations (default 2) iterations at 64 factors (CG, 3 steps), wall and CPU per iteration, and
 * the peak RSS. The first iteration's time includes building the two confidence matrices; the
 * later ones are the sweeps alone ("one ALS iteration"). Each thread count runs in its own child
 * process, so its peak RSS is its own.
 *
 *   node --import tsx bench/als-scale.ts [--interactions 10000000] [--users 200000] [--items 50000]
 *        [--iterations 2] [--threads 1,2] [--seed 1] [--write]
 *
 * --write replaces the `als-scale` block of docs/benchmarks.md (with date, load and command).
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { syntheticPowerLaw } from '../src/data/synthetic.js';
import { kernels } from '../src/nn/kernels.js';
import { Als } from '../src/recommenders/als.js';
import { numArg as arg, strArg, writeSection } from './args.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');

const interactions = arg('interactions', 10_000_000);
const users = arg('users', 200_000);
const items = arg('items', 50_000);
const iterations = arg('iterations', 2);
const seed = arg('seed', 1);

interface Result {
  threads: number;
  distinct: number;
  genS: number;
  csrS: number;
  fitS: number;
  fitCpuS: number;
  /** Wall and CPU seconds (all threads) of each iteration. */
  iterWall: number[];
  iterCpu: number[];
  peakMiB: number;
  kernel: string;
}

async function child(threads: number): Promise<void> {
  let t = performance.now();
  const { dataset } = syntheticPowerLaw({ users, items, interactions, seed });
  const genS = (performance.now() - t) / 1000;
  t = performance.now();
  const csr = dataset.byUser();
  const csrS = (performance.now() - t) / 1000;
  let distinct = 0;
  const seen = new Int32Array(items).fill(-1);
  for (let u = 0; u < csr.rows; u++) {
    for (let e = csr.indptr[u]!; e < csr.indptr[u + 1]!; e++) {
      if (seen[csr.indices[e]!] !== u) {
        seen[csr.indices[e]!] = u;
        distinct++;
      }
    }
  }
  const iterWall: number[] = [];
  const iterCpu: number[] = [];
  const als = new Als({ factors: 64, iterations, threads, seed });
  const cpu0 = process.cpuUsage();
  let lastCpu = cpu0;
  t = performance.now();
  let last = t;
  await als.fit(dataset, {
    onProgress: () => {
      const now = performance.now();
      const c = process.cpuUsage();
      iterWall.push((now - last) / 1000);
      iterCpu.push((c.user - lastCpu.user + c.system - lastCpu.system) / 1e6);
      last = now;
      lastCpu = c;
    },
  });
  const fitS = (performance.now() - t) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const out: Result = {
    threads,
    distinct,
    genS,
    csrS,
    fitS,
    fitCpuS: (cpu.user + cpu.system) / 1e6,
    iterWall,
    iterCpu,
    peakMiB: process.resourceUsage().maxRSS / 1024,
    kernel: kernels().name,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function parent(): void {
  const threadList = (strArg('threads') ?? '1,2').split(',').map(Number);
  const loadBefore = loadavg().map((x) => x.toFixed(2)).join(' ');
  const results: Result[] = [];
  for (const threads of threadList) {
    const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', String(threads), ...process.argv.slice(2)];
    const out = execFileSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 });
    const r = JSON.parse(out.trim().split('\n').pop()!) as Result;
    process.stderr.write(`${threads} thread(s): fit ${r.fitS.toFixed(1)} s, iterations ${r.iterWall.map((s) => s.toFixed(2)).join(', ')} s\n`);
    results.push(r);
  }
  const loadAfter = loadavg().map((x) => x.toFixed(2)).join(' ');
  const f1 = (x: number): string => x.toFixed(1);
  const f2 = (x: number): string => x.toFixed(2);
  const table = [
    '| interactions (distinct pairs) | users | items | threads | generate s | CSR by user s | fit s (iterations) | fit CPU s | 1st iteration (with matrices), wall / CPU s | later iterations, wall / CPU s | peak RSS MiB | kernel |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...results.map(
      (r) =>
        `| ${interactions.toLocaleString('en')} (${r.distinct.toLocaleString('en')}) | ${users.toLocaleString('en')} | ${items.toLocaleString('en')} | ${r.threads} | ${f1(r.genS)} | ${f1(r.csrS)} | ${f2(r.fitS)} (${iterations}) | ${f2(r.fitCpuS)} | ${f2(r.iterWall[0]!)} / ${f2(r.iterCpu[0]!)} | ${
          r.iterWall.length > 1 ? r.iterWall.slice(1).map((w, i) => `${f2(w)} / ${f2(r.iterCpu[i + 1]!)}`).join(', ') : '—'
        } | ${r.peakMiB.toFixed(0)} | ${r.kernel} |`,
    ),
  ].join('\n');
  console.log(table);
  console.log(`load before ${loadBefore}, after ${loadAfter}`);
  if (process.argv.includes('--write')) {
    const cmd = `node --import tsx bench/als-scale.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
    writeSection(
      resolve(ROOT, 'docs/benchmarks.md'),
      'als-scale',
      `Seeded synthetic power-law data (src/data/synthetic.ts, seed ${seed}; user exponent 0.8, item exponent 0.9), ALS 64 factors, CG 3 steps, reg 10, α 1. ` +
        `CPU s sums all threads of the process. Each thread count in its own process.\n` +
        `Command: \`${cmd}\` — ${new Date().toISOString()}; /proc/loadavg before: ${loadBefore}, after: ${loadAfter}.\n\n${table}`,
    );
  }
}

if (process.argv[2] === '--child') await child(Number(process.argv[3]));
else parent();
