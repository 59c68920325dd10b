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

/**
 * Personalizer Rank decisions logged under the active snapshot by a known behaviour policy: a
 * uniformly random pick among m1–m4 (propensity 0.25), rewarded 1 with probability 0.9 when it is
 * m3 and 0.1 otherwise. Written straight to the store so that the behaviour and its propensities
 * are exactly known (the serving bandit's would depend on what it learns). Returns the logged mean.
 */
async function logRankDecisions(t: TestServer, n: number, seed: number): Promise<number> {
  const rng = new Rng(seed);
  const snapshotId = t.engine.activeSnapshot.id;
  let sum = 0;
  for (let j = 0; j < n; j++) {
    const pick = rng.int(ACTIONS.length);
    const items = [ACTIONS[pick]!, ...ACTIONS.filter((_, k) => k !== pick)];
    const id = `rank-${seed}-${j}`;
    const ts = 1_700_000_000_000 + j;
    await t.store.events.appendDecision({ id, ts, user: null, kind: 'rank', items, propensities: items.map(() => 0.25), scores: items.map(() => 0), snapshotId, activated: true, payload: null });
    const reward = rng.next() < (items[0] === PAYS ? 0.9 : 0.1) ? 1 : 0;
    sum += reward;
    await t.store.events.appendFeedback({ eventId: id, ts: ts + 1, user: null, item: items[0]!, type: 'reward', value: reward, reward, position: 0, propensity: 0.25 });
  }
  return sum / n;
}

describe('POST /snapshots/{id}/evaluate', () => {
  it("gives the same estimates as `chorus ope` on the exported log with the snapshot's model as the policy", async () => {
    s = await start();
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
    const snap = (await s.store.snapshots.getSnapshot(candidate))!;
    const model = decodeSnapshot(candidate, snap.body, registryModels);
    const modelFile = join(dir, 'candidate.json');
    await saveModel(model.rec, modelFile);
    writeFileSync(
      join(dir, 'candidate.index.json'),
      JSON.stringify({ format: MODEL_INDEX_FORMAT, version: MODEL_INDEX_VERSION, model: 'popularity', dataset: { name: 'fans', trainedOn: 'all' }, users: model.userIds, items: model.itemIds, titles: model.itemIds.map(() => '') }),
    );
    const cli = await runOpe({ log, policy: modelFile, epsilon: '0.05', bootstrap: '200', estimators: 'dm,ips,snips,dr,switch-dr' });
    expect(cli.n).toBe(ev.n);
    expect(Object.keys(ev.estimates)).toEqual(Object.keys(cli.estimates));
    for (const [name, e] of Object.entries(cli.estimates)) {
      expect(ev.estimates[name].value).toBe(e!.value);
      expect(ev.estimates[name].ci95).toEqual(e!.ci95);
    }
    expect(ev.ess).toBe(cli.ess);
    expect(ev.maxWeight).toBe(cli.maxWeight);
    expect(ev.loggedMean).toBe(cli.loggedMean);
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
    expect(a.body).toEqual(b.body);
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
    expect(r.body.window.from).toBe(1_700_000_000_000 + 35);
    expect(r.body.window.to).toBe(1_700_000_000_000 + 59);
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
    expect(eb.gate).toEqual({ estimator: 'dr', lower: eb.estimates.dr.ci95[0], activeValue: loggedMean, passes: true });
    // Its true value is 0.95·0.9 + 0.05·(mean over the four) = 0.87; the worse one's 0.95·0.1 + 0.05·0.3 = 0.11.
    expect(Math.abs(eb.estimates.dr.value - 0.87)).toBeLessThan(0.08);

    const refused = await s.call('POST', `/snapshots/${worse}/activate`, { gate: 'dr' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('E_ACTIVATION_REFUSED');
    const ew = refused.body.evaluation;
    expect(Math.abs(ew.estimates.dr.value - 0.11)).toBeLessThan(0.08);
    expect(ew.gate.passes).toBe(false);
    expect(refused.body.error.message).toBe(`DR lower bound ${ew.gate.lower.toFixed(4)} does not beat the active policy's estimate ${loggedMean.toFixed(4)}`);
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
    expect(after.gate.passes).toBe(false);
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
    // The retrain is popularity on the same data: it ranks m1/m2 first, worth about 0.1 against the logged 0.3.
    const r = await s.call('POST', '/snapshots', { retrain: true });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('E_ACTIVATION_REFUSED');
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

describe('chorus serve --activation-gate', () => {
  it('accepts dr or none and names the flag otherwise', async () => {
    const r = await runCli(['serve', '--activation-gate', 'maybe', '--port', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/field "activation-gate": expected one of dr, none, got "maybe"/);
  });
});
