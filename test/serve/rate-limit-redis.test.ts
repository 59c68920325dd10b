/**
 * Rate limits counted in Redis (`chorus serve --redis`): two servers on one Redis share one
 * budget, where two servers without it count separately. Against the Redis the development and
 * CI machines run (CHORUS_TEST_REDIS, default redis://127.0.0.1:6379; .ci/run starts it). Each
 * run speaks from its own random client addresses, so runs never share counters.
 */
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';

const REDIS = process.env.CHORUS_TEST_REDIS ?? 'redis://127.0.0.1:6379';
const open: TestServer[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function server(redis?: string): Promise<TestServer> {
  const s = await startTestServer({ server: { authFailureLimit: { max: 5, windowMs: 60_000 }, ...(redis ? { redis } : {}) } });
  open.push(s);
  return s;
}

/** A failed authentication from `ip` (a wrong key): 401 until the address is blocked, then 429. */
async function guess(s: TestServer, ip: string): Promise<number> {
  const r = await s.app.inject({ method: 'POST', url: '/recommend', remoteAddress: ip, headers: { 'content-type': 'application/json', authorization: 'Bearer chorus_wrong-guess' }, payload: '{"user":"u1","k":2}' });
  return r.statusCode;
}

const randomIp = (): string => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

describe('rate limits in Redis', () => {
  it('two servers on one Redis share the failed-authentication budget of an address', async () => {
    const a = await server(REDIS);
    const b = await server(REDIS);
    const ip = randomIp();
    // 5 allowed failures in all, spread over both servers; the 6th is refused by either.
    expect([await guess(a, ip), await guess(b, ip), await guess(a, ip), await guess(b, ip), await guess(a, ip)]).toEqual([401, 401, 401, 401, 401]);
    expect(await guess(b, ip)).toBe(429);
    expect(await guess(a, ip)).toBe(429);
    // Another address is not affected.
    expect(await guess(b, randomIp())).toBe(401);
  });

  it('without Redis each server counts on its own (the budget is per process)', async () => {
    const a = await server();
    const b = await server();
    const ip = randomIp();
    for (let i = 0; i < 4; i++) expect(await guess(a, ip)).toBe(401);
    for (let i = 0; i < 4; i++) expect(await guess(b, ip)).toBe(401);
  });

  it('lets requests through at once, and says so, when its Redis stops answering', async () => {
    // A private Redis, so that stopping it disturbs nobody else.
    const port = 20_000 + randomInt(20_000);
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 50; i++) {
        if (await new Promise<boolean>((ok) => connect(port, '127.0.0.1').once('connect', function (this: Socket) { this.destroy(); ok(true); }).once('error', () => ok(false)))) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const s = await server(`redis://127.0.0.1:${port}`);
      const ip = randomIp();
      expect(await guess(s, ip)).toBe(401);
      const said = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      try {
        redis.kill('SIGKILL');
        await new Promise((r) => redis.once('exit', r));
        const t0 = performance.now();
        for (let i = 0; i < 3; i++) expect(await guess(s, ip)).toBe(401);
        // Without the offline queue each command fails at once; with it, a request waited 15–20 s.
        expect(performance.now() - t0).toBeLessThan(3000);
        const noticed = () => said.mock.calls.some(([m]) => /Redis at redis:\/\/127\.0\.0\.1:\d+ is not answering.*rate limits are not enforced/.test(String(m)));
        for (let i = 0; i < 40 && !noticed(); i++) await new Promise((r) => setTimeout(r, 50));
        expect(noticed()).toBe(true);
      } finally {
        said.mockRestore();
      }
    } finally {
      if (redis.exitCode === null) redis.kill('SIGKILL');
    }
  });

  it('refuses to start with a Redis it cannot reach, naming it', async () => {
    await expect(server('redis://127.0.0.1:1')).rejects.toThrow(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
    await expect(server('http://127.0.0.1:6379')).rejects.toThrow(/expected a redis:\/\/ or rediss:\/\/ URL/);
  });
});
