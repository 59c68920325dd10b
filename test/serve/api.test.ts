import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, tinyDataset, type TestServer } from './helpers.js';

let s: TestServer;
let client: string;

beforeAll(async () => {
  s = await startTestServer();
  const k = await s.call('POST', '/keys', { scope: 'client', name: 'app' });
  expect(k.status).toBe(201);
  client = k.body.key;
});
afterAll(async () => {
  await s.close();
});

async function counts() {
  return {
    decisions: await s.store.events.countDecisions(),
    feedback: await s.store.events.countFeedback(),
    items: await s.store.catalogue.count('items'),
    users: await s.store.catalogue.count('users'),
    snapshots: (await s.store.snapshots.listSnapshots()).length,
    keys: (await s.store.keys.listKeys()).length,
  };
}

describe('recommend / feedback over HTTP', () => {
  it('returns a logged slate with propensities and explanations, and learns from feedback', async () => {
    const r = await s.call('POST', '/recommend', { user: 'u1', k: 4, context: { device: 'phone' } }, { key: client });
    expect(r.status).toBe(200);
    expect(r.body.items).toHaveLength(4);
    const ids = r.body.items.map((x: { id: string }) => x.id);
    expect(new Set(ids).size).toBe(4);
    // u1's training items are excluded by default
    const seen = s.engine.trainingData().byUser();
    const u = s.engine.trainingData().users.toIndex('u1');
    const seenIds = Array.from(seen.indices.subarray(seen.indptr[u]!, seen.indptr[u + 1]!)).map((i) => s.engine.trainingData().items.toExternal(i));
    for (const id of ids) expect(seenIds).not.toContain(id);
    for (const x of r.body.items) {
      expect(x.propensity).toBeGreaterThan(0);
      expect(x.propensity).toBeLessThanOrEqual(1);
      expect(x.explanation.recommender.kind).toBe('popularity');
      expect(x.explanation.exploration.propensity).toBe(x.propensity);
      expect(typeof x.explanation.bandit.ucb).toBe('number');
    }
    const logged = await s.store.events.getDecision(r.body.eventId);
    expect(logged!.items).toEqual(ids);
    expect(logged!.propensities).toEqual(r.body.items.map((x: { propensity: number }) => x.propensity));

    const before = s.engine.counters.learned;
    const f = await s.call('POST', '/feedback', { eventId: r.body.eventId, item: ids[1], type: 'click' }, { key: client });
    expect(f.status).toBe(201);
    expect(f.body.reward).toBe(1);
    const stored = (await s.store.events.feedbackSince(f.body.seq - 1, 1))[0]!;
    expect(stored).toMatchObject({ eventId: r.body.eventId, item: ids[1], position: 1, user: 'u1', propensity: r.body.items[1].propensity });
    await s.engine.settle();
    expect(s.engine.counters.learned).toBe(before + 1);
  });

  it('maps ratings and dwell to rewards and accepts user + item feedback', async () => {
    const rating = async (value: number) => (await s.call('POST', '/feedback', { user: 'u2', item: 'm3', type: 'rating', value }, { key: client })).body.reward;
    expect(await rating(5)).toBe(1);
    expect(await rating(1)).toBe(-1);
    expect(await rating(4)).toBe(0.5);
    const d = await s.call('POST', '/feedback', { user: 'u2', item: 'm4', type: 'dwell', value: 30 }, { key: client });
    expect(d.body.reward).toBe(0.5);
    const nv = await s.call('POST', '/feedback', { user: 'u2', item: 'm4', type: 'rating' }, { key: client });
    expect(nv.status).toBe(400);
    expect(nv.body.error.field).toBe('value');
  });

  it('folds a liked item into the user state and stops recommending it', async () => {
    const first = await s.call('POST', '/recommend', { user: 'newcomer', k: 3 }, { key: client });
    const liked = first.body.items[0].id;
    await s.call('POST', '/feedback', { user: 'newcomer', item: liked, type: 'purchase' }, { key: client });
    const again = await s.call('POST', '/recommend', { user: 'newcomer', k: 11 }, { key: client });
    expect(again.body.items.map((x: { id: string }) => x.id)).not.toContain(liked);
    const all = await s.call('POST', '/recommend', { user: 'newcomer', k: 12, excludeSeen: false }, { key: client });
    expect(all.body.items.map((x: { id: string }) => x.id)).toContain(liked);
  });

  it('honours candidates and exclude', async () => {
    const r = await s.call('POST', '/recommend', { user: 'u3', k: 5, candidates: ['m1', 'm5', 'm7'], exclude: ['m5'], excludeSeen: false }, { key: client });
    expect(r.status).toBe(200);
    expect(r.body.items.map((x: { id: string }) => x.id).sort()).toEqual(['m1', 'm7']);
  });
});

describe('Personalizer-compatible rank / reward', () => {
  const actions = [
    { id: 'news', features: [{ topic: 'politics' }, { length: 3 }] },
    { id: 'sport', features: [{ topic: 'football' }] },
    { id: 'recipe', features: [{ topic: 'food', vegetarian: true }] },
    { id: 'weather', features: [{ topic: 'weather' }] },
  ];

  it('ranks every non-excluded action once with probabilities summing to 1', async () => {
    const r = await s.call(
      'POST',
      '/personalizer/v1.0/rank',
      { contextFeatures: [{ timeOfDay: 'morning' }, { device: 'mobile' }], actions, excludedActions: ['weather'] },
      { key: client },
    );
    expect(r.status).toBe(201);
    expect(r.body.ranking.map((x: { id: string }) => x.id).sort()).toEqual(['news', 'recipe', 'sport']);
    expect(r.body.rewardActionId).toBe(r.body.ranking[0].id);
    const sum = r.body.ranking.reduce((a: number, x: { probability: number }) => a + x.probability, 0);
    expect(sum).toBeCloseTo(1, 10);
    expect(typeof r.body.eventId).toBe('string');
    const rw = await s.call('POST', `/personalizer/v1.0/events/${r.body.eventId}/reward`, { value: 0.5 }, { key: client });
    expect(rw.status).toBe(204);
    const fb = await s.store.events.feedbackSince((await s.store.events.countFeedback()) - 1, 1);
    expect(fb[0]).toMatchObject({ eventId: r.body.eventId, item: r.body.rewardActionId, reward: 0.5, type: 'reward' });
  });

  it('learns which action the context rewards', async () => {
    // Reward "recipe" in the evening; the policy must come to pick it most of the time.
    const picks: string[] = [];
    for (let t = 0; t < 150; t++) {
      const r = await s.call('POST', '/personalizer/v1.0/rank', { eventId: `learn-${t}`, contextFeatures: [{ timeOfDay: 'evening' }], actions }, { key: client });
      picks.push(r.body.rewardActionId);
      const value = r.body.rewardActionId === 'recipe' ? 1 : 0;
      await s.call('POST', `/personalizer/v1.0/events/learn-${t}/reward`, { value }, { key: client });
    }
    const late = picks.slice(-50).filter((p) => p === 'recipe').length;
    expect(late).toBeGreaterThanOrEqual(40);
  });

  it('refuses a reused event id, an unknown event and an out-of-range reward', async () => {
    const a = await s.call('POST', '/personalizer/v1.0/rank', { eventId: 'fixed-1', actions }, { key: client });
    expect(a.status).toBe(201);
    const b = await s.call('POST', '/personalizer/v1.0/rank', { eventId: 'fixed-1', actions }, { key: client });
    expect(b.status).toBe(409);
    const u = await s.call('POST', '/personalizer/v1.0/events/nope/reward', { value: 1 }, { key: client });
    expect(u.status).toBe(404);
    expect(u.body.error.code).toBe('ResourceNotFound');
    const v = await s.call('POST', '/personalizer/v1.0/events/fixed-1/reward', { value: 2 }, { key: client });
    expect(v.status).toBe(400);
    expect(v.body.error).toMatchObject({ code: 'BadRequest', target: 'value' });
  });

  it('learns from a deferred event only after it is activated', async () => {
    const r = await s.call('POST', '/personalizer/v1.0/rank', { eventId: 'deferred-1', actions, deferActivation: true }, { key: client });
    expect((await s.store.events.getDecision('deferred-1'))!.activated).toBe(false);
    await s.engine.settle();
    const before = s.engine.counters.learned;
    await s.call('POST', `/personalizer/v1.0/events/deferred-1/reward`, { value: 1 }, { key: client });
    await s.engine.settle();
    expect(s.engine.counters.learned).toBe(before);
    expect((await s.call('POST', '/personalizer/v1.0/events/deferred-1/activate', undefined, { key: client })).status).toBe(204);
    expect((await s.store.events.getDecision('deferred-1'))!.activated).toBe(true);
    await s.call('POST', `/personalizer/v1.0/events/${r.body.eventId}/reward`, { value: 1 }, { key: client });
    await s.engine.settle();
    expect(s.engine.counters.learned).toBe(before + 1);
    expect((await s.call('POST', '/personalizer/v1.0/events/zzz/activate', undefined, { key: client })).status).toBe(404);
  });

  it('accepts the Ocp-Apim-Subscription-Key header', async () => {
    const res = await fetch(`${s.url}/personalizer/v1.0/rank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Ocp-Apim-Subscription-Key': client },
      body: JSON.stringify({ actions }),
    });
    expect(res.status).toBe(201);
  });
});

describe('catalogue', () => {
  it('creates, reads, replaces and deletes items; a new item can be recommended cold', async () => {
    const c = await s.call('POST', '/items', { id: 'new1', title: 'Brand new', categories: ['Drama'] });
    expect(c.status).toBe(201);
    expect((await s.call('POST', '/items', { id: 'new1' })).status).toBe(409);
    expect((await s.call('GET', '/items/new1', undefined, { key: client })).body).toEqual({ id: 'new1', meta: { title: 'Brand new', categories: ['Drama'] } });
    const p = await s.call('PUT', '/items/new1', { title: 'Renamed' });
    expect(p.status).toBe(200);
    expect((await s.call('GET', '/items/new1')).body.meta).toEqual({ title: 'Renamed' });
    const r = await s.call('POST', '/recommend', { user: 'u4', k: 12, excludeSeen: false }, { key: client });
    const cold = r.body.items.find((x: { id: string }) => x.id === 'new1');
    expect(cold).toBeDefined();
    expect(cold.explanation.recommender.score).toBeNull();
    expect((await s.call('DELETE', '/items/new1')).status).toBe(204);
    expect((await s.call('GET', '/items/new1')).status).toBe(404);
    const r2 = await s.call('POST', '/recommend', { user: 'u4', k: 12, excludeSeen: false }, { key: client });
    expect(r2.body.items.map((x: { id: string }) => x.id)).not.toContain('new1');
    // a deleted model item is never recommended either
    expect((await s.call('DELETE', '/items/m1')).status).toBe(204);
    const r3 = await s.call('POST', '/recommend', { user: 'u4', k: 12, excludeSeen: false }, { key: client });
    expect(r3.body.items.map((x: { id: string }) => x.id)).not.toContain('m1');
    expect((await s.call('PUT', '/items/m1', { title: 'Movie 1' })).status).toBe(200);
  });

  it('imports JSON, NDJSON and CSV', async () => {
    const j = await s.call('POST', '/items/import', [{ id: 'j1', title: 'J one' }, { id: 'j2', tags: ['x'] }]);
    expect(j.body).toEqual({ imported: 2, created: 2, updated: 0 });
    const nd = await s.call('POST', '/items/import', undefined, { type: 'application/x-ndjson', raw: '{"id":"n1","title":"N"}\n\n{"id":"j1","title":"J again"}\n' });
    expect(nd.body).toEqual({ imported: 2, created: 1, updated: 1 });
    const csv = await s.call('POST', '/items/import', undefined, { type: 'text/csv', raw: 'id,title,genres,year\nc1,"Film, The",Comedy|Drama,1999\nc2,Other,,2001\n' });
    expect(csv.body).toEqual({ imported: 2, created: 2, updated: 0 });
    expect((await s.call('GET', '/items/c1')).body.meta).toEqual({ title: 'Film, The', categories: ['Comedy', 'Drama'], attributes: { year: 1999 } });
    const users = await s.call('POST', '/users/import', undefined, { type: 'text/csv', raw: 'id,age\nz1,31\n' });
    expect(users.body.created).toBe(1);
    const list = await s.call('GET', '/users?offset=0&limit=1000', undefined, { key: client });
    expect(list.body.items.map((x: { id: string }) => x.id)).toContain('z1');
  });
});

describe('malformed requests get a JSON 4xx and change nothing', () => {
  // `body: any`: error bodies are checked field by field below.
  const cases: [string, () => Promise<{ status: number; body: any; text: string }>, number, string, string?][] = [
    ['bad JSON', () => s.call('POST', '/recommend', undefined, { raw: '{"user": "u1",', key: client }), 400, 'E_BAD_JSON'],
    ['empty JSON body', () => s.call('POST', '/feedback', undefined, { raw: '', key: client }), 400, 'E_EMPTY_BODY'],
    ['wrong type', () => s.call('POST', '/recommend', { user: 'u1', k: 'ten' }, { key: client }), 400, 'E_VALIDATION', 'k'],
    ['out of range', () => s.call('POST', '/recommend', { user: 'u1', k: 0 }, { key: client }), 400, 'E_VALIDATION', 'k'],
    ['unknown field', () => s.call('POST', '/recommend', { user: 'u1', kk: 3 }, { key: client }), 400, 'E_VALIDATION'],
    ['nested wrong type', () => s.call('POST', '/personalizer/v1.0/rank', { actions: [{ id: 'a' }, { id: 7 }] }, { key: client }), 400, 'BadRequest'],
    ['bad feedback type', () => s.call('POST', '/feedback', { user: 'u1', item: 'm2', type: 'like' }, { key: client }), 400, 'E_VALIDATION', 'type'],
    ['feedback without event or user', () => s.call('POST', '/feedback', { item: 'm2', type: 'click' }, { key: client }), 400, 'E_VALIDATION', 'eventId'],
    ['unknown event', () => s.call('POST', '/feedback', { eventId: 'nope', item: 'm2', type: 'click' }, { key: client }), 404, 'E_NOT_FOUND', 'eventId'],
    ['unknown item', () => s.call('POST', '/feedback', { user: 'u1', item: 'zzz', type: 'click' }, { key: client }), 404, 'E_NOT_FOUND', 'item'],
    ['unknown candidate', () => s.call('POST', '/recommend', { user: 'u1', candidates: ['m2', 'zzz'] }, { key: client }), 404, 'E_NOT_FOUND', 'candidates[1]'],
    ['unknown item id', () => s.call('GET', '/items/zzz', undefined, { key: client }), 404, 'E_NOT_FOUND', 'id'],
    ['delete unknown user', () => s.call('DELETE', '/users/zzz'), 404, 'E_NOT_FOUND', 'id'],
    ['unknown snapshot', () => s.call('POST', '/snapshots/zzz/activate'), 404, 'E_NOT_FOUND', 'id'],
    ['unknown route', () => s.call('GET', '/nothing-here'), 404, 'E_NO_ROUTE'],
    ['huge body', () => s.call('POST', '/recommend', undefined, { raw: JSON.stringify({ user: 'u1', context: { x: 'y'.repeat(2 << 20) } }), key: client }), 413, 'E_BODY_TOO_LARGE'],
    ['wrong media type', () => s.call('POST', '/recommend', undefined, { raw: 'user=u1', type: 'application/x-www-form-urlencoded', key: client }), 415, 'E_MEDIA_TYPE'],
    ['missing key', () => s.call('POST', '/recommend', { user: 'u1' }, { key: null }), 401, 'E_UNAUTHORIZED'],
    ['wrong key', () => s.call('POST', '/recommend', { user: 'u1' }, { key: 'chorus_not-a-real-key' }), 401, 'E_UNAUTHORIZED'],
    ['client key on admin route', () => s.call('POST', '/items', { id: 'evil' }, { key: client }), 403, 'E_FORBIDDEN'],
    ['client key on import', () => s.call('POST', '/items/import', [{ id: 'evil' }], { key: client }), 403, 'E_FORBIDDEN'],
    ['client key on snapshots', () => s.call('POST', '/snapshots', { retrain: true }, { key: client }), 403, 'E_FORBIDDEN'],
    ['client key on keys', () => s.call('POST', '/keys', { scope: 'admin', name: 'x' }, { key: client }), 403, 'E_FORBIDDEN'],
    ['bad row in an import', () => s.call('POST', '/items/import', [{ id: 'ok1' }, { id: 'ok2' }, { id: 'bad', tags: 'notalist' }]), 400, 'E_VALIDATION', '[2].tags'],
    ['bad NDJSON line', () => s.call('POST', '/items/import', undefined, { type: 'application/x-ndjson', raw: '{"id":"ok3"}\n{"id":\n' }), 400, 'E_VALIDATION'],
    ['bad CSV row', () => s.call('POST', '/items/import', undefined, { type: 'text/csv', raw: 'id,title\nok4,A\n,B\n' }), 400, 'E_VALIDATION', 'id'],
    ['NDJSON line nested past the depth cap', () => s.call('POST', '/items/import', undefined, { type: 'application/x-ndjson', raw: `{"id":"ok5"}\n{"id":"deep","attributes":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}\n` }), 400, 'E_VALIDATION'],
    ['duplicate ids in import', () => s.call('POST', '/items/import', [{ id: 'd1' }, { id: 'd1' }]), 400, 'E_VALIDATION', '[1].id'],
    ['bad list query', () => s.call('GET', '/items?limit=-4', undefined, { key: client }), 400, 'E_VALIDATION', 'limit'],
  ];

  for (const [name, run, status, code, field] of cases) {
    it(name, async () => {
      const before = await counts();
      const r = await run();
      expect(r.status).toBe(status);
      expect(r.body, r.text).toBeTypeOf('object');
      const err = r.body.error;
      expect(err.code).toBe(code);
      expect(typeof err.message).toBe('string');
      if (field) expect(err.field ?? err.target).toBe(field);
      // no stack traces or source paths leak to clients
      expect(r.text).not.toMatch(/\bat .+:\d+:\d+|\.ts:\d+|node_modules/);
      expect(await counts()).toEqual(before);
    });
  }

  it('names the line of a bad NDJSON row', async () => {
    const r = await s.call('POST', '/items/import', undefined, { type: 'application/x-ndjson', raw: '{"id":"a"}\n{"id":"b","title":5}\n' });
    expect(r.body.error.message).toMatch(/body:2/);
    expect(r.body.error.field).toBe('title');
  });
});

describe('service endpoints', () => {
  it('serves Prometheus metrics to admins', async () => {
    const m = await s.call('GET', '/metrics');
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    // prom-client separates metric families with a blank line (the text format allows them).
    const lines = m.text.split('\n').filter((l) => l !== '');
    for (const l of lines) expect(l).toMatch(/^(# (HELP|TYPE) \w+ .+|[a-zA-Z_:][\w:]*(\{[^}]*\})? -?[\d.e+-]+|[a-zA-Z_:][\w:]*(\{[^}]*\})? (NaN|\+Inf|-Inf))$/);
    expect(m.text).toMatch(/chorus_http_requests_total\{method="POST",route="\/recommend",status="200"\} \d+/);
    // prom-client writes `le` first; label order carries no meaning in the format
    expect(m.text).toMatch(/chorus_http_request_duration_seconds_bucket\{le="\+Inf",method="POST",route="\/recommend"\} \d+/);
    const fb = Number(/chorus_feedback_total\{type="click"\} (\d+)/.exec(m.text)![1]);
    expect(fb).toBe(s.engine.counters.feedback.click);
    expect(m.text).toContain(`chorus_active_snapshot_info{id="${s.engine.activeSnapshot.id}",kind="popularity"} 1`);
    // prom-client's default process metrics come with them
    expect(m.text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(m.text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    expect((await s.call('GET', '/metrics', undefined, { key: client })).status).toBe(403);
  });

  it('publishes an OpenAPI document built from the schemas', async () => {
    const o = await s.call('GET', '/openapi.json', undefined, { key: null });
    expect(o.status).toBe(200);
    expect(o.body.openapi).toBe('3.1.0');
    const rec = o.body.paths['/recommend'].post;
    expect(rec.requestBody.content['application/json'].schema.properties.k).toMatchObject({ type: 'integer', minimum: 1, maximum: 100 });
    expect(o.body.paths['/personalizer/v1.0/events/{eventId}/reward'].post.parameters[0].name).toBe('eventId');
    expect(o.body.paths['/personalizer/v1.0/rank'].post.responses['201'].content['application/json'].schema.properties).toHaveProperty('rewardActionId');
  });

  it('answers /healthz without a key and sends no CORS headers', async () => {
    const res = await fetch(`${s.url}/healthz`, { headers: { origin: 'https://evil.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(((await res.json()) as { status: string }).status).toBe('ok');
  });
});

describe('logged bandit feedback', () => {
  it('exports decisions with propensities and their rewards, page by page', async () => {
    const r = await s.call('POST', '/recommend', { user: 'u6', k: 3 }, { key: client });
    await s.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[2].id, type: 'purchase' }, { key: client });
    const all: any[] = []; // parsed JSON pages, checked field by field
    let after = 0;
    for (;;) {
      const page = await s.call('GET', `/events?after=${after}&limit=7`);
      expect(page.status).toBe(200);
      all.push(...page.body.events);
      if (page.body.next === null) break;
      after = page.body.next;
    }
    expect(all.length).toBe(await s.store.events.countDecisions());
    const seqs = all.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const mine = all.find((e) => e.eventId === r.body.eventId);
    expect(mine.items).toEqual(r.body.items.map((x: { id: string }) => x.id));
    expect(mine.propensities).toEqual(r.body.items.map((x: { propensity: number }) => x.propensity));
    expect(mine.feedback).toEqual([expect.objectContaining({ item: r.body.items[2].id, position: 2, type: 'purchase', reward: 1 })]);
    expect((await s.call('GET', '/events', undefined, { key: client })).status).toBe(403);
  });
});

describe('snapshots', () => {
  it('retrains, lists, activates and rolls back', async () => {
    const first = s.engine.activeSnapshot.id;
    await s.call('POST', '/feedback', { user: 'snap-user', item: 'm3', type: 'click' }, { key: client });
    const r = await s.call('POST', '/snapshots', { retrain: true });
    expect(r.status).toBe(201);
    expect(r.body.source).toBe('retrain');
    expect(r.body.info.fittedIn).toBe('worker thread');
    // the retrain saw the online feedback: more interactions than the base data
    expect(r.body.info.interactions).toBe(s.engine.trainingData().nInteractions);
    expect(r.body.info.interactions).toBeGreaterThan(tinyDataset().nInteractions);
    const list = await s.call('GET', '/snapshots');
    expect(list.body.active).toBe(r.body.id);
    expect(list.body.snapshots.map((x: { id: string }) => x.id)).toEqual(expect.arrayContaining([first, r.body.id]));
    const rec = await s.call('POST', '/recommend', { user: 'u1', k: 2 }, { key: client });
    expect(rec.body.snapshot).toBe(r.body.id);
    const back = await s.call('POST', '/snapshots/rollback');
    expect(back.status).toBe(200);
    expect(back.body.id).toBe(first);
    const again = await s.call('POST', `/snapshots/${r.body.id}/activate`);
    expect(again.body.id).toBe(r.body.id);
    expect(s.engine.activeSnapshot.id).toBe(r.body.id);
    // a manual snapshot stores the active model under a new id and serves it
    const manual = await s.call('POST', '/snapshots', {});
    expect(manual.status).toBe(201);
    expect(manual.body).toMatchObject({ source: 'manual', kind: 'popularity' });
    expect(s.engine.activeSnapshot.id).toBe(manual.body.id);
    const before = (await s.call('POST', '/recommend', { user: 'u2', k: 3, excludeSeen: false }, { key: client })).body.items.map((x: { explanation: { recommender: { score: number } } }) => x.explanation.recommender.score);
    expect(before.length).toBeGreaterThan(0);
  });
});
