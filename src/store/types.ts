/**
 * The storage contract, split into small interfaces (events, snapshots, catalogue, online state,
 * API keys) so that a backend can be swapped by URL (see ./open.ts). Every write returns a promise
 * that settles only after the write is durably committed: the server answers a request only then.
 */

/** A logged decision: what was shown, with which probabilities, under which model. */
export interface DecisionRecord {
  /** Assigned by the store (1, 2, …) in commit order; absent on records not yet stored. */
  seq?: number;
  /** Event id (given by the client for the Personalizer API, generated otherwise). */
  id: string;
  /** Unix milliseconds. */
  ts: number;
  /** External user id; null for the Personalizer API, which has no user. */
  user: string | null;
  kind: 'recommend' | 'rank';
  /** External item (action) ids, slate order. */
  items: string[];
  /** Probability the logging policy gave each position's item (for off-policy evaluation). */
  propensities: number[];
  scores: number[];
  snapshotId: string | null;
  /** False until activated (Personalizer deferActivation); rewards on inactive events are refused. */
  activated: boolean;
  /** Policy-specific data needed to learn from later feedback (features, explanations). JSON. */
  payload: unknown;
}

export type FeedbackType = 'click' | 'purchase' | 'rating' | 'dwell' | 'reward';

export interface FeedbackRecord {
  /** Assigned by the store (1, 2, …), increasing in commit order. */
  seq?: number;
  eventId: string | null;
  ts: number;
  user: string | null;
  item: string;
  type: FeedbackType;
  /** The raw value sent (rating, dwell seconds, reward); null when none. */
  value: number | null;
  /** Reward in [-1, 1] the learners receive. */
  reward: number;
  /** Slate position of the item in the decision, when the feedback refers to one. */
  position: number | null;
  propensity: number | null;
}

export interface TimelineBucket {
  /** Bucket start, unix ms. */
  t: number;
  decisions: number;
  shown: number;
  feedback: number;
  clicks: number;
  rewardSum: number;
}

export interface EventStore {
  appendDecision(d: DecisionRecord): Promise<void>;
  /**
   * Resolves with the stored record's seq. With `onDecision` (and an `eventId`), the row is
   * inserted only if that decision is still stored, checked inside the write itself: the writes
   * are serial, so an erasure that deleted the decision after the caller read it cannot leave
   * feedback pointing at nothing. Otherwise it rejects with NotFoundError (404, field eventId).
   */
  appendFeedback(f: FeedbackRecord, opts?: { onDecision?: boolean }): Promise<number>;
  getDecision(id: string): Promise<DecisionRecord | undefined>;
  /** Marks a deferred decision active; false when unknown. */
  activateDecision(id: string): Promise<boolean>;
  countDecisions(): Promise<number>;
  countFeedback(): Promise<number>;
  /** Feedback with seq > `afterSeq`, oldest first, at most `limit`. */
  feedbackSince(afterSeq: number, limit: number): Promise<FeedbackRecord[]>;
  /**
   * Most recent decisions first. With `{payload: false}` a decision's payload is not read: it is
   * `{}` where the stored one is a JSON object and null otherwise (a restart's recovery reads
   * hundreds of thousands of decisions, and only needs to know which carry one).
   */
  recentDecisions(limit: number, opts?: { payload?: boolean }): Promise<DecisionRecord[]>;
  /** Decisions with seq > `afterSeq`, oldest first, at most `limit` (paging through the log). */
  decisionsAfter(afterSeq: number, limit: number): Promise<DecisionRecord[]>;
  /** All feedback on these events, oldest first. */
  feedbackFor(eventIds: readonly string[]): Promise<FeedbackRecord[]>;
  timeline(bucketMs: number, sinceTs: number): Promise<TimelineBucket[]>;
  /** Items by summed reward, best first. */
  topItems(limit: number): Promise<{ item: string; feedback: number; rewardSum: number }[]>;
}

export interface SnapshotMeta {
  id: string;
  created: number;
  /** Recommender kind, e.g. "als". */
  kind: string;
  /** Where it came from: "initial", "retrain", "manual". */
  source: string;
  /** Free-form facts shown in the API and dashboard (items, users, interactions, fit seconds). */
  info: Record<string, unknown>;
}

export interface SnapshotStore {
  putSnapshot(meta: SnapshotMeta, body: Buffer): Promise<void>;
  listSnapshots(): Promise<SnapshotMeta[]>;
  getSnapshot(id: string): Promise<{ meta: SnapshotMeta; body: Buffer } | undefined>;
  /** Records an activation (history is kept for rollback). */
  activateSnapshot(id: string): Promise<void>;
  /** Activation history, most recent first (it may name snapshots deleted since). */
  activations(limit: number): Promise<{ snapshotId: string; ts: number }[]>;
  /** Removes a snapshot's body and meta (its activations stay, as history); false when unknown. */
  deleteSnapshot(id: string): Promise<boolean>;
}

export interface CatalogueEntry {
  id: string;
  /** Item or user metadata (see ItemMeta / UserMeta in src/data/dataset.ts). */
  meta: Record<string, unknown>;
  created: number;
  updated: number;
}

export type CatalogueKind = 'items' | 'users';

export interface CatalogueStore {
  /** Inserts or replaces all entries atomically (all or none). Resolves with how many were new. */
  upsert(kind: CatalogueKind, entries: CatalogueEntry[]): Promise<number>;
  get(kind: CatalogueKind, id: string): Promise<CatalogueEntry | undefined>;
  remove(kind: CatalogueKind, id: string): Promise<boolean>;
  list(kind: CatalogueKind, offset: number, limit: number): Promise<CatalogueEntry[]>;
  count(kind: CatalogueKind): Promise<number>;
  /** Every entry (used to load the catalogue into memory at start). */
  all(kind: CatalogueKind): Promise<CatalogueEntry[]>;
}

/** Small named blobs: checkpoints of online learners, server settings. */
export interface StateStore {
  getState(key: string): Promise<Buffer | undefined>;
  putState(key: string, value: Buffer): Promise<void>;
}

export type KeyScope = 'admin' | 'client';

export interface ApiKeyRecord {
  id: string;
  scope: KeyScope;
  salt: Buffer;
  hash: Buffer;
  created: number;
  name: string;
}

export interface KeyStore {
  putKey(k: ApiKeyRecord): Promise<void>;
  getKey(id: string): Promise<ApiKeyRecord | undefined>;
  listKeys(): Promise<ApiKeyRecord[]>;
  deleteKey(id: string): Promise<boolean>;
}

/**
 * One erasure, as the store applies it in a single transaction (src/serve/erasure.ts builds it).
 * The user's decisions, the feedback they gave or that answers their decisions, and their
 * `users` row are deleted; per-item feedback totals lose their contribution; the given
 * snapshots' bodies and state entries replace the stored ones (rewritten without the user); and
 * an audit record is added. The audit holds counts only: no id, no pseudonym.
 */
export interface ErasureRequest {
  /** The user id as stored (the pseudonym on a pseudonymised store). */
  user: string;
  /** The audit record's id (random) and time. */
  id: string;
  ts: number;
  /** Stored snapshots rewritten without the user; a snapshot deleted meanwhile is not re-created. */
  snapshots: { id: string; body: Buffer }[];
  state: { key: string; value: Buffer }[];
  /** What was removed outside the store (in-memory history, caches), added to the audit's counts. */
  counts: Record<string, number>;
  /**
   * Whether anything outside the store's rows held the user (memory, snapshots, base data). When
   * false and the store holds no row of theirs either, the erasure writes nothing (no state, no
   * audit record) and resolves null: an unknown id leaves no trace.
   */
  found: boolean;
}

/** An audit record of one erasure. */
export interface ErasureRecord {
  id: string;
  ts: number;
  /** decisions, feedback, users (catalogue rows), snapshots (rewritten), plus the request's own counts. */
  counts: Record<string, number>;
}

export interface ErasureStore {
  /**
   * Apply an erasure in one transaction; resolves with its audit record once committed, or null
   * when nothing held the user (`ErasureRequest.found` false and no row of theirs: nothing written).
   */
  eraseUser(r: ErasureRequest): Promise<ErasureRecord | null>;
  /** Audit records, most recent first. */
  list(limit: number): Promise<ErasureRecord[]>;
}

export interface Store {
  /** The URL it was opened with (secrets removed). */
  readonly url: string;
  readonly events: EventStore;
  readonly snapshots: SnapshotStore;
  readonly catalogue: CatalogueStore;
  readonly state: StateStore;
  readonly keys: KeyStore;
  readonly erasures: ErasureStore;
  close(): Promise<void>;
}
