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
import { SessionBatch } from './session-batch.js';
import type { SimConfig } from './config.js';
import { clickUtility, hiddenRating, initialSatiation, itemSatiation, purchaseProbability, type SimWorld } from './world.js';

export type { VecStepResult } from './session-batch.js';

export class VecEnv extends SessionBatch {
  private readonly patience: Float64Array;
  private readonly sat: Float32Array;
  private readonly drift: Float32Array;

  constructor(world: SimWorld, config: SimConfig, n: number, options: { autoReset?: boolean } = {}) {
    super(world, config, n, options);
    this.patience = new Float64Array(n);
    this.sat = new Float32Array(n * world.categoryNames.length);
    this.drift = new Float32Array(n * world.dim);
  }

  /**
   * The hidden state of slot s as read-only copies: the simulated user's genre satiation,
   * preference offset and consumed items. Only for ceilings and diagnostics (bench/marl-ceiling.ts's
   * oracle); an agent that reads it is not learning from feedback.
   */
  hiddenState(s: number): { user: number; satiation: Float32Array; drift: Float32Array; history: Int32Array } {
    this.checkSlot(s);
    const nC = this.world.categoryNames.length;
    const d = this.world.dim;
    return {
      user: this.user[s]!,
      satiation: this.sat.slice(s * nC, (s + 1) * nC),
      drift: this.drift.slice(s * d, (s + 1) * d),
      history: this.historyOf(s),
    };
  }

  /** Patience left in slot s's session (hidden; for planners and diagnostics). */
  patienceOf(s: number): number {
    this.checkSlot(s);
    return this.patience[s]!;
  }

  protected override forkFamilySlot(src: this, from: number, to: number): void {
    const nC = this.world.categoryNames.length;
    const d = this.world.dim;
    this.patience[to] = src.patience[from]!;
    this.sat.set(src.sat.subarray(from * nC, (from + 1) * nC), to * nC);
    this.drift.set(src.drift.subarray(from * d, (from + 1) * d), to * d);
  }

  protected override startSession(s: number, u: number): void {
    const w = this.world;
    const p = this.config.patience;
    this.patience[s] = p.initial + p.jitter * (this.rng.next() - 0.5);
    initialSatiation(w, this.config, u, this.sat, s * w.categoryNames.length);
    this.drift.fill(0, s * w.dim, (s + 1) * w.dim);
  }

  protected override utility(s: number, i: number, k: number): number {
    const w = this.world;
    return clickUtility(w, this.config, this.user[s]!, i, k, this.drift, s * w.dim, this.sat, s * w.categoryNames.length);
  }

  protected override stepOne(s: number, slates: Int32Array, off: number): void {
    const w = this.world;
    const cfg = this.config;
    const nC = w.categoryNames.length;
    const d = w.dim;
    const u = this.user[s]!;
    const sOff = s * nC;
    const dOff = s * d;
    const out = this.out;
    // 1–2: utilities and the multinomial-logit choice with a no-click option.
    const pick = this.chooseFromSlate(s, slates, off, cfg.choice.noClickUtility);
    // 3: consequences of a click.
    let R = 0;
    const p = cfg.patience;
    if (pick >= 0) {
      const i = slates[off + pick]!;
      const raw = hiddenRating(w, u, i, this.drift, dOff) - cfg.satiation.ratingPenalty * itemSatiation(w, i, this.sat, sOff) + cfg.rating.noise * this.rng.normal();
      const rating = Math.min(5, Math.max(0.5, Math.round(raw * 2) / 2));
      const bought = this.rng.next() < purchaseProbability(cfg, rating) ? 1 : 0;
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
      this.consume(s, i);
    } else {
      this.patience[s] -= p.noClickCost;
      this.noClick(s);
    }
    // 4: recovery, drift, leaving.
    const decay = cfg.satiation.decay;
    for (let c = 0; c < nC; c++) this.sat[sOff + c] *= decay;
    const rho = cfg.drift.rho;
    const sigma = cfg.drift.sigma;
    if (sigma > 0) for (let a = 0; a < d; a++) this.drift[dOff + a] = rho * this.drift[dOff + a]! + sigma * this.rng.normal();
    this.patience[s] -= p.stepCost;
    this.record(s, R, this.slateG, this.slateA);
    const leave = this.rng.next() < p.leaveProb;
    out.done[s] = this.patience[s]! <= 0 || this.t[s]! >= cfg.horizon || leave ? 1 : 0;
  }
}
