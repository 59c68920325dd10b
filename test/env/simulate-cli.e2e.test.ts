/** `chorus simulate --json` end to end on ml-latest-small (small budget): the documented JSON shape and a report folder. */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../cli/helpers.js';

const DIR = resolve(process.cwd(), '../shared/datasets/ml-latest-small');

describe.runIf(existsSync(DIR))('chorus simulate', () => {
  it('prints one JSON object with the documented fields and writes the report', async () => {
    const out = await mkdtemp(join(tmpdir(), 'chorus-sim-cli-'));
    const { code, stdout: text } = await runCli(['simulate', '--preset', 'sim-ml-ls-v1', '--agent', 'egreedy', '--steps', '320', '--seeds', '2', '--eval-sessions', '40', '--workers', '1', '--lambda', '0.2', '--data', DIR, '--out', out, '--json']);
    expect(code).toBe(0);
    const j = JSON.parse(text);
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
    const j = JSON.parse(text);
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
