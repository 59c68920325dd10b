/**
 * Rate anomalies in a live feedback stream: an item (or a user) whose event count in a time window
 * jumps far above its own recent rate. A push attack on a server shows up this way — many new
 * accounts sending feedback on one item within minutes — long before a retrain.
 *
 * Events are bucketed into consecutive windows of `windowMs`, aligned on multiples of it. For each id, its counts in the
 * previous `history` windows (zeros included; only windows since the log began) give a mean μ and
 * variance σ²; the window's count c scores z = 2(√(c + 3/8) − √(μ + 3/8)) / √max(1, σ²/μ) — a
 * Poisson count on Anscombe's variance-stabilised scale, widened when the id's counts vary more
 * than Poisson. A window is flagged when z ≥ `z` and c ≥ `minCount`. Item flags carry
 * the share of their events sent by new users (first seen within the current or previous window).
 */
import { ConfigError } from '../errors.js';

export interface RateEvent {
  /** Unix milliseconds; events must come in non-decreasing time order. */
  ts: number;
  user: string | null;
  item: string;
}

export interface RateAnomalyOptions {
  /** Window width in ms (default one hour). */
  windowMs?: number;
  /** Past windows that form an id's baseline (default 24). */
  history?: number;
  /** z-score at which a window is flagged (default 4). */
  z?: number;
  /** Fewest events in a window for a flag (default 10). */
  minCount?: number;
  /** Windows from the first event before anything is flagged (default 3): every id is new at the start of a log. */
  warmup?: number;
}

export interface RateFlag {
  kind: 'item' | 'user';
  id: string;
  /** Window start, unix ms. */
  windowStart: number;
  count: number;
  /** Baseline mean per window. */
  expected: number;
  z: number;
  /** Items only: share of the window's events on the item from users first seen in this or the previous window. */
  newUserShare?: number;
}

/** Per-id ring of the last `history` window counts. */
class Baselines {
  private readonly rings = new Map<string, { counts: Float64Array; last: number }>();
  constructor(private readonly history: number) {}

  /** Mean and variance of `id`'s counts over the `history` windows before window `w`. */
  stats(id: string, w: number): { mean: number; variance: number } {
    const r = this.rings.get(id);
    // Windows before the log began are unknown, not zero: the baseline spans only those observed.
    const h = Math.min(this.history, w);
    if (!r || h === 0) return { mean: 0, variance: 0 };
    let s = 0;
    let q = 0;
    for (let j = 1; j <= h; j++) {
      const ww = w - j;
      // The ring slot holds window `ww` only if it was written then and not overwritten since.
      const c = ww > r.last - this.history && ww <= r.last ? r.counts[ww % this.history]! : 0;
      s += c;
      q += c * c;
    }
    const mean = s / h;
    return { mean, variance: Math.max(0, q / h - mean * mean) };
  }

  record(id: string, w: number, count: number): void {
    let r = this.rings.get(id);
    if (!r) {
      r = { counts: new Float64Array(this.history), last: -1 };
      this.rings.set(id, r);
    }
    // Windows skipped since the last write had count 0.
    for (let ww = Math.max(r.last + 1, w - this.history + 1); ww < w; ww++) r.counts[ww % this.history] = 0;
    r.counts[w % this.history] = count;
    r.last = w;
  }
}

/** Scan a time-ordered stream of feedback events and return every flagged (id, window). */
export function scanRates(events: Iterable<RateEvent>, options: RateAnomalyOptions = {}): RateFlag[] {
  const windowMs = options.windowMs ?? 3_600_000;
  const history = options.history ?? 24;
  const zMin = options.z ?? 4;
  const minCount = options.minCount ?? 10;
  const warmup = options.warmup ?? 3;
  if (!(windowMs > 0)) throw new ConfigError(`window must be positive, got ${windowMs}`, 'window');
  if (!(Number.isInteger(history) && history >= 2)) throw new ConfigError(`history must be an integer ≥ 2, got ${history}`, 'history');
  const itemBase = new Baselines(history);
  const userBase = new Baselines(history);
  const firstSeen = new Map<string, number>();
  const flags: RateFlag[] = [];
  let firstWindow = NaN;
  let cur = -1;
  let lastTs = -Infinity;
  let items = new Map<string, { n: number; fresh: number }>();
  let users = new Map<string, number>();

  const close = (w: number): void => {
    const start = (firstWindow + w) * windowMs;
    const check = (kind: 'item' | 'user', base: Baselines, id: string, count: number, fresh?: number): void => {
      const { mean, variance } = base.stats(id, w);
      // Anscombe's transform makes a Poisson count roughly N(2√(μ+3/8), 1), so one threshold means
      // the same false-alarm rate at 2 events an hour as at 2000; overdispersion (σ² > μ) widens it.
      const dispersion = Math.sqrt(Math.max(1, variance / Math.max(mean, 1e-9)));
      const z = (2 * (Math.sqrt(count + 0.375) - Math.sqrt(mean + 0.375))) / dispersion;
      if (w >= warmup && count >= minCount && z >= zMin) {
        const flag: RateFlag = { kind, id, windowStart: start, count, expected: mean, z };
        if (fresh !== undefined) flag.newUserShare = fresh / count;
        flags.push(flag);
      }
      base.record(id, w, count);
    };
    for (const [id, c] of items) check('item', itemBase, id, c.n, c.fresh);
    for (const [id, n] of users) check('user', userBase, id, n);
    items = new Map();
    users = new Map();
  };

  for (const e of events) {
    if (e.ts < lastTs) throw new ConfigError(`events must be in time order: ${e.ts} after ${lastTs}`, 'ts');
    lastTs = e.ts;
    // Windows sit on multiples of windowMs (whole hours for 1 h), counted from the first event's.
    if (Number.isNaN(firstWindow)) firstWindow = Math.floor(e.ts / windowMs);
    const w = Math.floor(e.ts / windowMs) - firstWindow;
    if (w !== cur) {
      if (cur >= 0) close(cur);
      cur = w;
    }
    let isNew = false;
    if (e.user !== null) {
      let f = firstSeen.get(e.user);
      if (f === undefined) {
        f = w;
        firstSeen.set(e.user, w);
      }
      isNew = f >= w - 1;
      users.set(e.user, (users.get(e.user) ?? 0) + 1);
    }
    const it = items.get(e.item);
    if (it) {
      it.n++;
      if (isNew) it.fresh++;
    } else items.set(e.item, { n: 1, fresh: isNew ? 1 : 0 });
  }
  if (cur >= 0) close(cur);
  return flags;
}
