import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readInteractions } from '../../src/data/read-interactions.js';
import { saveDataset } from '../../src/data/snapshot.js';
import { loadAnyData, positiveThreshold } from '../../src/eval/any-data.js';
import { runProtocol } from '../../src/eval/protocol.js';
import { ConfigError, DataError } from '../../src/errors.js';
import { Rng } from '../../src/util/rng.js';
import { tempDir, writeTinyMovieLens } from '../cli/helpers.js';

const ML = resolve(process.cwd(), '../shared/datasets/ml-latest-small');
const LASTFM = resolve(process.cwd(), '../shared/datasets/hetrec2011-lastfm-2k');

/** A CSV with string ids and no timestamp column: `users` users × 12–20 items each, popularity-skewed. */
function writeStringIdCsv(path: string, users = 40, items = 80, seed = 3): void {
  const rng = new Rng(seed);
  const lines = ['customer,product,score'];
  for (let u = 0; u < users; u++) {
    const n = 12 + rng.int(9);
    const seen = new Set<number>();
    while (seen.size < n) seen.add(Math.floor(items * rng.next() ** 2));
    for (const i of seen) lines.push(`cust-${u.toString(36)},sku_${i}X,${1 + rng.int(10)}`);
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}

const csvOptions = { columns: { user: 'customer', item: 'product', value: 'score' } };

describe('any-data protocols', () => {
  it('t20 on ml-latest-small gives exactly P1 (ml-ls-t20) figures, stamped with the data\'s own name', async () => {
    const base = { model: 'popularity', dataDir: ML, bootstrap: 0, perUser: false };
    for (const [variant, p1Variant] of [['all', 'all'], ['pos', 'pos4']] as const) {
      const p1 = await runProtocol({ ...base, protocol: 'ml-ls-t20', variant: p1Variant });
      const t20 = await runProtocol({ ...base, protocol: 't20', variant });
      expect(t20.protocol).toBe('t20');
      expect(t20.split).toEqual(p1.split);
      expect(t20.metrics).toEqual(p1.metrics);
      expect(t20.stamp.dataset.sha256).toBe(p1.stamp.dataset.sha256);
      expect(t20.stamp.dataset.name).toBe('ml-latest-small');
      expect(t20.data!.valueScale).toEqual({ lo: 0.5, hi: 5, source: 'data' });
    }
  });

  it('t20 on a CSV with string ids and no timestamps falls back to a seeded random20 and says so', async () => {
    const dir = tempDir();
    const file = join(dir, 'shop.csv');
    writeStringIdCsv(file);
    const run = (seed: number) => runProtocol({ protocol: 't20', model: 'itemknn', dataDir: file, readOptions: csvOptions, seed, bootstrap: 50 });
    const a = await run(1);
    expect(a.protocol).toBe('random20');
    expect(a.note).toMatch(/no timestamp.*random20 \(seed 1\)/);
    expect(a.stamp.dataset.name).toBe('shop');
    expect(a.stamp.dataset.file).toBe(file);
    expect(a.data!.timestamped).toBe(0);
    expect(a.perUserIds!.every((u) => u.startsWith('cust-'))).toBe(true);
    // Each user's floor(20 %) goes to test.
    const ds = (await loadAnyData(file, csvOptions)).dataset;
    const expectedTest = Array.from(ds.userCounts()).reduce((s, n) => s + Math.floor(0.2 * n + 1e-9), 0);
    expect(a.split.test).toBe(expectedTest);
    // Same seed, same numbers; another seed, another split.
    expect((await run(1)).metrics).toEqual(a.metrics);
    expect((await run(2)).metrics['ndcg@10']).not.toBe(a.metrics['ndcg@10']);
  });

  it('last-n holds out each user\'s last n by time and time-cut puts every test row after every train row', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir, 25, 50, 7);
    const lastN = await runProtocol({ protocol: 'last-n', model: 'popularity', dataDir: dir, splitParams: { n: 2 }, bootstrap: 0 });
    const ds = (await loadAnyData(dir)).dataset;
    expect(lastN.split.test).toBe(Array.from(ds.userCounts()).reduce((s, n) => s + Math.min(2, n - 1), 0));
    const cut = await runProtocol({ protocol: 'time-cut', model: 'popularity', dataDir: dir, bootstrap: 0 });
    // The default cut is the time below which 80 % of the rows fall.
    expect(cut.split.test / ds.nInteractions).toBeGreaterThan(0.15);
    expect(cut.split.test / ds.nInteractions).toBeLessThan(0.25);
    const ts = Float64Array.from(ds.interactions.timestamp).sort();
    const at = ts[Math.floor(ts.length * 0.9)]!;
    const fixed = await runProtocol({ protocol: 'time-cut', model: 'popularity', dataDir: dir, splitParams: { cut: at }, bootstrap: 0 });
    expect(fixed.split.test).toBe(Array.from(ts).filter((t) => t >= at).length);
  });

  it('time-order protocols refuse data without timestamps, naming the field', async () => {
    const dir = tempDir();
    const file = join(dir, 'shop.csv');
    writeStringIdCsv(file);
    const err = await runProtocol({ protocol: 'last-n', model: 'popularity', dataDir: file, readOptions: csvOptions }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).message).toMatch(/no timestamp; use --protocol random20/);
  });

  it('variant pos keeps the top quarter of the value scale; implicit data has none', async () => {
    const dir = tempDir();
    const file = join(dir, 'shop.csv');
    writeStringIdCsv(file); // scores 1–10
    const data = await loadAnyData(file, csvOptions);
    expect(data.summary.valueScale).toEqual({ lo: 1, hi: 10, source: 'data' });
    expect(positiveThreshold(data.summary.valueScale!)).toBe(7.75);
    const pos = await runProtocol({ protocol: 'random20', variant: 'pos', model: 'popularity', dataDir: file, readOptions: csvOptions, bootstrap: 0 });
    const kept = Array.from(data.dataset.interactions.value).filter((v) => v >= 7.75).length;
    expect(pos.split.train + pos.split.test).toBe(kept);
    // A declared range wins over the observed one.
    const declared = await loadAnyData(file, { ...csvOptions, valueRange: [0, 10] });
    expect(declared.summary.valueScale).toEqual({ lo: 0, hi: 10, source: 'declared' });

    const implicit = join(dir, 'clicks.csv');
    writeFileSync(implicit, 'user,item\na,x\na,y\nb,x\nb,z\nc,y\nc,z\n');
    const err = await runProtocol({ protocol: 'random20', variant: 'pos', model: 'popularity', dataDir: implicit }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/no rating scale/);
  });

  it('runs on a dataset snapshot, stamped with the snapshot file', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir, 20, 40, 5);
    const { dataset } = await readInteractions(join(dir, 'ratings.csv'));
    const snap = join(dir, 'data.chorus');
    await saveDataset(dataset, snap);
    const r = await runProtocol({ protocol: 't20', model: 'popularity', dataDir: snap, bootstrap: 0 });
    const direct = await runProtocol({ protocol: 't20', model: 'popularity', dataDir: join(dir, 'ratings.csv'), bootstrap: 0 });
    expect(r.protocol).toBe('t20');
    expect(r.metrics).toEqual(direct.metrics);
    expect(r.data!.format).toBe('snapshot');
    expect(r.stamp.dataset.file).toBe(snap);
    expect(r.stamp.dataset.sha256).not.toBe(direct.stamp.dataset.sha256);
  });

  it('runs on the HetRec Last.fm folder (play counts, no timestamps): random20, no value scale', async () => {
    const r = await runProtocol({ protocol: 't20', model: 'popularity', dataDir: LASTFM, bootstrap: 0, perUser: false });
    expect(r.protocol).toBe('random20');
    expect(r.stamp.dataset.name).toBe('hetrec2011-lastfm-2k');
    expect(r.data!.valueScale).toBeNull();
    expect(r.split.train + r.split.test).toBe(92834);
    expect(r.metrics['ndcg@10']!).toBeGreaterThan(0.05);
  });

  it('validation split cuts from train by the same rule and never touches test', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir, 25, 50, 9);
    const test = await runProtocol({ protocol: 't20', model: 'popularity', dataDir: dir, bootstrap: 0 });
    const val = await runProtocol({ protocol: 't20', model: 'popularity', dataDir: dir, bootstrap: 0, split: 'validation' });
    expect(val.protocol).toBe('t20/validation');
    expect(val.split.train + val.split.test).toBe(test.split.train);
  });
});
