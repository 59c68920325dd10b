/**
 * The duplicate policy: rows with the same (user, item, event type) are grouped with two stable
 * counting sorts (file order kept inside a group), then resolved by 'first', 'last', 'sum' or
 * 'error'. 'keep' never comes here.
 */
import { DataError } from '../errors.js';
import type { IdMap } from './dataset.js';
import type { DuplicatePolicy } from './read-options.js';
import type { LineIndex } from './row-buffer.js';
import { countingSort } from './sort.js';

/** The kept rows' columns (values and timestamps are updated in place by 'sum'). */
export interface DuplicateInput {
  user: Int32Array;
  item: Int32Array;
  value: Float32Array;
  ts: Float64Array;
  et: Uint8Array;
  users: IdMap;
  items: IdMap;
  lines: LineIndex;
  path: string;
}

/** Mark the rows the policy drops (1 in the returned array) and return how many there are. */
export function markDuplicates(rows: DuplicateInput, policy: Exclude<DuplicatePolicy, 'keep'>): { drop: Uint8Array; dropped: number } {
  const { user, item } = rows;
  const n = user.length;
  const drop = new Uint8Array(n);
  let dropped = 0;
  if (n < 2) return { drop, dropped };
  const { perm: byItem } = countingSort(item, rows.items.size);
  const { perm } = countingSort(user, rows.users.size, byItem);
  let k = 0;
  while (k < n) {
    let e = k + 1;
    const a = perm[k]!;
    while (e < n && user[perm[e]!] === user[a] && item[perm[e]!] === item[a]) e++;
    if (e - k > 1) dropped += resolveGroup(rows, perm, k, e, drop, policy);
    k = e;
  }
  return { drop, dropped };
}

/** Apply the policy to perm[lo..hi) (same user and item, file order). Returns rows dropped. */
function resolveGroup(rows: DuplicateInput, perm: Int32Array, lo: number, hi: number, drop: Uint8Array, policy: Exclude<DuplicatePolicy, 'keep'>): number {
  const { et, value, ts, lines } = rows;
  let dropped = 0;
  // Sub-groups by event type; groups are tiny, so a quadratic scan is the cheap option.
  // Marks: 2 = dropped in this group, 3 = kept (so later sub-groups skip it), reset below.
  for (let a = lo; a < hi; a++) {
    const pa = perm[a]!;
    if (drop[pa] !== 0) continue; // already in an earlier sub-group
    let keep = pa;
    for (let b = a + 1; b < hi; b++) {
      const pb = perm[b]!;
      if (drop[pb] !== 0 || et[pb] !== et[pa]) continue;
      if (policy === 'error') {
        throw new DataError(
          `duplicate (user "${rows.users.toExternal(rows.user[pa]!)}", item "${rows.items.toExternal(rows.item[pa]!)}"), first at line ${lines.lineOf(pa)}`,
          { file: rows.path, line: lines.lineOf(pb), column: 1 },
        );
      }
      drop[pb] = 2;
      if (policy === 'sum') {
        value[pa] = value[pa]! + value[pb]!;
        if (!(ts[pb]! <= ts[pa]!)) ts[pa] = Number.isNaN(ts[pb]!) ? ts[pa]! : ts[pb]!;
      } else if (policy === 'last') {
        drop[keep] = 2;
        keep = pb;
      }
      dropped++;
    }
    drop[keep] = 3;
  }
  for (let a = lo; a < hi; a++) {
    const pa = perm[a]!;
    drop[pa] = drop[pa] === 2 ? 1 : 0;
  }
  return dropped;
}
