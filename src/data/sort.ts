/**
 * Sorting kernels for interaction arrays. Everything here is O(n + keys) counting sorts plus a
 * per-row sort by timestamp, so grouping 25 M interactions never goes through a JS comparator
 * over the whole array (a comparator sort of 25 M entries takes tens of seconds).
 */

/**
 * Stable counting sort of positions by `keys[position]` (each key in 0..nKeys-1).
 * `input` is the order to start from (identity when omitted); equal keys keep that order.
 * Returns the sorted positions and `indptr` (key k occupies perm[indptr[k] .. indptr[k+1])).
 */
export function countingSort(
  keys: Int32Array,
  nKeys: number,
  input?: Int32Array,
): { perm: Int32Array; indptr: Int32Array } {
  const n = input ? input.length : keys.length;
  const indptr = new Int32Array(nKeys + 1);
  if (input) for (let k = 0; k < n; k++) indptr[keys[input[k]!]! + 1]++;
  else for (let k = 0; k < n; k++) indptr[keys[k]! + 1]++;
  for (let r = 0; r < nKeys; r++) indptr[r + 1] += indptr[r]!;
  const next = indptr.slice(0, nKeys);
  const perm = new Int32Array(n);
  if (input) {
    for (let k = 0; k < n; k++) {
      const p = input[k]!;
      perm[next[keys[p]!]!++] = p;
    }
  } else {
    for (let p = 0; p < n; p++) perm[next[keys[p]!]!++] = p;
  }
  return { perm, indptr };
}

/**
 * Group positions by `rowKey`, ordering each row by (timestamp ascending, tieKey ascending,
 * position ascending). NaN timestamps sort first. `tieKey` values lie in 0..nTie-1.
 */
export function groupByRowThenTime(
  rowKey: Int32Array,
  nRows: number,
  tieKey: Int32Array,
  nTie: number,
  ts: Float64Array,
): { perm: Int32Array; indptr: Int32Array } {
  // Two stable counting sorts (LSD order: tie key first, then row) leave each row ordered by
  // (tieKey, position); a stable per-row sort by timestamp then gives the full order.
  const byTie = countingSort(tieKey, nTie).perm;
  const { perm, indptr } = countingSort(rowKey, nRows, byTie);
  sortRowsByTime(perm, indptr, ts);
  return { perm, indptr };
}

const TWO_POW_53 = 2 ** 53;

/**
 * Stable in-place sort of each row segment of `perm` by `ts[perm[k]]` (NaN first).
 * Rows already in order are left alone (common: logs are often written in time order).
 */
export function sortRowsByTime(perm: Int32Array, indptr: Int32Array, ts: Float64Array): void {
  const rows = indptr.length - 1;
  let maxLen = 0;
  for (let r = 0; r < rows; r++) maxLen = Math.max(maxLen, indptr[r + 1]! - indptr[r]!);
  const keys = new Float64Array(maxLen);
  const tmp = new Int32Array(maxLen);
  for (let r = 0; r < rows; r++) {
    const lo = indptr[r]!;
    const hi = indptr[r + 1]!;
    const m = hi - lo;
    if (m < 2) continue;
    let sorted = true;
    let allInt = true;
    let min = Infinity;
    let max = -Infinity;
    let prev = -Infinity;
    for (let k = lo; k < hi; k++) {
      const t = ts[perm[k]!]!;
      if (Number.isNaN(t)) {
        if (prev !== -Infinity) sorted = false;
        continue;
      }
      if (t < prev) sorted = false;
      prev = t;
      if (!Number.isInteger(t)) allInt = false;
      if (t < min) min = t;
      if (t > max) max = t;
    }
    if (sorted) continue;
    // Pack (timestamp, index within row) into one double so the native numeric sort (no
    // comparator callback) is both fast and stable. Needs integer timestamps whose range times
    // the row length stays below 2^53; Unix seconds or milliseconds always fit in practice.
    const scale = 2 ** Math.ceil(Math.log2(m + 1));
    if (allInt && (max - min + 2) * scale < TWO_POW_53) {
      for (let j = 0; j < m; j++) {
        const t = ts[perm[lo + j]!]!;
        const tk = Number.isNaN(t) ? 0 : t - min + 1;
        keys[j] = tk * scale + j;
        tmp[j] = perm[lo + j]!;
      }
      const sub = keys.subarray(0, m);
      sub.sort();
      for (let j = 0; j < m; j++) perm[lo + j] = tmp[sub[j]! % scale]!;
    } else {
      const seg = Array.from(perm.subarray(lo, hi));
      const rank = new Map<number, number>();
      seg.forEach((p, j) => rank.set(p, j));
      seg.sort((a, b) => {
        const ta = ts[a]!;
        const tb = ts[b]!;
        const na = Number.isNaN(ta);
        const nb = Number.isNaN(tb);
        if (na || nb) return na && nb ? rank.get(a)! - rank.get(b)! : na ? -1 : 1;
        return ta !== tb ? ta - tb : rank.get(a)! - rank.get(b)!;
      });
      perm.set(seg, lo);
    }
  }
}

/**
 * Rank of each id when ids are ordered numerically (all ids numeric) or else by string.
 * rank[index] = position of ids[index] in that order. Used for P1's (timestamp, movieId)
 * tie-break and to give loaded datasets an index order that does not depend on row order.
 */
export function externalIdOrder(ids: readonly string[]): Int32Array {
  const n = ids.length;
  const numeric = ids.every((s) => s !== '' && Number.isFinite(Number(s)));
  const order = Array.from({ length: n }, (_, i) => i);
  if (numeric) {
    const num = Float64Array.from(ids, Number);
    order.sort((a, b) => num[a]! - num[b]! || (ids[a]! < ids[b]! ? -1 : ids[a]! > ids[b]! ? 1 : 0));
  } else {
    order.sort((a, b) => (ids[a]! < ids[b]! ? -1 : ids[a]! > ids[b]! ? 1 : 0));
  }
  const rank = new Int32Array(n);
  for (let r = 0; r < n; r++) rank[order[r]!] = r;
  return rank;
}
