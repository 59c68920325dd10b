// A real `chorus serve` process with an injected learning-loop fault keeps answering, counts the
// errors in /metrics, and exits on SIGTERM: at once when closing works, after the 10 s shutdown
// timeout (exit 1) when the last checkpoint hangs, and immediately on a second signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';

const KEY = 'shutdown-test-admin-key-0001';
const dir = mkdtempSync(join(tmpdir(), 'chorus-shutdown-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Child {
  url: string;
  proc: ChildProcess;
  stderr: () => string;
  /** Resolves with the exit code and the ms from `since` to the exit. */
  exited: (since: number) => Promise<{ code: number | null; ms: number }>;
}

function serve(faults: string, db: string): Promise<Child> {
  const { CHORUS_ADMIN_KEY: _drop, ...base } = process.env;
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', resolve('test/serve/fixtures/faulty-cli.ts'), 'serve', '--port', '0', '--store', `sqlite:${join(dir, db)}`, '--model', 'popularity'],
    { cwd: process.cwd(), env: { ...base, CHORUS_ADMIN_KEY: KEY, CHORUS_TEST_FAULTS: faults }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(proc);
  let err = '';
  proc.stderr!.on('data', (d) => (err += String(d)));
  const exit = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return new Promise((ok, fail) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) {
        ok({
          url: m[1]!,
          proc,
          stderr: () => err,
          exited: async (since) => {
            const code = await exit;
            return { code, ms: Date.now() - since };
          },
        });
      }
    });
    proc.once('exit', (code) => fail(new Error(`chorus serve exited (${code}): ${err}`)));
  });
}

// `body: any`: parsed JSON, read field by field by the test.
async function call(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined, text };
}

async function clicks(url: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await call(url, 'POST', '/recommend', { user: '1', k: 3 });
    expect(r.status).toBe(200);
    const f = await call(url, 'POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[0].id, type: 'click' });
    expect(f.status).toBe(201);
  }
}

async function learnErrors(url: string, stage: string): Promise<number> {
  const m = await call(url, 'GET', '/metrics');
  const line = m.text.split('\n').find((l) => l.startsWith(`chorus_learn_errors_total{stage="${stage}"} `));
  return Number(line?.split(' ').pop() ?? NaN);
}

describe('chorus serve with a failing learning loop', () => {
  it('keeps answering, counts the errors, and exits 0 on SIGTERM although the last checkpoint fails', async () => {
    const c = await serve('learn,checkpoint-fails', 'fails.db');
    await clicks(c.url, 5);
    let errors = 0;
    for (let t = 0; t < 50 && errors < 5; t++) {
      errors = await learnErrors(c.url, 'learn');
      if (errors < 5) await new Promise((r) => setTimeout(r, 100));
    }
    expect(errors).toBe(5);
    expect((await call(c.url, 'GET', '/healthz')).status).toBe(200);
    const t0 = Date.now();
    c.proc.kill('SIGTERM');
    const { code, ms } = await c.exited(t0);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5_000);
    expect(c.stderr()).toMatch(/learning: learn of feedback seq \d+ failed: injected learn failure/);
    expect(c.stderr()).toMatch(/learning: checkpoint failed: injected checkpoint failure/);
    expect(c.stderr()).toContain('SIGTERM, closing');
  });

  it('exits 1 after the shutdown timeout when closing hangs', async () => {
    const c = await serve('checkpoint-hangs', 'hangs.db');
    await clicks(c.url, 2);
    const t0 = Date.now();
    c.proc.kill('SIGTERM');
    const { code, ms } = await c.exited(t0);
    expect(code).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(9_500);
    expect(ms).toBeLessThan(15_000);
    expect(c.stderr()).toContain('still running 10 s after SIGTERM, exiting');
  });

  it('exits at once on a second signal while closing hangs', async () => {
    const c = await serve('checkpoint-hangs', 'hangs2.db');
    await clicks(c.url, 2);
    c.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    c.proc.kill('SIGINT');
    const { code, ms } = await c.exited(t0);
    expect(code).toBe(130);
    expect(ms).toBeLessThan(2_000);
    expect(c.stderr()).toContain('SIGINT again, exiting without finishing the close');
  });
});
