import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeVersion, fileSha256, formatStamp } from '../../src/eval/stamp.js';

describe('reporting stamp', () => {
  it('hashes a file with sha256', async () => {
    const f = join(tmpdir(), `chorus-stamp-${process.pid}.txt`);
    writeFileSync(f, 'abc');
    // sha256("abc"), FIPS 180-2 test vector
    expect(await fileSha256(f)).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('names the code version: a git commit here, else the package version', () => {
    expect(codeVersion()).toMatch(/^([0-9a-f]{12}(-dirty)?|chorus-rec@\d+\.\d+\.\d+)$/);
  });

  it('prints every field of the stamp on one line', () => {
    const line = formatStamp({
      protocol: 'ml-ls-t20',
      dataset: { file: 'ratings.csv', sha256: 'aa289ca83157' },
      variant: 'pos4',
      k: 10,
      seeds: [0, 1],
      model: 'als',
      hyperparameters: { factors: 64, solver: 'cg' },
      codeVersion: 'abc123',
      wallSeconds: 1.234,
      date: '2026-11-23T12:00:00.000Z',
    });
    expect(line).toBe(
      'protocol ml-ls-t20 variant pos4 K=10 seed=0/1 | data ratings.csv sha256:aa289ca83157 | model als{factors=64,solver=cg} | code abc123 | wall 1.23 s | 2026-11-23T12:00:00.000Z',
    );
    expect(line).not.toContain('\n');
  });
});
