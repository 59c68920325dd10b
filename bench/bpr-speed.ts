/**
 * BPR fit speed under P1 (`ml-ls-t20`, variant `all`, BPR defaults: 64 factors, lr 0.01, reg 0.01,
 * 200 epochs, uniform negatives, seed 0): wall and CPU seconds of each fit, 1 and 2 threads
 * (threads > 1 is the Hogwild mode), and NDCG@10 / Recall@10 of every fit beside them.
 *
 *   node --import tsx bench/bpr-speed.ts [--data DIR] [--rounds 5] [--rows native-1,native-2,js-1] [--iterations 200] [--write]
 *
 * Rows: `<backend>-<threads>`, backend `native` (src/nn/native/bpr.c) or `js` (src/nn/bpr-kernel.ts).
 * Rounds are interleaved (round 1 of every row, then round 2, …) so that a burst of load from other
 * processes hits every row alike; the table shows the best and the median round. CPU s is the
 * process's user + system time over the fit (all threads, worker start-up included); kernel CPU s
 * is each training thread's own CPU clock inside the native kernel (best round), the figure least
 * disturbed by other load. Epochs wall s leaves out the start-up (factor init and, with threads,
 * the workers' boot: about 0.4 s under tsx, which compiles each worker's TypeScript imports; far
 * less from the compiled dist/): (end of last epoch − end of first) · n / (n − 1). --write replaces the `bpr-speed` block of docs/benchmarks.md.
 */
import { execSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMovieLens } from '../src/data/movielens.js';
import { temporalRatioSplit } from '../src/data/split.js';
import { evaluateRanking } from '../src/eval/ranking.js';
import { bprEpochKernel, jsKernels, kernels, setKernels } from '../src/nn/kernels.js';
import { Bpr } from '../src/recommenders/bpr.js';
import { numArg, strArg, writeSection } from './args.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');

interface Fit {
  wall: number;
  /** Wall seconds of the epochs alone: (last epoch's end − first epoch's end) · n / (n − 1). */
  epochsWall: number;
  cpu: number;
  kernelCpu: number[];
  ndcg: number;
  recall: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

const dataDir = strArg('data', resolve(ROOT, '../shared/datasets/ml-latest-small'));
const rounds = numArg('rounds', 5);
const iterations = numArg('iterations', 200);
const rows = strArg('rows', 'native-1,native-2').split(',').filter(Boolean);
const native = kernels();
if (rows.some((r) => r.startsWith('native')) && (native.name !== 'native' || !bprEpochKernel())) {
  throw new Error('native rows need the addon with bprEpoch: run `node src/nn/native/build.mjs`');
}

const { dataset } = await loadMovieLens(dataDir, { metadata: false });
const { train, test } = temporalRatioSplit(dataset);
const loadBefore = load();
const fits = new Map<string, Fit[]>(rows.map((r) => [r, []]));
for (let round = 0; round < rounds; round++) {
  for (const row of rows) {
    const m = /^(native|js)-(\d+)$/.exec(row);
    if (!m) throw new Error(`bad row ${row}: expected native-N or js-N`);
    setKernels(m[1] === 'js' ? jsKernels : native);
    const model = new Bpr({ iterations, threads: Number(m[2]) });
    const ends: number[] = [];
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await model.fit(train, { onProgress: () => ends.push(performance.now()) });
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const r = evaluateRanking(model, train, test, { k: 10 }).metrics;
    const epochsWall = ends.length > 1 ? ((ends.at(-1)! - ends[0]!) / 1000) * (ends.length / (ends.length - 1)) : wall;
    fits.get(row)!.push({ wall, epochsWall, cpu: (c.user + c.system) / 1e6, kernelCpu: model.threadCpuSeconds, ndcg: r['ndcg@10']!, recall: r['recall@10']! });
    process.stderr.write(`round ${round + 1} ${row}: ${wall.toFixed(2)} s, NDCG@10 ${r['ndcg@10']!.toFixed(4)}\n`);
  }
}
setKernels(native);
const loadAfter = load();

const f2 = (x: number): string => x.toFixed(2);
const range = (xs: number[]): string => {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return lo === hi ? lo.toFixed(4) : `${lo.toFixed(4)}–${hi.toFixed(4)}`;
};
const lines = [
  '| kernel, threads | wall s best | wall s median | epochs wall s best | CPU s best | CPU s median | kernel CPU s per thread (best round) | NDCG@10 | Recall@10 |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((row) => {
    const fs = fits.get(row)!;
    const best = fs.reduce((a, b) => (b.wall < a.wall ? b : a));
    const kc = row.startsWith('js') ? '—' : best.kernelCpu.map(f2).join(' + ');
    return `| ${row.replace('-', ', ')} | ${f2(best.wall)} | ${f2(median(fs.map((f) => f.wall)))} | ${f2(Math.min(...fs.map((f) => f.epochsWall)))} | ${f2(Math.min(...fs.map((f) => f.cpu)))} | ${f2(median(fs.map((f) => f.cpu)))} | ${kc} | ${range(fs.map((f) => f.ndcg))} | ${range(fs.map((f) => f.recall))} |`;
  }),
];
let commit = 'unknown';
try {
  commit = execSync('git rev-parse --short HEAD', { cwd: ROOT, encoding: 'utf8' }).trim();
} catch {
  // Not a git checkout (an installed package): the table still prints.
}
const cmd = `node --import tsx bench/bpr-speed.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
const header =
  `Protocol ml-ls-t20 (P1), variant \`all\`, K = 10, seed 0 (Hogwild rows: NDCG range over rounds, not reproducible); ` +
  `BPR 64 factors, lr 0.01, reg 0.01, ${iterations} epochs, uniform negatives, verifyNegatives. ` +
  `${rounds} interleaved rounds, fit only (data loaded and split before). ` +
  `Command: \`${cmd}\` — ${new Date().toISOString()}, commit ${commit}; ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}; ` +
  `load average before ${loadBefore}, after ${loadAfter}.`;
const table = lines.join('\n');
console.log(`${header}\n\n${table}`);
if (process.argv.includes('--write')) writeSection(resolve(ROOT, 'docs/benchmarks.md'), 'bpr-speed', `${header}\n\n${table}`);
