/**
 * `chorus simulate --json` end to end (small budgets): the documented JSON shape and a report
 * folder on ml-latest-small, and worlds calibrated on other data (Last.fm, a CSV with string ids
 * and no timestamps). The datasets come from ../shared; a missing one fails the test.
 */
import { writeFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/util/rng.js';
import { runCli, tempDir } from '../cli/helpers.js';

const DIR = resolve(process.cwd(), '../shared/datasets/ml-latest-small');
const LASTFM = resolve(process.cwd(), '../shared/datasets/hetrec2011-lastfm-2k');

describe('chorus simulate', () => {
  it('prints one JSON object with the documented fields and writes the report', async () => {
    const out = await mkdtemp(join(tmpdir(), 'chorus-sim-cli-'));
    const { code, stdout: text, stderr } = await runCli(['simulate', '--preset', 'sim-ml-ls-v1', '--agent', 'egreedy', '--steps', '320', '--seeds', '2', '--eval-sessions', '40', '--workers', '1', '--lambda', '0.2', '--data', DIR, '--out', out, '--json']);
    expect(code).toBe(0);
    // Fewer than 5 seeds: the intervals over seeds mean little, and the command says so.
    expect(stderr).toMatch(/warning: 2 seeds: .*fewer than 5/);
    const doc = JSON.parse(text);
    // One shape whatever the number of agents.
    expect(doc.runs).toHaveLength(1);
    expect(doc.report).toBe(out);
    const j = doc.runs[0];
    expect(j.data).toMatchObject({ name: 'ml-latest-small', split: 't20', valueMapping: 'identity' });
    expect(j.data.sha256).toMatch(/^aa289ca83157/);
    expect(j.preset).toBe('sim-ml-ls-v1');
    expect(j.agent).toBe('egreedy');
    expect(j.seeds).toBe(2);
    expect(j.trainSteps).toBe(320);
    expect(j.lambda).toBe(0.2);
    expect(typeof j.return.mean).toBe('number');
    expect(j.return.ci95).toHaveLength(2);
    expect(j.return.ci95[0]).toBeLessThanOrEqual(j.return.mean);
    for (const k of ['ctr', 'sessionLength', 'exposureGini', 'coldExposureShare']) expect(typeof j[k]).toBe('number');
    expect(await readdir(out)).toContain('report.md');
  });

  it('runs the team with an extra agent and reports per-agent weights and contributions', async () => {
    const { code, stdout: text } = await runCli(['simulate', '--agent', 'team', '--coordination', 'vdn', '--fusion', 'weighted', '--extras', 'mf{"factors":8,"epochs":3}', '-p', 'members=user,mf', '-p', 'learner=rls', '--steps', '160', '--seeds', '1', '--eval-sessions', '20', '--data', DIR, '--no-report', '--json']);
    expect(code).toBe(0);
    const j = JSON.parse(text).runs[0];
    expect(j.agent).toBe('team');
    expect(j.coordination).toBe('vdn');
    expect(Object.keys(j.agents).sort()).toEqual(['mf', 'user']);
    let share = 0;
    for (const a of Object.values(j.agents) as { weight: number; contribution: number; share: number }[]) {
      for (const v of [a.weight, a.contribution, a.share]) expect(Number.isFinite(v)).toBe(true);
      share += a.share;
    }
    expect(share).toBeCloseTo(1, 6);
  });

  it('calibrates a world on Last.fm play counts (no timestamps) and names that data in the report', async () => {
    const out = await mkdtemp(join(tmpdir(), 'chorus-sim-lastfm-'));
    const { code, stdout: text } = await runCli(['simulate', '--agent', 'linucb,popularity', '--steps', '400', '--seeds', '2', '--eval-sessions', '30', '--workers', '1', '--data', LASTFM, '--out', out, '--json']);
    expect(code).toBe(0);
    const doc = JSON.parse(text);
    expect(doc.runs.map((r: { agent: string }) => r.agent)).toEqual(['linucb', 'popularity']);
    for (const r of doc.runs) {
      expect(r.data).toMatchObject({ name: 'hetrec2011-lastfm-2k', split: 'random20', valueMapping: 'user-percentile' });
      expect(Number.isFinite(r.return.mean)).toBe(true);
      expect(r.ctr).toBeGreaterThan(0);
    }
    const md = await readFile(join(out, 'report.md'), 'utf8');
    expect(md).toContain('dataset hetrec2011-lastfm-2k');
    expect(md).not.toContain('ml-latest-small');
  });

  it('calibrates a world on a CSV with string ids, 0–10 scores and no timestamps', async () => {
    const dir = tempDir();
    const file = join(dir, 'shop.csv');
    const rng = new Rng(4);
    const lines = ['user,item,rating'];
    for (let u = 0; u < 60; u++) {
      const seen = new Set<number>();
      while (seen.size < 15) seen.add(Math.floor(120 * rng.next() ** 2));
      for (const i of seen) lines.push(`u-${u},item-${i},${rng.int(11)}`);
    }
    writeFileSync(file, `${lines.join('\n')}\n`);
    const { code, stdout: text } = await runCli(['simulate', '--agent', 'linucb', '--steps', '300', '--seeds', '1', '--eval-sessions', '20', '--workers', '1', '--data', file, '--no-report', '--json']);
    expect(code).toBe(0);
    const r = JSON.parse(text).runs[0];
    expect(r.data).toMatchObject({ name: 'shop', split: 'random20', valueMapping: 'affine' });
    expect(Number.isFinite(r.return.mean)).toBe(true);
  });

  it('rejects a bad --extras spec before any training, naming the flag', async () => {
    const { code, stderr: text } = await runCli(['simulate', '--agent', 'team', '--extras', 'mf{"factors":8', '--data', DIR, '--json']);
    expect(code).not.toBe(0);
    expect(text).toMatch(/extras/);
    expect(text).toMatch(/no closing brace/);
  });

  it('fails with one clear line for an unknown agent', async () => {
    const { code, stderr: text } = await runCli(['simulate', '--agent', 'nope', '--json']);
    expect(code).not.toBe(0);
    expect(text).toMatch(/unknown agent "nope"/);
  });
});
