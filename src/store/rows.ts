/**
 * Rows of the store's tables back into records, for both backends. The tables are the same;
 * what differs is how a driver hands back JSON columns (SQLite: text to parse; PostgreSQL jsonb:
 * already parsed) and booleans (SQLite: 0/1; PostgreSQL: boolean), which a `RowCodec` says.
 */
import type { ApiKeyRecord, CatalogueEntry, DecisionRecord, FeedbackRecord, TimelineBucket } from './types.js';

export type Row = Record<string, unknown>;

export interface RowCodec {
  /** A JSON column's value as stored by the driver → the parsed value. */
  json(v: unknown): unknown;
  /** A boolean column's value as stored by the driver → boolean. */
  bool(v: unknown): boolean;
}

/** A reader of decision rows for a driver's codec. */
export function decisionReader(c: RowCodec): (r: Row) => DecisionRecord {
  return (r) => ({
    seq: r.seq as number,
    id: r.id as string,
    ts: r.ts as number,
    user: (r.user as string | null) ?? null,
    kind: r.kind as DecisionRecord['kind'],
    items: c.json(r.items) as string[],
    propensities: c.json(r.propensities) as number[],
    scores: c.json(r.scores) as number[],
    snapshotId: (r.snapshot_id as string | null) ?? null,
    activated: c.bool(r.activated),
    payload: c.json(r.payload),
  });
}

export function feedbackFromRow(r: Row): FeedbackRecord {
  return {
    seq: r.seq as number,
    eventId: (r.event_id as string | null) ?? null,
    ts: r.ts as number,
    user: (r.user as string | null) ?? null,
    item: r.item as string,
    type: r.type as FeedbackRecord['type'],
    value: (r.value as number | null) ?? null,
    reward: r.reward as number,
    position: (r.position as number | null) ?? null,
    propensity: (r.propensity as number | null) ?? null,
  };
}

/** A reader of catalogue rows for a driver's codec. */
export function entryReader(c: RowCodec): (r: Row) => CatalogueEntry {
  return (r) => ({ id: r.id as string, meta: c.json(r.meta) as Record<string, unknown>, created: r.created as number, updated: r.updated as number });
}

export function keyFromRow(r: Row): ApiKeyRecord {
  return {
    id: r.id as string,
    scope: r.scope as ApiKeyRecord['scope'],
    salt: r.salt as Buffer,
    hash: r.hash as Buffer,
    created: r.created as number,
    name: r.name as string,
  };
}

/**
 * The timeline from its two grouped queries: decision rows (t, n, shown) and feedback rows
 * (t, n, clicks, r), each a bucket start t; a bucket with only one kind has zeros for the other.
 */
export function timelineFromRows(decisions: readonly Row[], feedback: readonly Row[]): TimelineBucket[] {
  const buckets = new Map<number, TimelineBucket>();
  const at = (t: number): TimelineBucket => {
    let x = buckets.get(t);
    if (!x) buckets.set(t, (x = { t, decisions: 0, shown: 0, feedback: 0, clicks: 0, rewardSum: 0 }));
    return x;
  };
  for (const r of decisions) {
    const x = at(r.t as number);
    x.decisions = r.n as number;
    // A SUM over no rows is NULL; PostgreSQL's sum of int4 arrives as int8.
    x.shown = Number(r.shown ?? 0);
  }
  for (const r of feedback) {
    const x = at(r.t as number);
    x.feedback = r.n as number;
    x.clicks = (r.clicks as number | null) ?? 0;
    x.rewardSum = (r.r as number | null) ?? 0;
  }
  return [...buckets.values()].sort((a, c) => a.t - c.t);
}
