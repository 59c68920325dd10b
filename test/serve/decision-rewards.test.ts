import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DecisionRewards } from '../../src/serve/decision-rewards.js';
import { openStore } from '../../src/store/open.js';
import type { DecisionRecord, FeedbackRecord, Store } from '../../src/store/types.js';

const T0 = 1_700_000_000_000;
const WAIT = 60_000;
/** Far enough past every deadline (and the commit-order allowance) to close every window. */
const LATER = T0 + 10 * WAIT;

let store: Store;
beforeEach(() => {
  store = openStore('sqlite::memory:');
});
afterEach(async () => {
  await store.close();
});

function decision(id: string, ts: number, items: string[], kind: 'recommend' | 'rank' = 'recommend', activated = true): DecisionRecord {
  return { id, ts, user: kind === 'rank' ? null : 'u1', kind, items, propensities: items.map(() => 1 / items.length), scores: items.map(() => 0), snapshotId: 's1', activated, payload: {} };
}

function feedback(eventId: string, ts: number, position: number, reward: number): FeedbackRecord {
  return { eventId, ts, user: 'u1', item: `i${position}`, type: 'reward', value: reward, reward, position, propensity: 0.5 };
}

function tracker(defaultReward = 0, readLimit = 100_000): DecisionRewards {
  return new DecisionRewards(store.events, { waitMs: WAIT, defaultReward, bucketMs: 10_000, readLimit });
}

describe('reward per decision from the log', () => {
  it('counts a decision without feedback with the default reward per shown position once its window closed', async () => {
    await store.events.appendDecision(decision('a', T0, ['i0', 'i1', 'i2']));
    const r = tracker(-0.1);
    await r.update(T0 + 1000, T0 - 1000);
    // window open, no feedback: reward unknown, not counted yet
    expect(r.buckets(10_000, T0 - 1000)).toEqual([]);
    await r.update(LATER, T0 - 1000);
    const [b] = r.buckets(10_000, T0 - 1000);
    expect(b!.decisions).toBe(1);
    expect(b!.rewardSum).toBeCloseTo(-0.3);
    expect(b!.learned).toBe(0); // learned at the deadline, which falls in a later bucket
    const all = r.buckets(3600_000, T0 - 3600_000);
    expect(all.reduce((s, x) => s + x.learned, 0)).toBe(3);
  });

  it('counts in-window feedback at once, adds the default for the rest at close, and leaves late feedback out', async () => {
    await store.events.appendDecision(decision('a', T0, ['i0', 'i1']));
    await store.events.appendFeedback(feedback('a', T0 + 5000, 1, 1));
    const r = tracker(-0.5);
    await r.update(T0 + 6000, T0 - 1000);
    // heard from: counted before its window closes, with what it has so far
    expect(r.buckets(10_000, T0 - 1000)).toEqual([{ t: T0, decisions: 1, rewardSum: 1, perDecision: 1, learned: 1 }]);
    await store.events.appendFeedback(feedback('a', T0 + WAIT + 1, 0, 1)); // after the wait
    await r.update(LATER, T0 - 1000);
    const b = r.buckets(10_000, T0 - 1000).find((x) => x.t === T0)!;
    expect(b.decisions).toBe(1);
    expect(b.rewardSum).toBeCloseTo(0.5); // 1 for position 1, the default −0.5 for position 0
  });

  it('takes only the first reward of a Rank decision, and gives the mean over decisions, not feedback', async () => {
    await store.events.appendDecision(decision('r1', T0, ['x', 'y'], 'rank'));
    await store.events.appendDecision(decision('r2', T0 + 1, ['x', 'y'], 'rank'));
    await store.events.appendDecision(decision('r3', T0 + 2, ['x', 'y'], 'rank'));
    await store.events.appendFeedback(feedback('r1', T0 + 10, 0, 1));
    await store.events.appendFeedback(feedback('r1', T0 + 20, 0, -1)); // not learned: the first reward closed the window
    await store.events.appendFeedback(feedback('r2', T0 + 30, 0, 0.5));
    const r = tracker(0);
    await r.update(LATER, T0 - 1000);
    const [b] = r.buckets(10_000, T0 - 1000);
    // r1: 1, r2: 0.5, r3: default 0 → 1.5 over 3 decisions (per feedback it would be 0.5/… of 3 feedback)
    expect(b!.decisions).toBe(3);
    expect(b!.perDecision).toBeCloseTo(0.5);
  });

  it('reads the log incrementally, leaves deferred and older decisions out, and catches up over calls', async () => {
    await store.events.appendDecision(decision('old', T0 - 7200_000, ['i0']));
    await store.events.appendFeedback(feedback('old', T0 - 7199_000, 0, 1));
    await store.events.appendDecision(decision('deferred', T0, ['x'], 'rank', false));
    for (let i = 0; i < 5; i++) await store.events.appendDecision(decision(`d${i}`, T0 + i * 1000, ['i0']));
    for (let i = 0; i < 5; i++) await store.events.appendFeedback(feedback(`d${i}`, T0 + i * 1000 + 10, 0, i));
    const r = tracker(0, 2);
    await r.update(LATER, T0 - 3600_000);
    expect(r.complete).toBe(false);
    for (let n = 0; n < 5 && !r.complete; n++) await r.update(LATER, T0 - 3600_000);
    expect(r.complete).toBe(true);
    const bs = r.buckets(10_000, T0 - 3600_000);
    expect(bs.reduce((s, x) => s + x.decisions, 0)).toBe(5);
    expect(bs.reduce((s, x) => s + x.rewardSum, 0)).toBe(0 + 1 + 2 + 3 + 4);
    // more traffic after catching up is read by the next call, not counted twice
    await store.events.appendDecision(decision('e', LATER, ['i0']));
    await store.events.appendFeedback(feedback('e', LATER + 5, 0, -1));
    await r.update(LATER + 10, T0 - 3600_000);
    const after = r.buckets(3600_000 * 24, 0);
    expect(after.reduce((s, x) => s + x.decisions, 0)).toBe(6);
    expect(after.reduce((s, x) => s + x.rewardSum, 0)).toBe(9);
  });

  it('starts over when asked for a wider span than it tracks', async () => {
    await store.events.appendDecision(decision('a', T0 - 7200_000, ['i0']));
    await store.events.appendFeedback(feedback('a', T0 - 7199_000, 0, 1));
    await store.events.appendDecision(decision('b', T0, ['i0']));
    await store.events.appendFeedback(feedback('b', T0 + 10, 0, 0.5));
    const r = tracker();
    await r.update(LATER, T0 - 60_000);
    expect(r.buckets(10_000, 0).map((b) => b.rewardSum)).toEqual([0.5]);
    await r.update(LATER, T0 - 3 * 3600_000);
    expect(r.buckets(10_000, 0).map((b) => b.rewardSum)).toEqual([1, 0.5]);
    // a narrower request afterwards keeps what the wider one needs
    await r.update(LATER, T0 - 60_000);
    expect(r.buckets(10_000, 0).map((b) => b.rewardSum)).toEqual([1, 0.5]);
  });
});
