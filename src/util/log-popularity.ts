/**
 * log(1 + p) / log(1 + max p) for every item: popularity in [0, 1], compressed so a blockbuster
 * does not drown taste. The one definition used by the bandit priors, the neural agents' item
 * features, the team's item view and the content/genre recommenders' cold-start signal.
 *
 * The maximum is taken as at least 1, so an all-zero (or empty) count vector gives zeros rather
 * than 0/0. Counts below zero are read as 0.
 */
export function logPopularity(popularity: ArrayLike<number>): Float64Array;
export function logPopularity<T extends Float32Array | Float64Array>(popularity: ArrayLike<number>, out: T): T;
export function logPopularity(popularity: ArrayLike<number>, out: Float32Array | Float64Array = new Float64Array(popularity.length)): Float32Array | Float64Array {
  let max = 1;
  for (let i = 0; i < popularity.length; i++) if (popularity[i]! > max) max = popularity[i]!;
  const logMax = Math.log1p(max);
  for (let i = 0; i < popularity.length; i++) out[i] = Math.log1p(Math.max(0, popularity[i]!)) / logMax;
  return out;
}
