/** `chorus evaluate` on data other than ml-latest-small: the t20 contract, value scales and loud drops. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCut } from '../../src/cli/commands/evaluate.js';
import { runCli, tempDir, writeTinyMovieLens } from './helpers.js';

const P1_KEYS = ['protocol', 'variant', 'model', 'k', 'seed', 'metrics', 'intervals', 'fitSeconds', 'evalSeconds', 'users', 'candidates', 'hyperparameters', 'split', 'stamp'];

/** A MovieLens-format folder whose ratings are doubled: a 1–10 scale. */
function writeTenStarMovieLens(dir: string): void {
  writeTinyMovieLens(dir, 30, 60, 11);
  const path = join(dir, 'ratings.csv');
  const [head, ...rows] = readFileSync(path, 'utf8').trim().split('\n');
  writeFileSync(path, `${[head, ...rows.map((r) => r.split(',').map((f, j) => (j === 2 ? String(Number(f) * 2) : f)).join(','))].join('\n')}\n`);
}

describe('chorus evaluate on any data', () => {
  it('a 0–10 MovieLens-format folder keeps every rating; pos keeps the top quarter of its scale', async () => {
    const dir = tempDir();
    writeTenStarMovieLens(dir);
    const rows = readFileSync(join(dir, 'ratings.csv'), 'utf8').trim().split('\n').slice(1);
    const values = rows.map((r) => Number(r.split(',')[2]));
    expect(Math.max(...values)).toBeGreaterThan(5);
    const all = await runCli(['evaluate', '--protocol', 't20', '--data', dir, '--model', 'popularity', '--json', '--bootstrap', '0']);
    expect(all.code).toBe(0);
    const a = JSON.parse(all.stdout);
    expect(a.split.train + a.split.test).toBe(rows.length); // nothing above 5 lost
    expect(a.data.rowsDropped).toBe(0);
    expect(a.data.valueScale.hi).toBe(10);
    const pos = JSON.parse((await runCli(['evaluate', '--protocol', 't20', '--variant', 'pos', '--data', dir, '--model', 'popularity', '--json', '--bootstrap', '0'])).stdout);
    const lo = a.data.valueScale.lo;
    const threshold = lo + 0.75 * (10 - lo);
    expect(pos.split.train + pos.split.test).toBe(values.filter((v) => v >= threshold).length);
  });

  it('a CSV with string ids and no timestamps: the default protocol is t20, run as random20, with P1\'s JSON keys', async () => {
    const dir = tempDir();
    const file = join(dir, 'orders.csv');
    const lines = ['customer,sku,qty'];
    for (let u = 0; u < 40; u++) for (let j = 0; j < 12; j++) lines.push(`c${u},sku-${(u * 7 + j * j) % 50},${1 + ((u + j) % 3)}`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    const r = await runCli(['evaluate', '--data', file, '--columns', 'user=customer,item=sku,value=qty', '--model', 'itemknn', '--json', '--bootstrap', '20']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    for (const k of P1_KEYS) expect(j).toHaveProperty(k);
    expect(j.protocol).toBe('random20');
    expect(j.stamp.dataset.name).toBe('orders');
    expect(j.stamp.dataset.file).toBe(file);
    expect(j.metrics['ndcg@10']).toBeGreaterThan(0);
    // The human output names the data too.
    const human = await runCli(['evaluate', '--data', file, '--columns', 'user=customer,item=sku,value=qty', '--model', 'popularity', '--bootstrap', '0']);
    expect(human.stdout).toMatch(/data orders .*orders\.csv sha256:[0-9a-f]{12}/);
  });

  it('an import that drops many rows says so on stderr and in --json', async () => {
    const dir = tempDir();
    const file = join(dir, 'ratings.csv');
    const lines = ['user,item,rating,timestamp'];
    for (let u = 0; u < 20; u++) for (let j = 0; j < 10; j++) lines.push(`${u},${j + u},${j < 2 ? 9 : 4},${1000 + j}`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    // Declared 1–5: the 9s (20 %) are out of range and dropped.
    const r = await runCli(['evaluate', '--protocol', 't20', '--data', file, '--value-range', '1,5', '--model', 'popularity', '--json', '--bootstrap', '0']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.data.rowsDropped).toBe(40);
    expect(j.data.warning).toMatch(/WARNING/);
    expect(r.stderr).toMatch(/WARNING/);
    expect(r.stderr).toContain(file);
    expect(j.data.valueScale).toEqual({ lo: 1, hi: 5, source: 'declared' });
  });

  it('ml-ls-t20 on other data points at t20', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'x.csv'), 'user,item\na,b\n');
    const r = await runCli(['evaluate', '--protocol', 'ml-ls-t20', '--data', dir, '--model', 'popularity']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--protocol t20/);
  });

  it('refuses split and read flags on P1, which would ignore them', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir, 20, 40, 3);
    for (const extra of [['--test-ratio', '0.5'], ['--value-range', '1,5']]) {
      const r = await runCli(['evaluate', '--protocol', 'ml-ls-t20', '--data', dir, '--model', 'popularity', ...extra]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`${extra[0]} applies to the any-data protocols`);
    }
  });

  it('--cut takes Unix seconds or a date', () => {
    expect(parseCut('1000')).toBe(1000);
    expect(parseCut('2018-01-01T00:00:00Z')).toBe(1514764800);
    expect(() => parseCut('soon')).toThrow(/expected Unix seconds or an ISO date/);
  });
});
