import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { datasetFromTriples, type Dataset } from '../../src/data/dataset.js';
import { loadDatasetFile } from '../../src/data/snapshot.js';
import Database from 'better-sqlite3';
import { datasetIdMode, looksPseudonymous, Pseudonymiser } from '../../src/privacy/pseudonym.js';
import { holdStore } from '../../src/serve/erasure.js';
import { openStore } from '../../src/store/open.js';
import { startTestServer } from '../serve/helpers.js';
import { runCli, tempDir, writeTinyMovieLens } from '../cli/helpers.js';

const KEY = 'forget-test-key-0123456789abcdef0123456';
const GONE = 'zq-1-user';

function people(): Dataset {
  const triples: [string, string, number, number][] = [];
  let t = 1_600_000_000;
  for (let u = 1; u <= 6; u++) for (let i = 1; i <= 12; i++) if ((u * 7 + i * 3) % 4 === 0 || i <= 2) triples.push([`zq-${u}-user`, `m${i}`, 1 + ((u + i) % 5), t++]);
  return datasetFromTriples(triples, 'people');
}

const ENGINE = { model: { kind: 'als', config: { factors: 4, iterations: 3 } }, retrainInWorker: false, checkpointEvery: 1, checkpointSeconds: 0 };

/** A stopped server's store with traffic from GONE and another user; resolves with the db path. */
async function storeWithTraffic(pseudonyms: Pseudonymiser | null): Promise<{ dir: string; db: string }> {
  const dir = tempDir('chorus-forget-');
  const s = await startTestServer({ dir, dataset: people(), engine: { ...ENGINE, pseudonyms } });
  for (let t = 0; t < 6; t++) {
    const r = await s.call('POST', '/recommend', { user: t % 2 ? GONE : 'zq-2-user', k: 3 });
    await s.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[0].id, type: 'click' });
  }
  await s.engine.settle();
  await s.close();
  return { dir, db: join(dir, 'chorus.db') };
}

const saved = process.env.CHORUS_ID_KEY;
afterEach(() => {
  if (saved === undefined) delete process.env.CHORUS_ID_KEY;
  else process.env.CHORUS_ID_KEY = saved;
});

describe('chorus forget on a store', () => {
  it('erases the user, keeps them out of the base data at the next start, and has the policy relearned without them', async () => {
    const { dir, db } = await storeWithTraffic(null);
    expect(readFileSync(db).includes(GONE)).toBe(true);
    const r = await runCli(['forget', '--user', GONE, '--data', `sqlite:${db}`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { erasure: { counts: Record<string, number> } };
    expect(out.erasure.counts).toMatchObject({ decisions: 3, feedback: 3, users: 1, snapshots: 1, policyReset: 1 });
    expect(readFileSync(db).includes(GONE)).toBe(false);
    expect(existsSync(`${db}-wal`) ? readFileSync(`${db}-wal`).includes(GONE) : false).toBe(false);

    const b = await startTestServer({ dir, dataset: people(), engine: ENGINE });
    expect(b.engine.trainingData().users.has(GONE)).toBe(false);
    // The policy relearned from the remaining log: the other user's 3 clicks, not GONE's 3 (the
    // checkpoint the server left had all 6).
    expect(b.engine.counters.learned).toBe(3);
    expect((await b.call('GET', `/users/${GONE}`)).status).toBe(404);
    await b.close();
  }, 60_000);

  it('on a pseudonymised store needs the key, refuses another one, and erases the pseudonym', async () => {
    const p = new Pseudonymiser(KEY);
    const { db } = await storeWithTraffic(p);
    expect(readFileSync(db).includes(p.of(GONE))).toBe(true);
    delete process.env.CHORUS_ID_KEY;
    const none = await runCli(['forget', '--user', GONE, '--data', db]);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/CHORUS_ID_KEY/);
    process.env.CHORUS_ID_KEY = KEY + 'other';
    const wrong = await runCli(['forget', '--user', GONE, '--data', db]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/another key/);
    process.env.CHORUS_ID_KEY = KEY;
    const ok = await runCli(['forget', '--user', GONE, '--data', db]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/decisions 3, feedback 3/);
    expect(readFileSync(db).includes(p.of(GONE))).toBe(false);
    expect(readFileSync(db).includes(GONE)).toBe(false);
  }, 60_000);
});

describe('chorus forget on a store: what it leaves alone', () => {
  it('an unknown id changes nothing: no audit record, no tombstone, the policy checkpoint kept', async () => {
    const { db } = await storeWithTraffic(null);
    const state = () => {
      const d = new Database(db, { readonly: true });
      try {
        return { state: d.prepare('SELECT key, hex(value) AS v FROM state ORDER BY key').all(), erasures: d.prepare('SELECT count(*) AS n FROM erasures').get() };
      } finally {
        d.close();
      }
    };
    const before = state();
    const r = await runCli(['forget', '--user', 'zq-nobody', '--data', db]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not in .*nothing was changed/);
    expect(state()).toEqual(before);
  }, 60_000);

  it('refuses a store that a running server marks as served, and goes ahead once it stopped', async () => {
    const { db } = await storeWithTraffic(null);
    const store = openStore(`sqlite:${db}`);
    const held = await holdStore(store.state);
    try {
      const r = await runCli(['forget', '--user', GONE, '--data', db]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/a server is running on .*erase through it/);
      expect(readFileSync(db).includes(GONE) || readFileSync(`${db}-wal`).includes(GONE)).toBe(true);
    } finally {
      await held.stop();
      await store.close();
    }
    const ok = await runCli(['forget', '--user', GONE, '--data', db]);
    expect(ok.code, ok.stderr).toBe(0);
  }, 60_000);
});

describe('chorus import --pseudonymise, then chorus serve --pseudonymise', () => {
  it('serves the imported pseudonyms as they are (not hashed twice): personalised answers, and an erasure removes the base rows', async () => {
    const dir = tempDir('chorus-import-serve-');
    writeTinyMovieLens(dir, 20, 40);
    const snap = join(dir, 'p.chorus-dataset');
    process.env.CHORUS_ID_KEY = KEY;
    const imp = await runCli(['import', dir, '--pseudonymise', '-o', snap, '--json']);
    expect(imp.code, imp.stderr).toBe(0);
    const ds = await loadDatasetFile(snap);
    const p = new Pseudonymiser(KEY);
    expect(datasetIdMode(ds)).toBe(p.mode);

    // A raw server, or another key, on pseudonymised base data is refused before anything is seeded.
    await expect(startTestServer({ dir: tempDir('chorus-import-raw-'), dataset: ds, engine: ENGINE })).rejects.toMatchObject({ code: 'E_ID_MODE' });
    await expect(startTestServer({ dir: tempDir('chorus-import-key-'), dataset: ds, engine: { ...ENGINE, pseudonyms: new Pseudonymiser(KEY + 'x') } })).rejects.toMatchObject({ code: 'E_ID_MODE' });

    // No exploration: the two slates compared below must differ only by what the model knows.
    const s = await startTestServer({ dir: tempDir('chorus-import-serve-store-'), dataset: ds, engine: { ...ENGINE, pseudonyms: p, policy: { epsilon: 0 } } });
    expect(s.engine.trainingData().users.has(p.of('3'))).toBe(true);
    // Personalised: user 3 (known to the model) is not served as a user never seen.
    const slate = async (user: string) => (await s.call('POST', '/recommend', { user, k: 5, excludeSeen: true })).body.items.map((x: { id: string }) => x.id);
    expect(await slate('3')).not.toEqual(await slate('zq-never-seen'));
    const r = await s.call('DELETE', '/users/3');
    expect(r.status).toBe(200);
    expect(r.body.erasure.counts.baseInteractions).toBe(ds.userCounts()[ds.users.toIndex(p.of('3'))]);
    expect(s.engine.trainingData().users.has(p.of('3'))).toBe(false);
    expect(await slate('3')).toEqual(await slate('zq-never-seen'));
    await s.close();
  }, 60_000);
});

describe('chorus import --pseudonymise and chorus forget on a dataset', () => {
  it('imports pseudonyms only; forgets a user from the snapshot; refuses to edit raw files without --out', async () => {
    const dir = tempDir('chorus-forget-data-');
    writeTinyMovieLens(dir, 20, 40);
    const snap = join(dir, 'p.chorus-dataset');
    delete process.env.CHORUS_ID_KEY;
    const noKey = await runCli(['import', dir, '--pseudonymise', '-o', snap]);
    expect(noKey.code).not.toBe(0);
    expect(noKey.stderr).toMatch(/CHORUS_ID_KEY/);
    process.env.CHORUS_ID_KEY = KEY;
    const imp = await runCli(['import', dir, '--pseudonymise', '-o', snap, '--json']);
    expect(imp.code, imp.stderr).toBe(0);
    const ds = await loadDatasetFile(snap);
    const p = new Pseudonymiser(KEY);
    expect(ds.users.ids().every(looksPseudonymous)).toBe(true);
    expect(ds.users.has(p.of('3'))).toBe(true);
    const n3 = ds.userCounts()[ds.users.toIndex(p.of('3'))]!;

    const raw = await runCli(['forget', '--user', '3', '--data', dir]);
    expect(raw.code).not.toBe(0);
    expect(raw.stderr).toMatch(/does not edit the original files; give --out/);

    const f = await runCli(['forget', '--user', '3', '--data', snap, '--pseudonymise', '--json']);
    expect(f.code, f.stderr).toBe(0);
    expect(JSON.parse(f.stdout)).toMatchObject({ removed: { users: 1, interactions: n3 } });
    const after = await loadDatasetFile(snap);
    expect(after.users.has(p.of('3'))).toBe(false);
    expect(after.nInteractions).toBe(ds.nInteractions - n3);

    const copy = join(dir, 'filtered.chorus-dataset');
    const c = await runCli(['forget', '--user', '5', '--data', dir, '--out', copy]);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/original files .* still hold the user/);
    expect((await loadDatasetFile(copy)).users.has('5')).toBe(false);
    const missing = await runCli(['forget', '--user', 'nobody', '--data', copy]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/not in/);
  }, 60_000);
});

describe('chorus serve --pseudonymise', () => {
  it('refuses to start without CHORUS_ID_KEY, and with a short one, before it opens a store', async () => {
    const dir = tempDir('chorus-serve-key-');
    const store = join(dir, 'never.db');
    delete process.env.CHORUS_ID_KEY;
    const r = await runCli(['serve', '--pseudonymise', '--store', `sqlite:${store}`, '--port', '0']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--pseudonymise needs a secret key in the environment variable CHORUS_ID_KEY/);
    process.env.CHORUS_ID_KEY = 'too-short';
    const short = await runCli(['serve', '--pseudonymise', '--store', `sqlite:${store}`, '--port', '0']);
    expect(short.code).not.toBe(0);
    expect(short.stderr).toMatch(/at least 32 characters/);
    expect(existsSync(store)).toBe(false);
  });
});
