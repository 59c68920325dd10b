/**
 * Feature hashing for the serving bandit: arbitrary JSON (Personalizer context/action features,
 * item attributes, request context) goes into a fixed number of buckets, so the bandit's
 * dimension never depends on the vocabulary. Strings and booleans count 1 at hash("path=value"),
 * numbers add their value at hash("path"); a second hash bit gives the sign (fewer collisions bias).
 */

/** FNV-1a, 32-bit. */
export function fnv1a(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const MAX_DEPTH = 6;

function add(out: Float32Array, offset: number, dims: number, key: string, value: number): void {
  const h = fnv1a(key);
  const slot = h % dims;
  out[offset + slot] += (h & 0x80000000 ? -1 : 1) * value;
}

function walk(v: unknown, path: string, out: Float32Array, offset: number, dims: number, depth: number): void {
  if (v === null || v === undefined || depth > MAX_DEPTH) return;
  if (typeof v === 'number') {
    if (Number.isFinite(v)) add(out, offset, dims, path, Math.max(-10, Math.min(10, v)));
  } else if (typeof v === 'string') {
    add(out, offset, dims, `${path}=${v}`, 1);
  } else if (typeof v === 'boolean') {
    if (v) add(out, offset, dims, `${path}=true`, 1);
  } else if (Array.isArray(v)) {
    // Array position is not meaningful in Personalizer features (a list of feature groups).
    for (const x of v) walk(x, path, out, offset, dims, depth + 1);
  } else if (typeof v === 'object') {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, path ? `${path}.${k}` : k, out, offset, dims, depth + 1);
  }
}

/**
 * Hash `value` into out[offset .. offset+dims), then scale that block to unit L2 norm (so that a
 * long feature list does not dominate the bandit's bonus). Returns the block's norm before scaling.
 */
export function hashInto(value: unknown, out: Float32Array, offset: number, dims: number): number {
  for (let j = 0; j < dims; j++) out[offset + j] = 0;
  walk(value, '', out, offset, dims, 0);
  let n = 0;
  for (let j = 0; j < dims; j++) n += out[offset + j]! * out[offset + j]!;
  n = Math.sqrt(n);
  if (n > 0) for (let j = 0; j < dims; j++) out[offset + j] /= n;
  return n;
}
