/**
 * Folded-in user vectors, remembered per user state.
 *
 * A server scores a user who gave online feedback from a `UserState` (trained items plus the new
 * ones), and every such request would fold the user in again: for BPR that is ~50 SGD passes over
 * the user's items, 7–16× the cost of scoring the catalogue (docs/benchmarks.md, "event-log
 * growth"). Fold-in is a deterministic function of the state and the fitted model (BPR seeds it),
 * so remembering its result per state is exact: a hit returns the very vector a fresh fold-in would.
 * The key is the state's content (items and values), verified in full on a hit, so a changed
 * history is a miss. The owner clears the cache whenever its factors change (fit, load).
 */
import type { UserState } from './types.js';

interface Entry<V> {
  items: Int32Array;
  values: Float32Array | null;
  vector: V;
}

/** FNV-1a over the item indices and the value bits. */
function hashState(s: UserState, bits: Uint32Array | null): number {
  let h = 0x811c9dc5;
  const mix = (x: number): void => {
    h ^= x & 0xff;
    h = Math.imul(h, 0x01000193);
    h ^= (x >>> 8) & 0xff;
    h = Math.imul(h, 0x01000193);
    h ^= (x >>> 16) & 0xff;
    h = Math.imul(h, 0x01000193);
    h ^= x >>> 24;
    h = Math.imul(h, 0x01000193);
  };
  for (let j = 0; j < s.items.length; j++) mix(s.items[j]!);
  if (bits) for (let j = 0; j < bits.length; j++) mix(bits[j]!);
  mix(s.items.length);
  return h >>> 0;
}

function sameState<V>(e: Entry<V>, s: UserState): boolean {
  if (e.items.length !== s.items.length) return false;
  for (let j = 0; j < e.items.length; j++) if (e.items[j] !== s.items[j]) return false;
  const v = s.values ?? null;
  if ((e.values === null) !== (v === null)) return false;
  if (e.values && v) {
    if (e.values.length !== v.length) return false;
    for (let j = 0; j < v.length; j++) if (!Object.is(e.values[j], v[j])) return false;
  }
  return true;
}

export class FoldInCache<V> {
  /** hash → entries with that hash (collisions are rare; each is verified). Map order is LRU order. */
  private readonly map = new Map<number, Entry<V>[]>();
  private count = 0;
  hits = 0;
  misses = 0;

  /** @param capacity states kept; 0 turns the cache off. */
  constructor(readonly capacity = 1024) {}

  /** The vector for `state`: remembered, or computed by `foldIn` and remembered. Treat it as read-only. */
  get(state: UserState, foldIn: (state: UserState) => V): V {
    if (this.capacity <= 0) return foldIn(state);
    const bits = state.values ? new Uint32Array(state.values.buffer, state.values.byteOffset, state.values.length) : null;
    const h = hashState(state, bits);
    const list = this.map.get(h);
    if (list) {
      const hit = list.find((e) => sameState(e, state));
      if (hit) {
        // Move to the most recent end.
        this.map.delete(h);
        this.map.set(h, list);
        this.hits++;
        return hit.vector;
      }
    }
    this.misses++;
    const vector = foldIn(state);
    const entry: Entry<V> = { items: Int32Array.from(state.items), values: state.values ? Float32Array.from(state.values) : null, vector };
    if (list) {
      list.push(entry);
      this.map.delete(h);
      this.map.set(h, list);
    } else this.map.set(h, [entry]);
    this.count++;
    while (this.count > this.capacity) {
      const [oldH, oldList] = this.map.entries().next().value as [number, Entry<V>[]];
      oldList.shift();
      this.count--;
      if (oldList.length === 0) this.map.delete(oldH);
    }
    return vector;
  }

  /** Forget everything (the model's factors changed). */
  clear(): void {
    this.map.clear();
    this.count = 0;
  }

  get size(): number {
    return this.count;
  }
}
