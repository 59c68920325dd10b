import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dropWarning, loadDataDir, observeValues, readInteractions, saveDataset, valueScale, formatCleaningReport } from '../../src/data/index.js';
import { SHARED, tempDir, tempFile } from './helpers.js';

/** A MovieLens-format folder rated 0–10: 40 ratings, 0, 1, …, 9, 10 in turn. */
function movieLens010(): string {
  const dir = join(tempDir(), 'ml-010');
  mkdirSync(dir);
  const lines = ['userId,movieId,rating,timestamp'];
  for (let k = 0; k < 40; k++) lines.push(`${1 + (k % 4)},${10 + k},${k % 11},${1000 + k}`);
  writeFileSync(join(dir, 'ratings.csv'), `${lines.join('\n')}\n`);
  return dir;
}

describe('the value scale', () => {
  it('is read from the data: a MovieLens folder rated 0–10 keeps its ratings above 5', async () => {
    const r = await loadDataDir(movieLens010());
    expect(r.dataset.nInteractions).toBe(40);
    expect(r.report.rowsDropped).toBe(0);
    expect(r.report.valueScale).toEqual({ lo: 0, hi: 10, source: 'standard', min: 0, max: 10 });
    expect(r.report.valueRange).toEqual([0, 10]);
    expect(r.warning).toBeUndefined();
  });

  it('snaps to the format scale first, then the tightest usual one, else the observed range', () => {
    const obs = (...v: number[]) => observeValues(Float32Array.from(v));
    expect(valueScale(obs(1, 4.5), undefined, [0.5, 5])).toMatchObject({ lo: 0.5, hi: 5, source: 'standard' });
    expect(valueScale(obs(1, 4, 5))).toMatchObject({ lo: 1, hi: 5, source: 'standard' });
    expect(valueScale(obs(0.5, 3))).toMatchObject({ lo: 0.5, hi: 5 });
    expect(valueScale(obs(2, 7))).toMatchObject({ lo: 1, hi: 10 });
    expect(valueScale(obs(0, 55))).toMatchObject({ lo: 0, hi: 100 });
    expect(valueScale(obs(0.12, 0.93))).toMatchObject({ lo: 0, hi: 1, source: 'standard' });
    // Play counts fit no rating scale; 2.7 is off the half-star grid.
    expect(valueScale(obs(1, 352698))).toMatchObject({ lo: 1, hi: 352698, source: 'observed' });
    expect(valueScale(obs(1, 2.7))).toMatchObject({ lo: 1, hi: 2.7, source: 'observed' });
    expect(valueScale(obs(3, 7), [1, 5])).toEqual({ lo: 1, hi: 5, source: 'declared', min: 3, max: 7 });
  });

  it('a declared range drops what falls outside it, loudly', async () => {
    const r = await loadDataDir(movieLens010(), { valueRange: [0.5, 5] });
    // 0 and 6–10 are outside: 4 + 5 · (40/11 rounded per value) rows
    const outside = Array.from({ length: 40 }, (_, k) => k % 11).filter((v) => v < 0.5 || v > 5).length;
    expect(r.report.rowsDropped).toBe(outside);
    expect(r.report.valueScale).toMatchObject({ lo: 0.5, hi: 5, source: 'declared' });
    const warning = r.warning!;
    expect(r.report.warning).toBe(warning);
    const lines = warning.split('\n');
    expect(lines[0]).toBe(
      `WARNING: ${join(r.report.file)}: ${outside} of 40 rows (${Math.round((100 * outside) / 40)} %) were dropped, more than the 2 % warning threshold.`,
    );
    expect(lines[1]).toMatch(new RegExp(`^  out-of-range: ${outside} dropped \\(outside \\[0\\.5, 5\\]\\) at .*ratings\\.csv:2, `));
    expect(lines[2]).toContain('--value-range');
  });

  it('is kept in a snapshot and reported when the snapshot is loaded', async () => {
    const r = await loadDataDir(movieLens010());
    const snap = join(tempDir(), 'ml.chorus-dataset');
    await saveDataset(r.dataset, snap);
    const back = await loadDataDir(snap);
    expect(back.report.valueScale).toEqual(r.report.valueScale);
    expect(back.report.valueRange).toEqual([0, 10]);
  });

  it('is absent for implicit data (no value column)', async () => {
    const p = tempFile('clicks.csv', 'user,item\na,x\nb,y\n');
    const { report } = await readInteractions(p);
    expect(report.valueScale).toBeUndefined();
    expect(report.columns?.value).toBeNull();
  });

  it('ml-latest-small reads on its own 0.5–5 scale', async () => {
    const { report } = await loadDataDir(join(SHARED, 'ml-latest-small'), { metadata: false });
    expect(report.valueScale).toEqual({ lo: 0.5, hi: 5, source: 'standard', min: 0.5, max: 5 });
  });

  it('Last.fm play counts have an observed scale and no rating range', async () => {
    const { report } = await loadDataDir(join(SHARED, 'hetrec2011-lastfm-2k'), { metadata: false });
    expect(report.valueScale).toMatchObject({ source: 'observed', lo: 1, hi: 352698 });
    expect(report.valueRange).toBeUndefined();
  });
});

describe('the drop warning', () => {
  const ratings = (bad: number, good = 100) => {
    const lines = ['userId,movieId,rating,timestamp'];
    for (let k = 0; k < good; k++) lines.push(`1,${k},4,${k}`);
    for (let k = 0; k < bad; k++) lines.push(`2,${k},,${k}`);
    return tempFile('ratings.csv', lines.join('\n'));
  };

  it('stays quiet at or below the threshold and speaks above it', async () => {
    const quiet = await readInteractions(ratings(2, 98)); // 2 of 100 = 2 %
    expect(quiet.warning).toBeUndefined();
    expect(quiet.report.warning).toBeUndefined();
    const loud = await readInteractions(ratings(3, 97)); // 3 %
    expect(loud.warning).toContain('3 of 100 rows (3.0 %) were dropped');
    expect(loud.warning).toContain('missing-value: 3 dropped (row dropped)');
    expect(loud.warning).toContain('--missing mean, median or constant');
  });

  it('the threshold is an option', async () => {
    const r = await readInteractions(ratings(3, 97), { dropWarning: 0.05 });
    expect(r.warning).toBeUndefined();
    expect(dropWarning(r.report, 0.01)).toContain('more than the 1 % warning threshold');
  });

  it('lists at most the top three reasons, largest first', async () => {
    const lines = ['user,item,rating,timestamp', 'a,1,1,1'];
    for (let k = 0; k < 4; k++) lines.push(`a,${k + 10},,${k}`); // missing value
    for (let k = 0; k < 3; k++) lines.push(`,${k + 20},1,${k}`); // missing id
    for (let k = 0; k < 2; k++) lines.push(`a,${k + 30},9,${k}`); // out of range
    lines.push('a,1,2,9'); // duplicate
    const r = await readInteractions(tempFile('x.csv', lines.join('\n')), { valueRange: [1, 5] });
    const reasons = r.warning!.split('\n').filter((l) => /^ {2}\S/.test(l)).map((l) => l.trim().split(':')[0]);
    expect(reasons).toEqual(['missing-value', 'missing-id', 'out-of-range']);
  });
});

describe('the column mapping used', () => {
  it('names each column and how it was chosen', async () => {
    const preset = await loadDataDir(join(SHARED, 'ml-latest-small'), { metadata: false });
    expect(preset.report.columns).toEqual({
      user: { column: 'userId', index: 0, source: 'preset' },
      item: { column: 'movieId', index: 1, source: 'preset' },
      value: { column: 'rating', index: 2, source: 'preset' },
      timestamp: { column: 'timestamp', index: 3, source: 'preset' },
      eventType: null,
    });
    const p = tempFile('events.csv', 'visitorid,sku,qty,event\na,x,2,view\n');
    const guessed = await readInteractions(p, { columns: { item: 'sku', value: 'qty' } });
    expect(guessed.report.columns).toEqual({
      user: { column: 'visitorid', index: 0, source: 'header' },
      item: { column: 'sku', index: 1, source: 'given' },
      value: { column: 'qty', index: 2, source: 'given' },
      timestamp: null,
      eventType: { column: 'event', index: 3, source: 'header' },
    });
    const q = tempFile('plain.tsv', 'a\tx\t3\n');
    expect((await readInteractions(q)).report.columns).toMatchObject({ user: { column: 'column 1', source: 'position' }, value: { column: 'column 3' } });
    const j = tempFile('log.jsonl', '{"uid":"a","item":{"id":"x"},"rating":3}\n');
    expect((await readInteractions(j, { columns: { item: 'item.id' } })).report.columns).toEqual({
      user: { column: 'uid', source: 'header' },
      item: { column: 'item.id', source: 'given' },
      value: { column: 'rating', source: 'header' },
      timestamp: null,
      eventType: null,
    });
  });

  it('is printed with the cleaning report', async () => {
    const { report } = await loadDataDir(movieLens010());
    const text = formatCleaningReport(report);
    expect(text).toContain('  columns: user ← userId (preset), item ← movieId (preset), value ← rating (preset), timestamp ← timestamp (preset), eventType: none');
    expect(text).toContain('  values: scale 0–10 (read from the data, a standard scale; observed 0–10)');
  });
});
