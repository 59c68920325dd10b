/**
 * Per-call cost of scoring every item for one user (the inner loop of factor `scoreAll`):
 * the plain one-accumulator loop, a per-item 4-accumulator unroll, the 4-items-at-a-time JS kernel
 * in src/util/dot.ts, the native addon's `scoreRows` (AVX2/FMA GEMV, src/nn/native/chorus_nn.c)
 * when built, and BPR's `scoreAll` end to end (which uses `scoreAllFactors`, native when built)
 * alone and with top-10.
 *
 *   node --import tsx bench/score-kernel.ts [--items 10000] [--dim 65] [--ms 1500]
 *
 * The variants are timed in interleaved rounds (A B C … A B C …, `--rounds` of ~60 ms each), so
 * that a change in machine load hits all of them alike; the table gives the median and the
 * best round per variant. Prints a markdown table.
 */
import { loadavg } from 'node:os';
import { Dataset, IdMap, interactionsFrom } from '../src/data/dataset.js';
import { Bpr } from '../src/recommenders/bpr.js';
import { selectPool } from '../src/serve/select.js';
import { scoreAllFactors, scoreAllFactorsJs, scoreBackend } from '../src/util/dot.js';
import { loadChorusAddon } from '../src/util/native-addon.js';
import { Rng } from '../src/util/rng.js';
import { topK } from '../src/util/topk.js';
import { numArg as arg } from './args.js';

const nItems = arg('items', 10_000);
const dim = arg('dim', 65);
const rounds = arg('rounds', 30);

/** The loop `Bpr.scoreAll` had before the kernel (one accumulator, Float32Array user row). */
function plain(x: Float32Array, V: Float32Array, n: number, F: number, o: Float32Array): void {
  for (let i = 0; i < n; i++) {
    let s = 0;
    const io = i * F;
    for (let f = 0; f < F; f++) s += x[f]! * V[io + f]!;
    o[i] = s;
  }
}

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

/** ms per call of each variant: [median, best] over interleaved rounds. */
function timeAll(fns: (() => void)[]): [number, number][] {
  for (const fn of fns) {
    const t0 = performance.now();
    while (performance.now() - t0 < 200) fn(); // warm-up (JIT)
  }
  const per: number[][] = fns.map(() => []);
  for (let r = 0; r < rounds; r++) {
    fns.forEach((fn, v) => {
      let n = 0;
      const s = performance.now();
      while (performance.now() - s < 60) (fn(), n++);
      per[v]!.push((performance.now() - s) / n);
    });
  }
  return per.map((xs) => {
    xs.sort((a, b) => a - b);
    return [xs[xs.length >> 1]!, xs[0]!];
  });
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

const addon = loadChorusAddon();
const native = addon?.scoreRows?.bind(addon);
const mask = new Uint8Array(nItems);
for (let k = 0; k < 50; k++) mask[rng.int(nItems)] = 1; // a user's seen items, as the server masks them
const variants: [string, () => void][] = [
  ['plain loop, 1 accumulator (`Bpr.scoreAll` before)', () => plain(users[u++ & 63]!, items, nItems, dim, out)],
  ['per item, 4 accumulators over the dimension', () => unroll4(users[u++ & 63]!, items, nItems, dim, out)],
  ['`scoreAllFactorsJs` (JS kernel, 4 items at a time)', () => scoreAllFactorsJs(users[u++ & 63]!, items, nItems, dim, out)],
  ...(native
    ? ([['native `scoreRows` (addon, AVX2/FMA GEMV)', () => native(items, users[u++ & 63]!, out, nItems, dim, 0)]] as [string, () => void][])
    : []),
  [`\`scoreAllFactors\` (dispatch: ${scoreBackend()})`, () => scoreAllFactors(users[u++ & 63]!, items, nItems, dim, out)],
  [`\`Bpr.scoreAll\` (known user; ${scoreBackend()})`, () => bpr.scoreAll(u++ % nUsers, out)],
  ['`Bpr.scoreAll` + top-10', () => topK(bpr.scoreAll(u++ % nUsers, out), 10)],
  ['`Bpr.scoreAll` + `topK` 30 with a 50-item mask (the server\'s pool before)', () => topK(bpr.scoreAll(u++ % nUsers, out), 30, mask)],
  ['`Bpr.scoreAll` + `selectPool` 30, same mask (the server\'s pool now)', () => selectPool(bpr.scoreAll(u++ % nUsers, out), 30, mask)],
];
const times = timeAll(variants.map((v) => v[1]));
const rows = variants.map(([name], v) => [name, times[v]![0], times[v]![1]] as const);
const base = rows[0]![1];
process.stdout.write(
  [
    `Scoring ${nItems} items × ${dim} dims for one user (node ${process.version}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')})`,
    '',
    '| variant | ms per call (median) | best round | users/s per core (median) | speed-up vs plain (median) |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map(([name, ms, best]) => `| ${name} | ${ms.toFixed(3)} | ${best.toFixed(3)} | ${(1000 / ms).toFixed(0)} | ${(base / ms).toFixed(2)}× |`),
    '',
  ].join('\n'),
);
