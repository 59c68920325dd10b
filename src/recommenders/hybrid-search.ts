/**
 * The hybrid's weight search (./hybrid.ts `tune`): every weight vector of a simplex grid is scored
 * by the mean validation NDCG@k of the fused ranking. The rankings are those of fusing each
 * member's contribution over all items and taking the top k of P1's candidates, but computed at a
 * fraction of the cost, with the same floating-point operations in the same order, so the chosen
 * weights and NDCG are identical to the last bit:
 * - users are taken one at a time (every grid vector for a user, then the next user), so only one
 *   user's contributions are held, and they are read from cache instead of from memory per vector;
 *   each vector's NDCG sum still adds the users in ascending order;
 * - only the user's candidates are fused and ranked (the other items were masked out of the top k
 *   anyway), from a packed copy of the contributions at those items;
 * - members with weight 0 are skipped: each adds 0 · c = ±0 to a sum that starts at +0 and is
 *   never −0, which leaves it unchanged — unless c is not finite (0 · ∞ is NaN), so a user with a
 *   non-finite contribution at a candidate is fused over every member.
 * The top k of the packed candidates, mapped back to item indices, is the top k over all items:
 * candidates keep ascending item order, so ties still go to the lower item index.
 */
import { topK } from '../util/topk.js';
import { listNdcg } from './validation-ndcg.js';

export class WeightGridSearch {
  /** Σ over the users added so far of each grid vector's NDCG@k, users in the order added. */
  readonly sums: Float64Array;
  private users = 0;
  /** Members with a non-zero weight, per grid vector. */
  private readonly nonZero: Int32Array[];
  private readonly allMembers: Int32Array;
  private readonly truth: Uint8Array;
  private packed = new Float32Array(0);

  constructor(
    readonly grid: readonly Float64Array[],
    readonly members: number,
    nItems: number,
    readonly k: number,
  ) {
    this.sums = new Float64Array(grid.length);
    this.nonZero = grid.map((w) => Int32Array.from({ length: members }, (_, m) => m).filter((m) => w[m] !== 0));
    this.allMembers = Int32Array.from({ length: members }, (_, m) => m);
    this.truth = new Uint8Array(nItems);
  }

  /**
   * Score every grid vector on one user: `contrib[m]` is member m's contribution over all items,
   * `candidates` the items that may be recommended (ascending), `relevant` the user's validation
   * items (repeats allowed).
   */
  addUser(contrib: readonly Float32Array[], candidates: Int32Array, relevant: Int32Array): void {
    const M = this.members;
    if (contrib.length !== M) throw new RangeError(`weight search: contrib holds ${contrib.length} members, the grid has ${M}`);
    const nc = candidates.length;
    if (this.packed.length < M * nc) this.packed = new Float32Array(M * nc);
    const packed = this.packed;
    let finite = true;
    for (let m = 0; m < M; m++) {
      const c = contrib[m]!;
      const o = m * nc;
      for (let p = 0; p < nc; p++) {
        const x = c[candidates[p]!]!;
        packed[o + p] = x;
        if (!Number.isFinite(x)) finite = false;
      }
    }
    const { truth, k } = this;
    let nTruth = 0;
    for (const i of relevant) {
      if (!truth[i]) {
        truth[i] = 1;
        nTruth++;
      }
    }
    const fused = new Float32Array(nc);
    for (let g = 0; g < this.grid.length; g++) {
      const w = this.grid[g]!;
      fuseRows(packed, nc, w, finite ? this.nonZero[g]! : this.allMembers, fused);
      const list = topK(fused, k).items;
      for (let r = 0; r < list.length; r++) list[r] = candidates[list[r]!]!;
      this.sums[g]! += listNdcg(list, truth, nTruth, k);
    }
    for (const i of relevant) truth[i] = 0;
    this.users++;
  }

  /** The first grid vector with the highest mean NDCG (`ndcg > best`, starting from `initial`). */
  best(initial: { weights: Float64Array; ndcg: number }): { weights: Float64Array; ndcg: number } {
    let best = initial;
    for (let g = 0; g < this.grid.length; g++) {
      const ndcg = this.users > 0 ? this.sums[g]! / this.users : 0;
      if (ndcg > best.ndcg) best = { weights: this.grid[g]!, ndcg };
    }
    return best;
  }
}

/**
 * out[p] = Σ_m w[m] · packed[m·nc + p] over `members` in order, summed in float64 from +0 and
 * rounded once to float32: the hybrid's fusion of a known item. Short member lists (the common
 * case) get unrolled loops that do the same additions.
 */
function fuseRows(packed: Float32Array, nc: number, w: Float64Array, members: Int32Array, out: Float32Array): void {
  const L = members.length;
  if (L === 1) {
    const a = members[0]! * nc;
    const wa = w[members[0]!]!;
    for (let p = 0; p < nc; p++) out[p] = 0 + wa * packed[a + p]!;
  } else if (L === 2) {
    const a = members[0]! * nc;
    const b = members[1]! * nc;
    const wa = w[members[0]!]!;
    const wb = w[members[1]!]!;
    for (let p = 0; p < nc; p++) out[p] = 0 + wa * packed[a + p]! + wb * packed[b + p]!;
  } else if (L === 3) {
    const a = members[0]! * nc;
    const b = members[1]! * nc;
    const c = members[2]! * nc;
    const wa = w[members[0]!]!;
    const wb = w[members[1]!]!;
    const wc = w[members[2]!]!;
    for (let p = 0; p < nc; p++) out[p] = 0 + wa * packed[a + p]! + wb * packed[b + p]! + wc * packed[c + p]!;
  } else {
    for (let p = 0; p < nc; p++) {
      let s = 0;
      for (let t = 0; t < L; t++) {
        const m = members[t]!;
        s += w[m]! * packed[m * nc + p]!;
      }
      out[p] = s;
    }
  }
}
