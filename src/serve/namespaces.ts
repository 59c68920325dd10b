import { fnv1a } from './features.js';

/**
 * Features as Azure Personalizer and Vowpal Wabbit define them, hashed into a 2^bits space.
 *
 * A feature list (Personalizer's `contextFeatures`, an action's `features`, or one JSON object) is
 * a set of **namespaces**: every top-level key of every object in the list names one (objects that
 * repeat a key add to the same namespace). Inside a namespace:
 * - a string or boolean is categorical: feature `path=value`, value 1;
 * - a number is a value: feature `path`, value x;
 * - an array of numbers is indexed: features `path[0]`, `path[1]` …, position matters;
 * - an array of strings or booleans is a set of categories (`path=value` each), as tags are;
 * - an object nests: its fields are `path.field`; an array of objects walks each element at `path`;
 * - null, non-finite numbers and anything deeper than 6 levels are skipped.
 * `path` starts at the namespace's own key: `{"user": {"segment": "a", "traits": [0.4, 1]}}` gives
 * namespace `user` with `segment=a` (1), `traits[0]` (0.4), `traits[1]` (1); `{"device": "phone"}`
 * gives namespace `device` with `device=phone` (1).
 *
 * A feature's hash is murmur3's finaliser over FNV-1a of its name, seeded by its namespace's hash,
 * as VW seeds a feature's hash with its namespace's. A quadratic feature (VW's `-q`) of two
 * features hashes the pair as VW does, (h₁·FNV prime) xor h₂, and its value is the product.
 * Indices are taken modulo 2^bits by the learner.
 */

/** murmur3's 32-bit finaliser: every input bit affects every output bit (FNV-1a alone mixes poorly). */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of a string under a seed (a namespace's hash, or 0 for namespace names). */
export function hashName(s: string, seed = 0): number {
  return fmix32(fnv1a(s, (seed ^ 0x811c9dc5) >>> 0));
}

/** Hash of the quadratic feature (a, b), as VW combines them. */
export function hashPair(a: number, b: number): number {
  return fmix32((Math.imul(a, 0x01000193) ^ b) >>> 0);
}

/** One namespace: its name, and its features as parallel arrays of names, hashes and values. */
export interface Namespace {
  name: string;
  names: string[];
  hashes: number[];
  values: number[];
}

const MAX_DEPTH = 6;

function push(ns: Namespace, seed: number, name: string, value: number): void {
  ns.names.push(name);
  ns.hashes.push(hashName(name, seed));
  ns.values.push(value);
}

function walk(v: unknown, path: string, ns: Namespace, seed: number, depth: number): void {
  if (v === null || v === undefined || depth > MAX_DEPTH) return;
  switch (typeof v) {
    case 'number':
      if (Number.isFinite(v)) push(ns, seed, path, v);
      return;
    case 'string':
      push(ns, seed, `${path}=${v}`, 1);
      return;
    case 'boolean':
      push(ns, seed, `${path}=${v}`, 1);
      return;
    case 'object':
      break;
    default:
      return;
  }
  if (Array.isArray(v)) {
    if (v.length > 0 && v.every((x) => typeof x === 'number')) {
      // Indexed: an embedding or a fixed-length vector, where position is the feature's identity.
      for (let i = 0; i < v.length; i++) if (Number.isFinite(v[i])) push(ns, seed, `${path}[${i}]`, v[i] as number);
    } else for (const x of v) walk(x, path, ns, seed, depth + 1);
    return;
  }
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, `${path}.${k}`, ns, seed, depth + 1);
}

/**
 * The namespaces of a feature list (see the module comment), in first-seen order.
 * `into` lets callers add to namespaces they already hold (an action's own features plus its
 * catalogue attributes).
 */
export function namespacesOf(list: unknown, into: Namespace[] = []): Namespace[] {
  const byName = new Map(into.map((n) => [n.name, n]));
  // Nested lists flatten: a Rank action's features list beside its catalogue attributes.
  const groups: unknown[] = [];
  const flatten = (v: unknown, depth: number): void => {
    if (Array.isArray(v) && depth < 3) for (const x of v) flatten(x, depth + 1);
    else groups.push(v);
  };
  flatten(list, 0);
  for (const g of groups) {
    if (g === null || typeof g !== 'object' || Array.isArray(g)) continue;
    for (const [key, v] of Object.entries(g as Record<string, unknown>)) {
      let ns = byName.get(key);
      if (!ns) {
        ns = { name: key, names: [], hashes: [], values: [] };
        byName.set(key, ns);
        into.push(ns);
      }
      const seed = hashName(key);
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, k, ns, seed, 1);
      } else walk(v, key, ns, seed, 1);
    }
  }
  return into;
}

/** A namespace of one feature: the action-id indicator `_id` (`id=<id>`), the recommender's score `rec`. */
export function singleFeature(namespace: string, name: string, value: number): Namespace {
  const ns: Namespace = { name: namespace, names: [], hashes: [], values: [] };
  push(ns, hashName(namespace), name, value);
  return ns;
}

/** A sparse feature row: hashed indices (not yet reduced to the learner's bits) and values. */
export interface SparseRow {
  idx: number[];
  val: number[];
}

/**
 * Which context namespaces cross which action namespaces. Each entry is `context:action`, where
 * either side is a namespace name or `*` (every namespace on that side): `*:*` (the default) is
 * the full context × action interaction; `user:_id` alone gives per-action weights per user feature.
 */
export interface InteractionSpec {
  pairs: { context: string; action: string }[];
}

export function parseInteractions(specs: readonly string[]): InteractionSpec {
  const pairs = specs.map((s, i) => {
    const m = /^([^:]+):([^:]+)$/.exec(s.trim());
    if (!m) throw new RangeError(`interactions[${i}]: expected "context:action" (a namespace name or *), got "${s}"`);
    return { context: m[1]!, action: m[2]! };
  });
  return { pairs };
}

/** Whether some pair of `spec` crosses context namespace `c` with action namespace `a` (a loop, not a closure per pair: buildRow runs it for every namespace pair of every candidate). */
function crosses(spec: InteractionSpec, c: string, a: string): boolean {
  for (const p of spec.pairs) if ((p.context === '*' || p.context === c) && (p.action === '*' || p.action === a)) return true;
  return false;
}

/** Hash of the constant (bias) feature. */
export const CONSTANT_HASH = hashName('const', hashName('const'));

/**
 * The row for one (context, action): a constant, every context and action feature (first order),
 * and the quadratic features of every interacting namespace pair. Each pair of namespaces is
 * crossed once even when several specs match it.
 */
export function buildRow(context: readonly Namespace[], action: readonly Namespace[], spec: InteractionSpec, out: SparseRow): SparseRow {
  out.idx.length = 0;
  out.val.length = 0;
  out.idx.push(CONSTANT_HASH);
  out.val.push(1);
  for (const ns of context) for (let i = 0; i < ns.hashes.length; i++) (out.idx.push(ns.hashes[i]!), out.val.push(ns.values[i]!));
  for (const ns of action) for (let i = 0; i < ns.hashes.length; i++) (out.idx.push(ns.hashes[i]!), out.val.push(ns.values[i]!));
  for (const c of context) {
    for (const a of action) {
      if (!crosses(spec, c.name, a.name)) continue;
      for (let i = 0; i < c.hashes.length; i++) {
        const hc = c.hashes[i]!;
        const vc = c.values[i]!;
        for (let j = 0; j < a.hashes.length; j++) (out.idx.push(hashPair(hc, a.hashes[j]!)), out.val.push(vc * a.values[j]!));
      }
    }
  }
  return out;
}
