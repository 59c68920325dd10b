import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { demoDataDir } from '../../src/cli/paths.js';
import { runCli, tempDir } from './helpers.js';

describe('-p with a JSON value on the command line', () => {
  const dir = tempDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sets a hybrid\'s members, so the configuration chosen for P1 pos4 runs from the CLI', async () => {
    const out = join(dir, 'hybrid.model.json');
    const members = [{ kind: 'popularity' }, { kind: 'itemknn', config: { k: 20 } }];
    const r = await runCli(['train', '--model', 'hybrid', '--data', demoDataDir(), '--out', out, '-p', `members=${JSON.stringify(members)}`, '-p', 'tuneUsers=20', '-p', 'tuneStep=0.5']);
    expect(r.code, r.stderr).toBe(0);
    const saved = JSON.parse(readFileSync(out, 'utf8')) as { kind: string; config: { members: { kind: string; config?: { k?: number } }[] } };
    expect(saved.kind).toBe('hybrid');
    expect(saved.config.members.map((m) => m.kind)).toEqual(['popularity', 'itemknn']);
    expect(saved.config.members[1]!.config?.k).toBe(20);
  });

  it('fails with the key named when the JSON is broken, and with the member named when a member is unknown', async () => {
    const bad = await runCli(['train', '--model', 'hybrid', '--data', demoDataDir(), '--out', join(dir, 'x.json'), '-p', 'members=[{"kind":"bpr"']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/members: .*not valid JSON/);
    const unknown = await runCli(['train', '--model', 'hybrid', '--data', demoDataDir(), '--out', join(dir, 'y.json'), '-p', 'members=[{"kind":"nope"}]']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown recommender "nope"/);
  });
});
