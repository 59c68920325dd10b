import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from './helpers.js';

/** A MovieLens-format folder rated 0–10 (ratings 0, 1, …, 10 in turn, 44 rows). */
function movieLens010(): string {
  const dir = join(tempDir(), 'ml-010');
  mkdirSync(dir);
  const lines = ['userId,movieId,rating,timestamp'];
  for (let k = 0; k < 44; k++) lines.push(`${1 + (k % 4)},${10 + k},${k % 11},${1000 + k}`);
  writeFileSync(join(dir, 'ratings.csv'), `${lines.join('\n')}\n`);
  return dir;
}

interface ImportJson {
  dataset: { interactions: number };
  columns: Record<string, { column: string; source: string } | null>;
  valueScale: { lo: number; hi: number; source: string } | null;
  warnings: string[];
  report: { rowsDropped: number; warning?: string };
}

describe('chorus import: value scale, column mapping and drop warning', () => {
  it('reads a 0–10 MovieLens folder on its own scale and reports the mapping it used', async () => {
    const dir = movieLens010();
    const r = await runCli(['import', dir, '--out', join(dir, 'x.ds'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as ImportJson;
    expect(doc.dataset.interactions).toBe(44);
    expect(doc.valueScale).toMatchObject({ lo: 0, hi: 10, source: 'standard' });
    expect(doc.columns.user).toEqual({ column: 'userId', index: 0, source: 'preset' });
    expect(doc.columns.eventType).toBeNull();
    expect(doc.warnings).toEqual([]);
    expect(r.stderr).not.toContain('WARNING');

    const human = await runCli(['import', dir, '--out', join(dir, 'x.ds')]);
    expect(human.stdout).toContain('columns: user ← userId (preset), item ← movieId (preset), value ← rating (preset)');
    expect(human.stdout).toContain('values: scale 0–10');
  });

  it('--value-range declares the scale; many rows outside it warn loudly on stderr and in --json', async () => {
    const dir = movieLens010();
    const r = await runCli(['import', dir, '--value-range', '1,5', '--out', join(dir, 'x.ds'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as ImportJson;
    // 0 and 6–10 fall outside [1, 5]: 6 of every 11 rows.
    expect(doc.report.rowsDropped).toBe(24);
    expect(doc.valueScale).toMatchObject({ lo: 1, hi: 5, source: 'declared' });
    expect(doc.warnings).toHaveLength(1);
    expect(doc.report.warning).toBe(doc.warnings[0]);
    const stderr = r.stderr.trim().split('\n');
    expect(stderr.length).toBeGreaterThanOrEqual(3);
    expect(stderr[0]).toBe(`WARNING: ${join(dir, 'ratings.csv')}: 24 of 44 rows (55 %) were dropped, more than the 2 % warning threshold.`);
    expect(stderr[1]).toMatch(/^ {2}out-of-range: 24 dropped \(outside \[1, 5\]\) at /);

    const quiet = await runCli(['import', dir, '--value-range', '1,5', '--drop-warning', '60', '--out', join(dir, 'x.ds'), '--json']);
    expect((JSON.parse(quiet.stdout) as ImportJson).warnings).toEqual([]);
    expect(quiet.stderr).toBe('');
  });

  it('a bad --value-range names the flag', async () => {
    for (const v of ['5,1', '1', 'a,b']) {
      const r = await runCli(['import', movieLens010(), '--value-range', v]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('field "value-range"');
    }
  });
});

describe('chorus import: edge inputs', () => {
  it('a header-only file is an error naming the file', async () => {
    const dir = tempDir();
    const file = join(dir, 'ratings.csv');
    writeFileSync(file, 'userId,movieId,rating,timestamp\n');
    const r = await runCli(['import', file, '--out', join(dir, 'x.ds')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual([`chorus: ${file}: no data rows: the file has a header line and nothing after it [E_DATA]`]);
  });

  it('CR-only line endings are read as line breaks', async () => {
    const dir = tempDir();
    const file = join(dir, 'ratings.csv');
    writeFileSync(file, 'userId,movieId,rating,timestamp\r1,10,4,100\r1,20,3,101\r2,10,5,102\r');
    const r = await runCli(['import', file, '--out', join(dir, 'x.ds'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as ImportJson).dataset.interactions).toBe(3);
  });

  it('invalid UTF-8 is an error naming file:line:column and byte offset; --encoding latin1 reads it', async () => {
    const dir = tempDir();
    const file = join(dir, 'events.csv');
    writeFileSync(file, Buffer.concat([Buffer.from('user,item,rating\nu1,'), Buffer.from([0x63, 0xe9]), Buffer.from(',3\n')]));
    const r = await runCli(['import', file, '--out', join(dir, 'x.ds')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${file}:2:5: not valid UTF-8: invalid byte sequence at byte offset 21 (byte 0xe9)`);
    const latin = await runCli(['import', file, '--encoding', 'latin1', '--out', join(dir, 'x.ds'), '--json']);
    expect(latin.code, latin.stderr).toBe(0);
  });
});
