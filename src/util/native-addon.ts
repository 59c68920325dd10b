/**
 * Finds and loads Chorus's one native addon (src/nn/native/chorus_nn.node: GEMM, Adam, layer ops,
 * factor scoring), once per process.
 *
 * Why it lives in util: two layers use the addon. src/nn wraps its GEMM and training ops
 * (src/nn/kernels.ts), and src/util/dot.ts needs its row scorer for every factor recommender's
 * `scoreAll`. nn already imports util, so util may not import nn (a cycle, and a lower layer
 * reaching up). A registration hook (nn pushing the scorer into util when it loads) would make
 * the fast path depend on whether anything happened to import src/nn first — BPR alone would
 * silently score in JS. Loading the binary here, by path, keeps both users independent and the
 * import graph one-way: this module imports nothing from Chorus.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

type F32 = Float32Array;

/** The addon's exports (argument conventions are documented in chorus_nn.c). */
export interface ChorusAddon {
  sgemm(...args: (number | F32)[]): void;
  adam(...args: (number | F32)[]): void;
  /** Absent from binaries built before the element-wise layer ops were added. */
  biasAct?(...args: (number | F32)[]): void;
  actGrad?(...args: (number | F32)[]): void;
  /** out[i] = base + bias[i] + items[i·dim ..] · user for i < n; absent from older binaries. */
  scoreRows?(items: F32, user: F32, out: F32, n: number, dim: number, base: number, bias?: Float32Array | Float64Array): void;
  /** A[i·lda + j] −= c·u[i]·u[j] for i, j < d (Float64Arrays); absent from older binaries. */
  rank1Sub?(A: Float64Array, lda: number, u: Float64Array, d: number, c: number): void;
  /** out[r] = x_rᵀA x_r for sparse rows (slots idx, values x, rows at start[r] .. start[r+1]); absent from older binaries. */
  quadForms?(A: Float64Array, lda: number, idx: Int32Array, x: Float64Array, start: Int32Array, rows: number, out: Float64Array): void;
}

const REL = ['build', 'Release', 'chorus_nn.node'];

/**
 * Path of the built addon, searched upward from this file so that it is found from src/ and from
 * dist/ (src/nn/native/…, or nn/native/… beside this util directory, or native/… beside it).
 */
export function nativeAddonPath(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    for (const p of [join(dir, 'src', 'nn', 'native', ...REL), join(dir, 'nn', 'native', ...REL), join(dir, 'native', ...REL)]) {
      if (existsSync(p)) return p;
    }
    dir = dirname(dir);
  }
  return null;
}

let cached: ChorusAddon | null | undefined;

/**
 * The loaded addon, or null when it is not built or cannot load here (another Node ABI or CPU).
 * Does not look at CHORUS_NN_BACKEND: callers decide whether to use it.
 */
export function loadChorusAddon(): ChorusAddon | null {
  if (cached !== undefined) return cached;
  const path = nativeAddonPath();
  if (!path) return (cached = null);
  try {
    cached = createRequire(import.meta.url)(path) as ChorusAddon;
  } catch {
    // A binary built for another Node ABI or CPU: the callers fall back to JS rather than fail.
    cached = null;
  }
  return cached;
}
