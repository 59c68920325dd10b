/**
 * Top-K ranking metrics of ../shared/PROTOCOLS.md (P1), one user at a time, plus the
 * catalogue-level metrics computed over all users' lists (coverage, exposure Gini, novelty,
 * intra-list diversity).
 *
 * A user's ranked list is an Int32Array of item indices (best first, at most K long); the ground
 * truth is given as a membership mask over item indices (`truth[i] !== 0`) and its size |T_u|,
 * so that a metric never allocates and never searches.
 */

/** Per-user ranking metrics at K for one list. Fields are written into `out` (no allocation). */
export interface UserMetrics {
  hits: number;
  precision: number;
  recall: number;
  f1: number;
  ndcg: number;
  /** Average precision at K: Σ_r P@r·rel_r / min(|T_u|, K). */
  ap: number;
  /** Reciprocal rank of the first hit within K, 0 when none. */
  rr: number;
  /** Hit rate: 1 when at least one of the K items is relevant. */
  hr: number;
}

export function emptyUserMetrics(): UserMetrics {
  return { hits: 0, precision: 0, recall: 0, f1: 0, ndcg: 0, ap: 0, rr: 0, hr: 0 };
}

/** 1/log2(r+1) for r = 1..n, the DCG discount; cached because every user needs the same prefix. */
const discountCache: number[] = [0];
function discount(rank: number): number {
  while (discountCache.length <= rank) {
    const r = discountCache.length;
    discountCache.push(1 / Math.log2(r + 1));
  }
  return discountCache[rank]!;
}

/** Ideal DCG with `n` relevant items at K: Σ_{r≤min(n,K)} 1/log2(r+1). */
export function idealDcg(nRelevant: number, k: number): number {
  let s = 0;
  const m = Math.min(nRelevant, k);
  for (let r = 1; r <= m; r++) s += discount(r);
  return s;
}

/**
 * Metrics of one ranked list against one user's ground truth.
 * `list` may be shorter than `k` (fewer candidates than K); precision still divides by K,
 * as P1 defines it (hits/10).
 */
export function userMetrics(list: Int32Array, truth: Uint8Array, nTruth: number, k: number, out: UserMetrics = emptyUserMetrics()): UserMetrics {
  let hits = 0;
  let dcg = 0;
  let apSum = 0;
  let rr = 0;
  const n = Math.min(list.length, k);
  for (let r = 1; r <= n; r++) {
    if (truth[list[r - 1]!]) {
      hits++;
      dcg += discount(r);
      apSum += hits / r;
      if (rr === 0) rr = 1 / r;
    }
  }
  const precision = k > 0 ? hits / k : 0;
  const recall = nTruth > 0 ? hits / nTruth : 0;
  out.hits = hits;
  out.precision = precision;
  out.recall = recall;
  out.f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  const idcg = idealDcg(nTruth, k);
  out.ndcg = idcg > 0 ? dcg / idcg : 0;
  const apDen = Math.min(nTruth, k);
  out.ap = apDen > 0 ? apSum / apDen : 0;
  out.rr = rr;
  out.hr = hits > 0 ? 1 : 0;
  return out;
}

/** |∪ lists| / catalogueSize, from per-item exposure counts (how many lists hold the item). */
export function coverage(exposure: Int32Array, catalogueSize: number): number {
  if (catalogueSize <= 0) return 0;
  let covered = 0;
  for (let i = 0; i < exposure.length; i++) if (exposure[i]! > 0) covered++;
  return covered / catalogueSize;
}

/**
 * Gini coefficient of exposure over the catalogue: 0 when every catalogue item is shown equally
 * often, → 1 when all exposure goes to one item. `inCatalogue` restricts the population (items
 * that could have been recommended); items outside it are ignored even if exposed.
 * G = Σ_i (2i − n − 1)·x_(i) / (n·Σx) over exposures sorted ascending, i = 1..n.
 */
export function exposureGini(exposure: Int32Array, inCatalogue?: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < exposure.length; i++) if (!inCatalogue || inCatalogue[i]) n++;
  if (n === 0) return 0;
  const xs = new Float64Array(n);
  let j = 0;
  let total = 0;
  for (let i = 0; i < exposure.length; i++) {
    if (inCatalogue && !inCatalogue[i]) continue;
    xs[j++] = exposure[i]!;
    total += exposure[i]!;
  }
  if (total === 0) return 0;
  xs.sort();
  let acc = 0;
  for (let i = 0; i < n; i++) acc += (2 * (i + 1) - n - 1) * xs[i]!;
  return acc / (n * total);
}

/**
 * Self-information of each item, −log2 p(i), where p(i) is the share of training users who
 * interacted with i. Items no training user touched get NaN (they are not candidates).
 */
export function selfInformation(itemUserCounts: Int32Array, nUsers: number): Float64Array {
  const out = new Float64Array(itemUserCounts.length);
  for (let i = 0; i < out.length; i++) {
    const c = itemUserCounts[i]!;
    out[i] = c > 0 && nUsers > 0 ? Math.log2(nUsers / c) : NaN;
  }
  return out;
}

/** Mean self-information of the items in one list (NaN for an empty list). */
export function listNovelty(list: Int32Array, info: Float64Array, k: number): number {
  const n = Math.min(list.length, k);
  if (n === 0) return NaN;
  let s = 0;
  for (let r = 0; r < n; r++) s += info[list[r]!]!;
  return s / n;
}

/**
 * Item → category index lists in CSR form (indices sorted ascending within an item), so the
 * pairwise similarity in `listDiversity` is a merge of two short sorted runs.
 */
export interface ItemCategories {
  indptr: Int32Array;
  indices: Int32Array;
  names: string[];
}

export function itemCategoriesFrom(categories: readonly (readonly string[] | undefined)[], nItems: number): ItemCategories {
  const names: string[] = [];
  const index = new Map<string, number>();
  const indptr = new Int32Array(nItems + 1);
  const flat: number[] = [];
  for (let i = 0; i < nItems; i++) {
    const cats = categories[i];
    if (cats) {
      const ids = new Set<number>();
      for (const c of cats) {
        let id = index.get(c);
        if (id === undefined) {
          id = names.length;
          index.set(c, id);
          names.push(c);
        }
        ids.add(id);
      }
      flat.push(...[...ids].sort((a, b) => a - b));
    }
    indptr[i + 1] = flat.length;
  }
  return { indptr, indices: Int32Array.from(flat), names };
}

/**
 * Intra-list diversity: mean over pairs of categorised items in the list of 1 − cosine(c_i, c_j)
 * on binary category vectors (cosine = |C_i ∩ C_j| / √(|C_i|·|C_j|)). Items without categories are
 * left out of the pairs; a list with fewer than two categorised items gives NaN (not averaged).
 */
export function listDiversity(list: Int32Array, cats: ItemCategories, k: number): number {
  const n = Math.min(list.length, k);
  const { indptr, indices } = cats;
  let pairs = 0;
  let sum = 0;
  for (let a = 0; a < n; a++) {
    const ia = list[a]!;
    const sa = indptr[ia]!;
    const ea = indptr[ia + 1]!;
    if (ea === sa) continue;
    for (let b = a + 1; b < n; b++) {
      const ib = list[b]!;
      const sb = indptr[ib]!;
      const eb = indptr[ib + 1]!;
      if (eb === sb) continue;
      let common = 0;
      let x = sa;
      let y = sb;
      while (x < ea && y < eb) {
        const cx = indices[x]!;
        const cy = indices[y]!;
        if (cx === cy) {
          common++;
          x++;
          y++;
        } else if (cx < cy) x++;
        else y++;
      }
      sum += 1 - common / Math.sqrt((ea - sa) * (eb - sb));
      pairs++;
    }
  }
  return pairs > 0 ? sum / pairs : NaN;
}

/** Mean of the finite entries (NaN entries are users for whom a metric is undefined). */
export function finiteMean(values: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) {
      s += v;
      n++;
    }
  }
  return n > 0 ? s / n : NaN;
}
