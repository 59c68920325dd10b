/**
 * Top-k selection over a score array with a min-heap: O(n log k), no allocation beyond the
 * k-sized result. Entries whose `mask` byte is non-zero, or whose score is -Infinity/NaN, are skipped.
 */
export function topK(
  scores: Float32Array | Float64Array,
  k: number,
  mask?: Uint8Array,
  candidates?: Int32Array,
): { items: Int32Array; scores: Float32Array } {
  const heapIdx = new Int32Array(k);
  const heapVal = new Float64Array(k);
  let size = 0;
  const n = candidates ? candidates.length : scores.length;
  for (let c = 0; c < n; c++) {
    const i = candidates ? candidates[c]! : c;
    if (mask && mask[i]) continue;
    const s = scores[i]!;
    if (!(s > -Infinity)) continue; // also skips NaN
    size = heapOffer(heapIdx, heapVal, size, s, i);
  }
  // Sort the kept entries best first.
  const order = Array.from({ length: size }, (_, t) => t).sort((a, b) =>
    better(heapVal[a]!, heapIdx[a]!, heapVal[b]!, heapIdx[b]!) ? -1 : 1,
  );
  const items = new Int32Array(size);
  const out = new Float32Array(size);
  for (let t = 0; t < size; t++) {
    items[t] = heapIdx[order[t]!]!;
    out[t] = heapVal[order[t]!]!;
  }
  return { items, scores: out };
}

/**
 * Offer (s, i) to a bounded min-heap of capacity `heapIdx.length` that holds `size` entries, the
 * worst kept at the root; returns the new size. While the heap is full most candidates lose to the
 * root and cost one comparison. Shared by `topK` and the item-kNN kernel (which keeps the heap
 * unordered), so both rank the same way: higher score first, ties to the lower index.
 */
export function heapOffer(heapIdx: Int32Array, heapVal: Float64Array, size: number, s: number, i: number): number {
  const k = heapIdx.length;
  if (size < k) {
    // sift up
    let j = size++;
    while (j > 0) {
      const p = (j - 1) >> 1;
      if (better(heapVal[p]!, heapIdx[p]!, s, i)) {
        heapVal[j] = heapVal[p]!;
        heapIdx[j] = heapIdx[p]!;
        j = p;
      } else break;
    }
    heapVal[j] = s;
    heapIdx[j] = i;
  } else if (k > 0 && better(s, i, heapVal[0]!, heapIdx[0]!)) {
    // replace the root (the worst kept) and sift down
    let j = 0;
    for (;;) {
      const l = 2 * j + 1;
      if (l >= size) break;
      const r = l + 1;
      const m = r < size && better(heapVal[l]!, heapIdx[l]!, heapVal[r]!, heapIdx[r]!) ? r : l;
      if (better(s, i, heapVal[m]!, heapIdx[m]!)) {
        heapVal[j] = heapVal[m]!;
        heapIdx[j] = heapIdx[m]!;
        j = m;
      } else break;
    }
    heapVal[j] = s;
    heapIdx[j] = i;
  }
  return size;
}

/** Is (s1, i1) ranked above (s2, i2)? Higher score first; ties broken by lower index (deterministic). */
function better(s1: number, i1: number, s2: number, i2: number): boolean {
  return s1 > s2 || (s1 === s2 && i1 < i2);
}
