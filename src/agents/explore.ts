import type { Rng } from '../util/rng.js';

/**
 * ε-greedy exploration of a ranked slate, one position at a time: with probability ε a position's
 * greedy item gives way to a uniform draw from the `spare` showable items that are not in the slate.
 * `drawSpare(current)` makes that draw (it may read the slate as it stands, `current` still in it)
 * and returns the item that takes the position. The propensity written for each position is exact
 * given the positions before it: 1 − ε for a kept item, ε / spare for a drawn one, and 1 everywhere
 * when nothing is spare (then no random number is drawn either). Used by the ε-greedy bandit and the
 * multi-agent team.
 */
export function exploreSlate(
  rng: Rng,
  epsilon: number,
  items: Int32Array,
  propensities: Float32Array,
  spare: number,
  drawSpare: (current: number) => number,
): void {
  for (let p = 0; p < items.length; p++) {
    if (spare > 0 && rng.next() < epsilon) {
      items[p] = drawSpare(items[p]!);
      propensities[p] = epsilon / spare;
    } else propensities[p] = spare > 0 ? 1 - epsilon : 1;
  }
}
