/**
 * Monte-Carlo propensities, for agents whose slate is a deterministic function of a random draw
 * whose probability has no closed form: linear Thompson sampling (a posterior draw of θ) and
 * DDPG (Gaussian noise on the proto-action). The caller makes M more independent draws from the
 * same distribution, ranks the slate each would give, and this turns them into an estimate of
 * each shown position's probability given the positions before it:
 *
 *   P̂(position p) = (1 + #{draws whose best item outside the shown positions < p is the shown
 *                    item p}) / (1 + M)
 *
 * The realised draw counts as one sample (it did put the item there), so a shown item never gets
 * an estimate of 0, and the estimate is 1 when every draw agrees. This is an estimate, not an
 * exact probability: its standard error is about sqrt(P(1 − P) / M), and it ignores how the
 * earlier positions condition the draw (it asks how often the item beats every item not already
 * shown). The agents document their M (`propensitySamples`).
 */
import type { Slate } from '../env/types.js';
import { Rng } from '../util/rng.js';

/**
 * A generator for the extra draws, seeded from `rng`'s current state without advancing it: the
 * agent's own stream — what it shows, and so the simulator's results — stays as it was without
 * the estimate.
 */
export function sideRng(rng: Rng): Rng {
  const [a, b, c, d] = rng.getState();
  return new Rng((a ^ Math.imul(b, 0x9e3779b1) ^ Math.imul(c, 0x85ebca6b) ^ Math.imul(d, 0xc2b2ae35)) >>> 0);
}

/** The estimate above for the shown slate, from the rankings (each at least as long as the slate) of M further draws. */
export function monteCarloPropensities(shown: Int32Array, draws: readonly Int32Array[], out: Float32Array = new Float32Array(shown.length)): Float32Array {
  const k = shown.length;
  const hits = new Int32Array(k);
  for (const d of draws) {
    // Walk the draw's ranking once: at position p its best item not among shown[0..p) is the
    // first ranking entry not in that prefix; the prefix grows by one item per position.
    let r = 0;
    for (let p = 0; p < k; p++) {
      while (r < d.length && indexIn(shown, d[r]!, p) >= 0) r++;
      if (r >= d.length) break;
      if (d[r] === shown[p]) hits[p]++;
    }
  }
  for (let p = 0; p < k; p++) out[p] = (1 + hits[p]!) / (1 + draws.length);
  return out;
}

/**
 * Makes `slate.propensities` computed on first read, then kept (the closure is dropped). For
 * estimates that cost more than the act itself: callers that never read them (the simulator's
 * runner) never pay. `compute` must use only what it captured at the act.
 */
export function lazyPropensities(slate: Slate, compute: () => Float32Array): void {
  const keep = (value: Float32Array | undefined): void => {
    Object.defineProperty(slate, 'propensities', { value, writable: true, enumerable: true, configurable: true });
  };
  Object.defineProperty(slate, 'propensities', {
    get(): Float32Array {
      const value = compute();
      keep(value);
      return value;
    },
    set: keep,
    enumerable: true,
    configurable: true,
  });
}

/** Position of `item` among the first `n` entries of `a`, or −1. */
function indexIn(a: Int32Array, item: number, n: number): number {
  for (let q = 0; q < n; q++) if (a[q] === item) return q;
  return -1;
}
