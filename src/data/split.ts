/**
 * Train/test splits. Every part is a `Dataset.subset` of its parent, so all parts share the
 * parent's id maps (an index means the same user or item everywhere), and each part keeps its
 * interactions in the parent's order.
 */
import { DataError } from '../errors.js';
import { Rng } from '../util/rng.js';
import type { Dataset } from './dataset.js';
import { externalIdOrder, groupByRowThenTime } from './sort.js';

export interface Split {
  train: Dataset;
  test: Dataset;
}

/**
 * A split rule, applied per user unless stated:
 * - `temporal-ratio` (P1): sort the user's interactions by (timestamp, item external id —
 *   numerically when all ids are numbers); the last floor(testRatio · n_u) go to test.
 * - `leave-last-n`: the user's last `n` interactions (same order) go to test, keeping at least
 *   `minTrain` (default 1) in train.
 * - `time-cut`: every interaction at or after `cut` (Unix seconds) goes to test; with
 *   `testRatio` instead, the cut is the timestamp below which 1 − testRatio of all rows fall.
 * - `random`: seeded; per user (default) floor(testRatio · n_u) random rows go to test, or
 *   globally floor(testRatio · n) rows when `perUser` is false.
 */
export type SplitRule =
  | { kind: 'temporal-ratio'; testRatio?: number }
  | { kind: 'leave-last-n'; n?: number; minTrain?: number }
  | { kind: 'time-cut'; cut?: number; testRatio?: number }
  | { kind: 'random'; seed: number; testRatio?: number; perUser?: boolean };

/** P1 (`ml-ls-t20`): per-user temporal split, last 20 % to test. */
export const P1_SPLIT: SplitRule = { kind: 'temporal-ratio', testRatio: 0.2 };

/** floor(ratio · n), robust to 0.2·n landing a hair under an integer in floating point. */
function nTest(ratio: number, n: number): number {
  return Math.floor(ratio * n + 1e-9);
}

function checkRatio(r: number): number {
  if (!(r >= 0 && r <= 1)) throw new DataError(`testRatio must be in [0, 1], got ${r}`, { field: 'testRatio' });
  return r;
}

function requireTimestamps(ds: Dataset, rule: string): void {
  const ts = ds.interactions.timestamp;
  let missing = 0;
  for (let k = 0; k < ts.length; k++) if (Number.isNaN(ts[k]!)) missing++;
  if (missing > 0) {
    throw new DataError(`a ${rule} split needs a timestamp on every interaction; ${missing} of ${ts.length} have none`, {
      file: ds.source?.file,
      field: 'timestamp',
    });
  }
}

/**
 * Each user's interactions in time order: (timestamp, item external id, position) ascending.
 * perm[indptr[u] .. indptr[u+1]) are user u's positions.
 */
export function userTimeOrder(ds: Dataset): { perm: Int32Array; indptr: Int32Array } {
  const it = ds.interactions;
  const rank = externalIdOrder(ds.items.ids());
  const tie = new Int32Array(it.length);
  for (let k = 0; k < it.length; k++) tie[k] = rank[it.item[k]!]!;
  return groupByRowThenTime(it.user, ds.nUsers, tie, ds.nItems, it.timestamp);
}

/** Build the two parts from a test mask (1 = test). */
function fromMask(ds: Dataset, isTest: Uint8Array, names: [string, string]): [Dataset, Dataset] {
  let nt = 0;
  for (let k = 0; k < isTest.length; k++) nt += isTest[k]!;
  const train = new Int32Array(isTest.length - nt);
  const test = new Int32Array(nt);
  for (let k = 0, a = 0, b = 0; k < isTest.length; k++) {
    if (isTest[k]) test[b++] = k;
    else train[a++] = k;
  }
  return [ds.subset(train, `${ds.name}:${names[0]}`), ds.subset(test, `${ds.name}:${names[1]}`)];
}

function perUserTail(ds: Dataset, count: (nu: number) => number): Uint8Array {
  const { perm, indptr } = userTimeOrder(ds);
  const isTest = new Uint8Array(ds.nInteractions);
  for (let u = 0; u < ds.nUsers; u++) {
    const lo = indptr[u]!;
    const hi = indptr[u + 1]!;
    const t = count(hi - lo);
    for (let k = hi - t; k < hi; k++) isTest[perm[k]!] = 1;
  }
  return isTest;
}

function maskFor(ds: Dataset, rule: SplitRule): Uint8Array {
  switch (rule.kind) {
    case 'temporal-ratio': {
      const r = checkRatio(rule.testRatio ?? 0.2);
      requireTimestamps(ds, 'temporal-ratio');
      return perUserTail(ds, (nu) => nTest(r, nu));
    }
    case 'leave-last-n': {
      const n = rule.n ?? 1;
      const minTrain = rule.minTrain ?? 1;
      if (!Number.isInteger(n) || n < 0) throw new DataError(`n must be a non-negative integer, got ${n}`, { field: 'n' });
      requireTimestamps(ds, 'leave-last-n');
      return perUserTail(ds, (nu) => Math.max(0, Math.min(n, nu - minTrain)));
    }
    case 'time-cut': {
      requireTimestamps(ds, 'time-cut');
      const ts = ds.interactions.timestamp;
      let cut = rule.cut;
      if (cut === undefined) {
        if (rule.testRatio === undefined) throw new DataError('a time-cut split needs `cut` or `testRatio`', { field: 'cut' });
        const r = checkRatio(rule.testRatio);
        const sorted = Float64Array.from(ts).sort();
        const t = nTest(r, sorted.length);
        cut = t === 0 ? Infinity : sorted[sorted.length - t]!;
      }
      const isTest = new Uint8Array(ts.length);
      for (let k = 0; k < ts.length; k++) isTest[k] = ts[k]! >= cut ? 1 : 0;
      return isTest;
    }
    case 'random': {
      const r = checkRatio(rule.testRatio ?? 0.2);
      const rng = new Rng(rule.seed);
      const isTest = new Uint8Array(ds.nInteractions);
      if (rule.perUser === false) {
        const pos = new Int32Array(ds.nInteractions);
        for (let k = 0; k < pos.length; k++) pos[k] = k;
        rng.shuffle(pos);
        const t = nTest(r, pos.length);
        for (let k = 0; k < t; k++) isTest[pos[k]!] = 1;
        return isTest;
      }
      // Per user, in a fixed (file) order, so the same seed gives the same split.
      const { perm, indptr } = groupByUser(ds);
      for (let u = 0; u < ds.nUsers; u++) {
        const seg = perm.subarray(indptr[u]!, indptr[u + 1]!);
        rng.shuffle(seg);
        const t = nTest(r, seg.length);
        for (let k = 0; k < t; k++) isTest[seg[k]!] = 1;
      }
      return isTest;
    }
    default: {
      const kind: never = rule;
      throw new DataError(`unknown split rule ${JSON.stringify(kind)}`, { field: 'kind' });
    }
  }
}

function groupByUser(ds: Dataset): { perm: Int32Array; indptr: Int32Array } {
  const user = ds.interactions.user;
  const indptr = new Int32Array(ds.nUsers + 1);
  for (let k = 0; k < user.length; k++) indptr[user[k]! + 1]++;
  for (let u = 0; u < ds.nUsers; u++) indptr[u + 1] += indptr[u]!;
  const next = indptr.slice(0, ds.nUsers);
  const perm = new Int32Array(user.length);
  for (let k = 0; k < user.length; k++) perm[next[user[k]!]!++] = k;
  return { perm, indptr };
}

/** Split `ds` by `rule` into train and test. */
export function splitDataset(ds: Dataset, rule: SplitRule): Split {
  const [train, test] = fromMask(ds, maskFor(ds, rule), ['train', 'test']);
  return { train, test };
}

/** P1's rule: per user, the last floor(testRatio · n_u) by (timestamp, item id) to test. */
export function temporalRatioSplit(ds: Dataset, testRatio = 0.2): Split {
  return splitDataset(ds, { kind: 'temporal-ratio', testRatio });
}

export function leaveLastNSplit(ds: Dataset, n = 1, minTrain = 1): Split {
  return splitDataset(ds, { kind: 'leave-last-n', n, minTrain });
}

export function timeCutSplit(ds: Dataset, at: { cut: number } | { testRatio: number }): Split {
  return splitDataset(ds, { kind: 'time-cut', ...at });
}

export function randomSplit(ds: Dataset, options: { seed: number; testRatio?: number; perUser?: boolean }): Split {
  return splitDataset(ds, { kind: 'random', ...options });
}

/** Share of interactions that carry a timestamp (0 for an empty dataset). */
export function timestampedShare(ds: Dataset): number {
  const ts = ds.interactions.timestamp;
  let n = 0;
  for (let k = 0; k < ts.length; k++) if (!Number.isNaN(ts[k]!)) n++;
  return ts.length === 0 ? 0 : n / ts.length;
}

/**
 * Protocol t20's rule: P1's per-user temporal split when every interaction has a timestamp, else
 * (no time order to follow) a seeded per-user random split of the same ratio.
 */
export function t20Rule(ds: Dataset, seed: number, testRatio = 0.2): SplitRule {
  return timestampedShare(ds) >= 1 ? { kind: 'temporal-ratio', testRatio } : { kind: 'random', seed, testRatio, perUser: true };
}

/**
 * Cut a validation split from `train` by the same rule (P1: the last 20 % of each user's train
 * rows). Tune hyper-parameters on `validation`, never on the test split.
 */
export function validationSplit(train: Dataset, rule: SplitRule): { train: Dataset; validation: Dataset } {
  const [t, v] = fromMask(train, maskFor(train, rule), ['fit', 'validation']);
  return { train: t, validation: v };
}

/** Interactions with value ≥ `min` (P1 `pos4`: ratings ≥ 4.0), same id maps. */
export function filterByMinValue(ds: Dataset, min: number): Dataset {
  const v = ds.interactions.value;
  let n = 0;
  for (let k = 0; k < v.length; k++) if (v[k]! >= min) n++;
  const pos = new Int32Array(n);
  for (let k = 0, j = 0; k < v.length; k++) if (v[k]! >= min) pos[j++] = k;
  return ds.subset(pos);
}

/** Users and items that have at least one interaction (id maps may hold more). */
export function activeCounts(ds: Dataset): { users: number; items: number } {
  let users = 0;
  let items = 0;
  for (const c of ds.userCounts()) if (c > 0) users++;
  for (const c of ds.itemCounts()) if (c > 0) items++;
  return { users, items };
}

/**
 * Cold-start items (P2 `ml-ls-cold`): among items with at least `minInteractions` interactions,
 * taken in external-id order (numeric when all ids are numbers), shuffle with `Rng(seed)`
 * (sfc32 seeded through splitmix32, Fisher–Yates) and keep the first floor(fraction · eligible).
 * Returns the chosen item indices, ascending.
 */
export function selectColdItems(ds: Dataset, options: { fraction: number; minInteractions: number; seed: number }): Int32Array {
  checkRatio(options.fraction);
  const counts = ds.itemCounts();
  const rank = externalIdOrder(ds.items.ids());
  const byId = new Int32Array(ds.nItems);
  for (let i = 0; i < ds.nItems; i++) byId[rank[i]!] = i;
  const eligible: number[] = [];
  for (const i of byId) if (counts[i]! >= options.minInteractions) eligible.push(i);
  new Rng(options.seed).shuffle(eligible);
  return Int32Array.from(eligible.slice(0, nTest(options.fraction, eligible.length))).sort();
}

/** Split off every interaction with one of `items` (e.g. cold items) as `test`; the rest is `train`. */
export function splitByItems(ds: Dataset, items: ArrayLike<number>): Split {
  const isCold = new Uint8Array(ds.nItems);
  for (let k = 0; k < items.length; k++) isCold[items[k]!] = 1;
  const isTest = new Uint8Array(ds.nInteractions);
  const it = ds.interactions.item;
  for (let k = 0; k < isTest.length; k++) isTest[k] = isCold[it[k]!]!;
  const [train, test] = fromMask(ds, isTest, ['warm', 'cold']);
  return { train, test };
}
