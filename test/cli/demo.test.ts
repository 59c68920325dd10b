import { describe, expect, it } from 'vitest';
import { runCli } from './helpers.js';

describe('chorus demo (bundled data/demo)', () => {
  it('trains and evaluates the default models and recommends titled items', async () => {
    const r = await runCli(['demo', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      dataset: { users: number; items: number; ratings: number };
      results: { model: string; metrics: Record<string, number>; note?: string; split: { train: number; test: number } }[];
      best: string;
      samples: { user: string; recent: string[]; recommendations: { title: string; heldOut: boolean }[] }[];
    };
    // data/demo/README.md: 150 users, 1,000 films, 12,649 ratings → 10,167 train / 2,482 test under P1's rule
    expect(doc.dataset).toMatchObject({ users: 150, items: 1000, ratings: 12649 });
    expect(doc.results.map((x) => x.model)).toEqual(['popularity', 'itemknn', 'als', 'ease']);
    for (const res of doc.results) {
      expect(res.split).toMatchObject({ train: 10167, test: 2482 });
      expect(res.note).toMatch(/not comparable/);
    }
    // every personalised model beats the non-personalised baseline on NDCG@10
    const ndcg = Object.fromEntries(doc.results.map((x) => [x.model, x.metrics['ndcg@10']!]));
    for (const m of ['itemknn', 'als', 'ease']) expect(ndcg[m]).toBeGreaterThan(ndcg.popularity!);
    expect(doc.samples).toHaveLength(3);
    for (const s of doc.samples) {
      expect(s.recent.length).toBeGreaterThan(0);
      expect(s.recommendations).toHaveLength(5);
      for (const rec of s.recommendations) expect(rec.title).toMatch(/\(\d{4}\)\s*$/);
    }
  });

  it('prints a table and sample recommendations for people', async () => {
    const r = await runCli(['demo', '--models', 'popularity', '--users', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/model\s+ndcg@10\s+recall@10/);
    expect(r.stdout).toMatch(/Sample recommendations from popularity/);
    expect(r.stdout).toMatch(/ 1\. .+\(\d{4}\)/);
  });
});
