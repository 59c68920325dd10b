/**
 * Scores for a user with no history (unknown to the model, nothing liked yet): the model's own
 * scores for an empty user when they rank anything (a popularity model, item biases); when every
 * item gets the same score (ALS, EASE, kNN: an empty user is a zero vector, and a top-k of equal
 * scores is catalogue order), the items' training popularity instead. The server's /recommend and
 * Personalizer Rank and `chorus recommend` all rank such users with this.
 */
export function noHistoryScores(modelScores: Float32Array, popularity: ArrayLike<number>): Float32Array {
  return ranksAnything(modelScores) ? modelScores : Float32Array.from(popularity);
}

/** False when every finite score is equal (or none is finite). */
function ranksAnything(scores: Float32Array): boolean {
  let first = NaN;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (!Number.isFinite(s)) continue;
    if (Number.isNaN(first)) first = s;
    else if (s !== first) return true;
  }
  return false;
}

/** Training users per item from a by-user CSR of item indices (each row lists a user's items). */
export function itemPopularity(indices: Int32Array, nItems: number): Float32Array {
  const out = new Float32Array(nItems);
  for (let p = 0; p < indices.length; p++) out[indices[p]!]!++;
  return out;
}
