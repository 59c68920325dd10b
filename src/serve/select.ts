import { heapOffer } from '../util/topk.js';

/**
 * The recommender pool of an uncached request: the best `k` of all catalogue scores, skipping
 * masked items and -Infinity/NaN scores. Same result, order and tie rule as util/topk.ts's
 * `topK` (higher score first, ties to the lower index; both use `heapOffer`), but cheaper on the
 * serving path, where it scans 10,000 scores for 30 items once the native scorer has made
 * scoring itself cheap (≈ 0.1 ms each):
 * - once the heap is full, the k-th best score is kept in a local and an item must beat it
 *   strictly to be looked at any further — indices rise, so a tie with the root always loses —
 *   which makes the common case one float comparison (the mask is read only for contenders);
 * - the heap buffers are reused across calls (the server is one thread), and the final sort of
 *   ≤ k entries is an insertion sort on typed arrays instead of an array of closures.
 */
let heapIdx = new Int32Array(0);
let heapVal = new Float64Array(0);

export function selectPool(scores: Float32Array | Float64Array, k: number, mask: Uint8Array): { items: Int32Array; scores: Float32Array } {
  if (heapIdx.length !== k) {
    heapIdx = new Int32Array(k);
    heapVal = new Float64Array(k);
  }
  const n = scores.length;
  let size = 0;
  let i = 0;
  // Fill the heap with the first k eligible items.
  for (; i < n && size < k; i++) {
    if (mask[i]) continue;
    const s = scores[i]!;
    if (!(s > -Infinity)) continue; // also skips NaN
    size = heapOffer(heapIdx, heapVal, size, s, i);
  }
  if (size === k && k > 0) {
    let thr = heapVal[0]!;
    for (; i < n; i++) {
      const s = scores[i]!;
      if (!(s > thr)) continue; // NaN fails too
      if (mask[i]) continue;
      heapOffer(heapIdx, heapVal, size, s, i);
      thr = heapVal[0]!;
    }
  }
  // Best first: insertion sort of the (at most k) kept entries.
  const items = new Int32Array(size);
  const vals = new Float64Array(size);
  for (let t = 0; t < size; t++) {
    const s = heapVal[t]!;
    const id = heapIdx[t]!;
    let j = t;
    while (j > 0 && (vals[j - 1]! < s || (vals[j - 1]! === s && items[j - 1]! > id))) {
      vals[j] = vals[j - 1]!;
      items[j] = items[j - 1]!;
      j--;
    }
    vals[j] = s;
    items[j] = id;
  }
  return { items, scores: Float32Array.from(vals) };
}
