/**
 * Factor-scoring kernels: one user vector against every row of a row-major item-factor matrix,
 * the inner loop of every factor recommender's `scoreAll` (10,000 items × 64 dims per request
 * in the server). V8 has no auto-vectorisation for scalar loops, so the speed comes from
 * instruction-level parallelism: four items are scored together, which gives four independent
 * accumulator chains and loads each user component once for four rows (stack.md §4.3 measured
 * one accumulator at 1.08 ms and four at 0.61 ms for 10k × 64).
 *
 * The user vector is first copied into a Float64Array scratch (float32 → float64 is exact), so
 * the hot loop always sees one element kind whatever the caller passes (monomorphic code), and
 * each accumulator is a float64, as in the plain loops these kernels replace.
 *
 * `scoreAllFactors` hands the whole job to the native addon's `scoreRows` (AVX2/FMA where the CPU
 * has it; src/nn/native/chorus_nn.c) when the addon is built: about 5× the JS kernel, since the
 * JS kernel is bound by scalar float64 arithmetic and the C one by memory bandwidth. The JS kernel
 * (`scoreAllFactorsJs`) is the fallback and the tests' oracle. The native sums are float32 in 8
 * lanes, so scores differ from the JS ones in the last bits (≈ 1e-6 relative), never in ranking
 * beyond exact ties. The addon is loaded by ./native-addon.ts (util, not nn: see there why).
 * CHORUS_NN_BACKEND=js turns the native path off, as it does for the nn kernels.
 */
import { ConfigError } from '../errors.js';
import { loadChorusAddon, type ChorusAddon } from './native-addon.js';

let scratch = new Float64Array(64);
let scratch32 = new Float32Array(64);

type NativeScoreRows = NonNullable<ChorusAddon['scoreRows']>;
export type ScoreBackend = 'auto' | 'native' | 'js';

let wanted: ScoreBackend = 'auto';
/** undefined until first resolved; null = JS. */
let nativeScore: NativeScoreRows | null | undefined;

function resolveNative(): NativeScoreRows | null {
  if (wanted === 'js' || (wanted === 'auto' && process.env.CHORUS_NN_BACKEND === 'js')) return (nativeScore = null);
  const addon = loadChorusAddon();
  const fn = addon?.scoreRows;
  if (!fn) {
    if (wanted === 'native') throw new ConfigError('the native factor scorer is not built; run `node src/nn/native/build.mjs`', 'scoreBackend');
    return (nativeScore = null);
  }
  return (nativeScore = fn.bind(addon));
}

/**
 * Choose the factor-scoring backend for this process: 'auto' (the default: native when the addon
 * is built, unless CHORUS_NN_BACKEND=js), 'native' (throws if unavailable) or 'js'. For tests and
 * benchmarks; returns the backend now in use.
 */
export function setScoreBackend(b: ScoreBackend): 'native' | 'js' {
  wanted = b;
  nativeScore = undefined;
  return scoreBackend();
}

/** Which kernel `scoreAllFactors` runs in this process. */
export function scoreBackend(): 'native' | 'js' {
  return (nativeScore === undefined ? resolveNative() : nativeScore) ? 'native' : 'js';
}

function userScratch(user: ArrayLike<number>, dim: number): Float64Array {
  if (scratch.length < dim) scratch = new Float64Array(Math.max(dim, 2 * scratch.length));
  for (let f = 0; f < dim; f++) scratch[f] = user[f]!;
  return scratch;
}

/**
 * out[i] = base + bias[i] + Σ_f user[f] · items[i·dim + f] for i < nItems (`bias` optional).
 * `items` is row-major nItems × dim. Writes into `out` and returns it; allocates nothing (after
 * the first call with a given dim). Native when the addon is built, else `scoreAllFactorsJs`.
 */
export function scoreAllFactors(
  user: ArrayLike<number>,
  items: Float32Array,
  nItems: number,
  dim: number,
  out: Float32Array,
  base = 0,
  bias?: Float32Array | Float64Array,
): Float32Array {
  const nat = nativeScore === undefined ? resolveNative() : nativeScore;
  if (nat === null) return scoreAllFactorsJs(user, items, nItems, dim, out, base, bias);
  let u: Float32Array;
  if (user instanceof Float32Array) u = user;
  else {
    // The addon takes a Float32Array user; a Float64Array or number[] is rounded into a scratch.
    if (scratch32.length < dim) scratch32 = new Float32Array(Math.max(dim, 2 * scratch32.length));
    for (let f = 0; f < dim; f++) scratch32[f] = user[f]!;
    u = scratch32;
  }
  nat(items, u, out, nItems, dim, base, bias);
  return out;
}

/** The JS kernel: four items at a time, float64 accumulators (the fallback and the tests' oracle). */
export function scoreAllFactorsJs(
  user: ArrayLike<number>,
  items: Float32Array,
  nItems: number,
  dim: number,
  out: Float32Array,
  base = 0,
  bias?: Float32Array | Float64Array,
): Float32Array {
  const u = userScratch(user, dim);
  const n4 = nItems - (nItems % 4);
  let i = 0;
  for (; i < n4; i += 4) {
    const o0 = i * dim;
    const o1 = o0 + dim;
    const o2 = o1 + dim;
    const o3 = o2 + dim;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let f = 0; f < dim; f++) {
      const x = u[f]!;
      s0 += x * items[o0 + f]!;
      s1 += x * items[o1 + f]!;
      s2 += x * items[o2 + f]!;
      s3 += x * items[o3 + f]!;
    }
    // Bias added in float64 before the single rounding to float32 (as the plain loop does).
    if (bias !== undefined) {
      out[i] = s0 + base + bias[i]!;
      out[i + 1] = s1 + base + bias[i + 1]!;
      out[i + 2] = s2 + base + bias[i + 2]!;
      out[i + 3] = s3 + base + bias[i + 3]!;
    } else {
      out[i] = s0 + base;
      out[i + 1] = s1 + base;
      out[i + 2] = s2 + base;
      out[i + 3] = s3 + base;
    }
  }
  for (; i < nItems; i++) {
    const o = i * dim;
    let s = 0;
    for (let f = 0; f < dim; f++) s += u[f]! * items[o + f]!;
    out[i] = s + base + (bias !== undefined ? bias[i]! : 0);
  }
  return out;
}

/**
 * The same scores for a subset of rows: out[c] = base + bias[rows[c]] + user · items[rows[c]].
 * For candidate-restricted requests (a few hundred rows instead of the whole catalogue).
 */
export function scoreRows(
  user: ArrayLike<number>,
  items: Float32Array,
  rows: Int32Array,
  dim: number,
  out: Float32Array,
  base = 0,
  bias?: Float32Array | Float64Array,
): Float32Array {
  const u = userScratch(user, dim);
  for (let c = 0; c < rows.length; c++) {
    const r = rows[c]!;
    const o = r * dim;
    let s0 = 0;
    let s1 = 0;
    let f = 0;
    for (; f + 1 < dim; f += 2) {
      s0 += u[f]! * items[o + f]!;
      s1 += u[f + 1]! * items[o + f + 1]!;
    }
    if (f < dim) s0 += u[f]! * items[o + f]!;
    out[c] = s0 + s1 + base + (bias ? bias[r]! : 0);
  }
  return out;
}

/** Reference: the plain one-accumulator loop the kernels replace (tests and the kernel benchmark). */
export function scoreAllFactorsNaive(
  user: ArrayLike<number>,
  items: Float32Array,
  nItems: number,
  dim: number,
  out: Float32Array,
  base = 0,
  bias?: Float32Array | Float64Array,
): Float32Array {
  for (let i = 0; i < nItems; i++) {
    let s = 0;
    const o = i * dim;
    for (let f = 0; f < dim; f++) s += user[f]! * items[o + f]!;
    out[i] = s + base + (bias ? bias[i]! : 0);
  }
  return out;
}
