/**
 * BPR's SGD loop (src/recommenders/bpr.ts) as one kernel call per epoch: the pure-JS twin of
 * src/nn/native/bpr.c, and its signature.
 *
 * The two do the same double-precision operations in the same order on float32 factors (each
 * update computed in double, rounded to float32 when stored), so for a seed they give the same
 * factors: bit for bit, but for the rare case where V8's exp and libm's differ in the last bit and
 * that bit survives the rounding to float32 (see bpr.c).
 */

/**
 * `samples` SGD steps of BPR-MF on row-major factors U (nUsers × (factors+1), last column the
 * constant 1) and V (nItems × (factors+1), last column the item bias).
 * - Each step draws an interaction li (its user userOf[li], its item items[li] the positive) and a
 *   negative: active[draw] when flags & 1 (uniform over items with data), else items[draw]
 *   (popularity). A negative equal to the positive, or (flags & 2) one of the user's items
 *   (sorted[indptr[u] .. indptr[u+1]), ascending), is skipped.
 * - state: the sfc32 state of src/util/rng.ts (4 words), advanced in place; draws are
 *   floor(t / 2^32 · n) as Rng.int.
 * - stats += [pairs ranked right before their update, skipped samples, CPU seconds of this thread]
 *   (the JS kernel cannot read a thread's CPU clock and adds 0 there).
 */
export type BprEpochKernel = (
  U: Float32Array,
  V: Float32Array,
  factors: number,
  lr: number,
  reg: number,
  userOf: Int32Array,
  items: Int32Array,
  sorted: Int32Array,
  indptr: Int32Array,
  active: Int32Array,
  flags: number,
  state: Uint32Array,
  samples: number,
  stats: Float64Array,
) => void;

/** flags bits of BprEpochKernel. */
export const BPR_UNIFORM = 1;
export const BPR_VERIFY = 2;

/** What the kernel reads and writes; SharedArrayBuffer-backed when worker threads train too. */
export interface BprBuffers {
  U: Float32Array;
  V: Float32Array;
  /** Owner (user) of each interaction. */
  userOf: Int32Array;
  items: Int32Array;
  /** Each user's items ascending (rows by indptr), for the negative check. */
  sorted: Int32Array;
  indptr: Int32Array;
  /** Items with ≥ 1 training interaction: the uniform negatives. */
  active: Int32Array;
}

export interface BprStepParams {
  factors: number;
  lr: number;
  reg: number;
  /** BPR_UNIFORM | BPR_VERIFY. */
  flags: number;
}

/** `samples` SGD steps on `b` (one thread's share of an epoch); `stats` as BprEpochKernel's. */
export function runBprSamples(kernel: BprEpochKernel, b: BprBuffers, p: BprStepParams, state: Uint32Array, samples: number, stats: Float64Array): void {
  kernel(b.U, b.V, p.factors, p.lr, p.reg, b.userOf, b.items, b.sorted, b.indptr, b.active, p.flags, state, samples, stats);
}

/** A Hogwild fit's samples as chunks: `chunksPerEpoch` chunks of ≤ `chunk` samples per epoch. */
export interface BprChunkPlan {
  chunk: number;
  nnz: number;
  chunksPerEpoch: number;
  iterations: number;
}

const scratch = new Float64Array(3);

/**
 * Hogwild's work sharing: claim chunks of the whole fit (every epoch's samples, epoch after epoch)
 * from the shared counter counters[0] and run each on this thread's sampler `state`, until none
 * is left (returns false) or `limit` chunks were run (returns true); counters[1] counts the chunks
 * completed. A thread that gets less CPU (a busy machine) simply claims fewer chunks, and no
 * thread waits for another at an epoch's end. acc (length 4) += [correct and skipped samples of
 * the last epoch's chunks, CPU seconds of every chunk (as BprEpochKernel's stats), samples run]:
 * the last says how much of the fit this thread did, which is how tests see that every thread
 * took part (the calling thread alone would otherwise finish the fit unnoticed).
 */
export function runBprChunks(
  kernel: BprEpochKernel,
  b: BprBuffers,
  p: BprStepParams,
  state: Uint32Array,
  counters: Int32Array,
  plan: BprChunkPlan,
  limit: number,
  acc: Float64Array,
): boolean {
  const chunks = plan.chunksPerEpoch * plan.iterations;
  for (let n = 0; n < limit; n++) {
    const c = Atomics.add(counters, 0, 1);
    if (c >= chunks) return false;
    const epoch = Math.floor(c / plan.chunksPerEpoch);
    const from = (c - epoch * plan.chunksPerEpoch) * plan.chunk;
    const samples = Math.min(plan.chunk, plan.nnz - from);
    scratch.fill(0);
    runBprSamples(kernel, b, p, state, samples, scratch);
    if (epoch === plan.iterations - 1) {
      acc[0]! += scratch[0]!;
      acc[1]! += scratch[1]!;
    }
    acc[2]! += scratch[2]!;
    acc[3]! += samples;
    Atomics.add(counters, 1, 1);
  }
  return true;
}

/** Binary search for `x` in the sorted `a[lo, hi)`. */
function contains(a: Int32Array, lo: number, hi: number, x: number): boolean {
  hi--;
  while (lo <= hi) {
    const m = (lo + hi) >>> 1;
    const v = a[m]!;
    if (v === x) return true;
    if (v < x) lo = m + 1;
    else hi = m - 1;
  }
  return false;
}

export const bprEpochJs: BprEpochKernel = (U, V, factors, lr, reg, userOf, items, sorted, indptr, active, flags, state, samples, stats) => {
  const F = factors + 1;
  const K = factors;
  const nnz = items.length;
  const nActive = active.length;
  const uniform = (flags & BPR_UNIFORM) !== 0;
  const verify = (flags & BPR_VERIFY) !== 0;
  let correct = 0;
  let skipped = 0;
  // sfc32 inlined on local state (the same stream as Rng): a method call per draw costs more
  // than its arithmetic.
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  for (let s = 0; s < samples; s++) {
    let t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    const li = Math.floor((t / 4294967296) * nnz);
    t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    const u = userOf[li]!;
    const pos = items[li]!;
    const neg = uniform ? active[Math.floor((t / 4294967296) * nActive)]! : items[Math.floor((t / 4294967296) * nnz)]!;
    if (neg === pos || (verify && contains(sorted, indptr[u]!, indptr[u + 1]!, neg))) {
      skipped++;
      continue;
    }
    const uo = u * F;
    const po = pos * F;
    const no = neg * F;
    // x = u · (p − n) over 8 lanes (lane f mod 8), summed in bpr.c's order: 8 independent sums
    // are also faster than one.
    let l0 = 0, l1 = 0, l2 = 0, l3 = 0, l4 = 0, l5 = 0, l6 = 0, l7 = 0;
    let f = 0;
    for (; f + 8 <= F; f += 8) {
      l0 += U[uo + f]! * (V[po + f]! - V[no + f]!);
      l1 += U[uo + f + 1]! * (V[po + f + 1]! - V[no + f + 1]!);
      l2 += U[uo + f + 2]! * (V[po + f + 2]! - V[no + f + 2]!);
      l3 += U[uo + f + 3]! * (V[po + f + 3]! - V[no + f + 3]!);
      l4 += U[uo + f + 4]! * (V[po + f + 4]! - V[no + f + 4]!);
      l5 += U[uo + f + 5]! * (V[po + f + 5]! - V[no + f + 5]!);
      l6 += U[uo + f + 6]! * (V[po + f + 6]! - V[no + f + 6]!);
      l7 += U[uo + f + 7]! * (V[po + f + 7]! - V[no + f + 7]!);
    }
    for (let l = 0; f < F; f++, l++) {
      const v = U[uo + f]! * (V[po + f]! - V[no + f]!);
      if (l === 0) l0 += v;
      else if (l === 1) l1 += v;
      else if (l === 2) l2 += v;
      else if (l === 3) l3 += v;
      else if (l === 4) l4 += v;
      else if (l === 5) l5 += v;
      else l6 += v;
    }
    const x = (l0 + l4 + (l2 + l6)) + (l1 + l5 + (l3 + l7));
    // z = σ(−x): the gradient weight of −ln σ(x).
    const z = 1 / (1 + Math.exp(x));
    if (z < 0.5) correct++;
    for (let g = 0; g < K; g++) {
      const uf = U[uo + g]!;
      const pf = V[po + g]!;
      const nf = V[no + g]!;
      U[uo + g] = uf + lr * (z * (pf - nf) - reg * uf);
      V[po + g] = pf + lr * (z * uf - reg * pf);
      V[no + g] = nf + lr * (-z * uf - reg * nf);
    }
    // Column K: the item bias (the user's entry there is the constant 1).
    V[po + K] += lr * (z - reg * V[po + K]!);
    V[no + K] += lr * (-z - reg * V[no + K]!);
  }
  state[0] = a;
  state[1] = b;
  state[2] = c;
  state[3] = d;
  stats[0]! += correct;
  stats[1]! += skipped;
};
