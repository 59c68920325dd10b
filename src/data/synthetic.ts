/**
 * Seeded synthetic implicit-feedback data with power-law users and items, for scale benchmarks and
 * for tests that need a planted structure.
 *
 * - User activity and item popularity follow Zipf laws: the user (item) of popularity rank r is
 *   drawn with weight (r + 1)^−exponent. Ranks are shuffled onto indices, so index order means
 *   nothing.
 * - Optional planted taste groups: users and items each belong to one of `groups` groups; an
 *   interaction picks its item from the user's group with probability `affinity` (Zipf within the
 *   group), else from the whole catalogue. With groups = 1 there is no structure beyond popularity.
 * - Timestamps are the draw order (0, 1, 2, …), so temporal splits are well defined.
 * Repeated (user, item) pairs can occur, as in real logs; implicit models merge them.
 */
import { Rng } from '../util/rng.js';
import { Dataset, IdMap, type Interactions } from './dataset.js';

export interface SyntheticConfig {
  users: number;
  items: number;
  interactions: number;
  seed: number;
  /** Zipf exponent of user activity (default 0.8). */
  userExponent?: number;
  /** Zipf exponent of item popularity (default 0.9). */
  itemExponent?: number;
  /** Planted taste groups (default 1: none). */
  groups?: number;
  /** Probability that an interaction's item comes from the user's group (default 0.8). */
  affinity?: number;
}

export interface SyntheticData {
  dataset: Dataset;
  /** Group of each user and of each item (all 0 when groups = 1). */
  userGroup: Int32Array;
  itemGroup: Int32Array;
}

/** Cumulative Zipf weights over `n` ranks. */
function zipfCdf(n: number, exponent: number): Float64Array {
  const cdf = new Float64Array(n);
  let s = 0;
  for (let r = 0; r < n; r++) {
    s += Math.pow(r + 1, -exponent);
    cdf[r] = s;
  }
  for (let r = 0; r < n; r++) cdf[r] = cdf[r]! / s;
  return cdf;
}

/** Smallest r in [lo, hi) with cdf[r] > u (binary search). */
function draw(cdf: Float64Array, lo: number, hi: number, u: number): number {
  while (lo < hi - 1) {
    const m = (lo + hi) >>> 1;
    if (cdf[m - 1]! > u) hi = m;
    else lo = m;
  }
  return lo;
}

export function syntheticPowerLaw(config: SyntheticConfig): SyntheticData {
  const { users: nU, items: nI, interactions: n, seed } = config;
  for (const [k, v] of Object.entries({ users: nU, items: nI, interactions: n })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`synthetic: ${k} must be a positive integer, got ${v}`);
  }
  const groups = config.groups ?? 1;
  const affinity = config.affinity ?? 0.8;
  if (!Number.isInteger(groups) || groups < 1 || groups > nI) throw new RangeError(`synthetic: groups must be an integer in 1..items, got ${groups}`);
  const rng = new Rng(seed);
  // Rank → index permutations.
  const userOfRank = rng.shuffle(Int32Array.from({ length: nU }, (_, i) => i));
  const itemOfRank = rng.shuffle(Int32Array.from({ length: nI }, (_, i) => i));
  const userCdf = zipfCdf(nU, config.userExponent ?? 0.8);
  const itemCdf = zipfCdf(nI, config.itemExponent ?? 0.9);
  // Items of popularity rank r go to group r mod groups, so every group has popular and rare items.
  // Within a group, its items (in rank order) get their own Zipf CDF over [start, end).
  const groupStart = new Int32Array(groups + 1);
  const perGroup = new Int32Array(groups);
  for (let r = 0; r < nI; r++) perGroup[r % groups]++;
  for (let g = 0; g < groups; g++) groupStart[g + 1] = groupStart[g]! + perGroup[g]!;
  const groupItems = new Int32Array(nI);
  const groupCdf = new Float64Array(nI);
  const fill = groupStart.slice(0, groups);
  for (let r = 0; r < nI; r++) groupItems[fill[r % groups]!++] = itemOfRank[r]!;
  for (let g = 0; g < groups; g++) {
    const c = zipfCdf(perGroup[g]!, config.itemExponent ?? 0.9);
    groupCdf.set(c, groupStart[g]!);
  }
  const itemGroup = new Int32Array(nI);
  for (let r = 0; r < nI; r++) itemGroup[itemOfRank[r]!] = r % groups;
  const userGroup = new Int32Array(nU);
  for (let u = 0; u < nU; u++) userGroup[u] = groups > 1 ? rng.int(groups) : 0;

  const user = new Int32Array(n);
  const item = new Int32Array(n);
  const timestamp = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const u = userOfRank[draw(userCdf, 0, nU, rng.next())]!;
    let i: number;
    if (groups > 1 && rng.next() < affinity) {
      const g = userGroup[u]!;
      const lo = groupStart[g]!;
      const hi = groupStart[g + 1]!;
      // groupCdf[lo..hi) is the group's own CDF; `draw` works on any sub-range of a CDF array.
      i = groupItems[drawRange(groupCdf, lo, hi, rng.next())]!;
    } else i = itemOfRank[draw(itemCdf, 0, nI, rng.next())]!;
    user[k] = u;
    item[k] = i;
    timestamp[k] = k;
  }
  const interactions: Interactions = {
    length: n,
    user,
    item,
    value: new Float32Array(n).fill(1),
    timestamp,
    eventType: new Uint8Array(n),
  };
  const dataset = new Dataset({
    name: `synthetic-${nU}u-${nI}i-${n}-s${seed}`,
    users: IdMap.from(Array.from({ length: nU }, (_, u) => `u${u}`)),
    items: IdMap.from(Array.from({ length: nI }, (_, i) => `i${i}`)),
    interactions,
    source: { file: '<synthetic>', format: 'synthetic' },
  });
  return { dataset, userGroup, itemGroup };
}

/** `draw` over a CDF stored at [lo, hi) of a larger array (the first entry has no predecessor). */
function drawRange(cdf: Float64Array, lo: number, hi: number, u: number): number {
  if (cdf[lo]! > u) return lo;
  return draw(cdf, lo + 1, hi, u);
}
