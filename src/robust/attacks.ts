/**
 * Shilling (profile-injection) attacks: fake user profiles that rate a set of target items at the
 * top of the scale so recommenders push them (Lam & Riedl 2004; Mobasher et al. 2007). Four
 * classic shapes, each a profile of selected items, filler items and the targets:
 *
 * - random:    filler ~ N(global mean, global sd)
 * - average:   filler ~ N(item mean, item sd)  (the attacker knows per-item means)
 * - bandwagon: the most popular items at the top rating, filler as random
 * - segment:   a segment's (one category's) most popular items at the top rating, filler at the
 *              bottom rating, so the targets look similar to the segment for users who like it
 *
 * Filler items are drawn uniformly from the items that have at least one interaction (an attacker
 * sees the catalogue, not who rated what). On implicit data every injected entry is a bare
 * interaction (value 1): only which items a profile holds carries the attack.
 */
import { Dataset, type Interactions } from '../data/dataset.js';
import { DataError, ConfigError } from '../errors.js';
import { Rng } from '../util/rng.js';

export const ATTACK_TYPES = ['random', 'average', 'bandwagon', 'segment'] as const;
export type AttackType = (typeof ATTACK_TYPES)[number];

export interface AttackConfig {
  type: AttackType;
  /** Item indices to push. */
  targets: Int32Array;
  /** Fake profiles as a fraction of the dataset's users (0 < size ≤ 0.5; the literature uses 0.01–0.10). */
  size: number;
  /** Filler items per fake profile as a fraction of the catalogue (0 < filler ≤ 0.5). */
  filler: number;
  seed: number;
  /** Selected items per profile for bandwagon and segment attacks (default 5). */
  selected?: number;
  /** Segment attack: the category whose popular items form the segment (default: the category most common among the targets). */
  segment?: string;
  /** Values: read from the data (auto, default), or forced. */
  values?: 'auto' | 'explicit' | 'implicit';
  /** External id prefix of injected users (default "shill-"). */
  idPrefix?: string;
}

/** The value scale an attack writes on: [lo, hi] on a grid of `step`, or implicit (value 1). */
export interface AttackScale {
  explicit: boolean;
  lo: number;
  hi: number;
  step: number;
}

export interface AttackResult {
  /** The input's interactions followed by the injected ones; same item map, user map extended. */
  dataset: Dataset;
  /** User indices of the injected profiles (all ≥ `genuineUsers`). */
  fake: Int32Array;
  /** Users of the input dataset: indices below this are genuine. */
  genuineUsers: number;
  scale: AttackScale;
  /** Items the bandwagon/segment profiles rate at the top (empty for random/average). */
  selected: Int32Array;
  /** Segment attack's category. */
  segment?: string;
  /** Filler items per profile actually used. */
  fillerCount: number;
}

/**
 * The scale to attack on: the dataset's declared/standard rating scale when it has one and more
 * than one distinct value; implicit when every value is the same (bare interactions).
 */
export function attackScale(ds: Dataset, mode: 'auto' | 'explicit' | 'implicit' = 'auto'): AttackScale {
  const v = ds.interactions.value;
  let min = Infinity;
  let max = -Infinity;
  let integer = true;
  for (let k = 0; k < v.length; k++) {
    const x = v[k]!;
    if (x < min) min = x;
    if (x > max) max = x;
    if (integer && !Number.isInteger(x)) integer = false;
  }
  const implicit = mode === 'implicit' || (mode === 'auto' && !(max > min));
  if (implicit) return { explicit: false, lo: 1, hi: 1, step: 1 };
  const vs = ds.source?.valueScale;
  const declared = vs && vs.source !== 'observed' && Number.isFinite(vs.lo) && Number.isFinite(vs.hi);
  const lo = declared ? Math.max(vs.lo, min) : min;
  const hi = declared ? vs.hi : max;
  return { explicit: true, lo, hi, step: integer ? 1 : 0.5 };
}

/** Per-item interaction counts, means and standard deviations (what an average attacker knows). */
export interface ItemStats {
  count: Int32Array;
  mean: Float64Array;
  sd: Float64Array;
  globalMean: number;
  globalSd: number;
}

export function itemStats(ds: Dataset): ItemStats {
  const { item, value, length } = ds.interactions;
  const n = ds.nItems;
  const count = new Int32Array(n);
  const sum = new Float64Array(n);
  const sq = new Float64Array(n);
  let gs = 0;
  let gq = 0;
  for (let k = 0; k < length; k++) {
    const i = item[k]!;
    const x = value[k]!;
    count[i]++;
    sum[i] += x;
    sq[i] += x * x;
    gs += x;
    gq += x * x;
  }
  const globalMean = length > 0 ? gs / length : 0;
  const globalSd = length > 1 ? Math.sqrt(Math.max(0, gq / length - globalMean * globalMean)) : 0;
  const mean = new Float64Array(n);
  const sd = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const c = count[i]!;
    mean[i] = c > 0 ? sum[i]! / c : globalMean;
    // One rating says nothing about spread: such items borrow the global sd.
    sd[i] = c > 1 ? Math.sqrt(Math.max(0, sq[i]! / c - mean[i]! * mean[i]!)) : globalSd;
  }
  return { count, mean, sd, globalMean, globalSd };
}

/**
 * Pick `n` target items, seeded, among items of modest popularity: interaction counts between the
 * median and the 90th percentile of the items that have any. Pushing such items is the case the
 * literature measures (a blockbuster needs no push; an item nobody rated has no neighbours).
 */
export function pickTargets(ds: Dataset, n: number, seed: number, exclude?: ReadonlySet<number>): Int32Array {
  const counts = ds.itemCounts();
  const rated = Array.from(counts).filter((c) => c > 0).sort((a, b) => a - b);
  if (rated.length === 0) throw new DataError('cannot pick attack targets: the dataset has no interactions');
  const lo = Math.max(1, rated[Math.floor(rated.length * 0.5)]!);
  const hi = Math.max(lo, rated[Math.min(rated.length - 1, Math.floor(rated.length * 0.9))]!);
  const pool: number[] = [];
  for (let i = 0; i < counts.length; i++) if (counts[i]! >= lo && counts[i]! <= hi && !exclude?.has(i)) pool.push(i);
  if (pool.length < n) throw new DataError(`cannot pick ${n} attack targets: only ${pool.length} items have ${lo}–${hi} interactions`);
  new Rng(seed).shuffle(pool);
  return Int32Array.from(pool.slice(0, n)).sort();
}

/** Items sorted by interaction count, most first (ties: lower index first). */
function byPopularity(counts: Int32Array, keep: (i: number) => boolean): number[] {
  const idx: number[] = [];
  for (let i = 0; i < counts.length; i++) if (counts[i]! > 0 && keep(i)) idx.push(i);
  return idx.sort((a, b) => counts[b]! - counts[a]! || a - b);
}

/** The category most common among `targets` (for a segment attack with no segment named). */
function targetSegment(ds: Dataset, targets: Int32Array): string {
  const freq = new Map<string, number>();
  for (const t of targets) for (const c of ds.itemMeta[t]?.categories ?? []) freq.set(c, (freq.get(c) ?? 0) + 1);
  let best: string | undefined;
  let bestN = 0;
  for (const [c, n] of [...freq].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (n > bestN) {
      best = c;
      bestN = n;
    }
  }
  if (best === undefined) throw new ConfigError('segment attack: the targets have no categories; name a segment', 'segment');
  return best;
}

function checkFraction(x: number, field: string): void {
  if (!(x > 0 && x <= 0.5)) throw new ConfigError(`expected a fraction in (0, 0.5], got ${x}`, field);
}

/** Inject fake profiles into `ds` (see the module comment); seeded and reproducible. */
export function injectAttack(ds: Dataset, config: AttackConfig): AttackResult {
  checkFraction(config.size, 'size');
  checkFraction(config.filler, 'filler');
  if (!(ATTACK_TYPES as readonly string[]).includes(config.type)) {
    throw new ConfigError(`unknown attack type "${config.type}"; expected one of: ${ATTACK_TYPES.join(', ')}`, 'type');
  }
  const targets = config.targets;
  if (targets.length === 0) throw new ConfigError('an attack needs at least one target item', 'targets');
  for (const t of targets) if (!(t >= 0 && t < ds.nItems)) throw new ConfigError(`target item index ${t} out of range 0..${ds.nItems - 1}`, 'targets');
  const rng = new Rng(config.seed);
  const scale = attackScale(ds, config.values ?? 'auto');
  const stats = itemStats(ds);
  const isTarget = new Uint8Array(ds.nItems);
  for (const t of targets) isTarget[t] = 1;

  let selected: number[] = [];
  let segment: string | undefined;
  const nSelected = config.selected ?? 5;
  if (config.type === 'bandwagon') selected = byPopularity(stats.count, (i) => !isTarget[i]).slice(0, nSelected);
  if (config.type === 'segment') {
    segment = config.segment ?? targetSegment(ds, targets);
    const seg = segment;
    selected = byPopularity(stats.count, (i) => !isTarget[i] && (ds.itemMeta[i]?.categories ?? []).includes(seg)).slice(0, nSelected);
    if (selected.length === 0) throw new ConfigError(`segment attack: no rated item has category "${seg}"`, 'segment');
  }
  const isSelected = new Uint8Array(ds.nItems);
  for (const s of selected) isSelected[s] = 1;
  // Filler comes from the rated items that are neither targets nor selected.
  const fillerPool: number[] = [];
  for (let i = 0; i < ds.nItems; i++) if (stats.count[i]! > 0 && !isTarget[i] && !isSelected[i]) fillerPool.push(i);
  const fillerCount = Math.min(fillerPool.length, Math.max(1, Math.round(config.filler * ds.nItems)));
  const nFake = Math.max(1, Math.round(config.size * ds.nUsers));

  const users = ds.users.clone();
  const prefix = config.idPrefix ?? 'shill-';
  const fake = new Int32Array(nFake);
  for (let f = 0; f < nFake; f++) {
    let id = `${prefix}${f + 1}`;
    for (let s = 2; users.has(id); s++) id = `${prefix}${f + 1}-${s}`;
    fake[f] = users.add(id);
  }
  const perProfile = targets.length + selected.length + fillerCount;
  const added = nFake * perProfile;
  const base = ds.interactions;
  const n = base.length + added;
  const out = {
    length: n,
    user: new Int32Array(n),
    item: new Int32Array(n),
    value: new Float32Array(n),
    timestamp: new Float64Array(n),
    eventType: new Uint8Array(n),
  } satisfies Interactions;
  out.user.set(base.user);
  out.item.set(base.item);
  out.value.set(base.value);
  out.timestamp.set(base.timestamp);
  out.eventType.set(base.eventType);
  // Injected profiles arrive together, after the last logged event (a push happens now).
  let lastTs = -Infinity;
  for (let k = 0; k < base.length; k++) {
    const t = base.timestamp[k]!;
    if (t > lastTs) lastTs = t;
  }
  if (lastTs === -Infinity) lastTs = NaN;
  const rate = (x: number): number => {
    if (!scale.explicit) return 1;
    const r = Math.round(x / scale.step) * scale.step;
    return Math.min(scale.hi, Math.max(scale.lo, r));
  };
  const pool = Int32Array.from(fillerPool);
  let k = base.length;
  for (let f = 0; f < nFake; f++) {
    const u = fake[f]!;
    const ts = Number.isNaN(lastTs) ? NaN : lastTs + 1 + f;
    const put = (i: number, v: number): void => {
      out.user[k] = u;
      out.item[k] = i;
      out.value[k] = v;
      out.timestamp[k] = ts;
      k++;
    };
    for (const t of targets) put(t, rate(scale.hi));
    for (const s of selected) put(s, rate(scale.hi));
    // Partial Fisher–Yates: the first `fillerCount` entries of `pool` become a uniform sample.
    for (let j = 0; j < fillerCount; j++) {
      const r = j + rng.int(pool.length - j);
      const tmp = pool[j]!;
      pool[j] = pool[r]!;
      pool[r] = tmp;
      const i = pool[j]!;
      let v: number;
      if (config.type === 'average') v = stats.mean[i]! + stats.sd[i]! * rng.normal();
      else if (config.type === 'segment') v = scale.lo;
      else v = stats.globalMean + stats.globalSd * rng.normal();
      put(i, rate(v));
    }
  }
  const dataset = new Dataset({
    name: `${ds.name}+${config.type}`,
    users,
    items: ds.items,
    interactions: out,
    eventTypes: ds.eventTypes,
    itemMeta: ds.itemMeta,
    userMeta: ds.userMeta,
    source: ds.source,
  });
  const result: AttackResult = { dataset, fake, genuineUsers: ds.nUsers, scale, selected: Int32Array.from(selected), fillerCount };
  if (segment !== undefined) result.segment = segment;
  return result;
}

/** `ds` without the interactions of the users flagged in `drop` (id maps unchanged, so indices still agree). */
export function dropInteractionsOf(ds: Dataset, drop: Uint8Array): Dataset {
  const { user, length } = ds.interactions;
  let n = 0;
  for (let k = 0; k < length; k++) if (!drop[user[k]!]) n++;
  const keep = new Int32Array(n);
  n = 0;
  for (let k = 0; k < length; k++) if (!drop[user[k]!]) keep[n++] = k;
  return ds.subset(keep, `${ds.name}-filtered`);
}
