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
import type { InterestParams, SimConfig } from './config.js';
import { interestParams, interestScore, interestUtility, type InterestWorld } from './interest-world.js';
import { SessionBatch } from './session-batch.js';
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

export class InterestVecEnv extends SessionBatch {
  readonly interestWorld: InterestWorld;
  private readonly p: InterestParams;
  private readonly budget: Float64Array;
  private readonly x: Float32Array;

  constructor(interestWorld: InterestWorld, world: SimWorld, config: SimConfig, n: number, options: { autoReset?: boolean } = {}) {
    if (interestWorld.nItems !== world.nItems) throw new DataError(`interest world has ${interestWorld.nItems} items, the world ${world.nItems}`, { field: 'interestWorld' });
    const p = interestParams(config);
    super(world, config, n, options);
    this.p = p;
    this.interestWorld = interestWorld;
    this.budget = new Float64Array(n);
    this.x = new Float32Array(n * interestWorld.nTopics);
  }

  /** Hidden state of slot s as copies (for tests and diagnostics; an agent must not read it). */
  interestState(s: number): { user: number; interest: Float32Array; budget: number; history: Int32Array } {
    this.checkSlot(s);
    const T = this.interestWorld.nTopics;
    return {
      user: this.user[s]!,
      interest: this.x.slice(s * T, (s + 1) * T),
      budget: this.budget[s]!,
      history: this.historyOf(s),
    };
  }

  protected override forkFamilySlot(src: this, from: number, to: number): void {
    const T = this.interestWorld.nTopics;
    this.budget[to] = src.budget[from]!;
    this.x.set(src.x.subarray(from * T, (from + 1) * T), to * T);
  }

  protected override startSession(s: number, u: number): void {
    const iw = this.interestWorld;
    const T = iw.nTopics;
    const b = this.p.budget;
    this.budget[s] = b.initial + b.jitter * (this.rng.next() - 0.5);
    const noise = this.p.interest.noise;
    for (let t = 0; t < T; t++) {
      const v = iw.interest0[u * T + t]! + noise * this.rng.normal();
      this.x[s * T + t] = v < -1 ? -1 : v > 1 ? 1 : v;
    }
  }

  protected override utility(s: number, i: number, k: number): number {
    return interestUtility(this.interestWorld, this.p, this.x, s * this.interestWorld.nTopics, i, k);
  }

  protected override stepOne(s: number, slates: Int32Array, off: number): void {
    const iw = this.interestWorld;
    const p = this.p;
    const cfg = this.config;
    const xOff = s * iw.nTopics;
    // 1: utilities and the multinomial-logit choice with a no-click option.
    const pick = this.chooseFromSlate(s, slates, off, p.choice.noClickUtility);
    // 2–3: watch time, budget, interest evolution; or the no-click penalty.
    let R = 0;
    if (pick >= 0) {
      const i = slates[off + pick]!;
      const watched = watchTime(iw, p, this.x, xOff, i, this.budget[s]!);
      R = watched / p.length.mean;
      this.budget[s] = budgetAfterWatch(p, this.budget[s]!, watched, iw.quality[i]!);
      const up = this.rng.next() < upProbability(iw, p, this.x, xOff, i);
      evolveInterest(iw, p, this.x, xOff, i, up);
      this.out.clicks[off + pick] = 1;
      this.consume(s, i);
    } else {
      this.budget[s] -= p.budget.noClickPenalty;
      this.noClick(s);
    }
    // 4: reward and the end of the session.
    this.record(s, R, this.slateG, this.slateA);
    this.out.done[s] = this.budget[s]! <= 0 || this.t[s]! >= cfg.horizon ? 1 : 0;
  }
}
