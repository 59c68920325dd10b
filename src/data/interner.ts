/**
 * External id → dense index while reading. Most id columns are small non-negative integers
 * (MovieLens, Last.fm, u.data), so those go through a direct Int32Array table instead of a
 * Map<string, number>: hashing a fresh string per row was the single largest cost of a load.
 * Other ids fall back to a Map. The result is an ordinary IdMap.
 */
import { IdMap } from './dataset.js';

/** Table ids up to this value (16 M entries, 64 MiB at most); larger ones use the Map. */
const TABLE_LIMIT = 1 << 24;

/** The integer a canonical decimal string denotes ("0", "17"; not "017", "+1", "1.0"), else -1. */
function canonicalInt(s: string): number {
  const n = s.length;
  if (n === 0 || n > 8) return -1;
  let v = 0;
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(k) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return n > 1 && s.charCodeAt(0) === 48 ? -1 : v;
}

export class IdInterner {
  /** numeric id → index + 1 (0 = not seen). */
  private table = new Int32Array(1024);
  private readonly map = new Map<string, number>();
  private readonly ids: string[] = [];

  constructor(from?: IdMap) {
    if (from) for (const id of from.ids()) this.add(id);
  }

  get size(): number {
    return this.ids.length;
  }

  add(s: string): number {
    const n = canonicalInt(s);
    if (n >= 0 && n < TABLE_LIMIT) {
      if (n >= this.table.length) {
        let cap = this.table.length;
        while (cap <= n) cap *= 2;
        const t = new Int32Array(Math.min(cap, TABLE_LIMIT));
        t.set(this.table);
        this.table = t;
      }
      const v = this.table[n]!;
      if (v !== 0) return v - 1;
      const idx = this.ids.length;
      this.ids.push(s);
      this.table[n] = idx + 1;
      return idx;
    }
    let idx = this.map.get(s);
    if (idx === undefined) {
      idx = this.ids.length;
      this.ids.push(s);
      this.map.set(s, idx);
    }
    return idx;
  }

  toIdMap(): IdMap {
    return IdMap.from(this.ids);
  }
}
