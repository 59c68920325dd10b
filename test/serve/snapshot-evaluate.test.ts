import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runOpe } from '../../src/cli/commands/ope.js';
import { runCli } from '../cli/helpers.js';
import { MODEL_INDEX_FORMAT, MODEL_INDEX_VERSION } from '../../src/cli/model-index.js';
import { datasetFromTriples } from '../../src/data/dataset.js';
import { saveModel } from '../../src/recommenders/persist.js';
import type { EngineConfig } from '../../src/serve/engine.js';
import { ActivationRefusedError } from '../../src/serve/snapshot-evaluation.js';
import { decodeSnapshot, registryModels } from '../../src/serve/model.js';
import { fitSnapshot } from '../../src/serve/training.js';
import { Rng } from '../../src/util/rng.js';
import { startTestServer, tinyDataset, type TestServer } from './helpers.js';

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});
const dir = mkdtempSync(join(tmpdir(), 'chorus-snapshot-eval-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function start(engine: Partial<EngineConfig> = {}): Promise<TestServer> {
  return startTestServer({ engine: { keepSnapshots: 0, retrainInWorker: false, ...engine } });
}

/**
 * A popularity snapshot stored (not activated) whose favourite is `favourite`: the tiny dataset
 * plus 20 extra users who all watched it, so it tops every ranking it is a candidate of.
 */
async function storePopularSnapshot(t: TestServer, favourite: string): Promise<string> {
  const triples: [string, string, number, number][] = [];
  const base = tinyDataset();
  const it = base.interactions;
  for (let k = 0; k < it.user.length; k++) triples.push([base.users.toExternal(it.user[k]!), base.items.toExternal(it.item[k]!), it.value[k]!, it.timestamp[k]!]);
  for (let u = 0; u < 20; u++) triples.push([`fan${u}`, favourite, 5, 1_700_000_000 + u]);
  const { meta, body } = await fitSnapshot('manual', 'popularity', {}, datasetFromTriples(triples, `fans-of-${favourite}`), registryModels);
  await t.store.snapshots.putSnapshot(meta, body);
  return meta.id;
}

const ACTIONS = ['m1', 'm2', 'm3', 'm4'];
const PAYS = 'm3';
/** Chance of reward 1 for each pick. The tiny dataset's popularity ranking (the first active snapshot) picks m1/m2. */
const PAYOFF: Record<string, number> = { m1: 0.2, m2: 0.2, m3: 0.9, m4: 0.05 };
/** Far in the past, so every reward window has closed. */
const T0 = 1_700_000_000_000;

/**
 * Personalizer Rank decisions logged under the active snapshot by a known behaviour policy: a
 * uniformly random pick among m1–m4 (propensity 0.25), rewarded 1 with probability PAYOFF[pick].
 * Written straight to the store so that the behaviour and its propensities are exactly known (the
 * serving bandit's would depend on what it learns). Returns the logged mean.
 */
async function logRankDecisions(t: TestServer, n: number, seed: number): Promise<number> {
  const rng = new Rng(seed);
  const snapshotId = t.engine.activeSnapshot.id;
  let sum = 0;
  for (let j = 0; j < n; j++) {
    const pick = rng.int(ACTIONS.length);
    const items = [ACTIONS[pick]!, ...ACTIONS.filter((_, k) => k !== pick)];
    const id = `rank-${seed}-${j}`;
    const ts = T0 + j;
    await t.store.events.appendDecision({ id, ts, user: null, kind: 'rank', items, propensities: items.map(() => 0.25), scores: items.map(() => 0), snapshotId, activated: true, payload: null });
    const reward = rng.next() < PAYOFF[items[0]!]! ? 1 : 0;
    sum += reward;
    await t.store.events.appendFeedback({ eventId: id, ts: ts + 1, user: null, item: items[0]!, type: 'reward', value: reward, reward, position: 0, propensity: 0.25 });
  }
  return sum / n;
}

/** The snapshot's model saved as a `chorus train` model file with its index, for `chorus ope --policy`. */
async function modelFile(t: TestServer, id: string): Promise<string> {
  const snap = (await t.store.snapshots.getSnapshot(id))!;
  const model = decodeSnapshot(id, snap.body, registryModels);
  const file = join(dir, `${id}.json`);
  await saveModel(model.rec, file);
  writeFileSync(
    join(dir, `${id}.index.json`),
    JSON.stringify({ format: MODEL_INDEX_FORMAT, version: MODEL_INDEX_VERSION, model: 'popularity', dataset: { name: 'fans', trainedOn: 'all' }, users: model.userIds, items: model.itemIds, titles: model.itemIds.map(() => '') }),
  );
  return file;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('POST /snapshots/{id}/evaluate', () => {
  it("gives the same estimates as `chorus ope` on the exported log with the snapshot's model as the policy", async () => {
    // A short reward wait: every feedback below comes within it, and the evaluation waits for it to close.
    s = await start({ rewardWaitSeconds: 1 });
    // A live log through the API: recommend slates, clicks on the first slot of some.
    const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
    for (let j = 0; j < 48; j++) {
      const r = await s.call('POST', '/recommend', { user: users[j % users.length], k: 4, excludeSeen: false });
      expect(r.status).toBe(200);
      const first = r.body.items[0].id as string;
      if (j % 3 === 0 || first === 'm3') expect((await s.call('POST', '/feedback', { eventId: r.body.eventId, item: first, type: 'click' })).status).toBe(201);
    }
    // A fan of m1, which the served popularity ranking ties with m2 at the top: it agrees with some logged picks, not all.
    const candidate = await storePopularSnapshot(s, 'm1');
    await sleep(1100);
    const res = await s.call('POST', `/snapshots/${candidate}/evaluate`, { bootstrap: 200, estimators: ['dm', 'ips', 'snips', 'dr', 'switch-dr'] });
    expect(res.status).toBe(200);
    const ev = res.body;
    expect(ev.snapshot).toBe(candidate);
    expect(ev.epsilon).toBe(0.05);
    expect(ev.n).toBe(48);
    // Unequal importance weights: the candidate's ranking agrees with the log on some records only.
    expect(ev.ess).toBeLessThan(ev.n - 1);

    // The same log exported through GET /events, the same model saved as a `chorus train` model file.
    const pages: string[] = [];
    for (let after = 0; ; ) {
      const p = await s.call('GET', `/events?after=${after}&limit=10`);
      pages.push(JSON.stringify({ events: p.body.events }));
      if (p.body.next === null) break;
      after = p.body.next;
    }
    const log = join(dir, 'events.jsonl');
    writeFileSync(log, `${pages.join('\n')}\n`);
    const cli = await runOpe({ log, policy: await modelFile(s, candidate), epsilon: '0.05', bootstrap: '200', estimators: 'dm,ips,snips,dr,switch-dr' });
    expect(cli.n).toBe(ev.n);
    expect(Object.keys(ev.estimates)).toEqual(Object.keys(cli.estimates));
    for (const [name, e] of Object.entries(cli.estimates)) {
      expect(ev.estimates[name].value).toBe(e!.value);
      expect(ev.estimates[name].ci95).toEqual(e!.ci95);
    }
    expect(ev.ess).toBe(cli.ess);
    expect(ev.maxWeight).toBe(cli.maxWeight);
    expect(ev.loggedMean).toBe(cli.loggedMean);
    expect(ev.window.open).toBe(0);

    // The gate: the same DR, of the candidate and of the active snapshot's ranking, as `chorus ope` gives for each model.
    const active = s.engine.activeSnapshot.id;
    const cliActive = await runOpe({ log, policy: await modelFile(s, active), epsilon: '0.05', bootstrap: '200', estimators: 'dr' });
    expect(ev.gate.candidate).toEqual(cli.estimates.dr);
    expect(ev.gate.active.value).toBe(cliActive.estimates.dr!.value);
    expect(ev.gate.active.ci95).toEqual(cliActive.estimates.dr!.ci95);
    expect(ev.gate.difference.value).toBeCloseTo(cli.estimates.dr!.value - cliActive.estimates.dr!.value, 12);
    // Paired: one set of resamples, so the difference's interval is not the two intervals' extremes.
    expect(ev.gate.difference.ci95[0]).toBeGreaterThan(ev.gate.candidate.ci95[0] - ev.gate.active.ci95[1]);
    expect(ev.gate.difference.ci95[1]).toBeLessThan(ev.gate.candidate.ci95[1] - ev.gate.active.ci95[0]);
    expect(ev.gate.passes).toBe(ev.gate.difference.ci95[0] > 0);
  });

  it('leaves out decisions still inside their reward window, and counts them', async () => {
    s = await start({ rewardWaitSeconds: 60 });
    await logRankDecisions(s, 50, 8);
    const candidate = await storePopularSnapshot(s, PAYS);
    const before = (await s.call('POST', `/snapshots/${candidate}/evaluate`, { bootstrap: 100, limit: 30 })).body;
    expect(before.n).toBe(30);
    expect(before.window.open).toBe(0);
    // Seven fresh Rank decisions without feedback: their window is open, so they have no reward yet.
    for (let j = 0; j < 7; j++) expect((await s.call('POST', '/personalizer/v1.0/rank', { actions: ACTIONS.map((id) => ({ id })) })).status).toBe(201);
    const after = (await s.call('POST', `/snapshots/${candidate}/evaluate`, { bootstrap: 100, limit: 30 })).body;
    expect(after.window.open).toBe(7);
    expect(after.window.until).toBeLessThanOrEqual(Date.now() - 60_000);
    // The same 30 closed decisions as before (the read goes past the open ones), so the same numbers.
    expect(after.n).toBe(30);
    expect(after.window.to).toBe(T0 + 49);
    expect({ ...after, window: null }).toEqual({ ...before, window: null });
  });

  it("scores a decision as the learner does: in-window feedback (a Rank decision's first), else the server's defaultReward", async () => {
    const waitMs = 10_000;
    const defaultReward = 0.25;
    s = await start({ rewardWaitSeconds: waitMs / 1000, defaultReward });
    const snapshotId = s.engine.activeSnapshot.id;
    const expected: number[] = [];
    for (let j = 0; j < 40; j++) {
      const id = `d-${j}`;
      const ts = T0 + j * 1000;
      const items = [ACTIONS[j % 4]!, ...ACTIONS.filter((_, k) => k !== j % 4)];
      await s.store.events.appendDecision({ id, ts, user: null, kind: 'rank', items, propensities: items.map(() => 0.25), scores: items.map(() => 0), snapshotId, activated: true, payload: null });
      const fb = (at: number, reward: number) => s!.store.events.appendFeedback({ eventId: id, ts: at, user: null, item: items[0]!, type: 'reward', value: reward, reward, position: 0, propensity: 0.25 });
      if (j % 4 === 0) expected.push(defaultReward); // no feedback
      else if (j % 4 === 1) {
        await fb(ts + waitMs + 1, 1); // too late: not learned
        expected.push(defaultReward);
      } else if (j % 4 === 2) {
        await fb(ts + 10, 0.5); // the first reward closes a Rank decision's window
        await fb(ts + 20, 1);
        expected.push(0.5);
      } else {
        await fb(ts + waitMs, -1);
        expected.push(-1);
      }
    }
    const ev = (await s.call('POST', `/snapshots/${snapshotId}/evaluate`, { bootstrap: 50 })).body;
    const mean = expected.reduce((a, b) => a + b, 0) / expected.length;
    expect(ev.n).toBe(40);
    expect(ev.loggedMean).toBeCloseTo(mean, 12);
    expect(ev.activeEstimate.how).toBe('on-policy');
    expect(ev.activeEstimate.value).toBeCloseTo(mean, 12);
  });

  it('leaves the served model alone', async () => {
    s = await start();
    await logRankDecisions(s, 50, 1);
    const active = s.engine.activeSnapshot.id;
    const before = { preview: s.engine.preview('u1', 5), acts: await s.store.snapshots.activations(10), health: (await s.call('GET', '/healthz')).body.snapshot };
    const candidate = await storePopularSnapshot(s, 'm3');
    expect((await s.call('POST', `/snapshots/${candidate}/evaluate`)).status).toBe(200);
    expect(s.engine.activeSnapshot.id).toBe(active);
    expect((await s.call('GET', '/healthz')).body.snapshot).toBe(before.health);
    expect(await s.store.snapshots.activations(10)).toEqual(before.acts);
    expect(s.engine.preview('u1', 5)).toEqual(before.preview);
    expect((await s.call('GET', '/snapshots')).body.active).toBe(active);
  });

  it('is reproducible: the same request gives the same numbers', async () => {
    s = await start();
    await logRankDecisions(s, 80, 2);
    const candidate = await storePopularSnapshot(s, 'm3');
    const a = await s.call('POST', `/snapshots/${candidate}/evaluate`, { bootstrap: 100 });
    const b = await s.call('POST', `/snapshots/${candidate}/evaluate`, { bootstrap: 100 });
    // All but the cutoff (now − the reward wait), which moves with the clock.
    expect({ ...a.body, window: { ...a.body.window, until: 0 } }).toEqual({ ...b.body, window: { ...b.body.window, until: 0 } });
    const other = await s.call('POST', `/snapshots/${candidate}/evaluate`, { bootstrap: 100, seed: 7 });
    expect(other.body.estimates.dr.ci95).not.toEqual(a.body.estimates.dr.ci95);
  });

  it('answers 404 for an unknown snapshot, 409 when the log has no usable decisions, 400 for a bad option', async () => {
    s = await start();
    const active = s.engine.activeSnapshot.id;
    const unknown = await s.call('POST', '/snapshots/nope/evaluate');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('E_NOT_FOUND');
    const empty = await s.call('POST', `/snapshots/${active}/evaluate`);
    expect(empty.status).toBe(409);
    expect(empty.body.error.message).toMatch(/no decisions/);
    await logRankDecisions(s, 3, 3);
    const few = await s.call('POST', `/snapshots/${active}/evaluate`);
    expect(few.status).toBe(409);
    expect(few.body.error.message).toMatch(/only 3 usable logged decisions/);
    // Decisions exist, but none in the window asked for.
    const late = await s.call('POST', `/snapshots/${active}/evaluate`, { since: 1_800_000_000_000 });
    expect(late.status).toBe(409);
    expect(late.body.error.field).toBe('since');
    const bad = await s.call('POST', `/snapshots/${active}/evaluate`, { estimators: ['magic'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toMatch(/^estimators/);
    expect((await s.call('POST', `/snapshots/${active}/evaluate`, undefined, { key: null })).status).toBe(401);
    const doc = (await s.call('GET', '/openapi.json', undefined, { key: null })).body;
    const op = doc.paths['/snapshots/{id}/evaluate'].post;
    expect(op['x-chorus-scope']).toBe('admin');
    expect(Object.keys(op.requestBody.content['application/json'].schema.properties)).toEqual(['estimators', 'epsilon', 'since', 'limit', 'rewardModel', 'folds', 'bootstrap', 'seed']);
    expect(Object.keys(doc.paths['/snapshots/{id}/activate'].post.responses)).toContain('409');
  });

  it('reads only the most recent `limit` decisions', async () => {
    s = await start();
    await logRankDecisions(s, 60, 4);
    const r = await s.call('POST', `/snapshots/${s.engine.activeSnapshot.id}/evaluate`, { limit: 25, bootstrap: 0 });
    expect(r.status).toBe(200);
    expect(r.body.n).toBe(25);
    expect(r.body.window.decisions).toBe(25);
    expect(r.body.window.from).toBe(T0 + 35);
    expect(r.body.window.to).toBe(T0 + 59);
  });
});

describe('the DR activation gate', () => {
  it('refuses a worse snapshot and accepts a better one', async () => {
    s = await start();
    const loggedMean = await logRankDecisions(s, 400, 5);
    const active = s.engine.activeSnapshot.id;
    const better = await storePopularSnapshot(s, PAYS);
    const worse = await storePopularSnapshot(s, 'm4');

    const eb = (await s.call('POST', `/snapshots/${better}/evaluate`)).body;
    // The active policy logged every decision: its value is their mean reward.
    expect(eb.activeEstimate.how).toBe('on-policy');
    expect(eb.activeEstimate.n).toBe(400);
    expect(eb.activeEstimate.value).toBeCloseTo(loggedMean, 12);
    expect(eb.activeEstimate.ci95[0]).toBeLessThan(loggedMean);
    expect(eb.activeEstimate.ci95[1]).toBeGreaterThan(loggedMean);
    // The gate compares rankings: the candidate's DR (its `estimates.dr`) minus the active ranking's (it picks m1/m2).
    // True values: 0.95·0.9 + 0.05·0.3375 = 0.872 against 0.95·0.2 + 0.05·0.3375 = 0.207; the worse one's 0.95·0.05 + 0.05·0.3375 = 0.064.
    expect(eb.gate.candidate).toEqual(eb.estimates.dr);
    expect(Math.abs(eb.estimates.dr.value - 0.872)).toBeLessThan(0.08);
    expect(Math.abs(eb.gate.active.value - 0.207)).toBeLessThan(0.08);
    expect(eb.gate.difference.value).toBeCloseTo(eb.gate.candidate.value - eb.gate.active.value, 12);
    expect(eb.gate.difference.ci95[0]).toBeGreaterThan(0);
    expect(eb.gate.passes).toBe(true);

    const refused = await s.call('POST', `/snapshots/${worse}/activate`, { gate: 'dr' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('E_ACTIVATION_REFUSED');
    const ew = refused.body.evaluation;
    expect(Math.abs(ew.estimates.dr.value - 0.064)).toBeLessThan(0.08);
    expect(ew.gate.passes).toBe(false);
    expect(ew.gate.difference.ci95[1]).toBeLessThan(0);
    const d = ew.gate.difference;
    expect(refused.body.error.message).toBe(
      `DR of the candidate minus DR of the active ranking: ${d.value.toFixed(4)} [${d.ci95[0].toFixed(4)}, ${d.ci95[1].toFixed(4)}]; the lower bound does not exceed 0`,
    );
    expect(refused.body.snapshot.id).toBe(worse);
    expect(s.engine.activeSnapshot.id).toBe(active);

    const ok = await s.call('POST', `/snapshots/${better}/activate`, { gate: 'dr' });
    expect(ok.status).toBe(200);
    expect(ok.body.id).toBe(better);
    expect(s.engine.activeSnapshot.id).toBe(better);

    // Nothing in the log was served under `better`: its value is the DR estimate of its own ranking,
    // which is exactly the number its evaluation gave (same log, reward model, ε and seed).
    const after = (await s.call('POST', `/snapshots/${worse}/evaluate`)).body;
    expect(after.activeEstimate.how).toBe('dr-of-ranking');
    expect(after.activeEstimate.value).toBe(eb.estimates.dr.value);
    expect(after.activeEstimate.ci95).toEqual(eb.estimates.dr.ci95);
    expect(after.gate.active).toEqual(eb.estimates.dr);
    expect(after.gate.passes).toBe(false);
    // The active snapshot against itself: a difference of exactly 0, which does not pass.
    const self = (await s.call('POST', `/snapshots/${better}/evaluate`)).body;
    expect(self.gate.difference).toEqual({ value: 0, ci95: [0, 0] });
    expect(self.gate.passes).toBe(false);
  });

  it('is on for every activation with --activation-gate dr, and gate "none" overrides it', async () => {
    s = await start({ activationGate: 'dr' });
    const active = s.engine.activeSnapshot.id;
    const worse = await storePopularSnapshot(s, 'm4');
    // An empty log cannot judge: the gated activation is refused with the reason.
    const empty = await s.call('POST', `/snapshots/${worse}/activate`);
    expect(empty.status).toBe(409);
    expect(empty.body.error.message).toMatch(/no decisions/);
    await logRankDecisions(s, 200, 6);
    const refused = await s.call('POST', `/snapshots/${worse}/activate`);
    expect(refused.status).toBe(409);
    expect(refused.body.evaluation.gate.passes).toBe(false);
    expect(s.engine.activeSnapshot.id).toBe(active);
    expect((await s.call('POST', `/snapshots/${worse}/activate`, { gate: 'none' })).status).toBe(200);
    expect(s.engine.activeSnapshot.id).toBe(worse);
    // Rollback is not gated: it goes back to what was served before.
    expect((await s.call('POST', '/snapshots/rollback')).body.id).toBe(active);
    // Activating the snapshot already served is not judged against itself (a difference of 0 would refuse it).
    const again = await s.call('POST', `/snapshots/${active}/activate`);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(active);
  });

  it('reports a retrain it refuses (409, stored but not active) and activates one it accepts', async () => {
    s = await start({ activationGate: 'dr' });
    const active = s.engine.activeSnapshot.id;
    // Before any decision is logged the gate cannot judge: the retrain is kept, inactive, and named.
    const early = await s.call('POST', '/snapshots', { retrain: true });
    expect(early.status).toBe(409);
    const kept = /^snapshot (\S+) was retrained but not activated: the decision log holds no decisions/.exec(early.body.error.message);
    expect(kept).not.toBeNull();
    expect((await s.call('GET', '/snapshots')).body.snapshots.map((m: { id: string }) => m.id)).toContain(kept![1]);
    expect(s.engine.activeSnapshot.id).toBe(active);
    await logRankDecisions(s, 200, 7);
    // The retrain is popularity on the same data: the active snapshot's ranking, so a difference of exactly 0.
    const r = await s.call('POST', '/snapshots', { retrain: true });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('E_ACTIVATION_REFUSED');
    expect(r.body.evaluation.gate.difference).toEqual({ value: 0, ci95: [0, 0] });
    expect(r.body.evaluation.gate.passes).toBe(false);
    const listed = (await s.call('GET', '/snapshots')).body;
    expect(listed.active).toBe(active);
    expect(listed.snapshots.map((m: { id: string }) => m.id)).toContain(r.body.snapshot.id);
    // Without activation nothing is gated; and gate "none" in the body turns the gate off for this call.
    expect((await s.call('POST', '/snapshots', { retrain: true, activate: false })).status).toBe(201);
    const forced = await s.call('POST', '/snapshots', { retrain: true, gate: 'none' });
    expect(forced.status).toBe(201);
    expect(s.engine.activeSnapshot.id).toBe(forced.body.id);
  });
});

describe('the activation gate under concurrency', () => {
  it('judges two concurrent gated activations one after the other, each against the snapshot then active', async () => {
    s = await start();
    await logRankDecisions(s, 300, 9);
    const first = s.engine.activeSnapshot.id;
    const a = await storePopularSnapshot(s, PAYS);
    const b = await storePopularSnapshot(s, PAYS); // the same ranking as `a`
    const before = (await s.store.snapshots.activations(100)).length;
    const [ra, rb] = await Promise.allSettled([s.engine.activateSnapshot(a, { gate: 'dr', bootstrap: 200 }), s.engine.activateSnapshot(b, { gate: 'dr', bootstrap: 200 })]);
    // `a` beats the first snapshot; `b` is then judged against `a`, its equal, and refused.
    expect(ra.status === 'fulfilled' && ra.value.id).toBe(a);
    expect(rb.status).toBe('rejected');
    const e = (rb as PromiseRejectedResult).reason as ActivationRefusedError;
    expect(e).toBeInstanceOf(ActivationRefusedError);
    expect(e.evaluation.active).toBe(a);
    expect(e.evaluation.gate.difference.value).toBe(0);
    expect(s.engine.activeSnapshot.id).toBe(a);
    const acts = await s.store.snapshots.activations(100);
    expect(acts.length).toBe(before + 1);
    expect(acts[0]!.snapshotId).toBe(a);
    expect(first).not.toBe(a);
  });

  it('judges a retrain that races an activation against the snapshot that activation made active', async () => {
    s = await start();
    await logRankDecisions(s, 300, 10);
    const better = await storePopularSnapshot(s, PAYS);
    // The activation's gate is the slower one (more resamples): the retrain's fit ends while it runs.
    const [rr, ra] = await Promise.allSettled([s.engine.retrain(true, { gate: 'dr', bootstrap: 200 }), s.engine.activateSnapshot(better, { gate: 'dr', bootstrap: 5000 })]);
    expect(ra.status === 'fulfilled' && ra.value.id).toBe(better);
    expect(rr.status).toBe('rejected');
    const e = (rr as PromiseRejectedResult).reason as ActivationRefusedError;
    expect(e).toBeInstanceOf(ActivationRefusedError);
    expect(e.evaluation.active).toBe(better);
    expect(s.engine.activeSnapshot.id).toBe(better);
    expect((await s.store.snapshots.listSnapshots()).map((m) => m.id)).toContain(e.snapshot.id);
  });

  it('counts a retrain as in progress until its gate is done, so no second one starts meanwhile', async () => {
    s = await start();
    await logRankDecisions(s, 300, 11);
    const stored = async () => (await s!.store.snapshots.listSnapshots()).length;
    const n0 = await stored();
    const p = s.engine.retrain(true, { gate: 'dr', bootstrap: 3000 });
    let done = false;
    p.catch(() => undefined).finally(() => (done = true));
    let duringGate = 0;
    while (!done) {
      // The same promise for every call while it runs: no second fit.
      expect(s.engine.retrain(true, { gate: 'dr' })).toBe(p);
      expect(s.engine.retrainInProgress).toBe(true);
      if ((await stored()) > n0) duringGate++; // stored: the fit is over, the gate is running
      await new Promise((r) => setImmediate(r));
    }
    await expect(p).rejects.toBeInstanceOf(ActivationRefusedError);
    expect(duringGate).toBeGreaterThan(0);
    expect(s.engine.retrainInProgress).toBe(false);
    expect(await stored()).toBe(n0 + 1);
  });

  it('lets the event loop run between the phases of an evaluation', async () => {
    s = await start();
    await logRankDecisions(s, 300, 12);
    const candidate = await storePopularSnapshot(s, PAYS);
    let ticks = 0;
    let done = false;
    const tick = () => {
      ticks++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    const ev = s.engine.evaluateSnapshot(candidate, { folds: 5, bootstrap: 100 });
    await ev.finally(() => (done = true));
    // At least one turn between every two cross-fitting folds.
    expect(ticks).toBeGreaterThanOrEqual(5);
  });
});

describe('chorus serve --activation-gate', () => {
  it('accepts dr or none and names the flag otherwise', async () => {
    const r = await runCli(['serve', '--activation-gate', 'maybe', '--port', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/field "activation-gate": expected one of dr, none, got "maybe"/);
  });
});
