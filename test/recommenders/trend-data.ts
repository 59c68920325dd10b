/**
 * Synthetic interaction logs for the trend-aware options (time-window.ts): one where what is
 * recent is what users take next, and ones where it is not. Seeded, timestamps in Unix seconds.
 */
import { type Dataset, datasetFromTriples } from '../../src/data/dataset.js';
import { Rng } from '../../src/util/rng.js';

const DAY = 86400;
type Row = [string, string, number, number];

/**
 * Four 100-day periods, each with its own 10 hot items (period p: items p0..p9). 60 users are
 * active all along, 5 interactions per period, so each user's last 20 % (their last 4 rows, the
 * validation part) are items of the newest period, which the older periods outnumber 3 to 1.
 */
export function trendingData(seed = 1): Dataset {
  const rng = new Rng(seed);
  const rows: Row[] = [];
  for (let u = 0; u < 60; u++) {
    for (let p = 0; p < 4; p++) {
      const items = rng.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).slice(0, 5);
      const days = Array.from({ length: 5 }, () => p * 100 + rng.int(100)).sort((a, b) => a - b);
      for (let j = 0; j < 5; j++) rows.push([`u${u}`, `p${p}-${items[j]}`, 1, days[j]! * DAY + u]);
    }
  }
  return datasetFromTriples(rows, 'trending');
}

/**
 * Taste that does not move: 150 users over 1000 days take items t0..t19 with Zipf(1) odds, 20
 * interactions each at uniform times. Then, in the last 20 days, a flash mob of 120 users with 4
 * interactions each (too few to leave a validation row under P1's rule) take items m0..m9, which
 * nobody else ever takes: the recent window is full of items that are not what users take next.
 */
export function stableWithFadData(seed = 2): Dataset {
  const rng = new Rng(seed);
  const rows: Row[] = [];
  const odds = Array.from({ length: 20 }, (_, j) => 1 / (j + 1));
  const total = odds.reduce((a, b) => a + b, 0);
  const draw = (): number => {
    let x = rng.next() * total;
    for (let j = 0; j < odds.length; j++) if ((x -= odds[j]!) < 0) return j;
    return odds.length - 1;
  };
  for (let u = 0; u < 150; u++) {
    for (let r = 0; r < 20; r++) rows.push([`u${u}`, `t${draw()}`, 1, rng.int(1000 * DAY)]);
  }
  for (let m = 0; m < 120; m++) {
    const items = rng.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).slice(0, 4);
    for (const j of items) rows.push([`mob${m}`, `m${j}`, 1, 980 * DAY + rng.int(20 * DAY)]);
  }
  return datasetFromTriples(rows, 'stable-with-fad');
}

/**
 * Taste that drifts within each user: two groups of 15 items (a0..a14, b0..b14). Every user first
 * takes 8 items of one group over days 0–100, then 8 of the other over days 300–400, so their
 * next items (the validation rows) are in the group they moved to, while most of their history
 * is in the one they left.
 */
export function driftingData(seed = 3): Dataset {
  const rng = new Rng(seed);
  const rows: Row[] = [];
  const pick = (): number[] => rng.shuffle(Array.from({ length: 15 }, (_, j) => j)).slice(0, 8);
  for (let u = 0; u < 80; u++) {
    const [first, second] = u % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
    const early = pick();
    const late = pick();
    for (let j = 0; j < 8; j++) rows.push([`u${u}`, `${first}${early[j]}`, 1, (j * 12 + rng.int(10)) * DAY]);
    for (let j = 0; j < 8; j++) rows.push([`u${u}`, `${second}${late[j]}`, 1, (300 + j * 12 + rng.int(10)) * DAY]);
  }
  return datasetFromTriples(rows, 'drifting');
}
