/**
 * Rate limits counted in Redis (`chorus serve --redis`): two servers on one Redis share one
 * budget, where two servers without it count separately. Against the Redis the development and
 * CI machines run (CHORUS_TEST_REDIS, default redis://127.0.0.1:6379; .ci/run starts it). Each
 * run speaks from its own random client addresses, so runs never share counters.
 */
import { randomInt } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
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

  it('refuses to start with a Redis it cannot reach, naming it', async () => {
    await expect(server('redis://127.0.0.1:1')).rejects.toThrow(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
    await expect(server('http://127.0.0.1:6379')).rejects.toThrow(/expected a redis:\/\/ or rediss:\/\/ URL/);
  });
});
