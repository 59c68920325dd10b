/**
 * Vectorised sessions of the interest-evolution family (RecSim-style, Ie et al. 2019) behind the
 * same batched contract as `VecEnv` (`reset` → observations, `step(slates)` → `VecStepResult`,
 * auto-reset), so every agent and the simulate runner use it unchanged.
 *
 * One step of one session (docs/simulator.md, "Interest-evolution family", has the equations):
 *  1. utility v_k = β_s·(x·θ_i) + β_a·a_i − δ·ln(1 + k) of each shown, not yet consumed item;
 *     multinomial logit over the slate plus a no-click option → at most one click;
 *  2. on a click: watch time w = min(B, ℓ_i·σ(c0 + c1·x·θ_i)); reward R = w / ℓ̄; the budget
 *     pays w less a quality refund, B −= w·(1 − ρ·(q_i − q0)); the interests in the document's
 *     topics move toward +1 or −1, the direction drawn with a probability that rises with the
 *     current interest and with the document's quality;
 *  3. without a click the budget pays the no-click penalty;
 *  4. the session ends when the budget is spent or at the horizon.
 * Quality is invisible at click time and in the immediate reward: it acts only through the
 * budget and the interests, so only a policy that looks ahead values it.
 * Reward r = R + λ·G + α·A with G and A the rating family's exposure value and attractiveness.
 */
import { DataError } from '../errors.js';
import { Rng } from '../util/rng.js';
import type { InterestParams, SimConfig } from './config.js';
import { interestParams, interestScore, interestUtility, type InterestWorld } from './interest-world.js';
import type { Observation } from './types.js';
import type { VecStepResult } from './vec-env.js';
import type { SimWorld } from './world.js';

/** Minutes watched of item i by a user with interests x (never more than the budget left). */
export function watchTime(w: InterestWorld, p: InterestParams, x: Float32Array, xOff: number, i: number, budget: number): number {
  const frac = 1 / (1 + Math.exp(-(p.watch.bias + p.watch.interestSlope * interestScore(w, x, xOff, i))));
  return Math.max(0, Math.min(budget, w.length[i]! * frac));
}

/** Budget left after watching w minutes of a document of quality q: good documents refund part of it. */
export function budgetAfterWatch(p: InterestParams, budget: number, watched: number, quality: number): number {
  return budget - watched * (1 - p.budget.refund * (quality - p.quality.threshold));
}

/**
 * Probability that consuming item i moves the interests in its topics up: RecSim's
 * θ_i·(x + 1)/2 (a user drifts further into what they already like), tilted by quality
 * (good documents win interest, clickbait loses it), clipped to [0, 1].
 */
export function upProbability(w: InterestWorld, p: InterestParams, x: Float32Array, xOff: number, i: number): number {
  const T = w.nTopics;
  let m = 0;
  for (let t = 0; t < T; t++) m += w.topics[i * T + t]! * (x[xOff + t]! + 1) / 2;
  const pu = m + p.interest.qualityTilt * w.quality[i]!;
  return pu < 0 ? 0 : pu > 1 ? 1 : pu;
}

/**
 * Interest evolution after consuming item i: x_t += α(x_t)·θ_it·(±1 − x_t) with RecSim's step size
 * α(x) = step·(1 − |x|) (settled interests move less). Moving toward ±1 instead of RecSim's
 * ±α·(1 − x) keeps x inside [−1, 1] without clipping.
 */
export function evolveInterest(w: InterestWorld, p: InterestParams, x: Float32Array, xOff: number, i: number, up: boolean): void {
  const T = w.nTopics;
  const target = up ? 1 : -1;
  for (let t = 0; t < T; t++) {
    const th = w.topics[i * T + t]!;
    if (th === 0) continue;
    const xt = x[xOff + t]!;
    x[xOff + t] = xt + p.interest.step * (1 - Math.abs(xt)) * th * (target - xt);
  }
}

export class InterestVecEnv {
  readonly n: number;
  readonly slateSize: number;
  readonly nItems: number;
  readonly world: SimWorld;
  readonly interestWorld: InterestWorld;
  readonly config: SimConfig;
  private readonly p: InterestParams;
  private readonly autoReset: boolean;
  private rng: Rng;
  private readonly maxHist: number;
  private readonly user: Int32Array;
  private readonly t: Int32Array;
  private readonly budget: Float64Array;
  private readonly x: Float32Array;
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
  private readonly exposure: Float64Array;
  private shownTotal = 0;
  private readonly fairShare: boolean;

  constructor(interestWorld: InterestWorld, world: SimWorld, config: SimConfig, n: number, options: { autoReset?: boolean } = {}) {
    if (interestWorld.nItems !== world.nItems) throw new DataError(`interest world has ${interestWorld.nItems} items, the world ${world.nItems}`, { field: 'interestWorld' });
    this.p = interestParams(config);
    this.interestWorld = interestWorld;
    this.world = world;
    this.config = config;
    this.n = n;
    this.slateSize = config.slateSize;
    this.nItems = world.nItems;
    this.autoReset = options.autoReset ?? true;
    this.rng = new Rng(0);
    this.maxHist = config.initialHistory + config.horizon;
    const T = interestWorld.nTopics;
    const K = this.slateSize;
    this.user = new Int32Array(n);
    this.t = new Int32Array(n);
    this.budget = new Float64Array(n);
    this.x = new Float32Array(n * T);
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

  /** Current exposure value g_i of item i (as in the rating family: static or fair-share). */
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

  /** Hidden state of slot s as copies (for tests and diagnostics; an agent must not read it). */
  interestState(s: number): { user: number; interest: Float32Array; budget: number; history: Int32Array } {
    if (!Number.isInteger(s) || s < 0 || s >= this.n) throw new DataError(`slot ${s} is outside 0..${this.n - 1}`, { field: 's' });
    const T = this.interestWorld.nTopics;
    return {
      user: this.user[s]!,
      interest: this.x.slice(s * T, (s + 1) * T),
      budget: this.budget[s]!,
      history: this.hist.slice(s * this.maxHist, s * this.maxHist + this.histLen[s]!),
    };
  }

  private start(s: number): void {
    const w = this.world;
    const iw = this.interestWorld;
    const T = iw.nTopics;
    const u = w.users[this.rng.int(w.users.length)]!;
    this.user[s] = u;
    this.t[s] = 0;
    const b = this.p.budget;
    this.budget[s] = b.initial + b.jitter * (this.rng.next() - 0.5);
    const noise = this.p.interest.noise;
    for (let t = 0; t < T; t++) {
      const v = iw.interest0[u * T + t]! + noise * this.rng.normal();
      this.x[s * T + t] = v < -1 ? -1 : v > 1 ? 1 : v;
    }
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
    const iw = this.interestWorld;
    const p = this.p;
    const cfg = this.config;
    const K = this.slateSize;
    const xOff = s * iw.nTopics;
    const hOff = s * this.maxHist;
    const hLen = this.histLen[s]!;
    const out = this.out;
    // 1: utilities and the multinomial-logit choice with a no-click option.
    let total = Math.exp(p.choice.noClickUtility);
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
      const e = Math.exp(interestUtility(iw, p, this.x, xOff, i, k));
      this.expU[k] = e;
      total += e;
    }
    if (shown > 0) {
      G /= shown;
      A /= shown;
    }
    if (this.fairShare) {
      for (let k = 0; k < K; k++) {
        const i = slates[off + k]!;
        if (i >= 0) this.exposure[i]! += 1;
      }
      this.shownTotal += shown;
    }
    let r = this.rng.next() * total;
    let pick = -1;
    for (let k = 0; k < K; k++) {
      r -= this.expU[k]!;
      if (r < 0 && this.expU[k]! > 0) {
        pick = k;
        break;
      }
    }
    // 2–3: watch time, budget, interest evolution; or the no-click penalty.
    let R = 0;
    if (pick >= 0) {
      const i = slates[off + pick]!;
      const watched = watchTime(iw, p, this.x, xOff, i, this.budget[s]!);
      R = watched / p.length.mean;
      this.budget[s] = budgetAfterWatch(p, this.budget[s]!, watched, iw.quality[i]!);
      const up = this.rng.next() < upProbability(iw, p, this.x, xOff, i);
      evolveInterest(iw, p, this.x, xOff, i, up);
      out.clicks[off + pick] = 1;
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
      this.budget[s] -= p.budget.noClickPenalty;
      this.clicked[s] = 0;
    }
    // 4: reward and the end of the session.
    const reward = R + cfg.reward.lambda * G + cfg.reward.alpha * A;
    out.rewards[s] = reward;
    out.R[s] = R;
    out.G[s] = G;
    out.A[s] = A;
    this.ret[s] += reward;
    this.disc[s] += this.discount[s]! * reward;
    this.discount[s] *= cfg.gamma;
    this.t[s]++;
    out.done[s] = this.budget[s]! <= 0 || this.t[s]! >= cfg.horizon ? 1 : 0;
  }
}
