/**
 * Vectorised simulator: `n` user sessions advance in one `step` call on typed arrays. Finished
 * sessions restart at once with a new user (auto-reset, as in Gym vector envs); the step result
 * says which slots finished and carries their terminal observation and session totals.
 *
 * One step of one session (docs/simulator.md has the full model):
 *  1. utilities u_k of the slate's items (hidden rating, genre affinity, satiation,
 *     attractiveness, position bias); already consumed items cannot be clicked;
 *  2. multinomial logit over the slate plus a no-click option → at most one click;
 *  3. on a click: rating (hidden rating − satiation penalty + noise, rounded to half stars),
 *     purchase (logistic in the rating), satiation of the item's genres, interest drift toward it,
 *     patience up or down with the rating; without a click patience drops;
 *  4. every step: satiation recovers, the preference offset drifts (OU noise), patience pays a
 *     step cost; the session ends when patience ≤ 0, at the horizon, or by exogenous leaving.
 * Reward r = R + λ·G + α·A with R from clicks, purchases and ratings, G = mean exposure value
 * of the shown items (static, or falling with the item's exposure so far in this env: see
 * `SimConfig.exposureValue`), A = mean content attractiveness of the shown items.
 */
import type { Observation } from './types.js';
import { DataError } from '../errors.js';
import { Rng } from '../util/rng.js';
import type { SimConfig } from './config.js';
import { clickUtility, hiddenRating, initialSatiation, itemSatiation, type SimWorld } from './world.js';

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

export class VecEnv {
  readonly n: number;
  readonly slateSize: number;
  readonly nItems: number;
  readonly world: SimWorld;
  readonly config: SimConfig;
  private readonly autoReset: boolean;
  private rng: Rng;
  private readonly maxHist: number;
  private readonly user: Int32Array;
  private readonly t: Int32Array;
  private readonly patience: Float64Array;
  private readonly sat: Float32Array;
  private readonly drift: Float32Array;
  private readonly hist: Int32Array;
  private readonly histLen: Int32Array;
  private readonly clicked: Uint8Array;
  private readonly nClicks: Int32Array;
  private readonly finished: Uint8Array;
  private readonly ret: Float64Array;
  private readonly disc: Float64Array;
  private readonly discount: Float64Array;
  private readonly expU: Float64Array;
  private readonly out: VecStepResult;
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
    const nC = world.categoryNames.length;
    this.user = new Int32Array(n);
    this.t = new Int32Array(n);
    this.patience = new Float64Array(n);
    this.sat = new Float32Array(n * nC);
    this.drift = new Float32Array(n * world.dim);
    this.hist = new Int32Array(n * this.maxHist);
    this.histLen = new Int32Array(n);
    this.clicked = new Uint8Array(n);
    this.nClicks = new Int32Array(n);
    this.finished = new Uint8Array(n);
    this.ret = new Float64Array(n);
    this.disc = new Float64Array(n);
    this.discount = new Float64Array(n);
    this.expU = new Float64Array(this.slateSize);
    this.exposure = new Float64Array(world.nItems);
    this.fairShare = config.exposureValue === 'fair-share';
    const K = this.slateSize;
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

  /** Current exposure value g_i of item i (what showing it now would add to G). */
  exposureValueOf(i: number): number {
    const base = this.world.exposureValue[i]!;
    if (!this.fairShare) return base;
    const mean = Math.max(1, this.shownTotal / this.nItems);
    return base / (1 + this.exposure[i]! / mean);
  }

  /**
   * The hidden state of slot s as read-only copies: the simulated user's genre satiation,
   * preference offset and consumed items. Only for ceilings and diagnostics (bench/marl-ceiling.ts's
   * oracle); an agent that reads it is not learning from feedback.
   */
  hiddenState(s: number): { user: number; satiation: Float32Array; drift: Float32Array; history: Int32Array } {
    if (!Number.isInteger(s) || s < 0 || s >= this.n) throw new DataError(`slot ${s} is outside 0..${this.n - 1}`, { field: 's' });
    const nC = this.world.categoryNames.length;
    const d = this.world.dim;
    return {
      user: this.user[s]!,
      satiation: this.sat.slice(s * nC, (s + 1) * nC),
      drift: this.drift.slice(s * d, (s + 1) * d),
      history: this.hist.slice(s * this.maxHist, s * this.maxHist + this.histLen[s]!),
    };
  }

  /** User of slot s (for metrics). */
  userOf(s: number): number {
    return this.user[s]!;
  }

  private start(s: number): void {
    const w = this.world;
    const u = w.users[this.rng.int(w.users.length)]!;
    this.user[s] = u;
    this.t[s] = 0;
    const p = this.config.patience;
    this.patience[s] = p.initial + p.jitter * (this.rng.next() - 0.5);
    initialSatiation(w, this.config, u, this.sat, s * w.categoryNames.length);
    this.drift.fill(0, s * w.dim, (s + 1) * w.dim);
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

  private stepOne(s: number, slates: Int32Array, off: number): void {
    const w = this.world;
    const cfg = this.config;
    const K = this.slateSize;
    const nC = w.categoryNames.length;
    const d = w.dim;
    const u = this.user[s]!;
    const sOff = s * nC;
    const dOff = s * d;
    const hOff = s * this.maxHist;
    const hLen = this.histLen[s]!;
    const out = this.out;
    // 1–2: utilities and the multinomial-logit choice with a no-click option.
    let total = Math.exp(cfg.choice.noClickUtility);
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
      const e = Math.exp(clickUtility(w, cfg, u, i, k, this.drift, dOff, this.sat, sOff));
      this.expU[k] = e;
      total += e;
    }
    if (shown > 0) {
      G /= shown;
      A /= shown;
    }
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
    let pick = -1;
    for (let k = 0; k < K; k++) {
      x -= this.expU[k]!;
      if (x < 0 && this.expU[k]! > 0) {
        pick = k;
        break;
      }
    }
    // 3: consequences of a click.
    let R = 0;
    const p = cfg.patience;
    if (pick >= 0) {
      const i = slates[off + pick]!;
      const raw = hiddenRating(w, u, i, this.drift, dOff) - cfg.satiation.ratingPenalty * itemSatiation(w, i, this.sat, sOff) + cfg.rating.noise * this.rng.normal();
      const rating = Math.min(5, Math.max(0.5, Math.round(raw * 2) / 2));
      const pBuy = 1 / (1 + Math.exp(-(cfg.purchase.bias + cfg.purchase.slope * (rating - 3.5))));
      const bought = this.rng.next() < pBuy ? 1 : 0;
      out.clicks[off + pick] = 1;
      out.purchases[off + pick] = bought;
      out.ratings[off + pick] = rating;
      R = cfg.reward.click + cfg.reward.purchase * bought + (cfg.reward.rating * (rating - 3)) / 2;
      this.patience[s] += p.ratingGain * (rating - 3);
      const c0 = w.catIndptr[i]!;
      const c1 = w.catIndptr[i + 1]!;
      for (let c = c0; c < c1; c++) this.sat[sOff + w.catIndices[c]!] += cfg.satiation.gain / (c1 - c0);
      const pull = cfg.drift.pull;
      // Interest drift: the preference offset moves toward what was just consumed (OU decay pulls it back).
      for (let a = 0; a < d; a++) this.drift[dOff + a] += pull * w.itemFactors[i * d + a]!;
      if (hLen < this.maxHist) {
        this.hist[hOff + hLen] = i;
        this.histLen[s] = hLen + 1;
      } else {
        this.hist.copyWithin(hOff, hOff + 1, hOff + this.maxHist);
        this.hist[hOff + this.maxHist - 1] = i;
      }
      this.clicked[s] = 1;
      this.nClicks[s]++;
    } else {
      this.patience[s] -= p.noClickCost;
      this.clicked[s] = 0;
    }
    // 4: recovery, drift, leaving.
    const decay = cfg.satiation.decay;
    for (let c = 0; c < nC; c++) this.sat[sOff + c] *= decay;
    const rho = cfg.drift.rho;
    const sigma = cfg.drift.sigma;
    if (sigma > 0) for (let a = 0; a < d; a++) this.drift[dOff + a] = rho * this.drift[dOff + a]! + sigma * this.rng.normal();
    this.patience[s] -= p.stepCost;
    const r = R + cfg.reward.lambda * G + cfg.reward.alpha * A;
    out.rewards[s] = r;
    out.R[s] = R;
    out.G[s] = G;
    out.A[s] = A;
    this.ret[s] += r;
    this.disc[s] += this.discount[s]! * r;
    this.discount[s] *= cfg.gamma;
    this.t[s]++;
    const leave = this.rng.next() < p.leaveProb;
    out.done[s] = this.patience[s]! <= 0 || this.t[s]! >= cfg.horizon || leave ? 1 : 0;
  }
}
