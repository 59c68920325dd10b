/**
 * Scale check for the streaming reader: writes a MovieLens-format file of CHORUS_SCALE_ROWS rows
 * (default 2,000,000; docs/benchmarks.md records a 25,000,000-row run) and loads it. Asserts
 * correctness only (row count, sums, CSR shape); the timings it prints are for the benchmark
 * page, not assertions.
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readInteractions } from '../../src/data/index.js';

const N = Number(process.env.CHORUS_SCALE_ROWS ?? 2_000_000);
const dir = mkdtempSync(join(tmpdir(), 'chorus-scale-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Row k: user k/150, item from an LCG (so some (user, item) pairs repeat), rating and time from it too. */
async function writeFile(path: string): Promise<{ sumRating: number }> {
  const ws = createWriteStream(path);
  ws.write('userId,movieId,rating,timestamp\r\n');
  let s = 12345;
  let buf = '';
  let sumRating = 0;
  for (let k = 0; k < N; k++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const rating = ((s >>> 8) % 10) / 2 + 0.5;
    sumRating += rating;
    buf += `${Math.floor(k / 150)},${s % 60000},${rating.toFixed(1)},${1_000_000_000 + (s % 100_000_000)}\r\n`;
    if (buf.length > 1 << 20) {
      if (!ws.write(buf)) await new Promise<void>((r) => ws.once('drain', () => r()));
      buf = '';
    }
  }
  ws.end(buf);
  await new Promise<void>((r) => ws.on('finish', () => r()));
  return { sumRating };
}

describe(`streaming load of ${N.toLocaleString('en')} rows`, () => {
  it('loads every row, with duplicates counted, and builds both CSR views', { timeout: 1_800_000 }, async () => {
    const path = join(dir, 'ratings.csv');
    const { sumRating } = await writeFile(path);
    const t0 = performance.now();
    const { dataset, report } = await readInteractions(path, { duplicates: 'keep' });
    const t1 = performance.now();
    const byUser = dataset.byUser();
    const t2 = performance.now();
    const byItem = dataset.byItem();
    const t3 = performance.now();
    expect(report).toMatchObject({ rowsRead: N, rowsKept: N, rowsDropped: 0 });
    expect(dataset.nUsers).toBe(Math.ceil(N / 150));
    let sum = 0;
    for (const v of dataset.interactions.value) sum += v;
    expect(sum).toBeCloseTo(sumRating, 0);
    expect(byUser.indptr[dataset.nUsers]).toBe(N);
    expect(byItem.indptr[dataset.nItems]).toBe(N);
    const dedup = await readInteractions(path, { duplicates: 'last' });
    const t4 = performance.now();
    expect(dedup.report.rowsKept + dedup.report.rowsDropped).toBe(N);
    const mem = process.memoryUsage();
    console.log(
      JSON.stringify({
        rows: N,
        loadS: +((t1 - t0) / 1000).toFixed(2),
        byUserS: +((t2 - t1) / 1000).toFixed(2),
        byItemS: +((t3 - t2) / 1000).toFixed(2),
        loadWithDedupS: +((t4 - t3) / 1000).toFixed(2),
        duplicates: dedup.report.rowsDropped,
        rssMiB: Math.round(mem.rss / 2 ** 20),
        loadavg: (await import('node:os')).loadavg().map((x) => +x.toFixed(2)),
      }),
    );
  });
});
