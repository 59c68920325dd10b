import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/serve/engine.js';
import { startTestServer } from './helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'chorus-restart-'));
  dirs.push(d);
  return d;
}

/** The serving policy's learned weights (the default `cb` policy: its ridge θ), to compare across restarts. */
function weights(e: Engine): number[] {
  const st = e.policy.getState() as { model: { theta: Float64Array } };
  return Array.from(st.model.theta);
}

async function traffic(s: Awaited<ReturnType<typeof startTestServer>>, n: number, key?: string) {
  for (let t = 0; t < n; t++) {
    const r = await s.call('POST', '/recommend', { user: `u${1 + (t % 6)}`, k: 3, context: { hour: t % 24 } }, { key });
    await s.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[t % 3].id, type: t % 2 ? 'click' : 'rating', value: t % 2 ? undefined : 4 }, { key });
  }
}

describe('restart', () => {
  it('recovers catalogue, keys, snapshot, fold-in state and the bandit after a clean shutdown', async () => {
    const dir = tmp();
    const a = await startTestServer({ dir, engine: { checkpointEvery: 5, checkpointSeconds: 0 } });
    const key = (await a.call('POST', '/keys', { scope: 'client', name: 'app' })).body.key as string;
    await a.call('POST', '/items', { id: 'fresh', title: 'Fresh' });
    await traffic(a, 12, key);
    await a.call('POST', '/feedback', { user: 'visitor', item: 'm5', type: 'purchase' }, { key });
    await a.engine.settle();
    const theta = weights(a.engine);
    expect(theta.length).toBeGreaterThan(10);
    const snap = a.engine.activeSnapshot.id;
    const learned = a.engine.counters.learned;
    await a.close();

    const b = await startTestServer({ dir, engine: { checkpointEvery: 5, checkpointSeconds: 0 } });
    expect(b.engine.activeSnapshot.id).toBe(snap);
    expect(b.engine.counters.learned).toBe(learned);
    const thetaB = weights(b.engine);
    expect(thetaB.length).toBe(theta.length);
    thetaB.forEach((v, i) => expect(v).toBeCloseTo(theta[i]!, 9));
    expect((await b.call('GET', '/items/fresh', undefined, { key })).status).toBe(200);
    const r = await b.call('POST', '/recommend', { user: 'visitor', k: 12 }, { key });
    expect(r.status).toBe(200);
    expect(r.body.items.map((x: { id: string }) => x.id)).not.toContain('m5');
    expect(await b.store.events.countFeedback()).toBe(13);
    expect(await b.store.events.countDecisions()).toBe(13);
    await b.close();
  });

  it('replays the rewards logged after the last bandit checkpoint when the process died', async () => {
    const dir = tmp();
    const a = await startTestServer({ dir, engine: { checkpointEvery: 4, checkpointSeconds: 0 } });
    await traffic(a, 10);
    await a.engine.settle();
    const theta = weights(a.engine);
    const n = a.engine.policy.updates;
    expect(n).toBe(10);
    // Die without the engine's shutdown checkpoint: stop HTTP and drop the store handle.
    await a.app.close();
    await a.store.close();

    const b = await startTestServer({ dir, engine: { checkpointEvery: 4, checkpointSeconds: 0 } });
    expect(b.engine.policy.updates).toBe(n);
    weights(b.engine).forEach((v, i) => expect(v).toBeCloseTo(theta[i]!, 9));
    await b.close();
  });
});

describe('rate limiting', () => {
  it('answers 429 with a JSON error once a key exceeds its budget, per key', async () => {
    const s = await startTestServer({ server: { rateLimit: { max: 5, windowMs: 60_000 } } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push((await s.call('GET', '/healthz')).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
      const r = await s.call('GET', '/healthz');
      expect(r.body.error.code).toBe('E_RATE_LIMIT');
      // another key has its own budget
      const other = await s.keys.issue('client', 'other');
      expect((await s.call('GET', '/healthz', undefined, { key: other.key })).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe('periodic retrain', () => {
  it('fits and activates a new snapshot after every N feedback events, in the background', async () => {
    const s = await startTestServer({ engine: { retrainEvery: 3 } });
    try {
      const first = s.engine.activeSnapshot.id;
      for (let t = 0; t < 3; t++) await s.call('POST', '/feedback', { user: 'fresh-user', item: `m${t + 3}`, type: 'click' });
      await s.engine.settle();
      const after = s.engine.activeSnapshot;
      expect(after.id).not.toBe(first);
      expect(after.source).toBe('retrain');
      // the new model knows the online user
      expect(after.info.users).toBe(7);
      expect(s.engine.counters.retrains).toBe(1);
    } finally {
      await s.close();
    }
  });
});
