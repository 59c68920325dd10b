/**
 * Fit speed and memory of ALS and EASE under P1 (`ml-ls-t20`, variant `all`): fit seconds
 * (median of --repeat fits in one process, after the data is loaded and split), NDCG@10 and
 * Recall@10 of the last fit, and the process's peak RSS. Each row runs in its own child process
 * so the peak RSS is that model's alone (data loading included).
 *
 *   node --import tsx bench/als-ease-speed.ts [--data DIR] [--repeat 3] [--rows als-cg-1,als-cg-2,als-exact,als-exact-2,ease] [--write]
 *
 * --write appends the table (with date, load and command) to docs/benchmarks.md.
 *
 *   node --import tsx bench/als-ease-speed.ts --tune [--data DIR]
 *
 * --tune instead prints NDCG@10 / Recall@10 on P1's validation split (the last 20 % of each
 * user's train rows, cut from train by the P1 rule) for ALS α ∈ {1, 2, 4} and EASE
 * λ ∈ {50, 100, 200, 500, 1000}: how the defaults were chosen. The test split is not touched.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
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
import { strArg as arg } from './args.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');

const ROWS: Record<string, { label: string; make: () => Recommender }> = {
  'als-cg-1': { label: 'ALS 64 f, reg 10, α 1 (= implicit alpha 2), 15 it, CG 3, 1 thread', make: () => new Als({ threads: 1 }) },
  'als-cg-2': { label: 'ALS 64 f, reg 10, α 1 (= implicit alpha 2), 15 it, CG 3, 2 threads', make: () => new Als({ threads: 2 }) },
  'als-exact': { label: 'ALS 64 f, reg 10, α 1 (= implicit alpha 2), 15 it, exact (Cholesky), 1 thread', make: () => new Als({ solver: 'exact', threads: 1 }) },
  'als-exact-2': { label: 'ALS 64 f, reg 10, α 1 (= implicit alpha 2), 15 it, exact (Cholesky), 2 threads', make: () => new Als({ solver: 'exact', threads: 2 }) },
  ease: { label: 'EASE λ 200 (all items with ≥ 1 train user)', make: () => new Ease() },
};

interface Result {
  row: string;
  fitSeconds: number[];
  /** CPU seconds (user + system, all threads of the process) of each fit. */
  fitCpu: number[];
  ndcg: number;
  recall: number;
  peakRssMiB: number;
  kernel: string;
}

async function child(row: string, dataDir: string, repeat: number): Promise<void> {
  const { dataset } = await loadMovieLens(dataDir, { metadata: false });
  const { train, test } = temporalRatioSplit(dataset);
  const fitSeconds: number[] = [];
  const fitCpu: number[] = [];
  let model: Recommender | null = null;
  for (let r = 0; r < repeat; r++) {
    model = ROWS[row]!.make();
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await model.fit(train);
    fitSeconds.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    fitCpu.push((c.user + c.system) / 1e6);
  }
  const m = evaluateRanking(model!, train, test, { k: 10 }).metrics;
  const out: Result = {
    row,
    fitSeconds,
    fitCpu,
    ndcg: m['ndcg@10']!,
    recall: m['recall@10']!,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    kernel: kernels().name,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function parent(): Promise<void> {
  const dataDir = arg('data') ?? resolve(ROOT, '../shared/datasets/ml-latest-small');
  const repeat = Number(arg('repeat') ?? 3);
  const rows = (arg('rows') ?? Object.keys(ROWS).join(',')).split(',').filter(Boolean);
  const loadBefore = loadavg().map((x) => x.toFixed(2)).join(' ');
  const results: Result[] = [];
  for (const row of rows) {
    if (!ROWS[row]) throw new Error(`unknown row ${row}; expected one of ${Object.keys(ROWS).join(', ')}`);
    process.stderr.write(`${row} … `);
    const reps = row === 'ease' || row.startsWith('als-exact') ? 1 : repeat;
    const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', row, dataDir, String(reps)], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    const r = JSON.parse(out.trim().split('\n').pop()!) as Result;
    process.stderr.write(`${median(r.fitSeconds).toFixed(2)} s\n`);
    results.push(r);
  }
  const loadAfter = loadavg().map((x) => x.toFixed(2)).join(' ');
  const lines = [
    '| model | fit s (median) | fits, wall s | fits, CPU s | NDCG@10 | Recall@10 | peak RSS MiB | GEMM kernel |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${ROWS[r.row]!.label} | ${median(r.fitSeconds).toFixed(2)} | ${r.fitSeconds.map((s) => s.toFixed(2)).join(', ')} | ${r.fitCpu.map((s) => s.toFixed(2)).join(', ')} | ${r.ndcg.toFixed(4)} | ${r.recall.toFixed(4)} | ${r.peakRssMiB.toFixed(0)} | ${r.kernel} |`,
    ),
  ];
  const table = lines.join('\n');
  console.log(table);
  console.log(`load before ${loadBefore}, after ${loadAfter}`);
  if (process.argv.includes('--write')) {
    const cmd = `node --import tsx bench/als-ease-speed.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
    appendFileSync(
      resolve(ROOT, 'docs/benchmarks.md'),
      `\n## ALS and EASE fit speed, P1 \`all\` (bench/als-ease-speed.ts)\n\n` +
        `Protocol ml-ls-t20 (P1), variant \`all\`, K = 10, seed 0; ml-latest-small ratings.csv; fit time excludes loading and splitting; CPU s sums all threads of the process (on a busy machine it is the better guide to idle-machine wall time for one thread).\n` +
        `Command: \`${cmd}\` — ${new Date().toISOString()}; /proc/loadavg before: ${loadBefore}, after: ${loadAfter}.\n\n${table}\n`,
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
