import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectFormat, readInteractions, sha256File } from '../../src/data/index.js';
import { FIXTURES, rows, tempFile } from './helpers.js';

describe('readInteractions: MovieLens formats', () => {
  it('reads ratings.csv with CRLF, header, sha256 and format', async () => {
    const path = join(FIXTURES, 'ml-tiny/ratings.csv');
    const { dataset, report } = await readInteractions(path);
    expect(dataset.source).toEqual({
      file: path,
      sha256: await sha256File(path),
      format: 'movielens-csv',
      valueScale: { lo: 0.5, hi: 5, source: 'standard', min: 1, max: 5 },
    });
    expect(dataset.source!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(dataset.name).toBe('ml-tiny');
    expect(report).toMatchObject({ rowsRead: 6, rowsKept: 6, rowsDropped: 0, header: ['userId', 'movieId', 'rating', 'timestamp'] });
    expect(rows(dataset)).toEqual([
      ['1', '10', 4, 100],
      ['1', '2', 3.5, 200],
      ['1', '30', 5, 100],
      ['2', '10', 2, 50],
      ['2', '2', 4.5, 60],
      ['3', '30', 1, 70],
    ]);
    // Indices follow numeric external-id order, whatever the row order.
    expect(dataset.items.ids()).toEqual(['2', '10', '30']);
    expect(dataset.users.ids()).toEqual(['1', '2', '3']);
  });

  it('reads ratings.dat with "::" and u.data with tabs', async () => {
    const dat = await readInteractions(join(FIXTURES, 'ml1m-tiny/ratings.dat'));
    expect(dat.dataset.source!.format).toBe('movielens-dat');
    expect(rows(dat.dataset)).toEqual([
      ['1', '1193', 5, 978300760],
      ['1', '661', 3, 978302109],
      ['2', '1193', 4, 978298413],
    ]);
    const ud = await readInteractions(join(FIXTURES, 'ml100k-tiny/u.data'));
    expect(ud.dataset.source!.format).toBe('udata');
    expect(rows(ud.dataset)).toEqual([
      ['1', '10', 3, 881250949],
      ['1', '20', 5, 881250950],
      ['2', '10', 1, 881250951],
    ]);
  });

  it('reads quoted fields with commas, escaped quotes and line breaks', async () => {
    const p = tempFile('events.csv', 'user,item,rating,timestamp\r\n"u,1","i ""a""",4,10\r\n"u\n2",b,3,11\r\nu3,"c",2,12\r\n');
    const { dataset, report } = await readInteractions(p, { sortIds: false });
    expect(rows(dataset)).toEqual([
      ['u,1', 'i "a"', 4, 10],
      ['u\n2', 'b', 3, 11],
      ['u3', 'c', 2, 12],
    ]);
    expect(report.rowsRead).toBe(3);
  });

  it('keeps a quote inside an unquoted field as a character', async () => {
    const p = tempFile('q.csv', 'user,item,rating\nu1,5" screen,4\nu2,"x",3\n');
    const { dataset } = await readInteractions(p, { sortIds: false });
    expect(rows(dataset).map((r) => r[1])).toEqual(['5" screen', 'x']);
  });

  it('strips a UTF-8 BOM and reads a headerless CSV by position', async () => {
    const p = tempFile('plain.csv', '\uFEFF1,5,2.5\n2,6,3\n');
    const { dataset, report } = await readInteractions(p);
    expect(report.header).toBeUndefined();
    expect(rows(dataset)).toEqual([
      ['1', '5', 2.5, NaN],
      ['2', '6', 3, NaN],
    ]);
  });

  it('reads TSV with a column mapping and event types', async () => {
    const p = tempFile('log.tsv', 'ts\tvisitor\tevent\tproduct\n5\ta\tview\tx\n6\ta\tcart\tx\n7\tb\tview\ty\n');
    const { dataset } = await readInteractions(p, {
      columns: { user: 'visitor', item: 'product', eventType: 'event', timestamp: 'ts' },
      eventValues: { view: 1, cart: 3 },
    });
    expect(dataset.eventTypes).toEqual(['view', 'cart']);
    expect(Array.from(dataset.interactions.eventType)).toEqual([0, 1, 0]);
    expect(Array.from(dataset.interactions.value)).toEqual([1, 3, 1]);
    expect(Array.from(dataset.interactions.timestamp)).toEqual([5, 6, 7]);
  });

  it('reads JSONL with a mapping, nested keys, ISO dates and ms timestamps', async () => {
    const p = tempFile(
      'log.jsonl',
      [
        '{"who":"u1","what":{"id":7},"stars":4,"when":"2020-01-01T00:00:00Z","kind":"rate"}',
        '',
        '{"who":"u2","what":{"id":8},"stars":null,"when":1577836800,"kind":"rate"}',
        '{"who":"u2","what":{"id":7},"stars":2,"when":"2020-01-01T00:00:01Z","kind":"click"}',
      ].join('\n'),
    );
    const { dataset, report } = await readInteractions(p, {
      columns: { user: 'who', item: 'what.id', value: 'stars', timestamp: 'when', eventType: 'kind' },
      missingValue: 'constant',
      fillValue: 0,
    });
    expect(dataset.source!.format).toBe('jsonl');
    expect(rows(dataset)).toEqual([
      ['u1', '7', 4, 1577836800],
      ['u2', '8', 0, 1577836800],
      ['u2', '7', 2, 1577836801],
    ]);
    expect(dataset.eventTypes).toEqual(['rate', 'click']);
    expect(report.issues).toEqual([
      { kind: 'missing-value', action: 'repaired', count: 1, examples: [`${p}:3`], detail: 'filled with the constant 0' },
    ]);
    const ms = tempFile('ms.jsonl', '{"user":1,"item":2,"ts":1500}\n');
    const r = await readInteractions(ms, { timestampUnit: 'ms' });
    expect(r.dataset.interactions.timestamp[0]).toBe(1.5);
    expect(r.dataset.interactions.value[0]).toBe(1);
  });

  it('detects formats from the name and first line', () => {
    expect(detectFormat('/x/ratings.csv', 'userId,movieId,rating,timestamp')).toBe('movielens-csv');
    expect(detectFormat('/x/ratings.dat', '1::1193::5::978300760')).toBe('movielens-dat');
    expect(detectFormat('/x/u.data', '196\t242\t3\t881250949')).toBe('udata');
    expect(detectFormat('/x/user_artists.dat', 'userID\tartistID\tweight')).toBe('lastfm');
    expect(detectFormat('/x/events.txt', '{"user":1}')).toBe('jsonl');
    expect(detectFormat('/x/events.log', 'a\tb')).toBe('tsv');
    expect(detectFormat('/x/events.txt', 'a,b')).toBe('csv');
  });

  it('streams a file much larger than one read chunk (rows cross chunk boundaries)', async () => {
    const n = 120_000; // ~2 MiB: two 1 MiB chunks, rows split across the boundary
    const lines = ['userId,movieId,rating,timestamp'];
    for (let k = 0; k < n; k++) lines.push(`${k % 997},${k},${(k % 10) / 2 + 0.5},${1000 + k}`);
    const p = tempFile('big.csv', lines.join('\r\n') + '\r\n');
    const { dataset, report } = await readInteractions(p, { format: 'movielens-csv' });
    expect(report.rowsKept).toBe(n);
    expect(dataset.nUsers).toBe(997);
    let sum = 0;
    for (const v of dataset.interactions.value) sum += v;
    let expected = 0;
    for (let k = 0; k < n; k++) expected += (k % 10) / 2 + 0.5;
    expect(sum).toBeCloseTo(expected, 3);
    expect(dataset.items.toExternal(dataset.interactions.item[n - 1]!)).toBe(String(n - 1));
  });
});
