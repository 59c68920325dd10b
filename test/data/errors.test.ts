import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/errors.js';
import { readInteractions, readItemMetadata, datasetFromTriples, type ReadOptions } from '../../src/data/index.js';
import { tempFile } from './helpers.js';

/** The DataError a read throws (fails the test when it does not throw one). */
async function errorOf(path: string, options?: ReadOptions): Promise<DataError> {
  try {
    await readInteractions(path, options);
  } catch (err) {
    expect(err).toBeInstanceOf(DataError);
    return err as DataError;
  }
  throw new Error('expected the read to fail');
}

describe('malformed input stops with file:line:column', () => {
  it('non-numeric rating', async () => {
    const p = tempFile('ratings.csv', 'userId,movieId,rating,timestamp\r\n1,2,4.0,10\r\n1,3,abc,11\r\n');
    const e = await errorOf(p);
    expect(e.location).toEqual({ file: p, line: 3, column: 5, field: 'rating' });
    expect(e.message).toBe(`${p}:3:5 field "rating": expected a number, got "abc"`);
    expect(e.code).toBe('E_DATA');
  });

  it('wrong column count (too many and too few)', async () => {
    const p = tempFile('ratings.csv', 'userId,movieId,rating,timestamp\n1,2,4.0,10\n1,2,4.0,10,99\n');
    const e = await errorOf(p);
    expect(e.location).toEqual({ file: p, line: 3, column: 11 });
    expect(e.message).toContain('expected 4 fields separated by ",", found 5');
    const q = tempFile('u.data', '1\t2\t3\t4\n5\t6\t7\n');
    const f = await errorOf(q);
    expect(f.location).toEqual({ file: q, line: 2, column: 6 });
    expect(f.message).toContain('expected 4 fields separated by "\\t", found 3');
  });

  it('column of a field after a quoted one', async () => {
    const p = tempFile('e.csv', 'user,item,rating\n"a,b",x,1\n"c,d","y",zz\n');
    const e = await errorOf(p);
    expect(e.location).toEqual({ file: p, line: 3, column: 11, field: 'rating' });
  });

  it('bad "::" timestamp', async () => {
    const p = tempFile('ratings.dat', '1::2::3::978300760\n1::3::4::yesterday\n');
    const e = await errorOf(p);
    expect(e.location).toEqual({ file: p, line: 2, column: 10, field: 'column 4' });
    expect(e.message).toContain('expected a Unix time or an ISO 8601 date, got "yesterday"');
  });

  it('bad JSON line', async () => {
    const p = tempFile('log.jsonl', '{"user":"a","item":"b"}\n{"user":"a","item":}\n');
    const e = await errorOf(p);
    expect(e.location).toMatchObject({ file: p, line: 2 });
    expect(e.location!.column).toBe(20);
    expect(e.message).toContain('expected a JSON object per line');
  });

  it('JSON line with a non-numeric value names the key', async () => {
    const p = tempFile('log.jsonl', '{"user":"a","item":"b","rating":5}\n{"user":"a","item":"c","rating":"five"}\n');
    const e = await errorOf(p);
    expect(e.location).toEqual({ file: p, line: 2, column: 24, field: "rating" });
  });

  it('missing required column in the header', async () => {
    const p = tempFile('ratings.csv', 'userId,itemId,rating\n1,2,3\n');
    const e = await errorOf(p, { format: 'movielens-csv' });
    expect(e.location).toMatchObject({ file: p, line: 1, column: 1, field: 'movieId' });
    expect(e.message).toContain('missing required column "movieId"');
    const q = tempFile('x.csv', 'a,b,c\nx,y,z\n');
    const f = await errorOf(q);
    expect(f.message).toContain('no user column');
  });

  it('unterminated quote', async () => {
    const p = tempFile('e.csv', 'user,item\na,b\n"c,d\n');
    const e = await errorOf(p);
    expect(e.location).toEqual({ file: p, line: 3, column: 1 });
  });

  it('empty file, and text after a closing quote', async () => {
    const p = tempFile('empty.csv', '');
    expect((await errorOf(p)).location).toEqual({ file: p, line: 1, column: 1 });
    const q = tempFile('q.csv', 'user,item,rating\n"a"x,b,1\n');
    const e = await errorOf(q);
    expect(e.location).toEqual({ file: q, line: 2, column: 4 });
    expect(e.message).toContain('unexpected character after a closing quote');
  });

  it('missing file', async () => {
    const e = await errorOf('/nonexistent/ratings.csv');
    expect(e.code).toBe('E_NOT_FOUND');
    expect(e.message).toContain('/nonexistent/ratings.csv');
  });

  it('strict: false drops malformed rows and reports them instead', async () => {
    const p = tempFile('ratings.csv', 'userId,movieId,rating,timestamp\n1,2,4.0,10\n1,3,abc,11\n1,4\n1,5,3.0,12\n');
    const { dataset, report } = await readInteractions(p, { strict: false });
    expect(dataset.nInteractions).toBe(2);
    expect(report.rowsRead).toBe(4);
    expect(report.rowsDropped).toBe(2);
    expect(report.issues.map((i) => [i.kind, i.count, i.examples])).toEqual([
      ['unparsable', 1, [`${p}:3`]],
      ['malformed-row', 1, [`${p}:4`]],
    ]);
  });

  it('metadata: wrong field count and unknown ids under "error"', async () => {
    const ds = datasetFromTriples([['u', '1']]);
    const p = tempFile('movies.csv', 'movieId,title,genres\n1,A,Drama\n2,"B, The",Comedy|Drama,extra\n');
    await expect(readItemMetadata(p, ds, { columns: { id: 'movieId', title: 'title' } })).rejects.toMatchObject({
      location: { file: p, line: 3, column: 24 },
    });
    const q = tempFile('movies.csv', 'movieId,title\n1,A\n2,B\n');
    await expect(readItemMetadata(q, ds, { columns: { id: 'movieId', title: 'title' }, unknownIds: 'error' })).rejects.toMatchObject({
      location: { file: q, line: 3, column: 1, field: 'movieId' },
    });
  });
});

describe('jsonErrorOffset', () => {
  it('points at the first bad character', async () => {
    const { jsonErrorOffset } = await import('../../src/data/json-error.js');
    expect(jsonErrorOffset('{"a":1}')).toBe(-1);
    expect(jsonErrorOffset('{"a":}')).toBe(5);
    expect(jsonErrorOffset('{"a":1,}')).toBe(7);
    expect(jsonErrorOffset('{"a":1} x')).toBe(8);
    expect(jsonErrorOffset('{"a":tru}')).toBe(8);
    expect(jsonErrorOffset('{"a":"x\\q"}')).toBe(8);
    expect(jsonErrorOffset('[1,2')).toBe(4);
    for (const ok of ['[]', '{"a":[1,-2.5e3,true,false,null,{"b":"\\u00e9"}]}']) {
      expect(jsonErrorOffset(ok)).toBe(-1);
      expect(() => JSON.parse(ok)).not.toThrow();
    }
  });
});
