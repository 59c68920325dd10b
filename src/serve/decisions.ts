import { NotFoundError } from '../errors.js';
import type { UserRef } from '../recommenders/types.js';
import { isDuplicateKeyError } from '../store/duplicate.js';
import type { DecisionRecord, Store } from '../store/types.js';
import { itemPopularity, noHistoryScores } from '../util/no-history.js';
import { topK } from '../util/topk.js';
import { featuresOf, type Catalogue } from './catalogue.js';
import { ConflictError, RequestError } from './errors.js';
import { newEventId } from './event-id.js';
import type { UserHistories } from './histories.js';
import type { ServedModel } from './model.js';
import type { ErasureMarks } from './erasure.js';
import { sameAsStored, type RecentDecisions } from './recent-decisions.js';
import { selectPool } from './select.js';
import { SessionIds } from './sessions.js';
import { catalogueDigest, NO_SHARED_STATS, poolStateDigest, type Pool, type SharedEntry, type SharedPoolStats, type SharedPools } from './shared-pools.js';
import type { Candidate, Explanation, PolicyInput, ServingPolicy } from './serving-policy.js';

export interface RecommendRequest {
  user: string;
  context?: Record<string, unknown>;
  k: number;
  candidates?: string[];
  exclude?: string[];
  excludeSeen: boolean;
  /** The user's session; derived from the user and idle time when absent (./sessions.ts). */
  session?: string;
  /** `text`: add a model-written sentence per item (Engine.recommend; needs a server `--llm`). */
  explain?: 'structured' | 'text';
}

export interface SlateItem {
  id: string;
  position: number;
  score: number;
  propensity: number;
  explanation: Explanation;
  /** The structured explanation as one sentence, by the server's chat model (`explain: "text"`). */
  explanationText?: string;
}

export interface RecommendResponse {
  eventId: string;
  user: string;
  snapshot: string;
  items: SlateItem[];
  /** Why the sentences are missing when the chat model failed (the slate itself is served and logged). */
  explanationTextError?: string;
}

export interface RankRequest {
  contextFeatures?: unknown[];
  actions: { id: string; features?: unknown[] }[];
  excludedActions?: string[];
  eventId?: string;
  deferActivation?: boolean;
}

export interface RankResponse {
  ranking: { id: string; probability: number }[];
  eventId: string;
  rewardActionId: string | null;
}

export interface DecisionsConfig {
  /** Cold items (created after the snapshot) offered to the policy per request. */
  coldSlots: number;
  /** Users whose candidate pool is memoised; 0 disables (see EngineConfig.poolCache). */
  poolCache: number;
  sessionIdleSeconds: number;
}

/** What the decisions need from the rest of the engine. */
export interface DecisionsDeps {
  store: Store;
  policy: ServingPolicy;
  catalogue: Catalogue;
  histories: UserHistories;
  /** The model being served and its snapshot id. */
  model: () => ServedModel;
  snapshotId: () => string;
  /** A logged, activated decision: its reward window opens. */
  opened: (d: DecisionRecord) => void;
  counters: { decisions: number };
  /**
   * Where a decision logged here is kept for the feedback on it (./recent-decisions.ts), with the
   * engine's erasure marks: a decision whose user was erased while its append was in flight is
   * not kept (the erasure may have deleted it, and already dropped the user's entries).
   */
  recent?: { decisions: RecentDecisions; erasures: ErasureMarks };
}

const NO_ITEMS = new Int32Array(0);

/** The best `size` of a pool of at least that size (its prefix: pools are best first). */
function prefix(p: Pool, size: number): Pool {
  return p.items.length <= size ? p : { items: p.items.subarray(0, size), scores: p.scores.subarray(0, size) };
}

/**
 * Decisions: a slate for a user (/recommend), a ranking of given actions (Personalizer Rank), each
 * logged with its propensities before it is answered, and the exposure count of every shown item.
 * The recommender's candidate pool per user is memoised, exactly: an entry is used only while the
 * catalogue version (items, snapshot) is the one it was computed under and the user's history has
 * not changed since (`forgetUser`). With a shared cache (./shared-pools.ts, `--redis`) a miss here
 * looks there (`sharedLookup`, before the slate is built) and a computed pool is written to both.
 */
export class Decisions {
  readonly exposure = new Map<string, number>();
  readonly poolStats = { hits: 0, misses: 0 };
  private readonly config: DecisionsConfig;
  private readonly d: DecisionsDeps;
  private mask = new Uint8Array(0);
  private scoreBuf = new Float32Array(0);
  /** user → recommender pool; valid while `version` equals the catalogue's. Map order is LRU order. */
  private readonly pools = new Map<string, { version: number; size: number; items: Int32Array; scores: Float32Array }>();
  private anon: { version: number; scores: Float32Array } | null = null;
  /** Derived session ids of recommend requests that name none. */
  private readonly sessionIds = new SessionIds();
  /** The second level, in Redis (null: pools are memoised in this process only). */
  private shared: SharedPools | null = null;
  /** What earlier second levels counted (`useShared` replaced them): the counters never go back. */
  private retiredStats: SharedPoolStats = { ...NO_SHARED_STATS };
  /**
   * Users whose erasure this cluster server heard while its model still holds their row (it reads
   * the rewritten snapshot afterwards: `reloaded`), by the count of erasures heard when theirs was.
   * Until then a pool computed for them comes from the erased row: it must not reach Redis.
   */
  private readonly awaitingReload = new Map<string, number>();
  private erasuresHeard = 0;
  /** The newest shared lookup per user still in flight: the user's next request waits behind it (`sharedLookup`). */
  private readonly lookups = new Map<string, Promise<SharedEntry | null | undefined>>();
  /** `catalogueDigest` of the deleted set, for one catalogue version and model. */
  private deletedDigest: { version: number; model: ServedModel; digest: Buffer } | null = null;

  constructor(config: DecisionsConfig, deps: DecisionsDeps) {
    this.config = config;
    this.d = deps;
  }

  /** Share pools through `shared` (null: stop sharing). */
  useShared(shared: SharedPools | null): void {
    if (this.shared && this.shared !== shared) this.retiredStats = this.sharedStats;
    this.shared = shared;
  }

  get sharedStats(): Readonly<SharedPoolStats> {
    const now = this.shared?.stats ?? NO_SHARED_STATS;
    const r = this.retiredStats;
    return { hits: r.hits + now.hits, misses: r.misses + now.misses, errors: r.errors + now.errors, setErrors: r.setErrors + now.setErrors, delErrors: r.delErrors + now.delErrors };
  }

  /** A new active model: buffers sized to its items. */
  bind(m: ServedModel): void {
    const n = m.itemIds.length;
    this.mask = new Uint8Array(n);
    this.scoreBuf = new Float32Array(n);
  }

  /** The user's history changed (or was dropped): their memoised pool is stale. */
  forgetUser(user: string): void {
    this.pools.delete(user);
  }

  /**
   * Every memoised pool, derived session and kept decision (a cluster server rebuilding its
   * per-user memory after an erasure notice it missed: it does not know whose decisions went).
   */
  clearUsers(): void {
    this.pools.clear();
    this.sessionIds.clear();
    this.d.recent?.decisions.clear();
  }

  /**
   * Erasure: the user's memoised pool, derived session and kept decisions; returns how many
   * entries went. Their shared entry is deleted too, not awaited (a failed delete leaves it to its TTL).
   */
  eraseUser(user: string): number {
    void this.shared?.erase(user);
    return Number(this.pools.delete(user)) + Number(this.sessionIds.forget(user)) + (this.d.recent?.decisions.forgetUser(user) ?? 0);
  }

  /**
   * A cluster server heard that the learner erased `user`; its model still holds their row until it
   * re-reads the rewritten snapshot. Their shared entry goes now, and until `reloaded` their pools
   * are neither read from nor written to Redis.
   */
  eraseHeard(user: string): number {
    if (this.shared) this.awaitingReload.set(user, ++this.erasuresHeard);
    return this.eraseUser(user);
  }

  /** Erasures heard so far: a snapshot read started now reflects all of them (`reloaded`). */
  get heardMark(): number {
    return this.erasuresHeard;
  }

  /**
   * The model was re-read from the store by a read started at `mark` (`heardMark`): the users
   * erased by then are out of it. Their keys are deleted again, for entries that servers which
   * had not yet heard the erasure wrote meanwhile (later ones expire with the TTL).
   */
  reloaded(mark: number): void {
    for (const [user, heard] of this.awaitingReload) {
      if (heard > mark) continue;
      this.awaitingReload.delete(user);
      void this.shared?.erase(user);
    }
  }

  /**
   * Scores for a user the model knows nothing about (no training row, no online history) and for
   * Personalizer calls (no user): popularity, as util/no-history.ts picks it (the model's own
   * scores for an empty user when they rank anything, else each item's number of training users
   * from the snapshot's seen-items CSR), so that such a user gets popular items rather than
   * catalogue order. They depend only on the model, so they are computed once per catalogue
   * version (snapshot or catalogue change).
   */
  anonymousScores(): Float32Array {
    const version = this.d.catalogue.version;
    if (!this.anon || this.anon.version !== version) {
      const m = this.d.model();
      const own = Float32Array.from(m.rec.scoreAll({ items: NO_ITEMS }, this.scoreBuf));
      this.anon = { version, scores: noHistoryScores(own, itemPopularity(m.seenIndices, m.itemIds.length)) };
    }
    return this.anon.scores;
  }

  private userRef(user: string): { ref: UserRef; seen: Int32Array; index: number; anonymous: boolean; byIndex: boolean } {
    const m = this.d.model();
    const u = m.userIndex.get(user) ?? -1;
    const trained = u >= 0 ? m.seenIndices.subarray(m.seenIndptr[u]!, m.seenIndptr[u + 1]!) : NO_ITEMS;
    const online = this.d.histories.get(user);
    if (!online || online.length === 0) return { ref: u >= 0 ? u : { items: trained }, seen: trained, index: u, anonymous: u < 0, byIndex: u >= 0 };
    // Fold-in: the user as training items plus what they liked since, most recent last.
    const extra: number[] = [];
    for (const id of online) {
      const i = m.itemIndex.get(id);
      if (i !== undefined) extra.push(i);
    }
    const items = new Int32Array(trained.length + extra.length);
    items.set(trained);
    items.set(extra, trained.length);
    return { ref: { items }, seen: items, index: u, anonymous: u < 0 && items.length === 0, byIndex: false };
  }

  /** Whether a request's pool may come from (and go to) the caches: the plain "top items for this user" case. */
  private cacheable(req: RecommendRequest, size: number): boolean {
    return size > 0 && this.config.poolCache > 0 && !req.candidates && !(req.exclude && req.exclude.length) && req.excludeSeen;
  }

  /**
   * Before a slate is built (Engine.recommend): on a first-level miss, the user's shared entry,
   * read from Redis. Null when there is nothing to wait for (no shared cache, the request is not
   * cacheable, a first-level hit, a user whose pool is not shared (`sharesPool`), Redis not usable): the request then runs as without Redis, with
   * no await. A user's requests keep their order: one that comes while an earlier one of the same
   * user is still looking waits for it, so the earlier one builds and logs its slate first (and
   * fills the first level, which the later one then usually hits); requests of other users never
   * wait for each other. The entry is only a candidate: `buildSlate` checks it against the state
   * it builds from, which may have changed during the read.
   */
  sharedLookup(req: RecommendRequest): Promise<SharedEntry | null | undefined> | null {
    if (!this.shared) return null;
    const before = this.lookups.get(req.user);
    // undefined: no lookup was made after all, or its read failed (see buildSlate's `found`).
    const p = before ? before.then(() => this.lookupNow(req) ?? undefined) : this.lookupNow(req);
    if (!p) return null;
    this.lookups.set(req.user, p);
    // Never rejects (the cache's reads resolve undefined on failure), so this chain cannot leave an unhandled rejection.
    void p.finally(() => {
      if (this.lookups.get(req.user) === p) this.lookups.delete(req.user);
    });
    return p;
  }

  private lookupNow(req: RecommendRequest): Promise<SharedEntry | null | undefined> | null {
    const shared = this.shared;
    const m = this.d.model();
    if (!shared || !m.contentId || !this.sharesPool(m, req.user)) return null;
    let size: number;
    try {
      size = this.d.policy.poolSize(req.k);
    } catch {
      return null; // the request fails where buildSlate asks again, with the policy's error
    }
    if (!this.cacheable(req, size)) return null;
    const hit = this.pools.get(req.user);
    if (hit && hit.version === this.d.catalogue.version && hit.size >= size) return null;
    return shared.get(req.user);
  }

  /**
   * Whether the user's pool may be shared: the model knows them or they have a history, and no
   * erasure of theirs awaits the model's reload. Anyone else (an anonymous or arbitrary id) gets
   * the popularity pool, which is cheap: a Redis key per such id would only cost a round trip and
   * memory.
   */
  private sharesPool(m: ServedModel, user: string): boolean {
    return (m.userIndex.has(user) || (this.d.histories.get(user)?.length ?? 0) > 0) && !this.awaitingReload.has(user);
  }

  /** `poolStateDigest` for the user as the active model and catalogue see them now. */
  private poolState(m: ServedModel, user: { index: number; byIndex: boolean; anonymous: boolean; seen: Int32Array }): Buffer {
    const cat = this.d.catalogue;
    let d = this.deletedDigest;
    if (!d || d.version !== cat.version || d.model !== m) d = this.deletedDigest = { version: cat.version, model: m, digest: catalogueDigest(cat.deleted) };
    return poolStateDigest(m.contentId!, d.digest, user);
  }

  /**
   * `live`: a logged decision (a step of the user's session); a preview is none. `found`: what
   * `sharedLookup` read for this request (undefined: no lookup was made, or its read failed).
   */
  private buildSlate(req: RecommendRequest, eventId: string, live = false, found?: SharedEntry | null) {
    const m = this.d.model();
    const cat = this.d.catalogue;
    const blocked = new Set<string>(req.exclude ?? []);
    if (req.excludeSeen) for (const id of this.d.histories.get(req.user) ?? []) blocked.add(id);
    let candIdx: Int32Array | undefined;
    let coldIds: string[];
    if (req.candidates) {
      const idx: number[] = [];
      coldIds = [];
      // A slate shows an item once: a repeated candidate would be offered twice, with two propensities.
      const given = new Set<string>();
      req.candidates.forEach((id, c) => {
        if (given.has(id)) throw new RequestError(`duplicate candidate "${id}"`, `candidates[${c}]`);
        given.add(id);
        if (!cat.hasItem(id)) throw new NotFoundError(`unknown item "${id}"`, `candidates[${c}]`);
        const i = m.itemIndex.get(id);
        if (i !== undefined) idx.push(i);
        else if (!blocked.has(id)) coldIds.push(id);
      });
      candIdx = Int32Array.from(idx);
    } else {
      coldIds = [];
      const cold = cat.cold;
      for (let j = cold.length - 1; j >= 0 && coldIds.length < this.config.coldSlots; j--) {
        if (!blocked.has(cold[j]!)) coldIds.push(cold[j]!);
      }
    }
    const user = this.userRef(req.user);
    // What may not be shown, in model indices (one memcpy of nItems bytes plus the user's items).
    const mask = this.mask;
    mask.set(cat.deleted);
    if (req.excludeSeen) for (let j = 0; j < user.seen.length; j++) mask[user.seen[j]!] = 1;
    for (const id of blocked) {
      const i = m.itemIndex.get(id);
      if (i !== undefined) mask[i] = 1;
    }
    const size = this.d.policy.poolSize(req.k);
    let pool: { items: Int32Array; scores: Float32Array } | undefined;
    if (size === 0) {
      // The policy ranks the catalogue itself: the pool is only the request's candidate list, unscored.
      const items = candIdx ? candIdx.filter((i) => mask[i] === 0) : NO_ITEMS;
      pool = { items, scores: new Float32Array(items.length).fill(NaN) };
    }
    const cacheable = this.cacheable(req, size);
    // Shared only for a model named by its stored body (./model.ts, contentId).
    const shared = cacheable && this.shared && m.contentId && this.sharesPool(m, req.user) ? this.shared : null;
    let state: Buffer | undefined;
    if (!pool && cacheable) {
      const hit = this.pools.get(req.user);
      if (hit && hit.version === cat.version && hit.size >= size) {
        this.pools.delete(req.user);
        this.pools.set(req.user, hit);
        pool = prefix(hit, size);
        this.poolStats.hits++;
      } else {
        this.poolStats.misses++;
        if (shared && found !== undefined) {
          state = this.poolState(m, user);
          const entry = shared.match(found, state, size);
          if (entry) {
            this.memo(req.user, cat.version, found!.size, entry);
            pool = prefix(entry, size);
          }
        }
      }
    }
    if (!pool) {
      const scores = user.anonymous ? this.anonymousScores() : m.rec.scoreAll(user.ref, this.scoreBuf);
      pool = candIdx ? topK(scores, size, mask, candIdx) : selectPool(scores, size, mask);
      if (cacheable) {
        this.memo(req.user, cat.version, size, pool);
        shared?.put(req.user, state ?? this.poolState(m, user), size, pool);
      }
    }
    const cands: Candidate[] = [];
    for (let p = 0; p < pool.items.length; p++) {
      const i = pool.items[p]!;
      cands.push({ id: m.itemIds[i]!, index: i, recScore: pool.scores[p]!, features: null, hashed: cat.hashedByIndex[i] });
    }
    for (const id of coldIds) cands.push({ id, index: -1, recScore: NaN, features: null, hashed: cat.hashedItem(id) });
    const now = Date.now();
    const choice = this.d.policy.choose({
      eventId,
      user: req.user,
      session: live ? this.sessionIds.resolve(req.user, req.session, now, this.config.sessionIdleSeconds * 1000) : null,
      ts: now,
      userIndex: user.index,
      history: user.seen,
      context: req.context ?? null,
      k: req.k,
      mode: 'slate',
      candidates: cands,
      mask,
      allowed: candIdx,
      model: m,
    });
    const items: SlateItem[] = choice.items.map((x, p) => ({
      id: x.id,
      position: p,
      score: choice.scores[p]!,
      propensity: choice.propensities[p]!,
      explanation: choice.explanations[p]!,
    }));
    // The request context is logged with the policy's learning payload (off-policy evaluation reads it).
    return { items, payload: { ...(choice.payload as object), context: req.context } };
  }

  /**
   * The first level's entry for `user` (the oldest inserted goes past the bound). As before the
   * shared level: a user's replaced entry keeps its place.
   */
  private memo(user: string, version: number, size: number, pool: Pool): void {
    this.pools.set(user, { version, size, items: pool.items, scores: pool.scores });
    if (this.pools.size > this.config.poolCache) this.pools.delete(this.pools.keys().next().value!);
  }

  /**
   * A slate for the user, logged (with propensities and learning features) before it returns.
   * `found`: the shared lookup's result (`sharedLookup`), if one was made.
   */
  async recommend(req: RecommendRequest, found?: SharedEntry | null): Promise<RecommendResponse> {
    const eventId = newEventId();
    const { items, payload } = this.buildSlate(req, eventId, true, found);
    const snapshot = this.d.snapshotId();
    const decision: DecisionRecord = {
      id: eventId,
      ts: Date.now(),
      user: req.user,
      kind: 'recommend',
      items: items.map((x) => x.id),
      propensities: items.map((x) => x.propensity),
      scores: items.map((x) => x.score),
      snapshotId: snapshot,
      activated: true,
      payload,
    };
    const mark = this.d.recent?.erasures.mark() ?? 0;
    await this.d.store.events.appendDecision(decision);
    this.logged(decision);
    this.keep(decision, mark);
    return { eventId, user: req.user, snapshot, items };
  }

  /** The same slate logic without logging anything (dashboard preview). */
  preview(user: string, k: number): SlateItem[] {
    return this.buildSlate({ user, k, excludeSeen: true }, `preview:${user}`).items;
  }

  async rank(req: RankRequest): Promise<RankResponse> {
    const eventId = req.eventId ?? newEventId();
    const excluded = new Set(req.excludedActions ?? []);
    const seen = new Set<string>();
    req.actions.forEach((a, i) => {
      if (seen.has(a.id)) throw new RequestError(`duplicate action id "${a.id}"`, `actions[${i}].id`);
      seen.add(a.id);
    });
    const actions = req.actions.filter((a) => !excluded.has(a.id));
    if (await this.d.store.events.getDecision(eventId)) throw new ConflictError(`event id "${eventId}" was already used`, 'eventId');
    const m = this.d.model();
    const cat = this.d.catalogue;
    const popular = this.anonymousScores();
    const allowed: number[] = [];
    const cands: Candidate[] = actions.map((a) => {
      const i = m.itemIndex.get(a.id);
      let recScore = NaN;
      let index = -1;
      if (i !== undefined && cat.deleted[i] === 0) {
        recScore = popular[i]!;
        index = i;
        allowed.push(i);
      }
      const meta = cat.get('items', a.id);
      return { id: a.id, index, recScore, features: meta ? [a.features ?? [], featuresOf(meta)] : (a.features ?? []) };
    });
    this.mask.set(cat.deleted);
    const input: PolicyInput = {
      eventId,
      user: null,
      session: null,
      ts: Date.now(),
      userIndex: -1,
      history: NO_ITEMS,
      context: req.contextFeatures ?? [],
      k: cands.length,
      mode: 'single',
      candidates: cands,
      mask: this.mask,
      allowed: Int32Array.from(allowed),
      model: m,
    };
    const r = this.d.policy.choose(input);
    const ranking = r.items.map((x, p) => ({ id: x.id, probability: r.propensities[p]! }));
    const decision: DecisionRecord = {
      id: eventId,
      ts: Date.now(),
      user: null,
      kind: 'rank',
      items: ranking.map((x) => x.id),
      propensities: ranking.map((x) => x.probability),
      scores: r.scores,
      snapshotId: this.d.snapshotId(),
      activated: !(req.deferActivation ?? false),
      payload: r.payload,
    };
    const mark = this.d.recent?.erasures.mark() ?? 0;
    try {
      await this.d.store.events.appendDecision(decision);
    } catch (e) {
      // Two calls with one event id can both pass the check above (they run in the same turn).
      if (isDuplicateKeyError(e)) throw new ConflictError(`event id "${eventId}" was already used`, 'eventId');
      throw e;
    }
    this.logged(decision, ranking[0] ? [ranking[0].id] : []);
    // A client-chosen event id can be used again once an erasure deleted its decision, by another
    // server too, whose memory of the old decision would then answer for the new one: only
    // decisions with ids this server drew (never reused) are kept.
    if (req.eventId === undefined) this.keep(decision, mark);
    else this.d.recent?.decisions.delete(eventId);
    return { ranking, eventId, rewardActionId: ranking[0]?.id ?? null };
  }

  /**
   * After the append of a decision this process logged: kept for its feedback when it cannot
   * change in the store (activated: a deferred one is activated later, maybe by another server),
   * when what is in memory is what the store holds (`sameAsStored`), and when its user was not
   * erased since `mark` (taken before the append).
   */
  private keep(d: DecisionRecord, mark: number): void {
    const r = this.d.recent;
    if (!r || !d.activated || r.erasures.since(d.user, mark) || !sameAsStored(d)) return;
    r.decisions.add(d);
  }

  /**
   * After commit: the reward window opens, and the shown items (for Rank, the pick) count as
   * exposed. A cluster's learner calls it for the decisions the servers logged (./cluster/).
   */
  logged(d: DecisionRecord, shown: readonly string[] = d.kind === 'rank' ? d.items.slice(0, 1) : d.items): void {
    if (d.activated) this.d.opened(d);
    this.d.counters.decisions++;
    for (const id of shown) this.exposure.set(id, (this.exposure.get(id) ?? 0) + 1);
  }
}
