import { describe, expect, it } from 'vitest';
import { SeqTail } from '../../src/serve/cluster/seq-tail.js';

/** A log whose rows become visible out of seq order, as concurrent PostgreSQL inserts commit. */
function log() {
  const rows: number[] = [];
  return {
    commit: (...seqs: number[]) => rows.push(...seqs),
    read: async (after: number, limit: number) => rows.filter((s) => s > after).sort((a, b) => a - b).slice(0, limit).map((seq) => ({ seq })),
  };
}

/** Read and take at once, as a caller whose use of the rows succeeds. */
async function poll<T>(t: SeqTail<T>): Promise<T[]> {
  const rows = await t.peek();
  t.take(rows);
  return rows;
}

describe('SeqTail', () => {
  it('hands out a row that commits after a higher seq was read, exactly once', async () => {
    const l = log();
    let now = 0;
    const t = new SeqTail(0, { read: l.read, seqOf: (r) => r.seq, gapMs: 1000, page: 2, now: () => now });
    l.commit(1, 2, 4, 5);
    expect((await poll(t)).map((r) => r.seq)).toEqual([1, 2, 4, 5]);
    expect(t.position).toBe(2); // 3 is a hole: not given up yet
    now = 500;
    l.commit(3, 6);
    expect((await poll(t)).map((r) => r.seq)).toEqual([3, 6]);
    expect(t.position).toBe(6);
    expect(await poll(t)).toEqual([]);
  });

  it('hands rows out again when the caller did not take them (a failed use loses nothing)', async () => {
    const l = log();
    const t = new SeqTail(0, { read: l.read, seqOf: (r) => r.seq, gapMs: 1000, now: () => 0 });
    l.commit(1, 2, 3);
    expect((await t.peek()).map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(t.position).toBe(0);
    const again = await t.peek();
    expect(again.map((r) => r.seq)).toEqual([1, 2, 3]);
    t.take(again);
    expect(t.position).toBe(3);
    expect(await t.peek()).toEqual([]);
  });

  it('gives a hole up after gapMs (a rolled-back insert never comes)', async () => {
    const l = log();
    let now = 0;
    const t = new SeqTail(10, { read: l.read, seqOf: (r) => r.seq, gapMs: 1000, now: () => now });
    l.commit(11, 13);
    expect((await poll(t)).map((r) => r.seq)).toEqual([11, 13]);
    expect(t.position).toBe(11);
    now = 999;
    await poll(t);
    expect(t.position).toBe(11);
    now = 1000;
    await poll(t);
    expect(t.position).toBe(13);
    // Rows at or below the start are never handed out.
    l.commit(5);
    expect(await poll(t)).toEqual([]);
  });
});
