/**
 * Cold-start helpers shared by the content, hybrid and popularity-by-genre models:
 * content-estimated popularity for new items, recency weights of a history, and the blend used
 * for new or nearly-new users. (The bounded popularity signal itself is util/log-popularity.ts.)
 */

/**
 * Popularity of each new item estimated from content: the similarity-weighted mean normalised
 * popularity of its `k` most similar known items (cosine of unit vectors). Known items keep their
 * own. Lets a new item that looks like what many people watch rank above an obscure one.
 */
export function contentPopularity(vectors: Float32Array, dim: number, pop: Float32Array, counts: Int32Array, k: number): Float32Array {
  const n = counts.length;
  const out = Float32Array.from(pop);
  const warm: number[] = [];
  for (let i = 0; i < n; i++) if (counts[i]! > 0) warm.push(i);
  if (warm.length === 0 || k <= 0) return out;
  const kk = Math.min(k, warm.length);
  const bestSim = new Float64Array(kk);
  const bestPop = new Float64Array(kk);
  for (let i = 0; i < n; i++) {
    if (counts[i]! > 0) continue;
    const oi = i * dim;
    let norm = 0;
    for (let m = 0; m < dim; m++) norm += vectors[oi + m]! * vectors[oi + m]!;
    if (norm === 0) continue; // no text: nothing to go on
    bestSim.fill(-Infinity);
    let size = 0;
    // Insertion into a small sorted buffer (k is ~20, so this beats a heap).
    const offer = (s: number, j: number): void => {
      if (size < kk || s > bestSim[size - 1]!) {
        let p = size < kk ? size++ : size - 1;
        while (p > 0 && bestSim[p - 1]! < s) {
          bestSim[p] = bestSim[p - 1]!;
          bestPop[p] = bestPop[p - 1]!;
          p--;
        }
        bestSim[p] = s;
        bestPop[p] = pop[j]!;
      }
    };
    // Four warm items at a time: four independent sums (each in its own order, as one at a time
    // would add them) share the loads of item i's vector; offered in warm order.
    let w = 0;
    for (; w + 4 <= warm.length; w += 4) {
      const j0 = warm[w]!;
      const j1 = warm[w + 1]!;
      const j2 = warm[w + 2]!;
      const j3 = warm[w + 3]!;
      const o0 = j0 * dim;
      const o1 = j1 * dim;
      const o2 = j2 * dim;
      const o3 = j3 * dim;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let m = 0; m < dim; m++) {
        const x = vectors[oi + m]!;
        s0 += x * vectors[o0 + m]!;
        s1 += x * vectors[o1 + m]!;
        s2 += x * vectors[o2 + m]!;
        s3 += x * vectors[o3 + m]!;
      }
      offer(s0, j0);
      offer(s1, j1);
      offer(s2, j2);
      offer(s3, j3);
    }
    for (; w < warm.length; w++) {
      const j = warm[w]!;
      const oj = j * dim;
      let s = 0;
      for (let m = 0; m < dim; m++) s += vectors[oi + m]! * vectors[oj + m]!;
      offer(s, j);
    }
    let num = 0;
    let den = 0;
    for (let t = 0; t < size; t++) {
      const w = Math.max(0, bestSim[t]!);
      num += w * bestPop[t]!;
      den += w;
    }
    out[i] = den > 0 ? num / den : 0;
  }
  return out;
}

/**
 * Recency weights of a history of length n (oldest first): 2^(−age/halfLife) where age counts
 * interactions back from the newest (0 for the newest); halfLife 0 or ∞ gives equal weights.
 */
export function recencyWeight(position: number, n: number, halfLife: number): number {
  if (!(halfLife > 0) || !Number.isFinite(halfLife)) return 1;
  return Math.pow(2, -(n - 1 - position) / halfLife);
}

/**
 * Weight of popularity for a user with `n` known interactions: full (`1`) for a new user, falling
 * linearly to 0 at `threshold` interactions. New users get popularity; nearly-new users a mix of
 * their (thin) content profile and popularity; established users their profile.
 */
export function coldUserPopularityShare(n: number, threshold: number): number {
  if (threshold <= 0) return n === 0 ? 1 : 0;
  return Math.max(0, 1 - n / threshold);
}
