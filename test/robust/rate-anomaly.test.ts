import { describe, expect, it } from 'vitest';
import { scanRates, type RateEvent } from '../../src/robust/rate-anomaly.js';
import { Rng } from '../../src/util/rng.js';

const HOUR = 3_600_000;

/** 48 hours of steady traffic: 20 items, ~5 events per item per hour, from 200 returning users. */
function steady(seed: number): RateEvent[] {
  const rng = new Rng(seed);
  const out: RateEvent[] = [];
  for (let h = 0; h < 48; h++) {
    for (let e = 0; e < 100; e++) out.push({ ts: h * HOUR + rng.int(HOUR), user: `u${rng.int(200)}`, item: `i${rng.int(20)}` });
  }
  return out.sort((a, b) => a.ts - b.ts);
}

describe('scanRates', () => {
  it('flags nothing on a steady stream', () => {
    expect(scanRates(steady(1))).toEqual([]);
  });

  it('flags an item that suddenly receives many events from new users, and only that', () => {
    const events = steady(2);
    const spike: RateEvent[] = Array.from({ length: 60 }, (_, j) => ({ ts: 40 * HOUR + j * 1000, user: `new${j}`, item: 'i7' }));
    const flags = scanRates([...events, ...spike].sort((a, b) => a.ts - b.ts));
    expect(flags.length).toBe(1);
    const f = flags[0]!;
    expect(f).toMatchObject({ kind: 'item', id: 'i7', windowStart: 40 * HOUR });
    expect(f.count).toBeGreaterThanOrEqual(60);
    expect(f.z).toBeGreaterThan(4);
    expect(f.newUserShare!).toBeGreaterThan(0.8);
  });

  it('flags a user whose feedback rate spikes', () => {
    const events = steady(3);
    const burst: RateEvent[] = Array.from({ length: 40 }, (_, j) => ({ ts: 30 * HOUR + j * 500, user: 'u5', item: `i${j % 20}` }));
    const flags = scanRates([...events, ...burst].sort((a, b) => a.ts - b.ts));
    expect(flags.map((f) => `${f.kind}:${f.id}`)).toContain('user:u5');
    expect(flags.every((f) => f.kind === 'user' && f.id === 'u5')).toBe(true);
  });

  it('refuses events out of time order', () => {
    expect(() => scanRates([{ ts: 10, user: 'a', item: 'x' }, { ts: 5, user: 'a', item: 'x' }])).toThrow(/time order/);
  });
});
