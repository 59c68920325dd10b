import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'chorus-cli-serve-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** `chorus serve` on the bundled demo data; resolves once it listens, with what it printed. */
function serve(env: Record<string, string> = {}, extra: string[] = [], db = 'serve.db'): Promise<{ url: string; lines: string[]; proc: ChildProcess }> {
  const { CHORUS_ADMIN_KEY: _drop, ...base } = process.env;
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', resolve('test/serve/fixtures/cli.ts'), 'serve', '--port', '0', '--store', `sqlite:${join(dir, db)}`, '--model', 'popularity', ...extra],
    { cwd: process.cwd(), env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(proc);
  const lines: string[] = [];
  return new Promise((ok, fail) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      lines.push(line);
      const m = /listening on (http:\/\/\S+)/.exec(line);
      // the admin key line, when there is one, follows the listening line
      if (m) setTimeout(() => ok({ url: m[1]!, lines, proc }), 300);
    });
    let err = '';
    proc.stderr!.on('data', (d) => (err += String(d)));
    proc.once('exit', (code) => fail(new Error(`chorus serve exited (${code}): ${err}`)));
  });
}

async function stop(proc: ChildProcess): Promise<number | null> {
  proc.kill('SIGTERM');
  return new Promise((r) => proc.once('exit', (code) => r(code)));
}

async function recommend(url: string, key: string): Promise<number> {
  const res = await fetch(`${url}/recommend`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ user: '1', k: 5 }),
  });
  return res.status;
}

describe('chorus serve', () => {
  it('starts on the demo data, prints a generated admin key once, and honours CHORUS_ADMIN_KEY', async () => {
    const a = await serve();
    expect(a.lines.join('\n')).toMatch(/demo \(\d+ users, \d+ items/);
    const keyLine = a.lines.find((l) => l.includes('admin key'));
    expect(keyLine).toBeDefined();
    const key = /(chorus_\S+)/.exec(keyLine!)![1]!;
    expect(await recommend(a.url, key)).toBe(200);
    expect(await recommend(a.url, 'wrong')).toBe(401);
    expect(await stop(a.proc)).toBe(0);

    const b = await serve();
    expect(b.lines.some((l) => l.includes('admin key'))).toBe(false);
    expect(await recommend(b.url, key)).toBe(200);
    expect(await stop(b.proc)).toBe(0);

    const c = await serve({ CHORUS_ADMIN_KEY: 'from-the-environment-123' });
    expect(c.lines.some((l) => l.includes('admin key'))).toBe(false);
    expect(await recommend(c.url, 'from-the-environment-123')).toBe(200);
    expect(await stop(c.proc)).toBe(0);
  });

  it('serves a registered agent with --policy and --agent-param', async () => {
    const key = 'policy-test-admin-key-0001';
    const a = await serve({ CHORUS_ADMIN_KEY: key }, ['--policy', 'egreedy', '--agent-param', 'epsilon=0.25'], 'policy.db');
    const res = await fetch(`${a.url}/recommend`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: '1', k: 4 }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: { explanation: { policy: string; exploration: { epsilon: number } } }[] };
    expect(body.items).toHaveLength(4);
    for (const x of body.items) {
      expect(x.explanation.policy).toBe('agent:egreedy');
      expect(x.explanation.exploration.epsilon).toBe(0.25);
    }
    expect(await stop(a.proc)).toBe(0);
  });

  it('configures the default cb policy from flags, and refuses a bad setting by its flag', async () => {
    const key = 'cb-test-admin-key-0001';
    const a = await serve(
      { CHORUS_ADMIN_KEY: key },
      ['--explore', 'softmax', '--alpha', '0', '--interactions', 'user:_id', '--bits', '16', '--policy-param', 'temperature=0.5', '--reward-wait', '5'],
      'cb.db',
    );
    const res = await fetch(`${a.url}/personalizer/v1.0/rank`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ contextFeatures: [{ user: { segment: 'a' } }], actions: [{ id: 'x', features: [{ k: 1 }] }, { id: 'y', features: [{ k: 2 }] }] }),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { ranking: { probability: number }[] };
    // softmax at τ = 0.5 over equal scores: both actions equally likely.
    expect(body.ranking.map((x) => x.probability)).toEqual([0.5, 0.5]);
    expect(await stop(a.proc)).toBe(0);
    await expect(serve({}, ['--explore', 'boltzmann'], 'bad.db')).rejects.toThrow(/field "explore": expected one of egreedy, softmax, squarecb/);
    await expect(serve({}, ['--policy-param', 'lamda=2'], 'bad.db')).rejects.toThrow(/field "policy-param": unknown cb setting "lamda"/);
  });
});
