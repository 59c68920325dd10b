import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { activeCounts, loadDataDir } from '../../src/data/index.js';
import { SHARED } from './helpers.js';

const DEMO = resolve(process.cwd(), 'data/demo');

describe('bundled demo data', () => {
  it('loads cleanly with the documented size and checksum', async () => {
    const { dataset, report, metadataReports } = await loadDataDir(DEMO);
    expect(dataset.name).toBe('demo');
    expect(dataset.source!.sha256).toBe('f7e376187ceae8a8bef078751ed5220584f4008b54a5fdf2a33dd6375881cfe2');
    expect(report).toMatchObject({ rowsRead: 18430, rowsKept: 18430, issues: [] });
    expect(activeCounts(dataset)).toEqual({ users: 150, items: 1500 });
    expect(metadataReports.every((r) => r.issues.length === 0)).toBe(true);
    expect(dataset.itemMeta.filter((m) => m?.title).length).toBe(1500);
  });

  it('every row is copied verbatim from ml-latest-small', () => {
    for (const file of ['ratings.csv', 'movies.csv', 'tags.csv']) {
      const original = new Set(readFileSync(resolve(SHARED, 'ml-latest-small', file), 'utf8').split('\r\n'));
      const demo = readFileSync(resolve(DEMO, file), 'utf8').split('\r\n').filter((l) => l !== '');
      expect(demo.filter((l) => !original.has(l))).toEqual([]);
    }
  });
});
