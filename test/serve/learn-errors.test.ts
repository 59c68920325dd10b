// The online learning loop cannot take the server down: an exception in the policy's learn or
// flush, or in the checkpoint's store write, is caught, logged and counted in /metrics, later
// rewards are still learned, and settle() and close() finish. Faults are injected by replacing
// the engine's policy methods or the store's putState on the running objects, so the production
// loop is the code that runs.
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineConfig } from '../../src/serve/engine.js';
import { parse } from '../../src/util/serialize.js';
import { startTestServer, type TestServer } from './helpers.js';

let open: TestServer | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

async function start(engine: Partial<EngineConfig> = {}) {
  const s = await startTestServer({ engine });
  open = s;
  const logs: string[] = [];
  // The engine's log is private; tests read what it logs.
  Object.assign(s.engine, { log: (m: string) => logs.push(m) });
  return { s, logs };
}

/** A slate for a user and a click on its first item; returns the feedback's seq. */
async function click(s: TestServer, user = 'u1'): Promise<number> {
  const r = await s.call('POST', '/recommend', { user, k: 3 });
  expect(r.status).toBe(200);
  const f = await s.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[0].id, type: 'click' });
  expect(f.status).toBe(201);
  return f.body.seq as number;
}

/** One sample of a metric from /metrics (labels as written, e.g. `{stage="learn"}`). */
async function metric(s: TestServer, name: string, labels = ''): Promise<number> {
  const m = await s.call('GET', '/metrics');
  expect(m.status).toBe(200);
  const line = m.text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  expect(line, `${name}${labels} in /metrics`).toBeDefined();
  return Number(line!.split(' ').pop());
}

/** Let the background loop (setImmediate steps) run. */
const ticks = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('learning loop errors', () => {
  it('skips a reward whose learn throws, counts it, and goes on learning', async () => {
    const { s, logs } = await start();
    const p = s.engine.policy;
    const learn = p.learn.bind(p);
    let failing = true;
    p.learn = (payload, position, reward) => {
      if (failing) throw new Error('injected learn failure');
      return learn(payload, position, reward);
    };
    const learned0 = s.engine.counters.learned;
    const updates0 = p.updates;
    for (let i = 0; i < 3; i++) await click(s, `u${1 + i}`);
    await ticks(); // the background loop, not settle(), meets the errors
    await s.engine.settle();
    expect(s.engine.counters.learnErrors.learn).toBe(3);
    expect(await metric(s, 'chorus_learn_errors_total', '{stage="learn"}')).toBe(3);
    expect(await metric(s, 'chorus_learn_queue_length')).toBe(0);
    expect(s.engine.counters.learned).toBe(learned0);
    expect(logs.filter((l) => l.includes('injected learn failure'))).toHaveLength(1); // one line per 10 s per stage
    expect(logs[0]).toMatch(/learning: learn of feedback seq \d+ failed: injected learn failure; the reward is skipped/);

    failing = false;
    const weights = JSON.stringify(p.getState());
    await click(s);
    await click(s, 'u2');
    await s.engine.settle();
    // The later rewards moved the policy's weights, not only its counters.
    expect(JSON.stringify(p.getState())).not.toBe(weights);
    expect(s.engine.counters.learned).toBe(learned0 + 2);
    expect(p.updates).toBe(updates0 + 2);
    expect(await metric(s, 'chorus_bandit_updates_total')).toBe(learned0 + 2);
    expect(s.engine.counters.learnErrors.learn).toBe(3);
    await s.close();
    open = undefined;
  });

  it('keeps learning when only some rewards fail, across several batches', async () => {
    const { s } = await start();
    const p = s.engine.policy;
    const learn = p.learn.bind(p);
    let calls = 0;
    p.learn = (payload, position, reward) => {
      if (calls++ % 2 === 0) throw new Error('every other reward fails');
      return learn(payload, position, reward);
    };
    const r = await s.call('POST', '/recommend', { user: 'u1', k: 3 });
    const payload = (await s.store.events.getDecision(r.body.eventId))!.payload;
    const learned0 = s.engine.counters.learned;
    // 1,300 rewards: three drain steps of at most 512.
    for (let i = 0; i < 1300; i++) s.engine['learner'].enqueue({ payload, position: 0, reward: 1, seq: 0 });
    await s.engine.settle();
    expect(s.engine.learnQueueLength).toBe(0);
    expect(s.engine.counters.learnErrors.learn).toBe(650);
    expect(s.engine.counters.learned).toBe(learned0 + 650);
    expect((await s.call('POST', '/recommend', { user: 'u2', k: 3 })).status).toBe(200);
  });

  it('counts a failing flush and flushes again after the next batch', async () => {
    const { s, logs } = await start();
    const p = s.engine.policy;
    const flush = p.flush.bind(p);
    let flushes = 0;
    let failing = true;
    p.flush = () => {
      flushes++;
      if (failing) throw new Error('injected flush failure');
      flush();
    };
    const learned0 = s.engine.counters.learned;
    await click(s);
    await ticks();
    await s.engine.settle();
    expect(s.engine.counters.learnErrors.flush).toBe(1);
    expect(await metric(s, 'chorus_learn_errors_total', '{stage="flush"}')).toBe(1);
    expect(logs.some((l) => /learning: flush failed: injected flush failure; flushing again after the next batch/.test(l))).toBe(true);
    expect(s.engine.counters.learned).toBe(learned0 + 1); // the batch's learn calls stand
    expect((await s.call('POST', '/recommend', { user: 'u3', k: 3 })).status).toBe(200);

    failing = false;
    const before = flushes;
    await click(s, 'u2');
    await s.engine.settle();
    expect(flushes).toBe(before + 1);
    expect(s.engine.counters.learnErrors.flush).toBe(1);
    expect(s.engine.counters.learned).toBe(learned0 + 2);
  });

  it('counts a failing checkpoint write, checkpoints again at the next interval, and still closes the store', async () => {
    const { s, logs } = await start({ checkpointEvery: 1, checkpointSeconds: 0 });
    const state = s.store.state;
    const put = state.putState.bind(state);
    let failing = true;
    let bandit = 0;
    state.putState = async (key, value) => {
      if (key === 'bandit') {
        bandit++;
        if (failing) throw new Error('injected disk full');
      }
      return put(key, value);
    };
    const storeClose = s.store.close.bind(s.store);
    let storeClosed = false;
    s.store.close = async () => {
      await storeClose();
      storeClosed = true;
    };

    const learned0 = s.engine.counters.learned;
    await click(s);
    await ticks();
    await s.engine.settle();
    expect(bandit).toBe(1);
    expect(s.engine.counters.learnErrors.checkpoint).toBe(1);
    expect(await metric(s, 'chorus_learn_errors_total', '{stage="checkpoint"}')).toBe(1);
    expect(logs.some((l) => /learning: checkpoint failed: injected disk full; trying again at the next checkpoint/.test(l))).toBe(true);
    expect(await s.store.state.getState('bandit')).toBeUndefined();
    expect((await s.call('POST', '/recommend', { user: 'u2', k: 3 })).status).toBe(200);

    failing = false;
    const seq = await click(s, 'u3');
    await s.engine.settle();
    expect(bandit).toBe(2);
    expect(s.engine.counters.learned).toBe(learned0 + 2);
    const saved = parse((await s.store.state.getState('bandit'))!.toString('utf8')) as { lastSeq: number };
    expect(saved.lastSeq).toBe(seq);

    // The last checkpoint, at close, fails: close() logs it, resolves, and closes the store.
    failing = true;
    await click(s, 'u4');
    await s.close();
    open = undefined;
    expect(s.engine.counters.learnErrors.checkpoint).toBeGreaterThanOrEqual(2);
    expect(storeClosed).toBe(true);
  });

  it('caps the learner queue: a full queue learns a batch synchronously, nothing is dropped', async () => {
    const { s } = await start({ maxQueue: 3 });
    const r = await s.call('POST', '/recommend', { user: 'u1', k: 3 });
    const payload = (await s.store.events.getDecision(r.body.eventId))!.payload;
    const learned0 = s.engine.counters.learned;
    for (let i = 0; i < 10; i++) {
      s.engine['learner'].enqueue({ payload, position: i % 3, reward: 1, seq: 0 });
      expect(s.engine.learnQueueLength).toBeLessThanOrEqual(3);
    }
    // 3 queued, the 4th learns them (1 left), … : 3 synchronous batches of 3, one reward still queued.
    expect(s.engine.counters.learnQueueFull).toBe(3);
    expect(s.engine.counters.learned).toBe(learned0 + 9);
    expect(await metric(s, 'chorus_learn_queue_full_total')).toBe(3);
    expect(await metric(s, 'chorus_learn_queue_capacity')).toBe(3);
    await s.engine.settle();
    expect(s.engine.counters.learned).toBe(learned0 + 10);
    expect(await metric(s, 'chorus_learn_queue_length')).toBe(0);
  });

  it('settle() and close() finish while learn, flush and the checkpoint all fail', async () => {
    const { s } = await start({ checkpointEvery: 1, checkpointSeconds: 0 });
    const p = s.engine.policy;
    p.learn = () => {
      throw new Error('learn down');
    };
    p.flush = () => {
      throw new Error('flush down');
    };
    s.store.state.putState = () => Promise.reject(new Error('disk down'));
    for (let i = 0; i < 4; i++) await click(s, `u${1 + i}`);
    await s.engine.settle();
    expect(s.engine.counters.learnErrors.learn).toBe(4);
    expect(s.engine.counters.learnErrors.flush).toBeGreaterThanOrEqual(1);
    expect((await s.call('POST', '/recommend', { user: 'u5', k: 3 })).status).toBe(200);
    await expect(s.close()).resolves.toBeUndefined();
    open = undefined;
  });
});
