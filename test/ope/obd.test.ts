import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/errors.js';
import { loadObd, obdCsvPath, obdDataset, obdPositionFrequencies, OBD_SAMPLE_DIR, readObd } from '../../src/ope/obd.js';

// The real sample in ../shared; these tests fail (file not found) where it is missing.
const RANDOM_MEN = join('..', 'shared', 'datasets', 'open-bandit-sample', 'random', 'men', 'men.csv');

describe('Open Bandit Dataset reader', () => {
  it('reads the random/men campaign: 10,000 rows over 34 items, uniform propensities', () => {
    const obd = readObd(RANDOM_MEN);
    expect(obd.campaign).toBe('men');
    expect(obd.nItems).toBe(34);
    expect(obd.item.length).toBe(10_000);
    for (const p of obd.propensity) expect(p).toBeCloseTo(1 / 34, 12);
    // The file's own first data row: item 14 at position 3, no click.
    expect([obd.item[0], obd.position[0], obd.click[0]]).toEqual([14, 3, 0]);
    let clicks = 0;
    for (const c of obd.click) clicks += c;
    expect(clicks).toBe(46);
    expect(new Set(obd.position)).toEqual(new Set([1, 2, 3]));
    expect(obd.sha256).toMatch(/^[0-9a-f]{64}$/);
    // loadObd finds the same file from the checkout's ../shared.
    expect(obdCsvPath('men', 'random')).toBe(join(OBD_SAMPLE_DIR, 'random', 'men', 'men.csv'));
    expect(loadObd('men').sha256).toBe(obd.sha256);
  });

  it('turns a campaign into a bandit log: every item a candidate, the shown item logged', () => {
    const obd = loadObd('women', 'bts');
    const ds = obdDataset(obd);
    const m = obd.nItems;
    expect(m).toBe(46);
    expect(ds.log.n).toBe(10_000);
    expect(ds.log.indptr[1]).toBe(m);
    for (const t of [0, 17, 9_999]) {
      expect(ds.log.actions[ds.log.logged[t]!]).toBe(obd.item[t]);
      expect(ds.log.propensity[t]).toBe(obd.propensity[t]);
      expect(ds.log.reward[t]).toBe(obd.click[t]);
      // Candidate features are the row's affinities, in item order.
      expect(ds.candidateFeatures!.values[t * m + 5]).toBe(obd.affinity[t * m + 5]);
    }
    // Context: one one-hot value per user feature plus the position.
    let ones = 0;
    for (let d = 0; d < ds.context!.dim; d++) ones += ds.context!.values[d]!;
    expect(ones).toBe(5);
    // Thompson sampling is not uniform: the propensities vary.
    expect(Math.max(...ds.log.propensity)).toBeGreaterThan(2 / m);
  });

  it('estimates the logging policy per position from item frequencies', () => {
    const obd = loadObd('men', 'bts');
    const f = obdPositionFrequencies(obd);
    for (const p of [1, 2, 3]) {
      const rows = f.filter((r) => r.position === p);
      expect(rows.length).toBe(34);
      expect(rows.reduce((s, r) => s + r.probability, 0)).toBeCloseTo(1, 12);
    }
    const n1 = Array.from(obd.position).filter((p) => p === 1).length;
    const c = Array.from(obd.item).filter((it, t) => it === 0 && obd.position[t] === 1).length;
    expect(f.find((r) => r.position === 1 && r.item === 0)!.probability).toBeCloseTo(c / n1, 12);
  });

  it('names the file, line and column of a bad value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-obd-'));
    try {
      const src = join('..', 'shared', 'datasets', 'open-bandit-sample', 'random', 'men');
      cpSync(join(src, 'item_context.csv'), join(dir, 'item_context.csv'));
      const lines = readFileSync(join(src, 'men.csv'), 'utf8').split('\n').slice(0, 4);
      const header = lines[0]!.split(',');
      const bad = lines[2]!.split(',');
      bad[header.indexOf('propensity_score')] = '0';
      lines[2] = bad.join(',');
      writeFileSync(join(dir, 'men.csv'), lines.join('\n'));
      expect(() => readObd(join(dir, 'men.csv'))).toThrow(DataError);
      expect(() => readObd(join(dir, 'men.csv'))).toThrow(/men\.csv:3 field "propensity_score"/);
      bad[header.indexOf('propensity_score')] = '0.5';
      bad[header.indexOf('item_id')] = '99';
      lines[2] = bad.join(',');
      writeFileSync(join(dir, 'men.csv'), lines.join('\n'));
      expect(() => readObd(join(dir, 'men.csv'))).toThrow(/men\.csv:3 field "item_id"/);
      expect(() => readObd(join(dir, 'none.csv'))).toThrow(/none\.csv: file not found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
