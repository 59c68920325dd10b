import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  datasetFromTriples,
  loadDataDir,
  loadDatasetFile,
  loadLastfm,
  loadMovieLens,
  readItemMetadata,
  readUserMetadata,
  saveDataset,
  titleYear,
} from '../../src/data/index.js';
import { DataError } from '../../src/errors.js';
import { FIXTURES, rows, tempDir, tempFile } from './helpers.js';

const meta = (ds: import('../../src/data/index.js').Dataset, id: string) => ds.itemMeta[ds.items.toIndex(id)];

describe('MovieLens folders', () => {
  it('ml-latest style: ratings + movies + tags in one dataset', async () => {
    const dir = join(FIXTURES, 'ml-tiny');
    const { dataset, report, metadataReports } = await loadMovieLens(dir);
    expect(report.rowsKept).toBe(6);
    expect(meta(dataset, '2')).toEqual({
      title: 'Jumanji, The (1995)',
      categories: ['Adventure', 'Children', 'Fantasy'],
      tags: ['board game, jungle'],
      attributes: { year: 1995 },
      text: 'Jumanji, The (1995). Genres: Adventure, Children, Fantasy.',
    });
    // "bond" given twice (case-insensitive), "spy" once: most frequent first, first spelling kept.
    expect(meta(dataset, '10')!.tags).toEqual(['bond', 'spy']);
    expect(meta(dataset, '30')).toMatchObject({ title: 'Movie "Quoted" (2001)', categories: [], text: 'Movie "Quoted" (2001)' });
    const [movies, tags] = metadataReports;
    expect(movies).toMatchObject({ rowsRead: 4, rowsKept: 3 });
    expect(movies!.issues).toEqual([
      { kind: 'unknown-item', action: 'dropped', count: 1, examples: [`${join(dir, 'movies.csv')}:5`], detail: 'item not in the dataset' },
    ]);
    expect(tags!.issues[0]).toMatchObject({ kind: 'unknown-item', count: 1, examples: [`${join(dir, 'tags.csv')}:6`] });
  });

  it('ml-1m style ("::" files with users.dat)', async () => {
    const { dataset } = await loadMovieLens(join(FIXTURES, 'ml1m-tiny'));
    expect(dataset.source!.format).toBe('movielens-dat');
    expect(meta(dataset, '661')!.categories).toEqual(['Animation', "Children's", 'Musical']);
    expect(dataset.userMeta[dataset.users.toIndex('2')]).toEqual({ attributes: { gender: 'M', age: 56, occupation: 16, zip: 70072 } });
  });

  it('ml-100k style (u.data, Latin-1 u.item with genre flags, u.user)', async () => {
    const { dataset } = await loadMovieLens(join(FIXTURES, 'ml100k-tiny'));
    expect(meta(dataset, '10')!.categories).toEqual(['Animation', "Children's", 'Comedy']);
    expect(meta(dataset, '20')).toMatchObject({ title: 'Señor Movie (1996)', categories: ['Drama', 'Thriller'], attributes: { year: 1996 } });
    expect(dataset.userMeta[dataset.users.toIndex('1')]!.attributes).toMatchObject({ age: 24, gender: 'M', occupation: 'technician' });
  });

  it('Last.fm HetRec folder: play counts, names, Latin-1 tags by frequency', async () => {
    const dir = join(FIXTURES, 'lastfm-tiny');
    const { dataset, metadataReports } = await loadLastfm(dir);
    expect(rows(dataset)).toEqual([
      ['2', '51', 13883, NaN],
      ['2', '52', 11690, NaN],
      ['3', '51', 5, NaN],
    ]);
    expect(meta(dataset, '51')).toEqual({
      title: 'Duran Duran',
      attributes: { url: 'http://www.last.fm/music/Duran+Duran' },
      tags: ['new wave', 'tropicália'],
      text: 'Duran Duran. Tags: new wave, tropicália.',
    });
    expect(meta(dataset, '52')!.tags).toEqual(['trip-hop']);
    expect(metadataReports[0]!.issues[0]).toMatchObject({ kind: 'unknown-item', count: 1 }); // artist 53 never played
    expect(metadataReports[1]!.issues[0]).toMatchObject({ kind: 'unknown-item', count: 1, examples: [`${join(dir, 'user_taggedartists.dat')}:6`] });
  });

  it('loadDataDir picks the loader; unknown folders fail clearly', async () => {
    expect((await loadDataDir(join(FIXTURES, 'ml-tiny'))).dataset.source!.format).toBe('movielens-csv');
    expect((await loadDataDir(join(FIXTURES, 'lastfm-tiny'))).dataset.source!.format).toBe('lastfm');
    expect((await loadDataDir(join(FIXTURES, 'ml100k-tiny/u.data'))).dataset.nInteractions).toBe(3);
    await expect(loadDataDir(tempDir())).rejects.toThrow(DataError);
    await expect(loadDataDir('/nonexistent/folder')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});

describe('generic metadata', () => {
  it('JSONL item metadata with lists, attributes and repeated rows merging', async () => {
    const ds = datasetFromTriples([
      ['u', 'a'],
      ['u', 'b'],
    ]);
    const p = tempFile(
      'items.jsonl',
      ['{"id":"a","name":"Alpha","about":"first","cats":["x","y"],"price":3}', '{"id":"a","cats":["y","z"]}', '{"id":"zz","name":"ghost"}'].join('\n'),
    );
    const report = await readItemMetadata(p, ds, {
      columns: { id: 'id', title: 'name', text: 'about', categories: 'cats', attributes: { price: 'price' } },
    });
    expect(ds.itemMeta[0]).toEqual({ title: 'Alpha', text: 'first', categories: ['x', 'y', 'z'], attributes: { price: 3 } });
    expect(ds.itemMeta[1]).toBeUndefined();
    expect(report).toMatchObject({ rowsRead: 3, rowsKept: 2, rowsDropped: 1 });
  });

  it('guesses columns from the header when none are given', async () => {
    const ds = datasetFromTriples([['u', '2']]);
    const report = await readItemMetadata(join(FIXTURES, 'ml-tiny/movies.csv'), ds);
    expect(ds.itemMeta[0]).toEqual({ title: 'Jumanji, The (1995)', categories: ['Adventure', 'Children', 'Fantasy'] });
    expect(report).toMatchObject({ rowsRead: 4, rowsKept: 1, rowsDropped: 3 });
    const p = tempFile('x.csv', 'foo,bar\n1,2\n');
    await expect(readItemMetadata(p, ds)).rejects.toThrow(/no id column/);
  });

  it('user metadata from CSV', async () => {
    const ds = datasetFromTriples([['u1', 'a']]);
    const p = tempFile('users.csv', 'user,bio,country\nu1,"likes jazz, blues",NO\n');
    await readUserMetadata(p, ds, { columns: { id: 'user', text: 'bio', attributes: { country: 'country' } } });
    expect(ds.userMeta[0]).toEqual({ text: 'likes jazz, blues', attributes: { country: 'NO' } });
  });

  it('titleYear', () => {
    expect(titleYear('Heat (1995)')).toBe(1995);
    expect(titleYear('Babylon 5')).toBeUndefined();
  });
});

describe('snapshots', () => {
  it('round-trips interactions, ids, metadata and source exactly', async () => {
    const { dataset } = await loadMovieLens(join(FIXTURES, 'ml-tiny'));
    const p = join(tempDir(), 'ds.chorus');
    await saveDataset(dataset, p);
    const back = await loadDatasetFile(p);
    expect(back.name).toBe(dataset.name);
    expect(back.source).toEqual(dataset.source);
    expect(back.users.ids()).toEqual(dataset.users.ids());
    expect(back.items.ids()).toEqual(dataset.items.ids());
    expect(back.eventTypes).toEqual(dataset.eventTypes);
    for (const k of ['user', 'item', 'value', 'timestamp', 'eventType'] as const) {
      expect(Array.from(back.interactions[k])).toEqual(Array.from(dataset.interactions[k]));
    }
    expect(back.itemMeta).toEqual(dataset.itemMeta);
    expect(Array.from(back.byUser().order)).toEqual(Array.from(dataset.byUser().order));
    const viaDir = await loadDataDir(p);
    expect(viaDir.report.format).toBe('snapshot');
  });

  it('rejects files that are not snapshots, or are truncated', async () => {
    const p = tempFile('x.chorus', 'userId,movieId\n');
    await expect(loadDatasetFile(p)).rejects.toThrow(/not a Chorus dataset snapshot/);
    const ds = datasetFromTriples([['a', 'b', 1, 2]]);
    const q = join(tempDir(), 'ok.chorus');
    await saveDataset(ds, q);
    const { readFileSync, writeFileSync } = await import('node:fs');
    const bytes = readFileSync(q);
    writeFileSync(q, bytes.subarray(0, bytes.length - 8));
    await expect(loadDatasetFile(q)).rejects.toThrow(/truncated/);
  });
});
