/**
 * Cost of the SQLite store's group commit as the decision log grows, for random (v4 UUID) and
 * time-ordered (v7, src/serve/event-id.ts) event ids. No HTTP: 16 decisions per commit (as from 16
 * connections), each ≈ 2 KiB like a LinUCB slate, synchronous=FULL, commits on this thread
 * (writer=inline) so that the timings are the event-loop stall the server used to see.
 *
 *   node --import tsx bench/store-commit.ts [--rows 500000] [--step 250000] [--commits 1500]
 *
 * For each log size: commit time (mean, p50, p99), and the bytes the process wrote and read per
 * commit (/proc/self/io wchar, rchar: WAL appends, checkpoints, page reads). Bytes do not depend
 * on other load on the machine; times do.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { newEventId } from '../src/serve/event-id.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { DecisionRecord } from '../src/store/types.js';
import { Rng } from '../src/util/rng.js';
import { numArg as arg } from './args.js';

const rows = arg('rows', 500_000);
const step = arg('step', 250_000);
const commits = arg('commits', 1500);

function io(): { wchar: number; rchar: number } {
  const kv = Object.fromEntries(
    readFileSync('/proc/self/io', 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(': ') as [string, string]),
  );
  return { wchar: Number(kv.wchar), rchar: Number(kv.rchar) };
}

interface Row {
  ids: string;
  rows: number;
  mean: number;
  p50: number;
  p99: number;
  writeKiB: number;
  readKiB: number;
}

async function series(ids: 'v4' | 'v7'): Promise<Row[]> {
  const rng = new Rng(11);
  // A slate's payload: 10 feature rows of 12 numbers, mostly non-zero floats (≈ 2 KiB as JSON).
  const payload = { c: [1, 0, -1, 0, 0, 0], f: Array.from({ length: 10 }, () => Array.from({ length: 12 }, () => (rng.next() < 0.3 ? 0 : rng.next()))) };
  let n = 0;
  const decision = (): DecisionRecord => ({
    id: ids === 'v4' ? randomUUID() : newEventId(),
    ts: Date.now(),
    user: `u${n++ % 2000}`,
    kind: 'recommend',
    items: Array.from({ length: 10 }, (_, i) => `i${(n * 7 + i * 13) % 10_000}`),
    propensities: Array(10).fill(0.9033333333333333),
    scores: Array(10).fill(0.7520245412799533),
    snapshotId: '20261202T181101-11366a24',
    activated: true,
    payload,
  });
  const dir = mkdtempSync(join(tmpdir(), 'chorus-commit-'));
  const s = new SqliteStore(join(dir, 'b.db'), { writer: 'inline' });
  const out: Row[] = [];
  try {
    let filled = 0;
    for (;;) {
      const times: number[] = [];
      const io0 = io();
      for (let c = 0; c < commits; c++) {
        const t = performance.now();
        await Promise.all(Array.from({ length: 16 }, () => s.events.appendDecision(decision())));
        times.push(performance.now() - t);
      }
      const io1 = io();
      times.sort((a, b) => a - b);
      out.push({
        ids,
        rows: filled,
        mean: times.reduce((a, b) => a + b, 0) / times.length,
        p50: times[Math.floor(times.length * 0.5)]!,
        p99: times[Math.floor(times.length * 0.99)]!,
        writeKiB: (io1.wchar - io0.wchar) / commits / 1024,
        readKiB: (io1.rchar - io0.rchar) / commits / 1024,
      });
      process.stderr.write(`${ids} ${filled} rows done\n`);
      if (filled >= rows) break;
      // Fill to the next size fast: 20,000 rows per commit.
      for (let k = 0; k < step; k += 20_000) await Promise.all(Array.from({ length: Math.min(20_000, step - k) }, () => s.events.appendDecision(decision())));
      filled += step;
    }
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

const load0 = loadavg();
const result = [...(await series('v4')), ...(await series('v7'))];
const load1 = loadavg();
console.log(`Command: \`node --import tsx bench/store-commit.ts --rows ${rows} --step ${step} --commits ${commits}\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}.`);
console.log('');
console.log('| event ids | rows in the log before | commit mean ms | p50 ms | p99 ms | written per commit KiB | read per commit KiB |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of result) {
  console.log(`| ${r.ids === 'v4' ? 'random (v4)' : 'time-ordered (v7)'} | ${r.rows} | ${r.mean.toFixed(2)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.writeKiB.toFixed(0)} | ${r.readKiB.toFixed(0)} |`);
}
