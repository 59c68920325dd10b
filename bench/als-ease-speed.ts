/**
 * Fit speed and memory of ALS and EASE under P1 (`ml-ls-t20`, variant `all`): wall and CPU seconds
 * of one fit (after the data is loaded and split, and after one warm-up fit in the same process),
 * NDCG@10 and Recall@10, and the process's peak RSS. Every (round, row) runs in its own child
 * process, rows interleaved within each round, so that a burst of load on a shared machine hits
 * every row alike; the table gives the best and the median over the rounds.
 *
 *   node --import tsx bench/als-ease-speed.ts [--data DIR] [--rounds 5] [--warmup 1]
 *        [--rows als-cg-1,als-cg-2,als-exact,als-exact-2,ease] [--write]
 *
 * Extra rows: als-cg-1-js and als-cg-2-js (the pure-JS kernels, CHORUS_NN_BACKEND=js). CPU s sums
 * all threads of the process; "main thread CPU s" is the calling thread's own share (Linux
 * /proc/thread-self/stat; the rest ran on the kernel's or the workers' threads), which shows how
 * evenly two threads split the work. --write replaces the `als-ease-speed` block of
 * docs/benchmarks.md (with date, load and command).
 *
 *   node --import tsx bench/als-ease-speed.ts --tune [--data DIR]
 *
 * --tune instead prints NDCG@10 / Recall@10 on P1's validation split (the last 20 % of each
 * user's train rows, cut from train by the P1 rule) for ALS α ∈ {1, 2, 4} and EASE
 * λ ∈ {50, 100, 200, 500, 1000}: how the defaults were chosen. The test split is not touched.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMovieLens } from '../src/data/movielens.js';
import { P1_SPLIT, temporalRatioSplit, validationSplit } from '../src/data/split.js';
import { evaluateRanking } from '../src/eval/ranking.js';
import { kernels } from '../src/nn/kernels.js';
import { Als } from '../src/recommenders/als.js';
import { Ease } from '../src/recommenders/ease.js';
import type { Recommender } from '../src/recommenders/types.js';
import { strArg as arg, writeSection } from './args.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');
const ALS = 'ALS 64 f, reg 10, α 1 (= implicit alpha 2), 15 it';

interface Row {
  label: string;
  make: () => Recommender;
  /** Environment for the child (the JS rows force the JS kernels). */
  env?: Record<string, string>;
}

const ROWS: Record<string, Row> = {
  'als-cg-1': { label: `${ALS}, CG 3, 1 thread`, make: () => new Als({ threads: 1 }) },
  'als-cg-2': { label: `${ALS}, CG 3, 2 threads`, make: () => new Als({ threads: 2 }) },
  'als-exact': { label: `${ALS}, exact (Cholesky), 1 thread`, make: () => new Als({ solver: 'exact', threads: 1 }) },
  'als-exact-2': { label: `${ALS}, exact (Cholesky), 2 threads`, make: () => new Als({ solver: 'exact', threads: 2 }) },
  ease: { label: 'EASE λ 200 (all items with ≥ 1 train user)', make: () => new Ease() },
  'als-cg-1-js': { label: `${ALS}, CG 3, 1 thread, JS kernels`, make: () => new Als({ threads: 1 }), env: { CHORUS_NN_BACKEND: 'js' } },
  'als-cg-2-js': { label: `${ALS}, CG 3, 2 worker threads, JS kernels`, make: () => new Als({ threads: 2 }), env: { CHORUS_NN_BACKEND: 'js' } },
};
const DEFAULT_ROWS = ['als-cg-1', 'als-cg-2', 'als-exact', 'als-exact-2', 'ease'];

interface Result {
  row: string;
  wall: number;
  /** CPU seconds (user + system) of the fit: all threads of the process, and the main thread alone (null off Linux). */
  cpu: number;
  mainCpu: number | null;
  ndcg: number;
  recall: number;
  peakRssMiB: number;
  kernel: string;
}

/** This thread's CPU seconds from /proc/thread-self/stat (utime + stime), or null where there is none. */
function threadCpu(): number | null {
  const p = '/proc/thread-self/stat';
  if (!existsSync(p)) return null;
  // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15.
  const stat = readFileSync(p, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ is 100 on Linux
}

async function child(row: string, dataDir: string, warmup: number): Promise<void> {
  const { dataset } = await loadMovieLens(dataDir, { metadata: false });
  const { train, test } = temporalRatioSplit(dataset);
  for (let w = 0; w < warmup; w++) await ROWS[row]!.make().fit(train);
  const model = ROWS[row]!.make();
  const m0 = threadCpu();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await model.fit(train);
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const m1 = threadCpu();
  const m = evaluateRanking(model, train, test, { k: 10 }).metrics;
  const out: Result = {
    row,
    wall,
    cpu: (c.user + c.system) / 1e6,
    mainCpu: m0 === null || m1 === null ? null : m1 - m0,
    ndcg: m['ndcg@10']!,
    recall: m['recall@10']!,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    kernel: kernels().name,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function parent(): Promise<void> {
  const dataDir = arg('data') ?? resolve(ROOT, '../shared/datasets/ml-latest-small');
  const rounds = Number(arg('rounds') ?? 5);
  const warmup = Number(arg('warmup') ?? 1);
  const rows = (arg('rows') ?? DEFAULT_ROWS.join(',')).split(',').filter(Boolean);
  for (const row of rows) if (!ROWS[row]) throw new Error(`unknown row ${row}; expected one of ${Object.keys(ROWS).join(', ')}`);
  const loadBefore = loadavg().map((x) => x.toFixed(2)).join(' ');
  const results = new Map<string, Result[]>(rows.map((r) => [r, []]));
  for (let round = 0; round < rounds; round++) {
    for (const row of rows) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', row, dataDir, String(warmup)], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, ...ROWS[row]!.env },
      });
      const r = JSON.parse(out.trim().split('\n').pop()!) as Result;
      process.stderr.write(`round ${round + 1}/${rounds} ${row}: ${r.wall.toFixed(3)} s wall, ${r.cpu.toFixed(3)} CPU s\n`);
      results.get(row)!.push(r);
    }
  }
  const loadAfter = loadavg().map((x) => x.toFixed(2)).join(' ');
  const f2 = (x: number): string => x.toFixed(2);
  const lines = [
    '| model | wall s, best | wall s, median | CPU s, best | CPU s, median | main thread CPU s, median | NDCG@10 | Recall@10 | peak RSS MiB | kernel |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows.map((row) => {
      const rs = results.get(row)!;
      const wall = rs.map((r) => r.wall);
      const cpu = rs.map((r) => r.cpu);
      const main = rs.map((r) => r.mainCpu).filter((x): x is number => x !== null);
      const last = rs[rs.length - 1]!;
      return `| ${ROWS[row]!.label} | ${f2(Math.min(...wall))} | ${f2(median(wall))} | ${f2(Math.min(...cpu))} | ${f2(median(cpu))} | ${main.length ? f2(median(main)) : '—'} | ${last.ndcg.toFixed(4)} | ${last.recall.toFixed(4)} | ${Math.max(...rs.map((r) => r.peakRssMiB)).toFixed(0)} | ${last.kernel} |`;
    }),
  ];
  const table = lines.join('\n');
  console.log(table);
  console.log(`${rounds} interleaved rounds, ${warmup} warm-up fit(s) per process; load before ${loadBefore}, after ${loadAfter}`);
  if (process.argv.includes('--write')) {
    const cmd = `node --import tsx bench/als-ease-speed.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
    writeSection(
      resolve(ROOT, 'docs/benchmarks.md'),
      'als-ease-speed',
      `Protocol ml-ls-t20 (P1), variant \`all\`, K = 10, seed 0; ml-latest-small ratings.csv; one fit per process after ${warmup} warm-up fit(s), ` +
        `${rounds} interleaved rounds; fit time excludes loading and splitting; CPU s sums all threads of the process.\n` +
        `Command: \`${cmd}\` — ${new Date().toISOString()}; /proc/loadavg before: ${loadBefore}, after: ${loadAfter}.\n\n${table}`,
    );
  }
}

async function tune(dataDir: string): Promise<void> {
  const { dataset } = await loadMovieLens(dataDir, { metadata: false });
  const { train } = temporalRatioSplit(dataset);
  const v = validationSplit(train, P1_SPLIT);
  const configs: [string, () => Recommender][] = [
    ...[1, 2, 4].map((alpha) => [`ALS α ${alpha} (64 f, reg 10, 15 it, CG 3)`, () => new Als({ alpha })] as [string, () => Recommender]),
    ...[50, 100, 200, 500, 1000].map((lambda) => [`EASE λ ${lambda}`, () => new Ease({ lambda })] as [string, () => Recommender]),
  ];
  console.log('| model (validation split of P1 `all` train) | NDCG@10 | Recall@10 |');
  console.log('| --- | --- | --- |');
  for (const [label, make] of configs) {
    const m = make();
    await m.fit(v.train);
    const r = evaluateRanking(m, v.train, v.validation, { k: 10 }).metrics;
    console.log(`| ${label} | ${r['ndcg@10']!.toFixed(4)} | ${r['recall@10']!.toFixed(4)} |`);
  }
}

if (process.argv[2] === '--child') await child(process.argv[3]!, process.argv[4]!, Number(process.argv[5]));
else if (process.argv.includes('--tune')) await tune(arg('data') ?? resolve(ROOT, '../shared/datasets/ml-latest-small'));
else await parent();
