import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/serve/engine.js';
import { registryModels } from '../../src/serve/model.js';
import { tinyDataset } from '../serve/helpers.js';
import { CbPolicy } from '../../src/serve/cb-policy.js';
import { learnFromDecisionLog, saveWarmStart } from '../../src/serve/cb-warm-start.js';
import { buildRow, parseInteractions, singleFeature, type SparseRow } from '../../src/serve/namespaces.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { parse } from '../../src/util/serialize.js';
import { Rng } from '../../src/util/rng.js';

/**
 * A Rank log (one action drawn of three) confounded as in learn-cb.test.ts: the context x that
 * drives the reward is not in the logged rows, and the logging policy drew action 0 mostly when
 * x = 1. True means over x: base + 0.25 = [0.45, 0.65, 0.35].
 */
const BASE = [0.2, 0.4, 0.1];
const TRUE_MEAN = BASE.map((b) => b + 0.25);
const LOGGING = [
  [0.1, 0.45, 0.45],
  [0.8, 0.1, 0.1],
];
const spec = parseInteractions(['*:*']);
const rows: SparseRow[] = [0, 1, 2].map((a) => buildRow([], [singleFeature('_id', `id=a${a}`, 1)], spec, { idx: [], val: [] }));

async function loggedStore(n: number): Promise<Store> {
  const store = openStore('sqlite::memory:');
  const rng = new Rng(21);
  const t0 = 1_700_000_000_000;
  for (let i = 0; i < n; i++) {
    const x = rng.next() < 0.5 ? 0 : 1;
    const mu = LOGGING[x]!;
    const u = rng.next();
    const a = u < mu[0]! ? 0 : u < mu[0]! + mu[1]! ? 1 : 2;
    const others = [0, 1, 2].filter((b) => b !== a);
    const id = `e${i}`;
    await store.events.appendDecision({
      id, ts: t0 + i, user: null, kind: 'rank', items: [`a${a}`, ...others.map((b) => `a${b}`)],
      propensities: [mu[a]!, ...others.map((b) => mu[b]!)], scores: [0, 0, 0], snapshotId: null, activated: true,
      payload: { cb: 1, rows: [rows[a], null, null] },
    });
    const r = BASE[a]! + 0.5 * x + 0.05 * rng.normal();
    await store.events.appendFeedback({ eventId: id, ts: t0 + i + 1, user: null, item: `a${a}`, type: 'reward', value: r, reward: r, position: 0, propensity: mu[a]! });
  }
  return store;
}

describe('warm-starting the serving bandit from a decision log', () => {
  const stores: Store[] = [];
  afterAll(async () => {
    for (const s of stores) await s.close();
  });

  it('IPS replay recovers the per-action rewards a confounded log hides; plain replay does not; the checkpoint restores', async () => {
    const source = await loggedStore(3000);
    stores.push(source);
    const ips = new CbPolicy();
    const plain = new CbPolicy();
    const rep = await learnFromDecisionLog(source, ips, { weighting: 'ips' });
    await learnFromDecisionLog(source, plain, { weighting: 'none' });
    expect(rep).toMatchObject({ decisions: 3000, usable: 3000, learned: 3000, lastFeedbackSeq: 3000 });
    expect(rep.maxWeight).toBe(10);
    const mean = (p: CbPolicy) => rows.map((r) => p.model.predict(r).mean);
    const m = mean(ips);
    for (let a = 0; a < 3; a++) expect(Math.abs(m[a]! - TRUE_MEAN[a]!)).toBeLessThan(0.04);
    const u = mean(plain);
    expect(u[0]! - TRUE_MEAN[0]!).toBeGreaterThan(0.12);
    expect(u[0]!).toBeGreaterThan(u[1]!); // the plain replay would serve the wrong action first
    expect(m[1]!).toBeGreaterThan(m[0]!);

    const target = openStore('sqlite::memory:');
    stores.push(target);
    await saveWarmStart(target, ips, 0);
    const ck = parse((await target.state.getState('bandit'))!.toString('utf8')) as { state: unknown; lastSeq: number };
    expect(ck.lastSeq).toBe(0);
    const served = new CbPolicy();
    expect(served.setState(ck.state)).toBe(true);
    expect(mean(served)).toEqual(m);
    // A policy configured otherwise (other interactions) refuses it, as the server's restore does.
    expect(new CbPolicy({ interactions: [] }).setState(ck.state)).toBe(false);

    // The engine `chorus serve` runs starts from it on a fresh store.
    const url = `sqlite:${join(mkdtempSync(join(tmpdir(), 'chorus-warm-')), 'serve.db')}`;
    const fresh = openStore(url);
    await saveWarmStart(fresh, ips, 0);
    const engine = await Engine.open(fresh, tinyDataset(), registryModels, { model: { kind: 'popularity', config: {} } });
    try {
      expect(mean(engine.policy as CbPolicy)).toEqual(m);
    } finally {
      await engine.close();
    }
  });
});
