/**
 * Per-call cost of scoring every item for one user (the inner loop of factor `scoreAll`):
 * the plain one-accumulator loop, a per-item 4-accumulator unroll, the 4-items-at-a-time kernel
 * in src/util/dot.ts, and BPR's `scoreAll` end to end (which uses that kernel) with top-10.
 *
 *   node --import tsx bench/score-kernel.ts [--items 10000] [--dim 65] [--ms 1500]
 *
 * Median of 5 timed runs of ~ms/5 each, after a warm-up. Prints a markdown table.
 */
import { loadavg } from 'node:os';
import { Dataset, IdMap, interactionsFrom } from '../src/data/dataset.js';
import { Bpr } from '../src/recommenders/bpr.js';
import { scoreAllFactors, scoreAllFactorsNaive } from '../src/util/dot.js';
import { Rng } from '../src/util/rng.js';
import { topK } from '../src/util/topk.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const nItems = arg('items', 10_000);
const dim = arg('dim', 65);
const budget = arg('ms', 1500);

/** Per-item unroll by four over the dimension (stack.md §4.3's variant), for comparison. */
function unroll4(user: Float32Array, items: Float32Array, n: number, d: number, out: Float32Array): void {
  const d4 = d - (d % 4);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    let a = 0;
    let b = 0;
    let c = 0;
    let e = 0;
    let f = 0;
    for (; f < d4; f += 4) {
      a += user[f]! * items[o + f]!;
      b += user[f + 1]! * items[o + f + 1]!;
      c += user[f + 2]! * items[o + f + 2]!;
      e += user[f + 3]! * items[o + f + 3]!;
    }
    for (; f < d; f++) a += user[f]! * items[o + f]!;
    out[i] = a + b + c + e;
  }
}

function time(fn: () => void): number {
  const t0 = performance.now();
  let calls = 0;
  while (performance.now() - t0 < 200) (fn(), calls++); // warm-up (JIT)
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    let n = 0;
    const s = performance.now();
    while (performance.now() - s < budget / 5) (fn(), n++);
    runs.push((performance.now() - s) / n);
  }
  runs.sort((a, b) => a - b);
  return runs[2]!;
}

const rng = new Rng(1);
const items = new Float32Array(nItems * dim);
for (let k = 0; k < items.length; k++) items[k] = rng.normal() * 0.1;
const users = Array.from({ length: 64 }, () => Float32Array.from({ length: dim }, () => rng.normal() * 0.1));
const out = new Float32Array(nItems);
let u = 0;

// A real BPR model of the same size (few epochs: only its scoring cost matters here).
const nUsers = 500;
const uu: number[] = [];
const ii: number[] = [];
for (let a = 0; a < nUsers; a++) for (let t = 0; t < 20; t++) (uu.push(a), ii.push(rng.int(nItems)));
const ds = new Dataset({
  name: 'kernel-bench',
  users: IdMap.from(Array.from({ length: nUsers }, (_, a) => `u${a}`)),
  items: IdMap.from(Array.from({ length: nItems }, (_, i) => `i${i}`)),
  interactions: interactionsFrom({ user: uu, item: ii }),
});
const bpr = new Bpr({ factors: dim - 1, iterations: 1 });
await bpr.fit(ds);

const rows: [string, number][] = [
  ['plain loop, 1 accumulator', time(() => scoreAllFactorsNaive(users[u++ & 63]!, items, nItems, dim, out))],
  ['per item, 4 accumulators over the dimension', time(() => unroll4(users[u++ & 63]!, items, nItems, dim, out))],
  ['`scoreAllFactors` (4 items at a time)', time(() => scoreAllFactors(users[u++ & 63]!, items, nItems, dim, out))],
  ['`Bpr.scoreAll` (known user)', time(() => bpr.scoreAll(u++ % nUsers, out))],
  ['`Bpr.scoreAll` + top-10', time(() => topK(bpr.scoreAll(u++ % nUsers, out), 10))],
];
const base = rows[0]![1];
process.stdout.write(
  [
    `Scoring ${nItems} items × ${dim} dims for one user (node ${process.version}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')})`,
    '',
    '| variant | ms per call | users/s per core | speed-up vs plain |',
    '| --- | ---: | ---: | ---: |',
    ...rows.map(([name, ms]) => `| ${name} | ${ms.toFixed(3)} | ${(1000 / ms).toFixed(0)} | ${(base / ms).toFixed(2)}× |`),
    '',
  ].join('\n'),
);
