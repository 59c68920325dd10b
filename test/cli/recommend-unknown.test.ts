import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoDataDir } from '../../src/cli/paths.js';
import { loadDataDir } from '../../src/data/load.js';
import { runCli, tempDir } from './helpers.js';

/** The demo items by number of training users, most first (ties: lower index first, as topK breaks them). */
async function popularFirst(): Promise<string[]> {
  const { dataset: ds } = await loadDataDir(demoDataDir());
  const users = new Array<number>(ds.nItems).fill(0);
  for (const i of ds.byUser().indices) users[i]!++;
  return Array.from({ length: ds.nItems }, (_, i) => i)
    .sort((a, b) => users[b]! - users[a]! || a - b)
    .map((i) => ds.items.toExternal(i));
}

describe('chorus recommend for a user the model does not know', () => {
  const dir = tempDir('chorus-rec-unknown-');
  const file = join(dir, 'als.model.json');
  beforeAll(async () => {
    const r = await runCli(['train', '--model', 'als', '--data', demoDataDir(), '--out', file]);
    expect(r.code).toBe(0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the most popular items (ALS scores every item 0 for an empty user: not catalogue order)', async () => {
    const r = await runCli(['recommend', '--model-file', file, '--user', 'nobody-at-all', '-k', '5', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { unknownUser: boolean; items: { item: string; score: number }[] };
    expect(out.unknownUser).toBe(true);
    expect(out.items.map((x) => x.item)).toEqual((await popularFirst()).slice(0, 5));
    const text = await runCli(['recommend', '--model-file', file, '--user', 'nobody-at-all', '-k', '3']);
    expect(text.stdout).toMatch(/not in the training data, so the most popular items/);
  });
});
