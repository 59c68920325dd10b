/** `chorus simulate --json` end to end on ml-latest-small (small budget): the documented JSON shape and a report folder. */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

const DIR = resolve(process.cwd(), '../shared/datasets/ml-latest-small');

describe.runIf(existsSync(DIR))('chorus simulate', () => {
  it('prints one JSON object with the documented fields and writes the report', async () => {
    const out = await mkdtemp(join(tmpdir(), 'chorus-sim-cli-'));
    const chunks: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string | Uint8Array) => {
      chunks.push(String(s));
      return true;
    }) as typeof process.stdout.write;
    let code: number;
    try {
      code = await main(['node', 'chorus', 'simulate', '--preset', 'sim-ml-ls-v1', '--agent', 'egreedy', '--steps', '320', '--seeds', '2', '--eval-sessions', '40', '--workers', '1', '--lambda', '0.2', '--data', DIR, '--out', out, '--json']);
    } finally {
      process.stdout.write = write;
    }
    expect(code).toBe(0);
    const j = JSON.parse(chunks.join(''));
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

  it('fails with one clear line for an unknown agent', async () => {
    const errs: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string | Uint8Array) => {
      errs.push(String(s));
      return true;
    }) as typeof process.stderr.write;
    let code: number;
    try {
      code = await main(['node', 'chorus', 'simulate', '--agent', 'nope', '--json']);
    } finally {
      process.stderr.write = write;
    }
    expect(code).not.toBe(0);
    expect(errs.join('')).toMatch(/unknown agent "nope"/);
  });
});
