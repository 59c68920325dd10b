/**
 * What every batched simulator family shares: `n` session slots on typed arrays, the opening
 * history and click bookkeeping, the exposure value G and attractiveness A of a slate, the
 * multinomial-logit choice with a no-click option, reward accounting and auto-reset.
 * A family (`VecEnv` for ratings, `InterestVecEnv` for interest evolution) says only how a
 * session starts (`startSession`), how attractive an item is to a slot (`utility`) and what one
 * step does (`stepOne`, built from `chooseFromSlate`, `consume` and `record`).
 *
 * The order of random draws is part of each family's published figures: the base draws the
 * session's user, then `startSession` draws what the family needs; `chooseFromSlate` draws once
 * for the choice; everything else is drawn by the family in its own order.
 */
import { DataError } from '../errors.js';
import { Rng } from '../util/rng.js';
import type { SimConfig } from './config.js';
import type { Observation } from './types.js';
import type { SimWorld } from './world.js';

export interface VecStepResult {
  rewards: Float32Array;
  R: Float32Array;
  G: Float32Array;
  A: Float32Array;
  /** n × slateSize: exposure value g_i of each shown item at the time it was shown (0 where empty); G is their mean. */
  g: Float32Array;
  done: Uint8Array;
  /** n × slateSize, row per session. */
  clicks: Int32Array;
  purchases: Int32Array;
  ratings: Float32Array;
  /** Next observation per slot (for finished slots with auto-reset: the new session's first). */
  observations: Observation[];
  /** Terminal observation for slots that finished this step, else null. */
  terminal: (Observation | null)[];
  /** Totals of the sessions that finished this step (valid where done[s] = 1). */
  episodeReturn: Float64Array;
  episodeDiscounted: Float64Array;
  episodeLength: Int32Array;
  episodeClicks: Int32Array;
}

export abstract class SessionBatch {
  readonly n: number;
  readonly slateSize: number;
  readonly nItems: number;
  readonly world: SimWorld;
  readonly config: SimConfig;
  protected rng: Rng;
  protected readonly maxHist: number;
  protected readonly user: Int32Array;
  protected readonly t: Int32Array;
  protected readonly hist: Int32Array;
  protected readonly histLen: Int32Array;
  protected readonly out: VecStepResult;
  /** Mean exposure value G and attractiveness A of the slate last passed to `chooseFromSlate`. */
  protected slateG = 0;
  protected slateA = 0;
  private readonly autoReset: boolean;
  private readonly clicked: Uint8Array;
  private readonly nClicks: Int32Array;
  private readonly finished: Uint8Array;
  private readonly ret: Float64Array;
  private readonly disc: Float64Array;
  private readonly discount: Float64Array;
  private readonly expU: Float64Array;
  /** Impressions per item since the last reset, and their total (for `fair-share` exposure value). */
  private readonly exposure: Float64Array;
  private shownTotal = 0;
  private readonly fairShare: boolean;

  constructor(world: SimWorld, config: SimConfig, n: number, options: { autoReset?: boolean } = {}) {
    this.world = world;
    this.config = config;
    this.n = n;
    this.slateSize = config.slateSize;
    this.nItems = world.nItems;
    this.autoReset = options.autoReset ?? true;
    this.rng = new Rng(0);
    this.maxHist = config.initialHistory + config.horizon;
    const K = this.slateSize;
    this.user = new Int32Array(n);
    this.t = new Int32Array(n);
    this.hist = new Int32Array(n * this.maxHist);
    this.histLen = new Int32Array(n);
    this.clicked = new Uint8Array(n);
    this.nClicks = new Int32Array(n);
    this.finished = new Uint8Array(n);
    this.ret = new Float64Array(n);
    this.disc = new Float64Array(n);
    this.discount = new Float64Array(n);
    this.expU = new Float64Array(K);
    this.exposure = new Float64Array(world.nItems);
    this.fairShare = config.exposureValue === 'fair-share';
    this.out = {
      rewards: new Float32Array(n),
      R: new Float32Array(n),
      G: new Float32Array(n),
      A: new Float32Array(n),
      g: new Float32Array(n * K),
      done: new Uint8Array(n),
      clicks: new Int32Array(n * K),
      purchases: new Int32Array(n * K),
      ratings: new Float32Array(n * K),
      observations: new Array<Observation>(n),
      terminal: new Array<Observation | null>(n).fill(null),
      episodeReturn: new Float64Array(n),
      episodeDiscounted: new Float64Array(n),
      episodeLength: new Int32Array(n),
      episodeClicks: new Int32Array(n),
    };
  }

  /** Family-specific start of the session of user u in slot s (its random draws come right after the user's). */
  protected abstract startSession(s: number, u: number): void;
  /** Choice utility of showing item i at position k to slot s (i is valid and not yet consumed). */
  protected abstract utility(s: number, i: number, k: number): number;
  /** One step of slot s on the slate at `slates[off..off+slateSize)`; ends with `record`. */
  protected abstract stepOne(s: number, slates: Int32Array, off: number): void;

  /** Start `n` new sessions; the same seed gives the same users and the same futures. */
  reset(seed: number): Observation[] {
    this.rng = new Rng(seed);
    this.exposure.fill(0);
    this.shownTotal = 0;
    const obs = new Array<Observation>(this.n);
    for (let s = 0; s < this.n; s++) {
      this.start(s);
      obs[s] = this.observation(s);
    }
    return obs;
  }

  /** Current exposure value g_i of item i (what showing it now would add to G): static, or fair-share. */
  exposureValueOf(i: number): number {
    const base = this.world.exposureValue[i]!;
    if (!this.fairShare) return base;
    const mean = Math.max(1, this.shownTotal / this.nItems);
    return base / (1 + this.exposure[i]! / mean);
  }

  /** User of slot s (for metrics). */
  userOf(s: number): number {
    return this.user[s]!;
  }

  /**
   * Advance every session by one slate. `slates` is n × slateSize item indices (row per slot);
   * a negative entry leaves that position empty.
   */
  step(slates: Int32Array): VecStepResult {
    const K = this.slateSize;
    if (slates.length !== this.n * K) {
      throw new DataError(`slates must hold n × slateSize = ${this.n * K} entries, got ${slates.length}`, { field: 'slates' });
    }
    const out = this.out;
    out.clicks.fill(0);
    out.g.fill(0);
    out.purchases.fill(0);
    out.ratings.fill(NaN);
    for (let s = 0; s < this.n; s++) {
      if (this.finished[s]) throw new DataError(`session in slot ${s} has ended; call reset()`, { field: 'slates' });
      this.stepOne(s, slates, s * K);
      out.terminal[s] = null;
      if (out.done[s]) {
        const term = this.observation(s);
        out.terminal[s] = term;
        out.episodeReturn[s] = this.ret[s]!;
        out.episodeDiscounted[s] = this.disc[s]!;
        out.episodeLength[s] = this.t[s]!;
        out.episodeClicks[s] = this.nClicks[s]!;
        if (this.autoReset) {
          this.start(s);
          out.observations[s] = this.observation(s);
        } else {
          this.finished[s] = 1;
          out.observations[s] = term;
        }
      } else out.observations[s] = this.observation(s);
    }
    return out;
  }

  /**
   * Makes slot `to` of this batch a copy of slot `from` of `src` (a batch of the same family on the
   * same world and config): user, step, history, totals and the family's hidden state, plus the
   * batch-wide exposure counts. With `reseed`, this is how a planner forks a running session to try
   * slates on copies of it (bench/plan-ceiling.ts) without touching the session itself.
   */
  forkSlot(src: this, from: number, to: number): void {
    src.checkSlot(from);
    this.checkSlot(to);
    if (src.world !== this.world || src.config !== this.config) throw new DataError('forkSlot needs a batch on the same world and config', { field: 'src' });
    // The family's part first: a family that cannot fork throws before anything is copied.
    this.forkFamilySlot(src, from, to);
    this.user[to] = src.user[from]!;
    this.t[to] = src.t[from]!;
    const H = this.maxHist;
    this.hist.set(src.hist.subarray(from * H, (from + 1) * H), to * H);
    this.histLen[to] = src.histLen[from]!;
    this.clicked[to] = src.clicked[from]!;
    this.nClicks[to] = src.nClicks[from]!;
    this.finished[to] = src.finished[from]!;
    this.ret[to] = src.ret[from]!;
    this.disc[to] = src.disc[from]!;
    this.discount[to] = src.discount[from]!;
    this.exposure.set(src.exposure);
    this.shownTotal = src.shownTotal;
  }

  /** Restarts the random stream without starting new sessions (for forked slots: same seed, same futures). */
  reseed(seed: number): void {
    this.rng = new Rng(seed);
  }

  /** The family's part of `forkSlot`: its own per-slot state. */
  protected abstract forkFamilySlot(src: this, from: number, to: number): void;

  /** Throws unless s is a slot of this batch (for the families' hidden-state readers). */
  protected checkSlot(s: number): void {
    if (!Number.isInteger(s) || s < 0 || s >= this.n) throw new DataError(`slot ${s} is outside 0..${this.n - 1}`, { field: 's' });
  }

  /** Read-only copy of slot s's consumed items. */
  protected historyOf(s: number): Int32Array {
    return this.hist.slice(s * this.maxHist, s * this.maxHist + this.histLen[s]!);
  }

  /**
   * Values the slate (sets `slateG`, `slateA`, `out.g`), counts its impressions for fair-share,
   * and draws the multinomial-logit choice over the not yet consumed items plus a no-click option
   * of utility `noClickUtility`. Returns the chosen position, or −1 for no click.
   */
  protected chooseFromSlate(s: number, slates: Int32Array, off: number, noClickUtility: number): number {
    const w = this.world;
    const K = this.slateSize;
    const hOff = s * this.maxHist;
    const hLen = this.histLen[s]!;
    const out = this.out;
    let total = Math.exp(noClickUtility);
    let G = 0;
    let A = 0;
    let shown = 0;
    for (let k = 0; k < K; k++) {
      const i = slates[off + k]!;
      this.expU[k] = 0;
      if (i < 0) continue;
      if (i >= w.nItems || !Number.isInteger(i)) throw new DataError(`item index ${i} is outside 0..${w.nItems - 1}`, { field: `slates[${off + k}]` });
      shown++;
      const gi = this.exposureValueOf(i);
      out.g[off + k] = gi;
      G += gi;
      A += w.attract[i]!;
      let consumed = false;
      for (let h = 0; h < hLen; h++) if (this.hist[hOff + h] === i) consumed = true;
      if (consumed) continue;
      const e = Math.exp(this.utility(s, i, k));
      this.expU[k] = e;
      total += e;
    }
    if (shown > 0) {
      G /= shown;
      A /= shown;
    }
    this.slateG = G;
    this.slateA = A;
    // Count this slate's impressions after valuing them, so an item's value reflects only what was
    // shown before (two copies in one slate are both valued at the earlier count).
    if (this.fairShare) {
      for (let k = 0; k < K; k++) {
        const i = slates[off + k]!;
        if (i >= 0) this.exposure[i]! += 1;
      }
      this.shownTotal += shown;
    }
    let x = this.rng.next() * total;
    for (let k = 0; k < K; k++) {
      x -= this.expU[k]!;
      if (x < 0 && this.expU[k]! > 0) return k;
    }
    return -1;
  }

  /** Slot s consumed item i: appended to its history (the oldest entry drops out when full). */
  protected consume(s: number, i: number): void {
    const hOff = s * this.maxHist;
    const hLen = this.histLen[s]!;
    if (hLen < this.maxHist) {
      this.hist[hOff + hLen] = i;
      this.histLen[s] = hLen + 1;
    } else {
      this.hist.copyWithin(hOff, hOff + 1, hOff + this.maxHist);
      this.hist[hOff + this.maxHist - 1] = i;
    }
    this.clicked[s] = 1;
    this.nClicks[s]++;
  }

  /** Slot s clicked nothing this step. */
  protected noClick(s: number): void {
    this.clicked[s] = 0;
  }

  /** Reward r = R + λ·G + α·A of slot s's step, added to the session's totals; the step counter moves on. */
  protected record(s: number, R: number, G: number, A: number): void {
    const cfg = this.config;
    const out = this.out;
    const r = R + cfg.reward.lambda * G + cfg.reward.alpha * A;
    out.rewards[s] = r;
    out.R[s] = R;
    out.G[s] = G;
    out.A[s] = A;
    this.ret[s] += r;
    this.disc[s] += this.discount[s]! * r;
    this.discount[s] *= cfg.gamma;
    this.t[s]++;
  }

  private start(s: number): void {
    const w = this.world;
    const u = w.users[this.rng.int(w.users.length)]!;
    this.user[s] = u;
    this.t[s] = 0;
    this.startSession(s, u);
    const h0 = w.histIndptr[u]!;
    const h1 = w.histIndptr[u + 1]!;
    this.hist.set(w.histItems.subarray(h0, h1), s * this.maxHist);
    this.histLen[s] = h1 - h0;
    this.clicked[s] = 0;
    this.nClicks[s] = 0;
    this.finished[s] = 0;
    this.ret[s] = 0;
    this.disc[s] = 0;
    this.discount[s] = 1;
  }

  private observation(s: number): Observation {
    const o = s * this.maxHist;
    const t = this.t[s]!;
    return {
      user: this.user[s]!,
      history: this.hist.slice(o, o + this.histLen[s]!),
      t,
      context: Float32Array.of(this.clicked[s]!, t > 0 ? this.nClicks[s]! / t : 0),
    };
  }
}
