import type { Rng } from '../util/rng.js';

/**
 * How the serving bandit turns its scores into a draw, with the exact probability of every
 * candidate (what the decision log records as the propensity of the shown item):
 * - `egreedy`: the best score with probability 1 − ε, a uniform candidate with probability ε;
 * - `softmax`: p ∝ exp(score / τ);
 * - `squarecb`: inverse-gap weighting (Foster & Rakhlin 2020, VW's `--squarecb`): a candidate
 *   whose score trails the best by Δ gets 1/(m + γ·Δ), the best takes the rest; γ = γ₀·tᵉ grows
 *   with the number of examples learned t, so exploration fades as the model firms up.
 * Ties go to the candidate listed first (the recommender's order), so draws are reproducible.
 */
export type ExplorationKind = 'egreedy' | 'softmax' | 'squarecb';

export interface ExplorationConfig {
  explore: ExplorationKind;
  /** egreedy: share of uniform draws. */
  epsilon: number;
  /** softmax: temperature τ. */
  temperature: number;
  /** squarecb: γ₀ and the exponent e of γ = γ₀·tᵉ. */
  gamma: number;
  gammaExponent: number;
}

export const EXPLORATION_KINDS: readonly ExplorationKind[] = ['egreedy', 'softmax', 'squarecb'];

/**
 * The probability of each of `remaining` (positions into `scores`) being drawn next, into
 * out[0 .. remaining.length). `t`: examples learned so far (squarecb). Returns the index (into
 * `remaining`) of the best-scored candidate.
 */
export function pickDistribution(scores: ArrayLike<number>, remaining: readonly number[], cfg: ExplorationConfig, t: number, out: Float64Array): number {
  const m = remaining.length;
  let best = 0;
  for (let a = 1; a < m; a++) if (scores[remaining[a]!]! > scores[remaining[best]!]!) best = a;
  if (m === 0) return -1;
  switch (cfg.explore) {
    case 'egreedy':
      for (let a = 0; a < m; a++) out[a] = cfg.epsilon / m;
      out[best] += 1 - cfg.epsilon;
      break;
    case 'softmax': {
      const top = scores[remaining[best]!]!;
      let z = 0;
      for (let a = 0; a < m; a++) z += out[a] = Math.exp((scores[remaining[a]!]! - top) / cfg.temperature);
      for (let a = 0; a < m; a++) out[a] /= z;
      break;
    }
    case 'squarecb': {
      const gamma = cfg.gamma * Math.pow(Math.max(1, t), cfg.gammaExponent);
      const top = scores[remaining[best]!]!;
      let rest = 0;
      for (let a = 0; a < m; a++) {
        if (a === best) continue;
        out[a] = 1 / (m + gamma * (top - scores[remaining[a]!]!));
        rest += out[a]!;
      }
      out[best] = 1 - rest;
      break;
    }
  }
  return best;
}

/** Draw an index into `remaining` from the distribution `p` (as filled by pickDistribution). */
export function draw(p: Float64Array, m: number, rng: Rng): number {
  const u = rng.next();
  let c = 0;
  for (let a = 0; a < m; a++) {
    c += p[a]!;
    if (u < c) return a;
  }
  // Rounding left the sum a hair under 1: the last candidate with probability > 0.
  for (let a = m - 1; a >= 0; a--) if (p[a]! > 0) return a;
  return m - 1;
}
