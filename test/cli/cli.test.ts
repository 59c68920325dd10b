import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir, writeTinyMovieLens } from './helpers.js';

describe('chorus evaluate', () => {
  it('--json prints exactly one JSON object with the contract fields', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir);
    const r = await runCli(['evaluate', '--protocol', 'ml-ls-t20', '--variant', 'all', '--model', 'popularity', '--data', dir, '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const doc = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(doc).toMatchObject({ protocol: 'ml-ls-t20', variant: 'all', model: 'popularity' });
    const metrics = doc.metrics as Record<string, number>;
    for (const key of ['ndcg@10', 'recall@10', 'precision@10', 'hr@10', 'coverage@10']) {
      expect(typeof metrics[key]).toBe('number');
      expect(metrics[key]).toBeGreaterThanOrEqual(0);
      expect(metrics[key]).toBeLessThanOrEqual(1);
    }
    expect(typeof doc.fitSeconds).toBe('number');
    const stamp = doc.stamp as Record<string, unknown>;
    expect(stamp).toMatchObject({ protocol: 'ml-ls-t20', variant: 'all', k: 10, seeds: [0], model: 'popularity' });
    expect((stamp.dataset as { sha256: string }).sha256).toMatch(/^[0-9a-f]{12}$/);
    expect(doc.perUser).toBeUndefined();
  });

  it('the pos4 variant keeps only ratings ≥ 4 and a human table names the protocol', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir);
    const all = JSON.parse((await runCli(['evaluate', '--model', 'popularity', '--data', dir, '--json', '--bootstrap', '0'])).stdout) as { split: { train: number; test: number } };
    const pos4 = JSON.parse((await runCli(['evaluate', '--model', 'popularity', '--variant', 'pos4', '--data', dir, '--json', '--bootstrap', '0'])).stdout) as { split: { train: number; test: number } };
    const ratings = readFileSync(join(dir, 'ratings.csv'), 'utf8').trim().split('\n').slice(1);
    expect(all.split.train + all.split.test).toBe(ratings.length);
    expect(pos4.split.train + pos4.split.test).toBe(ratings.filter((l) => Number(l.split(',')[2]) >= 4).length);
    const human = await runCli(['evaluate', '--model', 'popularity', '--data', dir]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ml-ls-t20 \(all\) · popularity/);
    expect(human.stdout).toMatch(/protocol ml-ls-t20 variant all K=10 seed=0 \| data .*ratings\.csv sha256:[0-9a-f]{12}/);
  });

  it('--split validation scores a part cut from train, never the test rows', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir);
    const test = JSON.parse((await runCli(['evaluate', '--model', 'popularity', '--data', dir, '--json', '--bootstrap', '0'])).stdout) as { protocol: string; split: { train: number; test: number } };
    const val = JSON.parse((await runCli(['evaluate', '--model', 'popularity', '--data', dir, '--json', '--bootstrap', '0', '--split', 'validation'])).stdout) as { protocol: string; split: { train: number; test: number } };
    expect(val.protocol).toBe('ml-ls-t20/validation');
    expect(val.split.train + val.split.test).toBe(test.split.train);
    expect(val.split.test).toBeGreaterThan(0);
  });

  it('--per-user writes one CSV row per evaluated user, keyed by external id', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir);
    const csv = join(dir, 'per-user.csv');
    const r = await runCli(['evaluate', '--model', 'popularity', '--data', dir, '--json', '--bootstrap', '0', '--per-user', csv]);
    const doc = JSON.parse(r.stdout) as { users: number; metrics: Record<string, number> };
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows[0]).toBe('user,nTest,hits,precision,recall,f1,ndcg,ap,rr,hr,novelty,ild');
    expect(rows).toHaveLength(doc.users + 1);
    // the per-user NDCG column averages to the reported NDCG@10
    const mean = rows.slice(1).reduce((s, l) => s + Number(l.split(',')[6]), 0) / doc.users;
    expect(mean).toBeCloseTo(doc.metrics['ndcg@10']!, 12);
    expect(rows.slice(1).map((l) => l.split(',')[0])).toContain('1');
  });

  it('labels sampled-negative results and compares two models', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir);
    const r = await runCli(['evaluate', '--model', 'popularity', '--data', dir, '--json', '--sampled-negatives', '20', '--compare', 'itemknn']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { candidates: { mode: string; negatives: number }; stamp: { protocol: string }; comparison: { model: string; paired: { n: number; meanDiff: number; pValue: number } } };
    expect(doc.candidates).toMatchObject({ mode: 'sampled', negatives: 20 });
    expect(doc.stamp.protocol).toBe('ml-ls-t20+sampled20');
    expect(doc.comparison.model).toBe('itemknn');
    expect(doc.comparison.paired.n).toBeGreaterThan(0);
    expect(doc.comparison.paired.pValue).toBeGreaterThanOrEqual(0);
  });

  it('an unknown model, variant or protocol is one line on stderr and exit ≠ 0', async () => {
    for (const args of [
      ['--model', 'nope'],
      ['--variant', 'pos5'],
      ['--protocol', 'ml-xx'],
    ]) {
      const r = await runCli(['evaluate', '--data', tempDir(), ...args, '--json']);
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^chorus: unknown /);
    }
  });
});

describe('errors', () => {
  it('a malformed data file gives one line naming file:line:column', async () => {
    const dir = tempDir();
    const file = join(dir, 'ratings.csv');
    writeFileSync(file, 'userId,movieId,rating,timestamp\n1,10,4.0,964982703\n1,11,four,964982704\n');
    const r = await runCli(['import', file, '--out', join(dir, 'x.ds')]);
    expect(r.code).not.toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`${file}:3:`);
    expect(lines[0]).toMatch(/ratings\.csv:3:\d+/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an invalid config file names the field', async () => {
    const dir = tempDir();
    const cfg = join(dir, 'chorus.config.json');
    writeFileSync(cfg, JSON.stringify({ evaluate: { k: 0 } }));
    const r = await runCli(['--config', cfg, 'evaluate', '--model', 'popularity', '--data', dir]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('field "evaluate.k"');
  });

  it('flags override the config file', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir);
    const cfg = join(dir, 'c.yaml');
    writeFileSync(cfg, `data: ${dir}\nmodel: itemknn\nevaluate:\n  k: 5\n  bootstrap: 0\n`);
    const fromConfig = JSON.parse((await runCli(['--config', cfg, 'evaluate', '--json'])).stdout) as { model: string; k: number };
    expect(fromConfig).toMatchObject({ model: 'itemknn', k: 5 });
    const overridden = JSON.parse((await runCli(['--config', cfg, 'evaluate', '--json', '--model', 'popularity', '-k', '3'])).stdout) as { model: string; k: number };
    expect(overridden).toMatchObject({ model: 'popularity', k: 3 });
  });
});

describe('import, train, recommend', () => {
  it('imports with a cleaning report, trains on the snapshot and recommends with titles', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir);
    // a duplicate (user 1, movie 1 appears again) is reported and merged by the default policy
    const ratings = join(dir, 'ratings.csv');
    const first = readFileSync(ratings, 'utf8').split('\n')[1]!;
    writeFileSync(ratings, `${readFileSync(ratings, 'utf8')}${first}\n`);
    const snap = join(dir, 'tiny.chorus-dataset');
    const imp = await runCli(['import', dir, '--out', snap, '--json']);
    expect(imp.code).toBe(0);
    const report = JSON.parse(imp.stdout) as { report: { issues: { kind: string; count: number }[] }; snapshot: string };
    expect(report.snapshot).toBe(snap);
    expect(report.report.issues.find((i) => i.kind === 'duplicate')?.count).toBe(1);

    const modelFile = join(dir, 'knn.model.json');
    const tr = await runCli(['train', '--model', 'itemknn', '--data', snap, '--out', modelFile, '-p', 'k=20']);
    expect(tr.code).toBe(0);
    expect(tr.stdout).toContain('trained itemknn');

    const rec = await runCli(['recommend', '--model-file', modelFile, '--user', '3', '-k', '4', '--json']);
    expect(rec.code).toBe(0);
    const recs = JSON.parse(rec.stdout) as { items: { rank: number; item: string; title: string }[] };
    expect(recs.items).toHaveLength(4);
    expect(recs.items[0]!.title).toMatch(/^Movie \d+, The \(\d{4}\)$/);
    // never an item the user already rated
    const seen = new Set(readFileSync(ratings, 'utf8').trim().split('\n').slice(1).filter((l) => l.startsWith('3,')).map((l) => l.split(',')[1]));
    for (const it of recs.items) expect(seen.has(it.item)).toBe(false);

    const human = await runCli(['recommend', '--model-file', modelFile, '--user', '3']);
    expect(human.stdout).toMatch(/rank\s+item\s+title\s+score/);
    // A user the model does not know gets the most popular items (test/cli/recommend-unknown.test.ts).
    const unknown = await runCli(['recommend', '--model-file', modelFile, '--user', 'nobody']);
    expect(unknown.code).toBe(0);
    expect(unknown.stdout).toMatch(/user nobody .*not in the training data, so the most popular items/);
  });
});

describe('chorus config', () => {
  it('prints the validated config and the JSON Schema', async () => {
    const dir = tempDir();
    const cfg = join(dir, 'chorus.config.json');
    writeFileSync(cfg, JSON.stringify({ $schema: './chorus.config.schema.json', model: 'ease', evaluate: { k: 20 } }));
    const r = await runCli(['--config', cfg, 'config', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ file: cfg, config: { $schema: './chorus.config.schema.json', model: 'ease', evaluate: { k: 20 } } });
    const s = await runCli(['config', '--schema']);
    const schema = JSON.parse(s.stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['data', 'model', 'models', 'evaluate', 'import', 'train', 'recommend', 'demo']));
  });
});

describe('chorus import of a generic file', () => {
  it('maps columns by flag and reports cleaning by the chosen policies', async () => {
    const dir = tempDir();
    const file = join(dir, 'events.csv');
    // header names a generic reader cannot guess; one empty value; one out-of-order duplicate
    writeFileSync(file, 'shopper,sku,qty,when\na,x,2,100\na,y,,101\nb,x,1,102\na,x,3,103\n');
    const r = await runCli(['import', file, '--columns', 'user=shopper,item=sku,value=qty,timestamp=when', '--duplicates', 'sum', '--missing', 'constant', '--fill-value', '1', '--out', join(dir, 'e.ds'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { dataset: { users: number; items: number; interactions: number }; report: { rowsRead: number; issues: { kind: string; action: string; count: number }[] } };
    expect(doc.dataset).toMatchObject({ users: 2, items: 2, interactions: 3 });
    expect(doc.report.rowsRead).toBe(4);
    const kinds = Object.fromEntries(doc.report.issues.map((i) => [`${i.kind}/${i.action}`, i.count]));
    expect(kinds['missing-value/repaired']).toBe(1);
    expect(kinds['duplicate/merged']).toBe(1);
    const bad = await runCli(['import', file, '--columns', 'shopper']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/field "columns"/);
  });
});

describe('chorus list', () => {
  it('lists every required model and both offline protocols', async () => {
    const r = await runCli(['list', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { models: { name: string }[]; protocols: { id: string; variants: string[] }[] };
    expect(doc.models.map((m) => m.name)).toEqual(expect.arrayContaining(['popularity', 'itemknn', 'userknn', 'als', 'bpr', 'mf', 'ease']));
    expect(doc.protocols.find((p) => p.id === 'ml-ls-t20')?.variants).toEqual(['all', 'pos4']);
  });
});
