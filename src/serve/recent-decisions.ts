/**
 * Decisions kept in memory by event id, most recently used last, so that the feedback on a
 * decision this process logged needs no read of the store and no parse of its
 * payload (issue 22), and a cluster learner finds the decisions of the feedback it reads
 * (./cluster/cluster-sync.ts, LearnerTail). Bounded: past `max` entries the least recently used
 * goes.
 *
 * Only a hint, never the authority: the store is. Feedback is still stored only while its decision
 * is (`appendFeedback` with `onDecision`, checked inside the write), so a feedback on a decision an
 * erasure deleted gets its 404 whatever this holds. What is kept must equal what the store would
 * give back (`sameAsStored`), and must not change in the store after it was kept: the callers keep
 * only activated decisions (a deferred one's `activated` flag may be set later, by another server),
 * and an erasure drops its user's entries (`forgetUser`; a server that missed an erasure notice
 * drops them all, `clear`).
 */
import type { DecisionRecord } from '../store/types.js';

export class RecentDecisions {
  /** Event id → decision; Map order is use order (the first entry is the least recently used). */
  private readonly map = new Map<string, DecisionRecord>();
  readonly max: number;

  /** `max` 0 keeps nothing. */
  constructor(max: number) {
    this.max = Math.max(0, Math.floor(max));
  }

  get size(): number {
    return this.map.size;
  }

  add(d: DecisionRecord): void {
    if (this.max === 0) return;
    this.map.delete(d.id);
    this.map.set(d.id, d);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }

  get(id: string): DecisionRecord | undefined {
    const d = this.map.get(id);
    if (d !== undefined) {
      this.map.delete(id);
      this.map.set(id, d);
    }
    return d;
  }

  /**
   * An erasure: every decision of `user` goes. Returns how many. A scan, not an index per user: it
   * runs once per erasure, while an index would cost every add (the hot path) a second map write.
   */
  forgetUser(user: string): number {
    let n = 0;
    for (const [id, d] of this.map) {
      if (d.user !== user) continue;
      this.map.delete(id);
      n++;
    }
    return n;
  }

  delete(id: string): void {
    this.map.delete(id);
  }

  clear(): void {
    this.map.clear();
  }
}

/**
 * Whether a decision as built in memory reads back from the store as the same values, so that
 * feedback served from memory stores the same row and learns the same thing as feedback that read
 * the decision: the store keeps items, propensities and payload as JSON, and JSON.stringify then
 * JSON.parse gives back an equal value only for plain data (no typed array, Map, class instance,
 * function, cycle, non-finite number or −0, no undefined inside an array). An object property
 * holding undefined is allowed: it is dropped on the way to the store, and reads as undefined both
 * ways (the recommend payload's `context` is undefined when a request gives none).
 */
export function sameAsStored(d: DecisionRecord): boolean {
  if (!d.items.every((x) => typeof x === 'string')) return false;
  for (const p of d.propensities) if (!plainNumber(p)) return false;
  const budget = { left: MAX_PAYLOAD_BYTES };
  return plainJson(d.payload, 0, budget);
}

/**
 * Past this (approximate JSON size of the payload) a decision is not kept: the cache is bounded by
 * entries, and a client-sized context (up to the 1 MiB body limit, more once logged) must not let
 * a few thousand entries hold gigabytes. A cb payload is about 2 kB.
 */
export const MAX_PAYLOAD_BYTES = 32 * 1024;

/** Deeper than any payload a policy logs; past it the decision is read from the store instead. */
const MAX_DEPTH = 32;

function plainNumber(x: unknown): boolean {
  return typeof x === 'number' && Number.isFinite(x) && !Object.is(x, -0);
}

function plainJson(x: unknown, depth: number, budget: { left: number }): boolean {
  // Every value costs its rough JSON size; over the budget, the decision is not kept.
  budget.left -= typeof x === 'string' ? x.length + 2 : 8;
  if (budget.left < 0) return false;
  if (x === null || typeof x === 'string' || typeof x === 'boolean') return true;
  if (typeof x === 'number') return plainNumber(x);
  if (typeof x !== 'object' || depth >= MAX_DEPTH) return false;
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) if (!plainJson(x[i], depth + 1, budget)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(x) as unknown;
  // A class instance (a Date, a typed array, a Map) may serialise to something else (toJSON, or {}).
  if (proto !== Object.prototype && proto !== null) return false;
  for (const k in x) {
    const v = (x as Record<string, unknown>)[k];
    budget.left -= k.length + 3;
    if (v !== undefined && !plainJson(v, depth + 1, budget)) return false;
  }
  return true;
}
