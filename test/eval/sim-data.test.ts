import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSimData } from '../../src/eval/sim/data.js';
import { tempDir, writeTinyMovieLens } from '../cli/helpers.js';

/** The simulator's hidden model is a 0.5–5 star rating model: other scales are mapped onto it. */
describe('simulator data on any dataset', () => {
  it('keeps MovieLens stars as they are and splits by P1\'s rule', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir, 20, 40, 2);
    const d = await loadSimData(dir);
    expect(d.valueMapping).toBe('identity');
    expect(d.summary.name).toBe(dir.split('/').pop());
    // P1: each user's last 20 % by time are held out of the agents' train split.
    const n = Array.from(d.full.userCounts()).reduce((s, c) => s + c - Math.floor(0.2 * c + 1e-9), 0);
    expect(d.train.nInteractions).toBe(n);
  });

  it('maps a 0–10 scale onto 0.5–5 stars by the affine map', async () => {
    const dir = tempDir();
    const file = join(dir, 'scores.csv');
    writeFileSync(file, 'user,item,rating\na,x,0\na,y,10\nb,x,5\nb,z,4\nc,y,8\nc,z,2\n');
    const d = await loadSimData(file, { valueRange: [0, 10] });
    expect(d.valueMapping).toBe('affine');
    const byPair = new Map<string, number>();
    const it = d.full.interactions;
    for (let k = 0; k < it.length; k++) byPair.set(`${d.full.users.toExternal(it.user[k]!)}${d.full.items.toExternal(it.item[k]!)}`, it.value[k]!);
    expect(byPair.get('ax')).toBeCloseTo(0.5, 6);
    expect(byPair.get('ay')).toBeCloseTo(5, 6);
    expect(byPair.get('bx')).toBeCloseTo(2.75, 6);
    expect(byPair.get('cy')).toBeCloseTo(4.1, 6);
  });

  it('maps implicit counts to 3–5 stars by their percentile within each user', async () => {
    const dir = tempDir();
    const file = join(dir, 'plays.csv');
    // Play counts: unbounded, so no scale; user b's counts are all equal.
    writeFileSync(file, 'user,item,plays\na,x,1\na,y,250\na,z,12\nb,x,7\nb,y,7\nc,z,3141\nd,v,1\nd,w,2\nd,x,3\nd,y,4\nd,z,5\n');
    const d = await loadSimData(file, { columns: { user: 'user', item: 'item', value: 'plays' } });
    expect(d.summary.valueScale).toBeNull();
    expect(d.valueMapping).toBe('user-percentile');
    const v = (u: string, i: string) => {
      const it = d.full.interactions;
      for (let k = 0; k < it.length; k++) if (d.full.users.toExternal(it.user[k]!) === u && d.full.items.toExternal(it.item[k]!) === i) return it.value[k]!;
      throw new Error('missing');
    };
    expect([v('a', 'x'), v('a', 'z'), v('a', 'y')]).toEqual([3, 4, 5]);
    expect([v('b', 'x'), v('b', 'y')]).toEqual([4, 4]);
    expect(v('c', 'z')).toBe(4);
    // No timestamps: the agents' train split is a seeded random 80 % per user.
    expect(d.summary.timestamped).toBe(0);
    // floor(20 %) of each user's rows: none of a, b, c's (≤ 3 rows), one of d's five.
    expect(d.train.nInteractions).toBe(d.full.nInteractions - 1);
    const dIndex = d.full.users.toIndex('d');
    expect(Array.from(d.train.userCounts())[dIndex]).toBe(4);
  });
});
