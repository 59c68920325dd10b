import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '../../src/errors.js';
import { readEventsLog, readOpeLog, readStoreLog, sniffLogFormat, writeOpeLog, type OpeRecord } from '../../src/ope/logs.js';
import { startTestServer } from '../serve/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'chorus-ope-logs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const records: OpeRecord[] = [
  { id: 'e1', user: 'u1', context: [1, 0], candidates: ['a', 'b', 'c'], candidateFeatures: [[0.1], [0.2], [0.3]], chosen: 'b', propensity: 0.5, reward: 1, slate: ['b', 'a'], slotPropensities: [0.5, 0.25], slotRewards: [1, 0] },
  { id: 'e2', user: 'u2', context: [0, 1], candidates: ['c', 'a'], candidateFeatures: [[0.3], [0.1]], chosen: 'c', propensity: 0.25, reward: 0, slate: ['c', 'b', 'a'], slotPropensities: [0.25, 0.5, 0.5], slotRewards: [0, 0, 1] },
];

describe('Chorus OPE log (JSONL)', () => {
  it('round-trips through writeOpeLog and readOpeLog into the CSR bandit log', async () => {
    const path = join(dir, 'log.jsonl');
    await writeOpeLog(path, records);
    expect(readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual(records);
    const ds = readOpeLog(path);
    expect(ds.format).toBe('chorus');
    expect(ds.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(ds.actionIds).toEqual(['a', 'b', 'c']);
    expect(ds.recordIds).toEqual(['e1', 'e2']);
    expect(ds.users).toEqual(['u1', 'u2']);
    expect(Array.from(ds.log.indptr)).toEqual([0, 3, 5]);
    expect(Array.from(ds.log.actions)).toEqual([0, 1, 2, 2, 0]);
    expect(Array.from(ds.log.logged)).toEqual([1, 3]);
    expect(Array.from(ds.log.propensity)).toEqual([0.5, 0.25]);
    expect(Array.from(ds.log.reward)).toEqual([1, 0]);
    expect(ds.context).toEqual({ dim: 2, values: Float64Array.from([1, 0, 0, 1]) });
    expect(Array.from(ds.candidateFeatures!.values)).toEqual([0.1, 0.2, 0.3, 0.3, 0.1]);
    // Slates cut to the shortest (K = 2).
    const s = ds.slates!;
    expect(s.log.K).toBe(2);
    expect(Array.from(s.log.slate)).toEqual([1, 0, 2, 1]);
    expect(Array.from(s.log.loggingMarginal)).toEqual([0.5, 0.25, 0.25, 0.5]);
    expect(Array.from(s.log.reward)).toEqual([1, 0, 0, 0]);
    expect(Array.from(s.record)).toEqual([0, 1]);
    expect(sniffLogFormat(path)).toBe('chorus');
  });

  it('names the file, line and field of a bad record', () => {
    const path = join(dir, 'bad.jsonl');
    const good = JSON.stringify({ candidates: [1, 2], chosen: 1, propensity: 0.5, reward: 0 });
    const cases: [object | string, RegExp][] = [
      [{ candidates: [1, 2], chosen: 3, propensity: 0.5, reward: 0 }, /bad\.jsonl:3 field "chosen"/],
      [{ candidates: [1, 2], chosen: 1, propensity: 0, reward: 0 }, /bad\.jsonl:3 field "propensity"/],
      [{ candidates: [1, 2], chosen: 1, propensity: 0.5, reward: 'x' }, /bad\.jsonl:3 field "reward"/],
      [{ candidates: [1, 1], chosen: 1, propensity: 0.5, reward: 0 }, /bad\.jsonl:3 field "candidates\[1\]"/],
      [{ candidates: [1, 2], chosen: 1, propensity: 0.5, reward: 0, slate: [1, 2], slotPropensities: [0.5], slotRewards: [0, 0] }, /bad\.jsonl:3 field "slotPropensities"/],
      ['{"candidates": [1,', /bad\.jsonl:3: not valid JSON/],
    ];
    for (const [bad, re] of cases) {
      writeFileSync(path, `${good}\n\n${typeof bad === 'string' ? bad : JSON.stringify(bad)}\n`);
      expect(() => readOpeLog(path)).toThrow(DataError);
      expect(() => readOpeLog(path)).toThrow(re);
    }
    writeFileSync(path, `${JSON.stringify({ context: [1], candidates: [1], chosen: 1, propensity: 1, reward: 0 })}\n${JSON.stringify({ context: [1, 2], candidates: [1], chosen: 1, propensity: 1, reward: 0 })}\n`);
    expect(() => readOpeLog(path)).toThrow(/bad\.jsonl:2 field "context"/);
  });
});

describe("the server's decision log", () => {
  it('reads GET /events exports and the store itself, written by a real engine', async () => {
    // Our own folder: the helper removes its own on close, and the store is read after closing.
    const sdir = mkdtempSync(join(dir, 'serve-'));
    const s = await startTestServer({ dir: sdir });
    try {
      // Recommend slates, with a click on the second slot of the first one.
      const shown: string[][] = [];
      const ids: string[] = [];
      for (let t = 0; t < 4; t++) {
        const r = await s.call('POST', '/recommend', { user: `u${1 + (t % 3)}`, k: 3 });
        expect(r.status).toBe(200);
        shown.push(r.body.items.map((x: { id: string }) => x.id));
        ids.push(r.body.eventId);
      }
      expect((await s.call('POST', '/feedback', { eventId: ids[0], item: shown[0]![1], type: 'click' })).status).toBeLessThan(300);
      expect((await s.call('POST', '/feedback', { eventId: ids[1], item: shown[1]![0], type: 'click' })).status).toBeLessThan(300);
      // Personalizer Rank events with a reward on one.
      const actions = [{ id: 'm1' }, { id: 'm3' }, { id: 'm5' }];
      const rank = await s.call('POST', '/personalizer/v1.0/rank', { eventId: 'r1', actions });
      expect(rank.status).toBe(201);
      expect((await s.call('POST', '/personalizer/v1.0/events/r1/reward', { value: 1 })).status).toBeLessThan(300);
      expect((await s.call('POST', '/personalizer/v1.0/rank', { eventId: 'r2', actions })).status).toBe(201);
      const page = await s.call('GET', '/events?limit=100');
      expect(page.status).toBe(200);
      const path = join(dir, 'events.jsonl');
      // One event per line, as an export would page them out.
      writeFileSync(path, page.body.events.map((e: unknown) => JSON.stringify(e)).join('\n'));
      expect(sniffLogFormat(path)).toBe('events');
      const fromFile = readEventsLog(path);
      expect(fromFile.log.n).toBe(6);
      expect(fromFile.recordIds).toEqual([...ids, 'r1', 'r2']);
      const fb = page.body.events as { items: string[]; propensities: number[] }[];
      // Recommend records: slot 1 chosen out of every item the log's slates showed.
      const catalogue = new Set(shown.flat());
      expect(fromFile.log.indptr[1]! - fromFile.log.indptr[0]!).toBe(catalogue.size);
      expect(fromFile.actionIds[fromFile.log.actions[fromFile.log.logged[0]!]!]).toBe(shown[0]![0]);
      expect(fromFile.log.propensity[0]).toBe(fb[0]!.propensities[0]);
      expect(Array.from(fromFile.log.reward)).toEqual([0, 1, 0, 0, 1, 0]);
      // Rank records: every action a candidate, the first the chosen one.
      expect(fromFile.log.indptr[5]! - fromFile.log.indptr[4]!).toBe(3);
      expect(fromFile.actionIds[fromFile.log.actions[fromFile.log.logged[4]!]!]).toBe(fb[4]!.items[0]);
      // The slates, with the click in slot 2 of the first.
      const sl = fromFile.slates!;
      expect(sl.log.n).toBe(4);
      expect(sl.log.K).toBe(3);
      expect(Array.from(sl.log.reward.subarray(0, 3))).toEqual([0, 1, 0]);
      expect(Array.from(sl.log.loggingMarginal.subarray(0, 3))).toEqual(fb[0]!.propensities);

      // The same from a page-per-line export and from the store by URL.
      writeFileSync(path, JSON.stringify(page.body));
      expect(readEventsLog(path).log).toEqual(fromFile.log);
      await s.close();
      const fromStore = await readStoreLog(`sqlite:${join(sdir, 'chorus.db')}`);
      expect(fromStore.log).toEqual(fromFile.log);
      expect(fromStore.slates).toEqual(fromFile.slates);
      expect(fromStore.format).toBe('events');
    } finally {
      await s.close().catch(() => undefined);
    }
  });

  it('refuses a store path that does not exist instead of creating it', async () => {
    await expect(readStoreLog(`sqlite:${join(dir, 'nope.db')}`)).rejects.toThrow(/nope\.db: store file not found/);
  });
});
