import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataDir } from '../../src/data/load.js';
import { openStore } from '../../src/store/open.js';
import { runCli, tempDir, writeTinyMovieLens } from '../cli/helpers.js';

describe('chorus attack / robust / robust scan', () => {
  it('attack writes an attacked snapshot and a manifest naming the fake users', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir);
    const out = join(dir, 'attacked');
    const r = await runCli(['attack', '--data', dir, '--type', 'bandwagon', '--size', '10%', '--filler', '0.1', '--targets', '2', '--seed', '3', '--out', out, '--json']);
    expect(r.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { fakeUsers: string[]; targets: string[]; genuineUsers: number; attack: string };
    expect(JSON.parse(r.stdout)).toEqual(manifest);
    expect(manifest).toMatchObject({ attack: 'bandwagon', genuineUsers: 30 });
    expect(manifest.fakeUsers).toHaveLength(3);
    expect(manifest.targets).toHaveLength(2);
    const { dataset } = await loadDataDir(join(out, 'dataset.chorus-dataset'));
    expect(dataset.nUsers).toBe(33);
    for (const id of manifest.fakeUsers) expect(dataset.users.has(id)).toBe(true);
  });

  it('attack refuses an unknown attack type with one line', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir);
    const r = await runCli(['attack', '--data', dir, '--type', 'sybil', '--out', join(dir, 'x')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/expected one of random, average, bandwagon, segment/);
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });

  it('robust prints one row per model × attack with the detector columns', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir);
    const r = await runCli(['robust', '--data', dir, '--models', 'popularity,itemknn', '--attack', 'random,segment', '--size', '0.2', '--filler', '0.1', '--targets', '1', '--detector', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      rows: { model: string; attack: { type: string }; fakeProfiles: number; hitRatioBefore: number; hitRatioAfter: number; precision: number | null; recall: number | null; genuineFlagged: number }[];
      protocol: string;
    };
    expect(doc.rows.map((x) => x.model)).toEqual(['popularity', 'popularity', 'itemknn', 'itemknn']);
    for (const row of doc.rows) {
      expect(row.hitRatioAfter).toBeGreaterThanOrEqual(0);
      expect(row.hitRatioAfter).toBeLessThanOrEqual(1);
    }
    // 6 fakes rating the target among 30 users of 10–19 ratings each: popularity must surface it.
    expect(doc.rows[0]!.hitRatioAfter).toBeGreaterThan(doc.rows[0]!.hitRatioBefore);
    // The detector columns: recall in [0, 1]; precision null only when nothing was flagged; the
    // genuine users flagged agree with precision and recall; one detector per attack, whatever the model.
    for (const row of doc.rows) {
      expect(row.recall).not.toBeNull();
      expect(row.recall!).toBeGreaterThanOrEqual(0);
      expect(row.recall!).toBeLessThanOrEqual(1);
      const caught = Math.round(row.recall! * row.fakeProfiles);
      if (row.precision === null) expect([caught, row.genuineFlagged]).toEqual([0, 0]);
      else {
        expect(row.precision).toBeGreaterThan(0);
        expect(row.precision).toBeLessThanOrEqual(1);
        expect(row.genuineFlagged).toBe(Math.round(caught / row.precision) - caught);
      }
      const same = doc.rows.find((x) => x.attack.type === row.attack.type)!;
      expect([row.precision, row.recall]).toEqual([same.precision, same.recall]);
    }
    // Segment profiles (top-rated popular items, constant filler) are the ones this seed's detector
    // finds on the tiny data: some caught, no genuine user flagged.
    const segment = doc.rows.find((x) => x.attack.type === 'segment')!;
    expect(segment.recall!).toBeGreaterThan(0);
    expect(segment.precision).toBe(1);
    expect(doc.protocol).toMatch(/temporal 80\/20/);
    const human = await runCli(['robust', '--data', dir, '--models', 'popularity', '--attack', 'segment', '--size', '0.2', '--filler', '0.1', '--targets', '1', '--detector']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/HR@10 before .*HR@10 detector +precision +recall/);
  });

  it('robust scan flags an item spike in a store feedback log', async () => {
    const dir = tempDir();
    const url = `sqlite:${join(dir, 'serve.db')}`;
    const store = openStore(url);
    const hour = 3_600_000;
    const base = 1_700_000_000_000 - (1_700_000_000_000 % hour);
    let n = 0;
    const put = (ts: number, user: string, item: string) =>
      store.events.appendFeedback({ eventId: null, ts, user, item, type: 'click', value: null, reward: 1, position: null, propensity: null }).then(() => n++);
    for (let h = 0; h < 12; h++) for (let j = 0; j < 10; j++) await put(base + h * hour + j * 60_000, `u${j}`, `i${(h + j) % 5}`);
    for (let j = 0; j < 40; j++) await put(base + 12 * hour + j * 1000, `new${j}`, 'i3');
    await store.close();
    const r = await runCli(['robust', 'scan', '--store', url, '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { events: number; flags: { kind: string; id: string; newUserShare?: number }[] };
    expect(doc.events).toBe(n);
    expect(doc.flags.map((f) => `${f.kind}:${f.id}`)).toEqual(['item:i3']);
    expect(doc.flags[0]!.newUserShare).toBeGreaterThan(0.9);
  });
});
