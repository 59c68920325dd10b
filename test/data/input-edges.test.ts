import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/errors.js';
import { findInvalidUtf8, readInteractions, readItemMetadata, datasetFromTriples, type ReadOptions } from '../../src/data/index.js';
import { rows, tempFile } from './helpers.js';

/** The DataError a read throws (fails the test when it does not throw one). */
async function errorOf(path: string, options?: ReadOptions): Promise<DataError> {
  const err = await readInteractions(path, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataError);
  return err as DataError;
}

describe('files with no data rows', () => {
  it('a header-only file is an error naming the file', async () => {
    const p = tempFile('ratings.csv', 'userId,movieId,rating,timestamp\n');
    const e = await errorOf(p);
    expect(e.location).toEqual({ file: p });
    expect(e.message).toBe(`${p}: no data rows: the file has a header line and nothing after it`);
  });

  it('a header followed by blank lines is an error too', async () => {
    const p = tempFile('events.tsv', 'user\titem\n\n\n');
    expect((await errorOf(p)).message).toContain('no data rows');
  });
});

describe('line endings', () => {
  it('reads CR-only (classic Mac) line endings as line breaks', async () => {
    const p = tempFile('ratings.csv', 'userId,movieId,rating,timestamp\r1,10,4,100\r1,20,3,101\r2,10,5,102\r');
    const { dataset, report } = await readInteractions(p, { sortIds: false });
    expect(rows(dataset)).toEqual([
      ['1', '10', 4, 100],
      ['1', '20', 3, 101],
      ['2', '10', 5, 102],
    ]);
    expect(report.header).toEqual(['userId', 'movieId', 'rating', 'timestamp']);
  });

  it('counts CR-only lines for error locations, and reads a last line without a break', async () => {
    const p = tempFile('ratings.csv', 'userId,movieId,rating,timestamp\r1,10,4,100\r1,20,x,101');
    const e = await errorOf(p);
    expect(e.location).toEqual({ file: p, line: 3, column: 6, field: 'rating' });
  });

  it('a CRLF split across the 1 MiB read chunks is one line break', async () => {
    // Row 1 is padded so that its CR is the last byte of the first chunk and its LF the first of the next.
    const header = 'user,item,note\r\n';
    const pad = (1 << 20) - header.length - 'u1,i1,'.length - 1;
    const text = `${header}u1,i1,${'x'.repeat(pad)}\r\nu2,i2,y\r\n`;
    const p = tempFile('big.csv', text);
    const { dataset, report } = await readInteractions(p, { columns: { user: 'user', item: 'item', value: null }, sortIds: false });
    expect(report.rowsRead).toBe(2);
    expect(rows(dataset).map((r) => r[0])).toEqual(['u1', 'u2']);
  });
});

describe('invalid UTF-8', () => {
  it('stops with the file, line, column and byte offset instead of decoding to U+FFFD', async () => {
    const bytes = Buffer.concat([Buffer.from('user,item,rating\nu1,caf\u00e9,4\nu2,'), Buffer.from([0x63, 0xff, 0x65]), Buffer.from(',3\n')]);
    const p = tempFile('events.csv', bytes);
    const e = await errorOf(p);
    expect(e.code).toBe('E_ENCODING');
    // 17 + 11 bytes ("é" is two) + "u2,c": the 0xff is byte 32 (0-based), on line 3, character 5.
    expect(e.location).toEqual({ file: p, line: 3, column: 5 });
    expect(e.message).toContain('not valid UTF-8');
    expect(e.message).toContain('byte offset 32 (byte 0xff)');
  });

  it('a real U+FFFD character (EF BF BD) is not mistaken for invalid bytes', async () => {
    const p = tempFile('events.csv', 'user,item,rating\nu1,x\ufffdy,4\n');
    const { dataset } = await readInteractions(p);
    expect(dataset.items.ids()).toEqual(['x\ufffdy']);
  });

  it('latin1 reads the same bytes without complaint', async () => {
    const p = tempFile('events.csv', Buffer.concat([Buffer.from('user,item,rating\nu1,'), Buffer.from([0x63, 0xe9]), Buffer.from(',3\n')]));
    const { dataset } = await readInteractions(p, { encoding: 'latin1' });
    expect(dataset.items.ids()).toEqual(['c\u00e9']);
  });

  it('a multi-byte character split across read chunks is valid; a bad byte in the second chunk is found', async () => {
    const header = Buffer.from('user,item\n');
    const euro = Buffer.from('\u20ac'); // 3 bytes
    const fill = Buffer.alloc((1 << 20) - header.length - 'u,'.length - 1, 0x61);
    // The euro sign starts 1 byte before the chunk boundary.
    const good = Buffer.concat([header, Buffer.from('u,'), fill, euro, Buffer.from('\nv,b\n')]);
    const p = tempFile('split.csv', good);
    const { report } = await readInteractions(p, { header: true, columns: { user: 0, item: 1, value: null } });
    expect(report.rowsRead).toBe(2);
    const bad = Buffer.concat([good, Buffer.from('w,'), Buffer.from([0xe2, 0x28, 0xa1]), Buffer.from('\n')]);
    const q = tempFile('split.csv', bad);
    const e = await errorOf(q, { header: true, columns: { user: 0, item: 1, value: null } });
    expect(e.location).toEqual({ file: q, line: 4, column: 3 });
    expect(e.message).toContain(`byte offset ${good.length + 2} (byte 0xe2)`);
  });

  it('findInvalidUtf8 follows the decoder: overlong forms, surrogates and a truncated end are invalid', async () => {
    const at = async (b: number[]) => (await findInvalidUtf8(tempFile('x.txt', Buffer.from(b))))?.offset;
    expect(await at([0x61, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80])).toBeUndefined();
    expect(await at([0x61, 0xc0, 0xaf])).toBe(1); // overlong "/"
    expect(await at([0xed, 0xa0, 0x80])).toBe(0); // UTF-16 surrogate
    expect(await at([0x61, 0x62, 0xe2, 0x82])).toBe(2); // truncated at the end
    expect(await at([0xf4, 0x90, 0x80, 0x80])).toBe(0); // above U+10FFFF
  });

  it('metadata files are checked too', async () => {
    const ds = datasetFromTriples([['u', '1']]);
    const p = tempFile('movies.csv', Buffer.concat([Buffer.from('movieId,title\n1,'), Buffer.from([0x80]), Buffer.from('\n')]));
    await expect(readItemMetadata(p, ds, { columns: { id: 'movieId', title: 'title' } })).rejects.toMatchObject({
      code: 'E_ENCODING',
      location: { file: p, line: 2, column: 3 },
    });
  });
});

describe('line numbers after quoted multi-line fields', () => {
  it('a record is numbered by its first line, and later records by their own', async () => {
    const text = ['user,item,rating', '"u\n1",a,4', 'u2,"b\nb\nb",3', 'u3,c,oops'].join('\n');
    const p = tempFile('events.csv', text);
    // Lines: 1 header; 2–3 the first record; 4–6 the second; 7 the bad one.
    const e = await errorOf(p);
    expect(e.location).toMatchObject({ file: p, line: 7, field: 'rating' });
    const { report } = await readInteractions(p, { strict: false });
    expect(report.issues).toEqual([expect.objectContaining({ kind: 'unparsable', examples: [`${p}:7`] })]);
  });
});
