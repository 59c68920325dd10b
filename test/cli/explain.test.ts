import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoDataDir } from '../../src/cli/paths.js';
import { loadDataDir } from '../../src/data/load.js';
import { runCli, tempDir } from './helpers.js';

interface ExplainedItem {
  rank: number;
  item: string;
  title: string;
  score: number;
  explanation: { contributions: Record<string, number>; evidence: { agent: string; text: string }[] };
}

/** The demo data as the CLI reads it: a user's rated movie ids, and each movie's title and genres. */
async function demoData(): Promise<{ user: string; history: Set<string>; movies: Map<string, { title: string; genres: string[] }> }> {
  const { dataset: ds } = await loadDataDir(demoDataDir());
  const csr = ds.byUser();
  const u = 0;
  const history = new Set(Array.from(csr.indices.subarray(csr.indptr[u]!, csr.indptr[u + 1]!), (i) => ds.items.toExternal(i)));
  const movies = new Map(ds.items.ids().map((id, i) => [id, { title: ds.itemMeta[i]?.title ?? '', genres: ds.itemMeta[i]?.categories ?? [] }]));
  return { user: ds.users.toExternal(u), history, movies };
}

describe('chorus recommend --explain', () => {
  const dir = tempDir('chorus-explain-');
  const teamFile = join(dir, 'team-blend.model.json');
  beforeAll(async () => {
    // A small team (user agent, item-kNN, content, item agent) tuned on few users, so it fits in seconds.
    const tr = await runCli(['train', '--model', 'team-blend', '--data', demoDataDir(), '--out', teamFile, '-p', 'extras=itemknn', '-p', 'tuneUsers=20', '-p', 'tuneStep=0.5']);
    expect(tr.stderr).toBe('');
    expect(tr.code).toBe(0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('adds per-agent contributions and evidence to each item in --json', async () => {
    const { user, history, movies } = await demoData();
    const r = await runCli(['recommend', '--model-file', teamFile, '--user', user, '-k', '5', '--explain', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { user: string; model: string; k: number; weights: Record<string, number>; items: ExplainedItem[] };
    expect(doc).toMatchObject({ user, model: 'team-blend', k: 5 });
    const agents = ['user', 'itemknn', 'content', 'item'];
    expect(Object.keys(doc.weights)).toEqual(agents);
    expect(doc.items).toHaveLength(5);
    const historyTitles = new Set([...history].map((m) => movies.get(m)!.title));
    const historyGenres = new Set([...history].flatMap((m) => movies.get(m)!.genres));
    for (const it of doc.items) {
      expect(Object.keys(it).sort()).toEqual(['explanation', 'item', 'rank', 'score', 'title']);
      expect(Object.keys(it.explanation).sort()).toEqual(['contributions', 'evidence']);
      expect(Object.keys(it.explanation.contributions)).toEqual(agents);
      const sum = Object.values(it.explanation.contributions).reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - it.score)).toBeLessThan(1e-5 * Math.max(1, Math.abs(it.score)));
      for (const [a, c] of Object.entries(it.explanation.contributions)) if (doc.weights[a] === 0) expect(c).toBe(0);
      // every agent says something, and only the agents that vote
      expect(new Set(it.explanation.evidence.map((e) => e.agent))).toEqual(new Set(agents));
      const text = (a: string) => it.explanation.evidence.find((e) => e.agent === a)!.text;
      const watched = /^because you watched (.+)$/.exec(text('user'))?.[1];
      expect(historyTitles.has(watched!)).toBe(true);
      const genre = /^matches your interest in (.+)$/.exec(text('content'))?.[1];
      expect(movies.get(it.item)!.genres).toContain(genre);
      expect(historyGenres.has(genre!)).toBe(true);
      expect(text('itemknn')).toMatch(/^itemknn ranks it #[1-9]\d* for you$/);
      expect(text('item')).toMatch(/^(new this week|new: few ratings so far|rarely rated \(\d+ ratings\)|widely rated \(\d+ ratings\))$/);
      expect(history.has(it.item)).toBe(false);
    }
  });

  it('prints a contribution table per item without --json', async () => {
    const { user } = await demoData();
    const r = await runCli(['recommend', '--model-file', teamFile, '--user', user, '-k', '2', '--explain']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/rank\s+item\s+title\s+score/);
    expect(r.stdout.match(/^#\d .+: score -?[\d.]+ = sum of the contributions$/gm)).toHaveLength(2);
    expect(r.stdout.match(/^agent\s+weight\s+contribution\s+evidence$/gm)).toHaveLength(2);
    expect(r.stdout).toMatch(/^user\s+.*because you watched /m);
    // Without --explain the output is unchanged: no explanation tables, no explanation field.
    const plain = await runCli(['recommend', '--model-file', teamFile, '--user', user, '-k', '2', '--json']);
    const doc = JSON.parse(plain.stdout) as { items: Record<string, unknown>[] };
    expect(doc.items[0]).not.toHaveProperty('explanation');
    expect(doc).not.toHaveProperty('weights');
  });

  it('fails with an error naming the model when it cannot explain', async () => {
    const popFile = join(dir, 'pop.model.json');
    expect((await runCli(['train', '--model', 'popularity', '--data', demoDataDir(), '--out', popFile])).code).toBe(0);
    const { user } = await demoData();
    const r = await runCli(['recommend', '--model-file', popFile, '--user', user, '--explain', '--json']);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/--explain: model "popularity" .*cannot explain/);
  });
});
