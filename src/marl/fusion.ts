/**
 * Fusion of the agents' item scores into one score per item, as a sum of per-agent
 * contributions (so an explanation can show each agent's share and the shares add up exactly):
 *
 *   weighted  c_k(i) = w_k · q_k(i)                      (a learned or mixer-given weighted sum)
 *   borda     c_k(i) = w_k · (n − 1 − rank_k(i)) / (n − 1)   (Borda count over the candidates)
 *   rrf       c_k(i) = w_k / (rrfK + rank_k(i) + 1)          (reciprocal-rank fusion, Cormack 2009)
 *   meta      weighted, with a bandit (UCB1 over a fixed set of weight multipliers) choosing the
 *             multipliers per slate from the team reward that followed.
 *
 * Scores `q` are item-major: q[r·m + k] is agent k's value of candidate r.
 */
import { ConfigError } from '../errors.js';

export type FusionName = 'weighted' | 'borda' | 'rrf' | 'meta';
export const FUSIONS: readonly FusionName[] = ['weighted', 'borda', 'rrf', 'meta'];

export function checkFusion(f: string): FusionName {
  if (!(FUSIONS as readonly string[]).includes(f)) throw new ConfigError(`unknown fusion "${f}"; expected one of: ${FUSIONS.join(', ')}`, 'fusion');
  return f as FusionName;
}

/** Ranks (0 = best) of each candidate under each agent into `rank` (item-major like q); `order` is scratch (n). */
export function agentRanks(q: Float64Array, n: number, m: number, rank: Int32Array, order: Int32Array): void {
  for (let k = 0; k < m; k++) {
    for (let r = 0; r < n; r++) order[r] = r;
    // Ties broken by candidate position, so the ranking is reproducible.
    order.subarray(0, n).sort((a, b) => q[b * m + k]! - q[a * m + k]! || a - b);
    for (let p = 0; p < n; p++) rank[order[p]! * m + k] = p;
  }
}

/**
 * Contributions c (item-major n × m) and fused scores s (n) = Σ_k c. `rank`/`order` are scratch
 * buffers (used by borda and rrf).
 */
export function fuse(kind: 'weighted' | 'borda' | 'rrf', q: Float64Array, n: number, m: number, w: ArrayLike<number>, c: Float64Array, s: Float64Array, rank: Int32Array, order: Int32Array, rrfK = 60): void {
  if (kind !== 'weighted') agentRanks(q, n, m, rank, order);
  for (let r = 0; r < n; r++) {
    let t = 0;
    for (let k = 0; k < m; k++) {
      const x = r * m + k;
      let v: number;
      if (kind === 'weighted') v = w[k]! * q[x]!;
      else if (kind === 'borda') v = (w[k]! * (n - 1 - rank[x]!)) / Math.max(1, n - 1);
      else v = w[k]! / (rrfK + rank[x]! + 1);
      c[x] = v;
      t += v;
    }
    s[r] = t;
  }
}

/** Weight multipliers the meta-policy chooses from: all ones, and each agent doubled, halved and (m > 1) dropped. */
export function metaArms(m: number): Float64Array[] {
  const arms: Float64Array[] = [new Float64Array(m).fill(1)];
  for (let k = 0; k < m; k++) {
    for (const x of m > 1 ? [2, 0.5, 0] : [2, 0.5]) {
      const a = new Float64Array(m).fill(1);
      a[k] = x;
      arms.push(a);
    }
  }
  return arms;
}

/** UCB1 (Auer et al. 2002) over fusion-weight arms, rewarded with the team reward of the slate. */
export class MetaFusion {
  readonly arms: Float64Array[];
  counts: Float64Array;
  sums: Float64Array;
  total = 0;
  constructor(
    m: number,
    readonly c = 0.5,
  ) {
    this.arms = metaArms(m);
    this.counts = new Float64Array(this.arms.length);
    this.sums = new Float64Array(this.arms.length);
  }

  /** Arm to play: UCB1 while exploring, the best mean otherwise (ties → lowest index). */
  choose(explore: boolean): number {
    let best = 0;
    let bestV = -Infinity;
    for (let a = 0; a < this.arms.length; a++) {
      const n = this.counts[a]!;
      if (explore && n === 0) return a;
      const mean = n > 0 ? this.sums[a]! / n : -Infinity;
      const v = explore ? mean + this.c * Math.sqrt((2 * Math.log(Math.max(1, this.total))) / n) : mean;
      if (v > bestV) (bestV = v), (best = a);
    }
    return best;
  }

  reward(arm: number, r: number): void {
    this.counts[arm]! += 1;
    this.sums[arm]! += r;
    this.total++;
  }
}
