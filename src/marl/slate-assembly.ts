/**
 * Slate assembly from the fused scores (scores.ts): greedy by score or position by position
 * (`dcg` slotting), ε-greedy swaps while training, and the Plackett–Luce sample the central
 * critic's actors act with. Also the record the team keeps of every slate it assembled.
 */
import { exploreSlate } from '../agents/explore.js';
import type { Rng } from '../util/rng.js';
import type { TeamScores } from './scores.js';

export interface ActRecord {
  cands: Int32Array;
  arm: number;
  /** Per shown item: agent contributions (K × m) and fused score. */
  contrib: Float64Array;
  fused: Float64Array;
  /**
   * The item agent's feature rows as they were when the team acted, for the shown items (K × d) and,
   * for the critics' actor step, the candidates (n × d). Its features (exposure, CTR, recency, exposure value) change as soon as
   * the slate is shown, and again with every other session's slates before the feedback arrives;
   * learning from the later rows would fit values to states the team never acted in (every shown
   * item would look "just shown", with recency 1). Null when the team has no item agent.
   */
  candRows: Float64Array | null;
  shownRows: Float64Array | null;
}

/**
 * Indices (into the candidate list) of the slate, top position first, into `out`: the k best
 * fused scores, or under `dcg` slotting the best value at each position in turn. The chosen rows'
 * values, contributions and scores are then those at their positions (`placeRow`).
 */
export function greedySlate(sc: TeamScores, n: number, k: number, out: Int32Array): number {
  const kk = Math.min(k, n);
  const used = sc.order;
  const m = sc.m;
  for (let r = 0; r < n; r++) used[r] = 0;
  for (let p = 0; p < kk; p++) {
    const e = sc.examineAt(p);
    let best = -1;
    let bestV = -Infinity;
    for (let r = 0; r < n; r++) {
      if (used[r]) continue;
      let v = sc.s[r]!;
      if (e !== 1 && sc.mixer?.positionValue) v = sc.mixer.positionValue(r, e);
      else if (e !== 1) {
        v = 0;
        for (let a = 0; a < m; a++) v += sc.c[r * m + a]! * (sc.clickDriven[a] ? e : 1);
      }
      if (best < 0 || v > bestV) (best = r), (bestV = v);
    }
    used[best] = 1;
    out[p] = best;
  }
  for (let p = 0; p < kk; p++) sc.placeRow(out[p]!, p);
  return kk;
}

/** ε-greedy: swap in candidates (positions into the n candidates) drawn uniformly from those not in the slate. */
export function exploreGreedySlate(rng: Rng, eps: number, n: number, pick: Int32Array, prop: Float32Array): void {
  const kk = pick.length;
  const chosen = new Uint8Array(n);
  for (let p = 0; p < kk; p++) chosen[pick[p]!] = 1;
  exploreSlate(rng, eps, pick, prop, n - kk, (current) => {
    let r: number;
    do r = rng.int(n);
    while (chosen[r]);
    chosen[current] = 0;
    chosen[r] = 1;
    return r;
  });
}

/** Plackett–Luce sample of kk candidates from softmax(s / T); propensity = probability of each pick. */
export function samplePlackettLuce(rng: Rng, s: Float64Array, T: number, n: number, kk: number, pick: Int32Array, prop: Float32Array): void {
  const used = new Uint8Array(n);
  let mx = -Infinity;
  for (let r = 0; r < n; r++) mx = Math.max(mx, s[r]!);
  const e = new Float64Array(n);
  let tot = 0;
  for (let r = 0; r < n; r++) tot += e[r] = Math.exp((s[r]! - mx) / T);
  for (let p = 0; p < kk; p++) {
    let x = rng.next() * tot;
    let r = -1;
    for (let j = 0; j < n; j++) {
      if (used[j]) continue;
      r = j;
      x -= e[j]!;
      if (x < 0) break;
    }
    used[r] = 1;
    pick[p] = r;
    prop[p] = Math.min(1, Math.max(1e-12, e[r]! / tot));
    tot -= e[r]!;
  }
}
