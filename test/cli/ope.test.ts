import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeOpeLog, type OpeRecord } from '../../src/ope/logs.js';
import { Rng } from '../../src/util/rng.js';
import { runCli, tempDir, writeTinyMovieLens } from './helpers.js';

const dir = tempDir('chorus-cli-ope-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A uniform logging policy over 4 actions; action "3" pays 0.8, the others 0.2 (Bernoulli). */
async function syntheticLog(path: string, n: number, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const recs: OpeRecord[] = [];
  for (let i = 0; i < n; i++) {
    const a = rng.int(4);
    recs.push({ candidates: [0, 1, 2, 3], chosen: a, propensity: 0.25, reward: rng.next() < (a === 3 ? 0.8 : 0.2) ? 1 : 0 });
  }
  await writeOpeLog(path, recs);
}

describe('chorus ope --log', () => {
  it('prints the estimates, n and ESS as JSON, with the log stamp', async () => {
    const log = join(dir, 'log.jsonl');
    await syntheticLog(log, 2000, 1);
    const pi = join(dir, 'pi.csv');
    // Target: action 3 with 0.7, the rest 0.1 each; true value 0.7·0.8 + 0.3·0.2 = 0.62.
    const { writeFileSync } = await import('node:fs');
    writeFileSync(pi, `record,action,probability\n*,0,0.1\n*,1,0.1\n*,2,0.1\n*,3,0.7\n`);
    const r = await runCli(['ope', '--log', log, '--policy', pi, '--estimators', 'dm,ips,snips,dr', '--bootstrap', '200', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { estimates: Record<string, { value: number; ci95: [number, number] }>; n: number; ess: number; maxWeight: number; log: { source: string; sha256: string; format: string } };
    expect(Object.keys(out.estimates)).toEqual(['dm', 'ips', 'snips', 'dr']);
    expect(out.n).toBe(2000);
    for (const e of Object.values(out.estimates)) {
      expect(e.ci95[0]).toBeLessThan(e.value);
      expect(e.ci95[1]).toBeGreaterThan(e.value);
      // Every estimator lands near the true 0.62 with 2,000 records.
      expect(Math.abs(e.value - 0.62)).toBeLessThan(0.05);
    }
    // Weights 0.4 (×3/4 of records) and 2.8 (×1/4): Kish's ESS = n (Σw)²/(n Σw²) ≈ 2000·1/(0.75·0.16+0.25·7.84).
    expect(out.ess).toBeGreaterThan(850);
    expect(out.ess).toBeLessThan(1050);
    expect(out.maxWeight).toBeCloseTo(2.8, 12);
    expect(out.log.format).toBe('chorus');
    expect(out.log.source).toBe(log);
    expect(out.log.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('prints a table by default, and is deterministic for a seed', async () => {
    const log = join(dir, 'log2.jsonl');
    await syntheticLog(log, 300, 2);
    const a = await runCli(['ope', '--log', log, '--policy', 'uniform', '--bootstrap', '100', '--seed', '3']);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/estimator\s+value\s+95 % CI\s+n\s+ESS/);
    expect(a.stdout).toMatch(/^dr\s+0\.\d+\s+\[0\.\d+, 0\.\d+\]\s+300/m);
    const b = await runCli(['ope', '--log', log, '--policy', 'uniform', '--bootstrap', '100', '--seed', '3']);
    expect(b.stdout).toBe(a.stdout);
  });

  it('adds the slate estimators when the log holds slates', async () => {
    const log = join(dir, 'slates.jsonl');
    const rng = new Rng(6);
    const recs: OpeRecord[] = [];
    for (let i = 0; i < 200; i++) {
      // A uniformly random ranking of 4 items, 2 slots: each item in each slot with 1/4.
      const order = rng.shuffle([0, 1, 2, 3]);
      const clicks = order.slice(0, 2).map((a) => (rng.next() < (a === 0 ? 0.5 : 0.1) ? 1 : 0));
      recs.push({ candidates: [0, 1, 2, 3], chosen: order[0]!, propensity: 0.25, reward: clicks[0]!, slate: order.slice(0, 2), slotPropensities: [0.25, 0.25], slotRewards: clicks });
    }
    await writeOpeLog(log, recs);
    const r = await runCli(['ope', '--log', log, '--policy', 'uniform', '--estimators', 'ips', '--bootstrap', '0', '--json']);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { estimates: { ips: { value: number } }; slates: { K: number; n: number; estimates: Record<string, { value: number }> } };
    expect(out.slates.K).toBe(2);
    expect(out.slates.n).toBe(200);
    // Target = logging policy: every slot weight is 1, so both slate estimators give the mean slate reward.
    const mean = recs.reduce((s, x) => s + x.slotRewards![0]! + x.slotRewards![1]!, 0) / 200;
    expect(out.slates.estimates['position-ips']!.value).toBeCloseTo(mean, 12);
    expect(out.slates.estimates['pseudo-inverse']!.value).toBeCloseTo(mean, 12);
    expect(out.estimates.ips.value).toBeCloseTo(recs.reduce((s, x) => s + x.reward, 0) / 200, 12);
  });

  it('reads the Open Bandit CSV and ranks by affinity, softened', async () => {
    const csv = join('..', 'shared', 'datasets', 'open-bandit-sample', 'random', 'men', 'men.csv');
    const r = await runCli(['ope', '--log', csv, '--policy', 'affinity', '--epsilon', '0.2', '--reward-model', 'action-mean', '--bootstrap', '50', '--json']);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { n: number; policy: string; log: { format: string }; maxWeight: number };
    expect(out.n).toBe(10_000);
    expect(out.log.format).toBe('obd');
    expect(out.policy).toBe('affinity+epsilon=0.2');
    // Uniform logging 1/34: the largest weight is (0.8 + 0.2/34)·34 when affinity has one winner.
    expect(out.maxWeight).toBeCloseTo((0.8 + 0.2 / 34) * 34, 6);
  });

  it('evaluates a `chorus train` model file as a ranking policy', async () => {
    const data = join(dir, 'ml');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(data);
    writeTinyMovieLens(data, 20, 30, 4);
    const model = join(dir, 'pop.model.json');
    expect((await runCli(['train', '--model', 'popularity', '--data', data, '--out', model, '--json'])).code).toBe(0);
    const index = JSON.parse(readFileSync(join(dir, 'pop.model.index.json'), 'utf8')) as { items: string[]; popularity: number[] };
    // The most popular of items 1–5 is the model's pick among them.
    const cands = ['1', '2', '3', '4', '5'];
    const pop = (id: string) => index.popularity[index.items.indexOf(id)]!;
    const best = cands.reduce((b, c) => (pop(c) > pop(b) ? c : b));
    expect(cands.filter((c) => pop(c) === pop(best)).length).toBe(1);
    const log = join(dir, 'ml-log.jsonl');
    // Each record logged `best` or another item with propensity 0.2; reward 1 only for `best`.
    const recs: OpeRecord[] = cands.map((c) => ({ user: '1', candidates: cands, chosen: c, propensity: 0.2, reward: c === best ? 1 : 0 }));
    await writeOpeLog(log, recs);
    const r = await runCli(['ope', '--log', log, '--policy', model, '--estimators', 'ips', '--bootstrap', '0', '--json']);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { estimates: { ips: { value: number; ci95: [null, null] } }; maxWeight: number };
    // π(best) = 1: IPS = (1/5)·(1/0.2)·1 = 1.
    expect(out.estimates.ips.value).toBeCloseTo(1, 12);
    expect(out.estimates.ips.ci95).toEqual([null, null]);
    expect(out.maxWeight).toBeCloseTo(5, 12);
    // The same recommender by name, fitted on --train-data, ranks the same way.
    const f = await runCli(['ope', '--log', log, '--policy', 'popularity', '--train-data', data, '--estimators', 'ips', '--bootstrap', '0', '--json']);
    expect(f.stderr).toBe('');
    expect((JSON.parse(f.stdout) as { estimates: { ips: { value: number } } }).estimates.ips.value).toBeCloseTo(1, 12);
  });

  it('fails with one line naming the file, line and field, or the flag', async () => {
    const bad = join(dir, 'bad.jsonl');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(bad, `${JSON.stringify({ candidates: [1, 2], chosen: 1, propensity: 0.5, reward: 1 })}\n${JSON.stringify({ candidates: [1, 2], chosen: 1, propensity: 2, reward: 1 })}\n`);
    const a = await runCli(['ope', '--log', bad, '--policy', 'uniform', '--json']);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/^chorus: .*bad\.jsonl:2 field "propensity": expected a probability/);
    expect(a.stderr.trim().split('\n')).toHaveLength(1);
    const b = await runCli(['ope', '--log', bad, '--policy', 'uniform', '--estimators', 'ips,magic']);
    expect(b.stderr).toMatch(/unknown estimator "magic"/);
    const c = await runCli(['ope', '--log', bad, '--policy', 'uniform', '--reward-model', 'forest']);
    expect(c.stderr).toMatch(/unknown reward model "forest"/);
    const good = join(dir, 'good.jsonl');
    await syntheticLog(good, 10, 5);
    const d = await runCli(['ope', '--log', good, '--policy', 'als']);
    expect(d.stderr).toMatch(/policy "als" is a recommender: give --train-data/);
    const e = await runCli(['ope', '--policy', 'uniform']);
    expect(e.stderr).toMatch(/field "log"/);
    const g = await runCli(['ope', '--log', good, '--preset', 'sim-ml-ls-v1', '--behaviour', 'random', '--policy', 'random']);
    expect(g.stderr).toMatch(/either --log or --preset/);
  });
});
