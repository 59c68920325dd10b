import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = process.cwd();

/** The README's library quick start, run exactly as printed against the built package. */
describe('README quick start', () => {
  it('runs and prints titles and metrics', async () => {
    const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Library quick start'));
    const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code).toBeDefined();
    // Inside the package folder, so that `import … from 'chorus'` resolves to this package (self-reference).
    mkdirSync(resolve(ROOT, '.chorus'), { recursive: true });
    const file = resolve(ROOT, '.chorus/readme-quickstart.mjs');
    writeFileSync(file, code!);
    const { stdout } = await run('node', [file], { cwd: ROOT, maxBuffer: 16 << 20 });
    const lines = stdout.trim().split('\n');
    // five titles, then NDCG/recall/users, then the protocol run
    for (const t of lines.slice(0, 5)) expect(t).toMatch(/\(\d{4}\)\s*$/);
    const [ndcg, recall, users] = lines[5]!.split(' ').map(Number);
    expect(ndcg).toBeGreaterThan(0);
    expect(recall).toBeGreaterThan(0);
    expect(users).toBe(150);
    expect(lines.slice(6).join('\n')).toMatch(/^0\.\d+ \{ lo: 0\.\d+, hi: 0\.\d+ \} [0-9a-f]{7,}|chorus-rec@/);
  });
});
