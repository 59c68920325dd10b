import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateDemo } from '../../data/demo/generate.js';
import { demoDataDir } from '../../src/cli/paths.js';
import { activeCounts, loadDataDir } from '../../src/data/index.js';

const DEMO = resolve(process.cwd(), 'data/demo');

describe('bundled demo data', () => {
  it('is where the CLI looks for it', () => {
    expect(demoDataDir()).toBe(DEMO);
  });

  it('loads cleanly with the documented size and checksum', async () => {
    const { dataset, report, metadataReports } = await loadDataDir(DEMO);
    expect(dataset.name).toBe('demo');
    // data/demo/README.md lists these
    expect(dataset.source!.sha256).toBe('6b29cae92a643cb4162119d44f8d9e4f3e4e8f0106f28a430cf6bf3cce86dc6b');
    expect(report).toMatchObject({ rowsRead: 12649, rowsKept: 12649, issues: [] });
    expect(activeCounts(dataset)).toEqual({ users: 150, items: 1000 });
    expect(metadataReports.every((r) => r.issues.length === 0)).toBe(true);
    const titles = dataset.itemMeta.map((m) => m?.title ?? '');
    expect(titles.filter((t) => /^\S.* \(\d{4}\)$/.test(t))).toHaveLength(1000);
    expect(new Set(titles).size).toBe(1000);
    expect(dataset.itemMeta.every((m) => (m?.categories?.length ?? 0) >= 1)).toBe(true);
  });

  it('is exactly what the seeded generator writes', () => {
    const files = generateDemo();
    for (const name of ['ratings.csv', 'movies.csv', 'tags.csv'] as const) {
      expect(readFileSync(resolve(DEMO, name), 'utf8') === files[name], name).toBe(true);
    }
    // another seed gives other data (the seed reaches every draw)
    expect(generateDemo(17)['ratings.csv']).not.toBe(files['ratings.csv']);
  });

  it('stays small enough to ship in the package', () => {
    const bytes = ['ratings.csv', 'movies.csv', 'tags.csv'].reduce((s, f) => s + readFileSync(resolve(DEMO, f)).length, 0);
    expect(bytes).toBeLessThan(512 * 1024);
  });
});
