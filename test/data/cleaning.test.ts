import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/errors.js';
import { formatCleaningReport, readInteractions, type ReadOptions } from '../../src/data/index.js';
import { rows, tempFile } from './helpers.js';

// Line numbers below count the header as line 1.
const DUPS = [
  'userId,movieId,rating,timestamp',
  '1,10,4.0,100', // 2
  '1,20,3.0,101', // 3
  '1,10,2.0,300', // 4  duplicate of line 2
  '2,10,5.0,102', // 5
  '1,10,1.0,200', // 6  duplicate of lines 2 and 4
  '2,30,1.5,103', // 7
].join('\n');

async function read(content: string, options: ReadOptions, name = 'ratings.csv') {
  const p = tempFile(name, content);
  return { p, ...(await readInteractions(p, options)) };
}

describe('duplicates', () => {
  it('last keeps the last in file order, and reports the others', async () => {
    const { p, dataset, report } = await read(DUPS, { duplicates: 'last' });
    expect(rows(dataset)).toEqual([
      ['1', '20', 3, 101],
      ['2', '10', 5, 102],
      ['1', '10', 1, 200],
      ['2', '30', 1.5, 103],
    ]);
    expect(report).toMatchObject({ rowsRead: 6, rowsKept: 4, rowsDropped: 2, rowsRepaired: 0 });
    expect(report.issues).toEqual([
      { kind: 'duplicate', action: 'dropped', count: 2, examples: [`${p}:2`, `${p}:4`], detail: 'repeated (user, item): kept the last' },
    ]);
  });

  it('first keeps the first', async () => {
    const { p, dataset, report } = await read(DUPS, { duplicates: 'first' });
    expect(rows(dataset).filter((r) => r[0] === '1' && r[1] === '10')).toEqual([['1', '10', 4, 100]]);
    expect(report.issues[0]).toMatchObject({ kind: 'duplicate', action: 'dropped', count: 2, examples: [`${p}:4`, `${p}:6`] });
  });

  it('sum adds values into the first and keeps the latest timestamp', async () => {
    const { p, dataset, report } = await read(DUPS, { duplicates: 'sum', valueRange: [0, 10] });
    expect(rows(dataset)[0]).toEqual(['1', '10', 7, 300]);
    expect(dataset.nInteractions).toBe(4);
    expect(report.issues[0]).toMatchObject({ kind: 'duplicate', action: 'merged', count: 2, examples: [`${p}:4`, `${p}:6`] });
    expect(report.rowsDropped).toBe(2);
  });

  it('keep leaves every row; error stops at the second occurrence', async () => {
    const kept = await read(DUPS, { duplicates: 'keep' });
    expect(kept.dataset.nInteractions).toBe(6);
    expect(kept.report.issues).toEqual([]);
    const p = tempFile('ratings.csv', DUPS);
    const err = await readInteractions(p, { duplicates: 'error' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).location).toMatchObject({ file: p, line: 4 });
    expect((err as DataError).message).toContain('first at line 2');
  });

  it('rows that differ only in event type are not duplicates', async () => {
    const { dataset, report } = await read('user,item,event\na,x,view\na,x,buy\na,x,view\n', { duplicates: 'first' }, 'log.csv');
    expect(dataset.nInteractions).toBe(2);
    expect(Array.from(dataset.interactions.eventType)).toEqual([0, 1]);
    expect(report.issues[0]).toMatchObject({ kind: 'duplicate', count: 1 });
  });
});

const MISSING = ['userId,movieId,rating,timestamp', '1,10,4.0,1', '1,20,,2', '2,10,1.0,3', '2,20,2.5,4', '3,10,,5', '3,30,5.0,6'].join('\n');

describe('missing values', () => {
  it('drop', async () => {
    const { p, dataset, report } = await read(MISSING, { missingValue: 'drop' });
    expect(dataset.nInteractions).toBe(4);
    expect(report.issues).toEqual([{ kind: 'missing-value', action: 'dropped', count: 2, examples: [`${p}:3`, `${p}:6`], detail: 'row dropped' }]);
    expect(report).toMatchObject({ rowsRead: 6, rowsKept: 4, rowsDropped: 2 });
  });

  it('mean, median and constant fill', async () => {
    const mean = await read(MISSING, { missingValue: 'mean' });
    // present values 4, 1, 2.5, 5 → mean 3.125, median 3.25
    expect(Array.from(mean.dataset.interactions.value)).toEqual([4, 3.125, 1, 2.5, 3.125, 5]);
    expect(mean.report).toMatchObject({ rowsKept: 6, rowsDropped: 0, rowsRepaired: 2 });
    expect(mean.report.issues[0]).toMatchObject({ kind: 'missing-value', action: 'repaired', count: 2, detail: 'filled with the mean 3.125' });
    const median = await read(MISSING, { missingValue: 'median' });
    expect(median.dataset.interactions.value[1]).toBe(3.25);
    const constant = await read(MISSING, { missingValue: 'constant', fillValue: 0.5 });
    expect(constant.dataset.interactions.value[4]).toBe(0.5);
    await expect(read(MISSING, { missingValue: 'constant' })).rejects.toThrow(/fillValue/);
  });

  it('error stops at the first empty value', async () => {
    const e = await read(MISSING, { missingValue: 'error' }).catch((x: unknown) => x as DataError);
    expect(e).toBeInstanceOf(DataError);
    expect((e as DataError).location).toMatchObject({ line: 3, column: 6, field: 'rating' });
  });

  it('missing ids are dropped; missing timestamps are kept as NaN', async () => {
    const { p, dataset, report } = await read('user,item,rating,timestamp\n,1,3,1\nu,,3,2\nu,2,3,\nu,3,3,4\n', {}, 'x.csv');
    expect(rows(dataset)).toEqual([
      ['u', '2', 3, NaN],
      ['u', '3', 3, 4],
    ]);
    expect(report.issues.map((i) => [i.kind, i.action, i.count, i.examples])).toEqual([
      ['missing-id', 'dropped', 2, [`${p}:2`, `${p}:3`]],
      ['missing-timestamp', 'kept', 1, [`${p}:4`]],
    ]);
  });
});

describe('out-of-range values and unknown ids', () => {
  const OOR = ['userId,movieId,rating,timestamp', '1,10,4.0,1', '1,20,7,2', '2,10,0,3', '2,20,5.0,4'].join('\n');

  const ML_RANGE: ReadOptions = { valueRange: [0.5, 5] };

  it('without a declared range nothing is out of range: the scale is read from the data', async () => {
    const d = await read(OOR, {});
    expect(d.dataset.nInteractions).toBe(4);
    expect(d.report.issues).toEqual([]);
    expect(d.report.valueScale).toEqual({ lo: 0, hi: 10, source: 'standard', min: 0, max: 7 });
  });

  it('a declared range: drop, clamp, error', async () => {
    const d = await read(OOR, ML_RANGE);
    expect(d.dataset.nInteractions).toBe(2);
    expect(d.report.issues).toEqual([
      { kind: 'out-of-range', action: 'dropped', count: 2, examples: [`${d.p}:3`, `${d.p}:4`], detail: 'outside [0.5, 5]' },
    ]);
    const c = await read(OOR, { ...ML_RANGE, outOfRange: 'clamp' });
    expect(Array.from(c.dataset.interactions.value)).toEqual([4, 5, 0.5, 5]);
    expect(c.report).toMatchObject({ rowsRepaired: 2, rowsDropped: 0 });
    const e = await read(OOR, { ...ML_RANGE, outOfRange: 'error' }).catch((x: unknown) => x as DataError);
    expect((e as DataError).location).toMatchObject({ line: 3, column: 6, field: 'rating' });
    const custom = await read(OOR, { valueRange: [0, 10] });
    expect(custom.dataset.nInteractions).toBe(4);
  });

  it('unknown items and users against a catalogue', async () => {
    const d = await read(OOR, { ...ML_RANGE, knownItems: ['10'], knownUsers: new Set(['1', '2']) });
    expect(rows(d.dataset).map((r) => r[1])).toEqual(['10']);
    // line 3 is out of range, line 4 value 0 too; line 5 item 20 unknown
    expect(d.report.issues.map((i) => [i.kind, i.count, i.examples])).toEqual([
      ['unknown-item', 2, [`${d.p}:3`, `${d.p}:5`]],
      ['out-of-range', 1, [`${d.p}:4`]],
    ]);
    const e = await read(OOR, { knownUsers: ['1'], unknownIds: 'error' }).catch((x: unknown) => x as DataError);
    expect((e as DataError).location).toMatchObject({ line: 4, column: 1, field: 'userId' });
  });

  it('unknown event types under a fixed vocabulary', async () => {
    const d = await read('user,item,event\na,x,view\na,y,like\nb,x,buy\n', { eventTypes: ['view', 'buy'] }, 'log.csv');
    expect(d.dataset.eventTypes).toEqual(['view', 'buy']);
    expect(Array.from(d.dataset.interactions.eventType)).toEqual([0, 1]);
    expect(d.report.issues[0]).toMatchObject({ kind: 'unknown-event-type', count: 1, examples: [`${d.p}:3`] });
  });

  it('lists at most maxExamples places but counts every row', async () => {
    const lines = ['userId,movieId,rating,timestamp'];
    for (let k = 0; k < 12; k++) lines.push(`1,${k},9,${k}`);
    const d = await read(lines.join('\n'), { ...ML_RANGE, maxExamples: 3 });
    expect(d.report.issues[0]!.count).toBe(12);
    expect(d.report.issues[0]!.examples).toEqual([`${d.p}:2`, `${d.p}:3`, `${d.p}:4`]);
    expect(formatCleaningReport(d.report)).toContain(`out-of-range: 12 dropped (outside [0.5, 5]) at ${d.p}:2, ${d.p}:3, ${d.p}:4, …`);
  });
});
