/**
 * The serving path's output, byte for byte: a fixed sequence of requests (recommend with and
 * without context, candidates, exclusions, cold items, unknown users; feedback of every type;
 * Personalizer Rank and Reward) against a server with fixed factors, a fixed clock and fixed event
 * ids, recorded as the response bodies plus the store's decision and feedback rows. The golden file
 * (test/fixtures/serve/serving-golden.json) was generated before the serving path was optimised
 * (issue 22); any change that alters a response or a logged row fails here.
 *
 * Regenerate only for an intended change of output: CHORUS_UPDATE_GOLDEN=1 npx vitest run test/serve/serving-golden.test.ts
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Dataset, IdMap, interactionsFrom } from '../../src/data/dataset.js';
import { Bpr } from '../../src/recommenders/bpr.js';
import { registryModels, type ModelFactory } from '../../src/serve/model.js';
import { setScoreBackend } from '../../src/util/dot.js';
import { Rng } from '../../src/util/rng.js';
import { startTestServer, type TestServer } from './helpers.js';

// Event ids are time-ordered UUIDs with random bits; here a counter in the same shape, so that the
// exploration draws (seeded by the event id) and the logged ids are the same on every run.
// The counter restarts for each server below (`ids.n = 0`): both runs must log the same ids.
const ids = vi.hoisted(() => ({ n: 0 }));
vi.mock('../../src/serve/event-id.js', () => ({
  newEventId: () => `0190aaaa-bbbb-7ccc-8ddd-${(ids.n++).toString(16).padStart(12, '0')}`,
}));

const GOLDEN = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'serve', 'serving-golden.json');
const T0 = Date.UTC(2026, 11, 6, 12, 0, 0);
const FACTORS = 8;

/** 40 users × 120 items with categories, tags and attributes (the cb policy's item namespaces). */
function dataset(): Dataset {
  const rng = new Rng(11);
  const nUsers = 40;
  const nItems = 120;
  const users = IdMap.from(Array.from({ length: nUsers }, (_, u) => `u${u}`));
  const items = IdMap.from(Array.from({ length: nItems }, (_, i) => `i${i}`));
  const u: number[] = [];
  const it: number[] = [];
  for (let a = 0; a < nUsers; a++) {
    const seen = new Set<number>();
    while (seen.size < 8) seen.add(Math.floor(nItems * Math.pow(rng.next(), 2)));
    for (const i of [...seen].sort((x, y) => x - y)) {
      u.push(a);
      it.push(i);
    }
  }
  const ds = new Dataset({ name: 'golden', users, items, interactions: interactionsFrom({ user: u, item: it }) });
  const genres = ['Action', 'Comedy', 'Drama', 'Horror', 'Romance', 'SciFi'];
  for (let i = 0; i < nItems; i++) {
    ds.itemMeta[i] = {
      title: `Item ${i}`,
      categories: [genres[i % 6]!, genres[(i * 5) % 6]!],
      ...(i % 3 === 0 ? { tags: [`t${i % 7}`, `t${i % 4}`] } : {}),
      ...(i % 4 === 0 ? { attributes: { year: 1990 + (i % 30), lang: i % 2 ? 'en' : 'fr', kids: i % 5 === 0 } } : {}),
    };
  }
  return ds;
}

/**
 * BPR whose factors come from a seeded generator, not from a fit: the golden pins the serving
 * path, not the training code (which other work changes), so only the model's layout is BPR's.
 */
const fixedFactors: ModelFactory = {
  fit: async (_kind, _config, train) => {
    const rec = new Bpr({ factors: FACTORS, iterations: 1, seed: 1, foldInIterations: 5 });
    await rec.fit(train);
    const saved = rec.toJSON();
    const state = saved.state as Record<string, unknown>;
    const rng = new Rng(5);
    const F = FACTORS + 1;
    const uf = new Float32Array(train.nUsers * F);
    for (let i = 0; i < uf.length; i++) uf[i] = i % F === FACTORS ? 1 : rng.next() - 0.5;
    const vf = new Float32Array(train.nItems * F);
    for (let i = 0; i < vf.length; i++) vf[i] = rng.next() - 0.5;
    state.userFactors = uf;
    state.itemFactors = vf;
    return registryModels.restore(saved);
  },
  restore: (saved) => registryModels.restore(saved),
};

interface Recorded {
  responses: { step: string; status: number; body: string }[];
  decisions: unknown[];
  feedback: unknown[];
}

/** Run the fixed request sequence; returns what the server answered and what it logged. */
async function record(s: TestServer): Promise<Recorded> {
  const responses: Recorded['responses'] = [];
  let clock = T0;
  const call = async (step: string, method: string, path: string, body?: unknown) => {
    clock += 1000;
    vi.setSystemTime(clock);
    const r = await s.call(method, path, body);
    responses.push({ step, status: r.status, body: r.text });
    return r;
  };
  // Cold items: created after the snapshot, offered beside the pool.
  await call('item cold1', 'POST', '/items', { id: 'cold1', title: 'Cold one', categories: ['Drama'], tags: ['t1'] });
  await call('item cold2', 'POST', '/items', { id: 'cold2', categories: ['Action', 'SciFi'], attributes: { year: 2026 } });
  const contexts: (Record<string, unknown> | undefined)[] = [
    undefined,
    { device: 'phone' },
    { device: 'desktop', hour: 20 },
    { device: 'tv', tags: ['evening', 'family'], nested: { a: 1, b: 'x' } },
    { weekend: true, score: 0.25 },
  ];
  const events: { eventId: string; items: string[]; user: string }[] = [];
  for (let q = 0; q < 36; q++) {
    const user = q % 9 === 8 ? `stranger${q}` : `u${(q * 7) % 13}`;
    const body: Record<string, unknown> = { user, k: 3 + (q % 8) };
    const ctx = contexts[q % contexts.length];
    if (ctx) body.context = ctx;
    if (q % 11 === 5) body.candidates = ['i1', 'i2', 'i3', 'i50', 'i77', 'cold1', 'i119'];
    if (q % 10 === 7) body.exclude = ['i0', 'i1', 'i2'];
    if (q % 12 === 3) body.excludeSeen = false;
    const r = await call(`recommend ${q}`, 'POST', '/recommend', body);
    if (r.status === 200) events.push({ eventId: r.body.eventId, items: r.body.items.map((x: { id: string }) => x.id), user });
    // Feedback on some decisions: every type, several positions; learned before the next request.
    if (q % 3 === 1 && events.length > 0) {
      const e = events[events.length - 1]!;
      const types = ['click', 'purchase', 'rating', 'dwell'] as const;
      const type = types[q % 4]!;
      const fb: Record<string, unknown> = { eventId: e.eventId, item: e.items[q % e.items.length]!, type };
      if (type === 'rating') fb.value = 1 + (q % 5);
      if (type === 'dwell') fb.value = 12 + q;
      await call(`feedback ${q}`, 'POST', '/feedback', fb);
      await s.engine.settle();
    }
  }
  // Feedback without an event (a user's own action), and on an old event.
  await call('feedback free', 'POST', '/feedback', { user: 'u3', item: 'i40', type: 'click' });
  await call('feedback old', 'POST', '/feedback', { eventId: events[0]!.eventId, item: events[0]!.items[0]!, type: 'purchase' });
  await s.engine.settle();
  // Personalizer Rank and Reward.
  const rank = await call('rank', 'POST', '/personalizer/v1.0/rank', {
    contextFeatures: [{ device: 'phone' }, { hour: 9 }],
    actions: [
      { id: 'i5', features: [{ len: 3 }] },
      { id: 'i6' },
      { id: 'news-a', features: [{ topic: 'sport' }] },
      { id: 'i7', features: [{ len: 1 }, { topic: 'film' }] },
    ],
    excludedActions: ['i6'],
  });
  await call('reward', 'POST', `/personalizer/v1.0/events/${rank.body.eventId}/reward`, { value: 1 });
  await s.engine.settle();
  // Repeat requests after all that learning: pools recomputed for users whose history changed.
  for (let q = 0; q < 6; q++) await call(`recommend again ${q}`, 'POST', '/recommend', { user: `u${(q * 7) % 13}`, k: 10, context: { device: 'phone' } });

  const db = new Database(join(s.dir, 'chorus.db'), { readonly: true });
  try {
    return {
      responses,
      decisions: db.prepare('SELECT * FROM decisions ORDER BY seq').all(),
      feedback: db.prepare('SELECT * FROM feedback ORDER BY seq').all(),
    };
  } finally {
    db.close();
  }
}

/** The snapshot id is a random UUID made at the first fit: the one field replaced before comparing. */
function normalise(r: Recorded, snapshot: string): string {
  return JSON.stringify(r, null, 1).split(snapshot).join('<snapshot>');
}

// The golden run keeps recent decisions in memory (the default: feedback on a decision logged here
// reads nothing, ../../src/serve/recent-decisions.ts); the second reads every decision from the
// store, as the server did when the golden file was made. Both must give the file byte for byte.
describe.each([
  { label: 'decisions kept in memory (default)', recentDecisions: undefined },
  { label: 'no decision kept (recentDecisions 0)', recentDecisions: 0 },
])('serving output against the golden file (issue 22): $label', ({ recentDecisions }) => {
  let s: TestServer;
  let out: string;
  /** What each getDecision of the run found: a decision, or nothing (Rank's check that its id is new). */
  const reads: boolean[] = [];

  beforeAll(async () => {
    // The JS scorer: the native one sums in float32 lanes, so its last bits depend on the build.
    setScoreBackend('js');
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    ids.n = 0;
    s = await startTestServer({
      dataset: dataset(),
      models: fixedFactors,
      engine: {
        model: { kind: 'bpr', config: { factors: FACTORS } },
        retrainInWorker: false,
        rewardWaitSeconds: 3600,
        ...(recentDecisions !== undefined ? { recentDecisions } : {}),
      },
      server: { rateLimit: false },
    });
    const get = s.store.events.getDecision.bind(s.store.events);
    s.store.events.getDecision = async (id) => {
      const d = await get(id);
      reads.push(d !== undefined);
      return d;
    };
    out = normalise(await record(s), s.engine.activeSnapshot.id);
  }, 60_000);

  afterAll(async () => {
    await s?.close();
    vi.useRealTimers();
    setScoreBackend('auto');
  });

  it('answers and logs exactly what it did before the optimisation', () => {
    if (recentDecisions === undefined && (process.env.CHORUS_UPDATE_GOLDEN === '1' || !existsSync(GOLDEN))) {
      // First run (or an intended change): write the file; a run without it must not pass silently.
      mkdirSync(dirname(GOLDEN), { recursive: true });
      writeFileSync(GOLDEN, `${out}\n`);
      if (process.env.CHORUS_UPDATE_GOLDEN !== '1') throw new Error(`golden file written to ${GOLDEN}; rerun to compare`);
    }
    const golden = readFileSync(GOLDEN, 'utf8').trimEnd();
    // Compare step by step first, so that a failure names the first request that differs.
    const a = JSON.parse(out) as Recorded;
    const b = JSON.parse(golden) as Recorded;
    expect(a.responses.length).toBe(b.responses.length);
    for (let i = 0; i < b.responses.length; i++) expect(a.responses[i], `response ${i} (${b.responses[i]!.step})`).toEqual(b.responses[i]);
    expect(a.decisions).toEqual(b.decisions);
    expect(a.feedback).toEqual(b.feedback);
    expect(out).toBe(golden);
  });

  it(recentDecisions === 0 ? 'reads the decision of every feedback and reward' : 'reads no decision for feedback or reward', () => {
    // 13 feedback and 1 reward on logged decisions; the one read that finds nothing is Rank's id check.
    expect(reads.filter((found) => !found)).toHaveLength(1);
    expect(reads.filter((found) => found)).toHaveLength(recentDecisions === 0 ? 14 : 0);
  });
});
