/**
 * The team reward and its decomposition over slate positions.
 *
 * r = R + λ·G + α·A (λ, α as the environment's; G and A are slate means). Each shown item p gets
 * ρ_p = R·click_p/#clicks + (λ·ĝ_p + α·â_p)/K, where ĝ_p, â_p are the item agent's and content
 * agent's per-item estimates of g and a (linear "stake" models fitted to the slate means) shifted
 * by the slate's residual, so Σ_p ρ_p = r exactly. With the per-item exposure values known
 * (`parts.itemG`), G is split exactly instead. The per-item TD targets are y_p = ρ_p + γ·share_p·V(s')
 * with the continuation shares below.
 */
import type { Transition } from '../agents/types.js';
import { LinearValue } from './mixer.js';
import type { TeamConfig } from './team-config.js';
import { ITEM_FEATURES, type ContentView, type ItemView } from './views.js';

/**
 * Which shown items the next state's value is credited to in the TD targets (shares sum to 1).
 * `uniform`: every position gets 1/K. `clicks` (SlateQ's attribution, Ie et al. 2019): the session
 * goes on from what the user chose, so the continuation goes to the clicked items; a slate without
 * a click (the user chose nothing) spreads it evenly. Under `uniform`, features common to a slate's
 * items (cold, never shown) absorb the next slate's value whether or not anyone clicked them, and
 * with γ = 0.8 that loop let some seeds drift onto cold items (docs/benchmarks.md).
 */
export function continuationShares(clicks: ArrayLike<number> | undefined, K: number, credit: 'clicks' | 'uniform'): Float64Array {
  const share = new Float64Array(K).fill(1 / K);
  if (credit !== 'clicks' || !clicks) return share;
  let n = 0;
  for (let p = 0; p < K; p++) n += clicks[p] ? 1 : 0;
  if (n === 0) return share;
  for (let p = 0; p < K; p++) share[p] = clicks[p] ? 1 / n : 0;
  return share;
}

/** The item agent's and content agent's stake models and the per-position split of the team reward. */
export class RewardSplit {
  /** ĝ: the item agent's estimate of an item's exposure value g_i from its features. */
  readonly stakeG: LinearValue;
  /** â: the content agent's estimate of an item's attractiveness a_i from its content vector. */
  readonly stakeA: LinearValue;
  private readonly row: Float64Array;

  constructor(
    private readonly config: TeamConfig,
    private readonly itemView: ItemView,
    private readonly contentView: ContentView,
  ) {
    this.stakeG = new LinearValue(itemView.dim, config.auxLr);
    // The stake model starts from the team's own definition of G (b_i shrunk by exposure over the
    // fair share), which the item agent's `exposureValue` feature computes from the team's
    // exposure log, and learns corrections.
    this.stakeG.theta[ITEM_FEATURES.indexOf('exposureValue')] = config.exposureInit;
    this.stakeA = new LinearValue(contentView.cdim + 1, config.auxLr);
    this.row = new Float64Array(itemView.dim);
  }

  /**
   * Per-position shares of the team reward (Σ = R + λG + αA exactly) into `rho` and the stake parts
   * (R, λG, αA per position) into `stakes` (K × 3); also trains the stake models on the slate means
   * of G and A. `shownRows`: the item agent's rows when the team acted (see ActRecord).
   */
  decompose(t: Transition, rho: Float64Array, stakes: Float64Array, shownRows: Float64Array | null): void {
    const items = t.slate.items;
    const K = items.length;
    const parts = t.parts ?? { R: t.reward, G: 0, A: 0 };
    const { lambda, alpha } = this.config;
    let nClicks = 0;
    if (t.clicks) for (let p = 0; p < K; p++) nClicks += t.clicks[p] ? 1 : 0;
    const gHat = new Float64Array(K);
    const aHat = new Float64Array(K);
    const di = this.itemView.dim;
    const dc = this.contentView.cdim;
    const gm = new Float64Array(di);
    const am = new Float64Array(dc + 1);
    const row = this.row;
    // With the per-item exposure values known (parts.itemG), G is split exactly and the stake model
    // learns g_i item by item; otherwise it is fitted to the slate mean and the residual is shared.
    const exactG = parts.itemG !== undefined && parts.itemG.length >= K;
    for (let p = 0; p < K; p++) {
      // The item's row when the team acted (see ActRecord), else as of now.
      if (shownRows && shownRows.length >= (p + 1) * di) row.set(shownRows.subarray(p * di, (p + 1) * di));
      else this.itemView.row(items[p]!, row, 0);
      gHat[p] = this.stakeG.value(row, 0);
      if (exactG) this.stakeG.accumulate(row, 0, parts.itemG![p]! - gHat[p]!);
      else for (let j = 0; j < di; j++) gm[j]! += row[j]! / K;
      const o = items[p]! * dc;
      let a = this.stakeA.theta[dc]!;
      for (let j = 0; j < dc; j++) {
        const x = this.contentView.vectors[o + j]!;
        a += this.stakeA.theta[j]! * x;
        am[j]! += x / K;
      }
      am[dc]! += 1 / K;
      aHat[p] = a;
    }
    let gMean = 0;
    let aMean = 0;
    for (let p = 0; p < K; p++) (gMean += gHat[p]! / K), (aMean += aHat[p]! / K);
    const dG = parts.G - gMean;
    const dA = parts.A - aMean;
    if (!exactG) this.stakeG.accumulate(gm, 0, dG);
    this.stakeA.accumulate(am, 0, dA);
    this.stakeG.apply();
    this.stakeA.apply();
    let gSum = 0;
    if (exactG) for (let p = 0; p < K; p++) gSum += parts.itemG![p]!;
    for (let p = 0; p < K; p++) {
      const rc = t.clicks && nClicks > 0 && t.clicks[p] ? parts.R / nClicks : t.clicks ? 0 : parts.R / K;
      const g = exactG ? (lambda * parts.G * parts.itemG![p]!) / Math.max(1e-12, gSum) : (lambda * (gHat[p]! + dG)) / K;
      const a = (alpha * (aHat[p]! + dA)) / K;
      rho[p] = rc + g + a;
      stakes[p * 3] = rc;
      stakes[p * 3 + 1] = g;
      stakes[p * 3 + 2] = a;
    }
  }
}
