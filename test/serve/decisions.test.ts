import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetFromTriples, type Dataset } from '../../src/data/dataset.js';
import { ConflictError, RequestError } from '../../src/serve/errors.js';
import { Engine, type EngineConfig } from '../../src/serve/engine.js';
import { registryModels } from '../../src/serve/model.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { startTestServer, type TestServer } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'chorus-decisions-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Twelve items whose popularity falls with their number (p1: 12 users … p12: 1 user), listed in
 * the opposite order: the catalogue (first appearance) starts with the least popular item, so a
 * slate in catalogue order and a slate by popularity differ.
 */
function popularityLadder(): Dataset {
  const triples: [string, string, number, number][] = [];
  let t = 1_600_000_000;
  for (let i = 12; i >= 1; i--) for (let u = 1; u <= 13 - i; u++) triples.push([`u${u}`, `p${i}`, 1, t++]);
  return datasetFromTriples(triples, 'ladder');
}

let n = 0;
async function engineOn(config: Partial<EngineConfig>, wrap: (s: Store) => Store = (s) => s): Promise<{ engine: Engine; store: Store }> {
  const store = wrap(openStore(`sqlite:${join(dir, `e${n++}.db`)}`));
  const engine = await Engine.open(store, popularityLadder(), registryModels, { retrainInWorker: false, ...config });
  return { engine, store };
}

describe('duplicate candidates', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => s.close());

  it('are refused with a 400 naming the repeated position (a slate shows an item once)', async () => {
    const r = await s.call('POST', '/recommend', { user: 'u1', k: 3, candidates: ['m3', 'm4', 'm3'] });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('E_VALIDATION');
    expect(r.body.error.field).toBe('candidates[2]');
    // A cold (new) item repeated too.
    await s.call('PUT', '/items/fresh', { title: 'Fresh' });
    const cold = await s.call('POST', '/recommend', { user: 'u1', k: 3, candidates: ['fresh', 'm4', 'fresh'] });
    expect(cold.status).toBe(400);
    expect(cold.body.error.field).toBe('candidates[2]');
  });

  it('and a list without repeats gives a slate of distinct items whose propensities are a distribution per position', async () => {
    const r = await s.call('POST', '/recommend', { user: 'u1', k: 3, candidates: ['m3', 'm4', 'm5', 'm6'], excludeSeen: false });
    expect(r.status).toBe(200);
    const ids = r.body.items.map((x: { id: string }) => x.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const x of r.body.items) expect(x.propensity).toBeGreaterThan(0);
  });

  it('are refused among Personalizer actions too', async () => {
    const r = await s.call('POST', '/personalizer/v1.0/rank', { actions: [{ id: 'm1' }, { id: 'm1' }] });
    expect(r.status).toBe(400);
  });
});

describe('a duplicate event id', () => {
  it('is told from the store error code, not its message', async () => {
    // A backend whose unique-key error says nothing about UNIQUE in its message.
    const { engine, store } = await engineOn({}, (s) => {
      const append = s.events.appendDecision.bind(s.events);
      s.events.appendDecision = async (d) => {
        if (d.id === 'taken') throw Object.assign(new Error('constraint failed'), { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
        return append(d);
      };
      return s;
    });
    const e = await engine.rank({ actions: [{ id: 'p1' }, { id: 'p2' }], eventId: 'taken' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConflictError);
    expect((e as ConflictError).location?.field).toBe('eventId');
    await engine.close();
    await store.close();
  });

  it('sent twice at once gets one 409 (both pass the read check; the store refuses the second)', async () => {
    const { engine, store } = await engineOn({});
    const req = { actions: [{ id: 'p1' }, { id: 'p2' }], eventId: 'twice' };
    const r = await Promise.allSettled([engine.rank(req), engine.rank(req)]);
    expect(r.map((x) => x.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((r.find((x) => x.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    await engine.close();
    await store.close();
  });
});

describe('a user with no history', () => {
  const popular = ['p1', 'p2', 'p3'];
  // Models whose scores for an empty user are all equal (ALS, EASE, kNN) and one whose are not.
  for (const model of ['als', 'ease', 'itemknn', 'popularity']) {
    for (const serving of ['cb', 'linucb-rerank'] as const) {
      it(`gets the most popular items (${model}, ${serving})`, async () => {
        const { engine, store } = await engineOn({ model: { kind: model, config: {} }, serving, policy: { epsilon: 0, alpha: 0 } });
        const r = await engine.recommend({ user: 'stranger', k: 3, excludeSeen: true });
        expect(r.items.map((x) => x.id)).toEqual(popular);
        expect(engine.preview('someone-else', 3).map((x) => x.id)).toEqual(popular);
        await engine.close();
        await store.close();
      });
    }
  }

  it('gets popular items through the agent policy too', async () => {
    const { engine, store } = await engineOn({ model: { kind: 'als', config: {} }, agent: { name: 'egreedy', config: { epsilon: 0 } } });
    const r = await engine.recommend({ user: 'stranger', k: 3, excludeSeen: true });
    expect(r.items.map((x) => x.id)).toEqual(popular);
    await engine.close();
    await store.close();
  });

  it('is not a reason to refuse a request: a known user still gets the model’s own ranking', async () => {
    const { engine, store } = await engineOn({ model: { kind: 'als', config: {} }, policy: { epsilon: 0, alpha: 0 } });
    // u12 saw only p1: the model ranks the rest for them, without p1 (seen).
    const r = await engine.recommend({ user: 'u12', k: 3, excludeSeen: true });
    expect(r.items.map((x) => x.id)).not.toContain('p1');
    expect(r.items).toHaveLength(3);
    await engine.close();
    await store.close();
  });
});
