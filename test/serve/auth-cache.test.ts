import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/serve/auth.js';
import { startTestServer, type TestServer } from './helpers.js';

// KeyRing.verify remembers tokens that verified (issue 22: two sha256 per request were measurable
// on /recommend). The cache must never outlive a key: revoking or replacing keys clears it.
describe('verified-token cache of the key ring', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => {
    await s.close();
  });

  it('keeps accepting a key it has verified, and stops at once when the key is revoked', async () => {
    const issued = await s.call('POST', '/keys', { scope: 'client', name: 'cached' });
    expect(issued.status).toBe(201);
    const key = issued.body.key as string;
    for (let i = 0; i < 3; i++) expect((await s.call('POST', '/recommend', { user: 'u1', k: 2 }, { key })).status).toBe(200);
    expect((await s.call('DELETE', `/keys/${issued.body.id as string}`)).status).toBe(204);
    const after = await s.call('POST', '/recommend', { user: 'u1', k: 2 }, { key });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('E_UNAUTHORIZED');
  });

  it('returns the key record on a cache hit as on the first check, and refuses a wrong token every time', async () => {
    const ring = new KeyRing(s.store);
    await ring.load();
    const { record, key } = await ring.issue('client', 'direct');
    const first = ring.verify(key);
    expect(first).toBe(ring.verify(key));
    expect(first?.id).toBe(record.id);
    expect(ring.authorize(key, 'client').id).toBe(record.id);
    expect(() => ring.authorize(key, 'admin')).toThrow(/admin scope/);
    // Same lookup id prefix is impossible to arrange; a near-miss token must fail on every call.
    for (let i = 0; i < 3; i++) expect(ring.verify(`${key}x`)).toBeUndefined();
    await ring.remove(record.id);
    expect(ring.verify(key)).toBeUndefined();
  });
});
