import { randomUUID } from 'node:crypto';
import type { Dataset, ItemMeta } from '../data/dataset.js';
import { NotFoundError } from '../errors.js';
import type { UserRef } from '../recommenders/types.js';
import type { CatalogueEntry, CatalogueKind, DecisionRecord, FeedbackRecord, FeedbackType, SnapshotMeta, Store } from '../store/types.js';
import { parse, stringify } from '../util/serialize.js';
import { topK } from '../util/topk.js';
import { ConflictError, RequestError } from './errors.js';
import { decodeSnapshot, encodeSnapshot, type ModelFactory, type ServedModel } from './model.js';
import { AgentPolicy } from './agent-policy.js';
import { newEventId } from './event-id.js';
import { SlatePolicy, type PolicyConfig } from './policy.js';
import { selectPool } from './select.js';
import type { Candidate, Explanation, PolicyInput, ServingPolicy } from './serving-policy.js';
import { fitSnapshot, withOnline } from './training.js';

export interface EngineConfig {
  /** Recommender fitted for the first snapshot and on retrain. */
  model: { kind: string; config: Record<string, unknown> };
  policy: Partial<PolicyConfig>;
  /**
   * Serve a registered agent (src/agents registry name, with config overrides) instead of the
   * LinUCB re-ranker; null (the default) keeps the re-ranker.
   */
  agent: { name: string; config?: Record<string, unknown> } | null;
  /** Refit the recommender (new snapshot, activated) after this many feedback events; 0 = never. */
  retrainEvery: number;
  /** Checkpoint the bandit after this many learned rewards (restart replays the rest). */
  checkpointEvery: number;
  /** Cold items (created after the snapshot) offered to the bandit per request. */
  coldSlots: number;
  /** Rating → reward: (rating − ratingMid) / ratingHalfRange, clipped to [−1, 1]. */
  ratingMid: number;
  ratingHalfRange: number;
  /** Dwell seconds that count as reward 1 (less is proportional). */
  dwellFull: number;
  /**
   * Users whose candidate pool (the recommender's top items) is memoised; 0 disables. Exact, not
   * approximate: an entry is dropped when the user's state, the catalogue or the snapshot changes.
   */
  poolCache: number;
  /** Fit retrains in a worker thread (registry models) so requests never wait on a fit. */
  retrainInWorker: boolean;
}

export const ENGINE_DEFAULTS: EngineConfig = {
  model: { kind: 'popularity', config: {} },
  policy: {},
  agent: null,
  retrainEvery: 0,
  checkpointEvery: 500,
  coldSlots: 5,
  ratingMid: 3,
  ratingHalfRange: 2,
  dwellFull: 60,
  poolCache: 10_000,
  retrainInWorker: true,
};

export interface RecommendRequest {
  user: string;
  context?: Record<string, unknown>;
  k: number;
  candidates?: string[];
  exclude?: string[];
  excludeSeen: boolean;
}

export interface SlateItem {
  id: string;
  position: number;
  score: number;
  propensity: number;
  explanation: Explanation;
}

export interface RecommendResponse {
  eventId: string;
  user: string;
  snapshot: string;
  items: SlateItem[];
}

export interface FeedbackRequest {
  eventId?: string;
  user?: string;
  item: string;
  type: Exclude<FeedbackType, 'reward'>;
  value?: number;
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

interface LearnJob {
  /** The decision's payload as the policy logged it. */
  payload: unknown;
  position: number;
  reward: number;
  seq: number;
}

const NO_ITEMS = new Int32Array(0);

/** Counters the metrics endpoint and dashboard read. */
export interface EngineCounters {
  decisions: number;
  feedback: Record<string, number>;
  rewardSum: number;
  learned: number;
  retrains: number;
  retrainErrors: number;
}

type Log = (msg: string) => void;

/**
 * The serving core, independent of HTTP: catalogue, active model, policy, event log, online
 * learning. Every accepted event is committed to the store before its promise resolves; online
 * learning happens after the commit, in a background loop (setImmediate batches), so a request
 * never waits for it.
 */
export class Engine {
  readonly store: Store;
  readonly config: EngineConfig;
  readonly policy: ServingPolicy;
  readonly counters: EngineCounters = { decisions: 0, feedback: {}, rewardSum: 0, learned: 0, retrains: 0, retrainErrors: 0 };
  private readonly factory: ModelFactory;
  private readonly base: Dataset;
  private readonly log: Log;
  private model!: ServedModel;
  private snapshotMeta!: SnapshotMeta;
  private readonly items = new Map<string, { meta: Record<string, unknown>; hashed: Float32Array }>();
  private readonly users = new Map<string, Record<string, unknown>>();
  /** Catalogue items the active model does not know, oldest first. */
  private cold: string[] = [];
  /** 1 where a model item is no longer in the catalogue. */
  private deleted = new Uint8Array(0);
  private mask = new Uint8Array(0);
  private scoreBuf = new Float32Array(0);
  private hashedByIndex: Float32Array[] = [];
  /** Items each user rewarded positively online (fold-in state), in order. */
  private readonly histories = new Map<string, string[]>();
  readonly exposure = new Map<string, number>();
  private queue: LearnJob[] = [];
  private draining = false;
  private lastLearnedSeq = 0;
  private sinceCheckpoint = 0;
  private sinceRetrain = 0;
  private retraining: Promise<SnapshotMeta> | null = null;
  /** user → recommender pool; valid while `version` equals `poolVersion`. Map order is LRU order. */
  private readonly pools = new Map<string, { version: number; size: number; items: Int32Array; scores: Float32Array }>();
  private poolVersion = 0;
  readonly poolStats = { hits: 0, misses: 0 };
  private anon: { version: number; scores: Float32Array } | null = null;
  private closed = false;

  private constructor(store: Store, base: Dataset, factory: ModelFactory, config: EngineConfig, log: Log) {
    this.store = store;
    this.base = base;
    this.factory = factory;
    this.config = config;
    this.log = log;
    this.policy = config.agent ? new AgentPolicy({ agent: config.agent.name, config: config.agent.config ?? {} }, log) : new SlatePolicy(config.policy);
  }

  /**
   * Open the engine on a store: on first start it imports the dataset's catalogue and fits the
   * first snapshot; afterwards it restores the active snapshot, the catalogue, the bandit
   * checkpoint, and replays the feedback logged after that checkpoint.
   */
  static async open(store: Store, base: Dataset, factory: ModelFactory, config: Partial<EngineConfig> = {}, log: Log = () => {}): Promise<Engine> {
    const e = new Engine(store, base, factory, { ...ENGINE_DEFAULTS, ...config }, log);
    await e.start();
    return e;
  }

  private async start(): Promise<void> {
    const st = this.store;
    if (!(await st.state.getState('seeded'))) {
      const now = Date.now();
      const items: CatalogueEntry[] = this.base.items.ids().map((id, i) => ({ id, meta: itemMetaJson(this.base.itemMeta[i]), created: now, updated: now }));
      const users: CatalogueEntry[] = this.base.users.ids().map((id, i) => ({ id, meta: { ...(this.base.userMeta[i] ?? {}) }, created: now, updated: now }));
      await Promise.all([
        st.catalogue.upsert('items', items),
        st.catalogue.upsert('users', users),
        st.state.putState('seeded', Buffer.from(datasetStamp(this.base))),
      ]);
    } else {
      const seeded = (await st.state.getState('seeded'))!.toString('utf8');
      if (seeded !== datasetStamp(this.base)) {
        this.log(`this store was seeded from ${seeded}, not ${datasetStamp(this.base)}: serving its saved catalogue and snapshot; retrains use the new data`);
      }
    }
    for (const e of await st.catalogue.all('items')) this.items.set(e.id, { meta: e.meta, hashed: this.policy.hashItem(featuresOf(e.meta)) });
    for (const e of await st.catalogue.all('users')) this.users.set(e.id, e.meta);

    const acts = await st.snapshots.activations(1);
    if (acts.length > 0) {
      const snap = await st.snapshots.getSnapshot(acts[0]!.snapshotId);
      if (!snap) throw new NotFoundError(`active snapshot ${acts[0]!.snapshotId} is missing from the store`);
      this.install(decodeSnapshot(snap.meta.id, snap.body, this.factory), snap.meta);
    } else {
      const meta = await this.fitSnapshot('initial', this.base);
      await this.activateSnapshot(meta.id);
    }
    await this.recover();
  }

  /** Rebuild online state from the log: histories from all feedback, the bandit from its checkpoint on. */
  private async recover(): Promise<void> {
    const ck = await this.store.state.getState('bandit');
    let fromSeq = 0;
    if (ck) {
      const o = parse(ck.toString('utf8')) as { state: unknown; lastSeq: number };
      if (this.policy.setState(o.state)) fromSeq = o.lastSeq;
      else this.log(`the policy checkpoint does not fit ${this.policy.name} (another policy, dimension or snapshot): relearning from the log`);
    }
    let after = 0;
    let replayed = 0;
    const decisions = new Map<string, DecisionRecord | undefined>();
    for (;;) {
      const page = await this.store.events.feedbackSince(after, 5000);
      if (page.length === 0) break;
      for (const f of page) {
        after = f.seq!;
        this.counters.feedback[f.type] = (this.counters.feedback[f.type] ?? 0) + 1;
        this.counters.rewardSum += f.reward;
        if (f.reward > 0 && f.user !== null) this.remember(f.user, f.item);
        if (f.seq! > fromSeq && f.eventId !== null) {
          if (!decisions.has(f.eventId)) decisions.set(f.eventId, await this.store.events.getDecision(f.eventId));
          const job = learnJob(decisions.get(f.eventId), f);
          if (job && this.policy.learn(job.payload, job.position, job.reward)) replayed++;
        }
      }
    }
    this.policy.flush();
    this.lastLearnedSeq = after;
    this.counters.learned = this.policy.updates;
    this.counters.decisions = await this.store.events.countDecisions();
    for (const d of await this.store.events.recentDecisions(200_000)) for (const id of d.items) this.exposure.set(id, (this.exposure.get(id) ?? 0) + 1);
    if (replayed > 0) this.log(`replayed ${replayed} rewards logged after the bandit checkpoint`);
  }

  private install(m: ServedModel, meta: SnapshotMeta): void {
    this.poolVersion++;
    this.model = m;
    this.snapshotMeta = meta;
    const n = m.itemIds.length;
    this.deleted = new Uint8Array(n);
    this.mask = new Uint8Array(n);
    this.scoreBuf = new Float32Array(n);
    this.hashedByIndex = new Array<Float32Array>(n);
    for (let i = 0; i < n; i++) {
      const it = this.items.get(m.itemIds[i]!);
      if (!it) this.deleted[i] = 1;
      this.hashedByIndex[i] = it ? it.hashed : this.policy.hashItem(null);
    }
    this.cold = [...this.items.keys()].filter((id) => !m.itemIndex.has(id));
    this.policy.bind(m, (id) => this.items.get(id)?.meta);
  }

  get activeSnapshot(): SnapshotMeta {
    return this.snapshotMeta;
  }

  get modelKind(): string {
    return this.model.rec.kind;
  }

  get learnQueueLength(): number {
    return this.queue.length;
  }

  catalogueSize(kind: CatalogueKind): number {
    return kind === 'items' ? this.items.size : this.users.size;
  }

  // ---------------------------------------------------------------- recommend / feedback

  private userRef(user: string): { ref: UserRef; seen: Int32Array; index: number } {
    const m = this.model;
    const u = m.userIndex.get(user) ?? -1;
    const trained = u >= 0 ? m.seenIndices.subarray(m.seenIndptr[u]!, m.seenIndptr[u + 1]!) : NO_ITEMS;
    const online = this.histories.get(user);
    if (!online || online.length === 0) return { ref: u >= 0 ? u : { items: trained }, seen: trained, index: u };
    // Fold-in: the user as training items plus what they liked since, most recent last.
    const extra: number[] = [];
    for (const id of online) {
      const i = m.itemIndex.get(id);
      if (i !== undefined) extra.push(i);
    }
    const items = new Int32Array(trained.length + extra.length);
    items.set(trained);
    items.set(extra, trained.length);
    return { ref: { items }, seen: items, index: u };
  }

  private buildSlate(req: RecommendRequest, eventId: string) {
    const m = this.model;
    const blocked = new Set<string>(req.exclude ?? []);
    if (req.excludeSeen) for (const id of this.histories.get(req.user) ?? []) blocked.add(id);
    let candIdx: Int32Array | undefined;
    let coldIds: string[];
    if (req.candidates) {
      const idx: number[] = [];
      coldIds = [];
      req.candidates.forEach((id, c) => {
        if (!this.items.has(id)) throw new NotFoundError(`unknown item "${id}"`, `candidates[${c}]`);
        const i = m.itemIndex.get(id);
        if (i !== undefined) idx.push(i);
        else if (!blocked.has(id)) coldIds.push(id);
      });
      candIdx = Int32Array.from(idx);
    } else {
      coldIds = [];
      for (let j = this.cold.length - 1; j >= 0 && coldIds.length < this.config.coldSlots; j--) {
        if (!blocked.has(this.cold[j]!)) coldIds.push(this.cold[j]!);
      }
    }
    const user = this.userRef(req.user);
    // What may not be shown, in model indices (one memcpy of nItems bytes plus the user's items).
    const mask = this.mask;
    mask.set(this.deleted);
    if (req.excludeSeen) for (let j = 0; j < user.seen.length; j++) mask[user.seen[j]!] = 1;
    for (const id of blocked) {
      const i = m.itemIndex.get(id);
      if (i !== undefined) mask[i] = 1;
    }
    const size = this.policy.poolSize(req.k);
    let pool: { items: Int32Array; scores: Float32Array } | undefined;
    if (size === 0) {
      // The policy ranks the catalogue itself: the pool is only the request's candidate list, unscored.
      const items = candIdx ? candIdx.filter((i) => mask[i] === 0) : NO_ITEMS;
      pool = { items, scores: new Float32Array(items.length).fill(NaN) };
    }
    const cacheable = size > 0 && this.config.poolCache > 0 && !req.candidates && !(req.exclude && req.exclude.length) && req.excludeSeen;
    if (!pool && cacheable) {
      const hit = this.pools.get(req.user);
      if (hit && hit.version === this.poolVersion && hit.size >= size) {
        this.pools.delete(req.user);
        this.pools.set(req.user, hit);
        pool = hit.size === size ? hit : { items: hit.items.subarray(0, size), scores: hit.scores.subarray(0, size) };
        this.poolStats.hits++;
      }
    }
    if (!pool) {
      const scores = m.rec.scoreAll(user.ref, this.scoreBuf);
      pool = candIdx ? topK(scores, size, mask, candIdx) : selectPool(scores, size, mask);
      if (cacheable) {
        this.poolStats.misses++;
        this.pools.set(req.user, { version: this.poolVersion, size, items: pool.items, scores: pool.scores });
        if (this.pools.size > this.config.poolCache) this.pools.delete(this.pools.keys().next().value!);
      }
    }
    const cands: Candidate[] = [];
    for (let p = 0; p < pool.items.length; p++) {
      const i = pool.items[p]!;
      cands.push({ id: m.itemIds[i]!, index: i, recScore: pool.scores[p]!, features: null, hashed: this.hashedByIndex[i] });
    }
    for (const id of coldIds) cands.push({ id, index: -1, recScore: NaN, features: null, hashed: this.items.get(id)!.hashed });
    const choice = this.policy.choose({
      eventId,
      user: req.user,
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

  /** A slate for the user, logged (with propensities and learning features) before it returns. */
  async recommend(req: RecommendRequest): Promise<RecommendResponse> {
    const eventId = newEventId();
    const { items, payload } = this.buildSlate(req, eventId);
    await this.store.events.appendDecision({
      id: eventId,
      ts: Date.now(),
      user: req.user,
      kind: 'recommend',
      items: items.map((x) => x.id),
      propensities: items.map((x) => x.propensity),
      scores: items.map((x) => x.score),
      snapshotId: this.snapshotMeta.id,
      activated: true,
      payload,
    });
    this.counters.decisions++;
    for (const x of items) this.exposure.set(x.id, (this.exposure.get(x.id) ?? 0) + 1);
    return { eventId, user: req.user, snapshot: this.snapshotMeta.id, items };
  }

  /** The same slate logic without logging anything (dashboard preview). */
  preview(user: string, k: number): SlateItem[] {
    return this.buildSlate({ user, k, excludeSeen: true }, `preview:${user}`).items;
  }

  rewardOf(type: FeedbackRequest['type'], value: number | undefined): number {
    const clip = (v: number) => Math.max(-1, Math.min(1, v));
    switch (type) {
      case 'click':
      case 'purchase':
        return clip(value ?? 1);
      case 'rating':
        if (value === undefined) throw new RequestError('a rating needs a value', 'value');
        return clip((value - this.config.ratingMid) / this.config.ratingHalfRange);
      case 'dwell':
        if (value === undefined) throw new RequestError('a dwell needs a value (seconds)', 'value');
        if (value < 0) throw new RequestError('dwell seconds must be >= 0', 'value');
        return clip(value / this.config.dwellFull);
    }
  }

  async feedback(req: FeedbackRequest): Promise<{ seq: number; reward: number; eventId: string | null }> {
    let decision: DecisionRecord | undefined;
    let position: number | null = null;
    let user = req.user ?? null;
    if (req.eventId !== undefined) {
      decision = await this.store.events.getDecision(req.eventId);
      if (!decision) throw new NotFoundError(`unknown event "${req.eventId}"`, 'eventId');
      position = decision.items.indexOf(req.item);
      if (position < 0) throw new NotFoundError(`item "${req.item}" was not shown in event "${req.eventId}"`, 'item');
      if (user !== null && decision.user !== null && user !== decision.user) {
        throw new RequestError(`event "${req.eventId}" belongs to another user`, 'user');
      }
      user = decision.user;
    } else {
      if (user === null) throw new RequestError('give an eventId, or a user and an item', 'eventId');
      if (!this.items.has(req.item)) throw new NotFoundError(`unknown item "${req.item}"`, 'item');
    }
    const reward = this.rewardOf(req.type, req.value);
    const rec: FeedbackRecord = {
      eventId: req.eventId ?? null,
      ts: Date.now(),
      user,
      item: req.item,
      type: req.type,
      value: req.value ?? null,
      reward,
      position,
      propensity: decision && position !== null ? (decision.propensities[position] ?? null) : null,
    };
    rec.seq = await this.store.events.appendFeedback(rec);
    this.applyFeedback(rec, decision);
    return { seq: rec.seq, reward, eventId: rec.eventId };
  }

  /** After commit: fold-in state at once, bandit update queued for the background loop. */
  private applyFeedback(f: FeedbackRecord, d: DecisionRecord | undefined): void {
    this.counters.feedback[f.type] = (this.counters.feedback[f.type] ?? 0) + 1;
    this.counters.rewardSum += f.reward;
    if (f.reward > 0 && f.user !== null) this.remember(f.user, f.item);
    const job = learnJob(d, f);
    if (job) this.enqueue(job);
    else this.lastLearnedSeq = Math.max(this.lastLearnedSeq, f.seq!);
    this.sinceRetrain++;
    if (this.config.retrainEvery > 0 && this.sinceRetrain >= this.config.retrainEvery && !this.retraining) {
      this.sinceRetrain = 0;
      void this.retrain(true).catch((e: unknown) => {
        this.counters.retrainErrors++;
        this.log(`retrain failed: ${(e as Error).message}`);
      });
    }
  }

  private remember(user: string, item: string): void {
    let h = this.histories.get(user);
    if (!h) this.histories.set(user, (h = []));
    if (!h.includes(item)) h.push(item);
    this.pools.delete(user);
  }

  // ---------------------------------------------------------------- Personalizer

  async rank(req: RankRequest): Promise<RankResponse> {
    const eventId = req.eventId ?? newEventId();
    const excluded = new Set(req.excludedActions ?? []);
    const seen = new Set<string>();
    req.actions.forEach((a, i) => {
      if (seen.has(a.id)) throw new RequestError(`duplicate action id "${a.id}"`, `actions[${i}].id`);
      seen.add(a.id);
    });
    const actions = req.actions.filter((a) => !excluded.has(a.id));
    if (await this.store.events.getDecision(eventId)) throw new ConflictError(`event id "${eventId}" was already used`, 'eventId');
    const popular = this.anonymousScores();
    const allowed: number[] = [];
    const cands: Candidate[] = actions.map((a) => {
      const i = this.model.itemIndex.get(a.id);
      let recScore = NaN;
      let index = -1;
      if (i !== undefined && this.deleted[i] === 0) {
        recScore = popular[i]!;
        index = i;
        allowed.push(i);
      }
      const meta = this.items.get(a.id)?.meta;
      return { id: a.id, index, recScore, features: meta ? [a.features ?? [], featuresOf(meta)] : (a.features ?? []) };
    });
    this.mask.set(this.deleted);
    const input: PolicyInput = {
      eventId,
      user: null,
      userIndex: -1,
      history: NO_ITEMS,
      context: req.contextFeatures ?? [],
      k: cands.length,
      mode: 'single',
      candidates: cands,
      mask: this.mask,
      allowed: Int32Array.from(allowed),
      model: this.model,
    };
    const r = this.policy.choose(input);
    const ranking = r.items.map((x, p) => ({ id: x.id, probability: r.propensities[p]! }));
    try {
      await this.store.events.appendDecision({
        id: eventId,
        ts: Date.now(),
        user: null,
        kind: 'rank',
        items: ranking.map((x) => x.id),
        propensities: ranking.map((x) => x.probability),
        scores: r.scores,
        snapshotId: this.snapshotMeta.id,
        activated: !(req.deferActivation ?? false),
        payload: r.payload,
      });
    } catch (e) {
      if (/UNIQUE/.test((e as Error).message)) throw new ConflictError(`event id "${eventId}" was already used`, 'eventId');
      throw e;
    }
    this.counters.decisions++;
    if (ranking[0]) this.exposure.set(ranking[0].id, (this.exposure.get(ranking[0].id) ?? 0) + 1);
    return { ranking, eventId, rewardActionId: ranking[0]?.id ?? null };
  }

  /**
   * No user in a Personalizer call: the model's scores for an anonymous (empty) user. They depend
   * only on the model, so they are computed once per pool version (snapshot or catalogue change)
   * instead of scoring the whole catalogue on every rank call.
   */
  private anonymousScores(): Float32Array {
    if (!this.anon || this.anon.version !== this.poolVersion) {
      this.anon = { version: this.poolVersion, scores: Float32Array.from(this.model.rec.scoreAll({ items: NO_ITEMS }, this.scoreBuf)) };
    }
    return this.anon.scores;
  }

  async reward(eventId: string, value: number): Promise<void> {
    const d = await this.store.events.getDecision(eventId);
    if (!d) throw new NotFoundError(`unknown event "${eventId}"`, 'eventId');
    if (d.items.length === 0) throw new ConflictError(`event "${eventId}" ranked no action`, 'eventId');
    const rec: FeedbackRecord = {
      eventId,
      ts: Date.now(),
      user: d.user,
      item: d.items[0]!,
      type: 'reward',
      value,
      reward: value,
      position: 0,
      propensity: d.propensities[0] ?? null,
    };
    rec.seq = await this.store.events.appendFeedback(rec);
    this.applyFeedback(rec, d);
  }

  async activateEvent(eventId: string): Promise<void> {
    if (!(await this.store.events.activateDecision(eventId))) throw new NotFoundError(`unknown event "${eventId}"`, 'eventId');
  }

  // ---------------------------------------------------------------- online learning loop

  private enqueue(job: LearnJob): void {
    this.queue.push(job);
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => void this.drain());
    }
  }

  /** Applies queued rewards in batches between requests; checkpoints the bandit now and then. */
  private async drain(): Promise<void> {
    const batch = this.queue.splice(0, 512);
    for (const j of batch) {
      if (this.policy.learn(j.payload, j.position, j.reward)) this.counters.learned++;
      this.sinceCheckpoint++;
      if (j.seq > this.lastLearnedSeq) this.lastLearnedSeq = j.seq;
    }
    this.policy.flush();
    if (this.queue.length > 0) {
      setImmediate(() => void this.drain());
      return;
    }
    this.draining = false;
    if (this.sinceCheckpoint >= this.config.checkpointEvery && !this.closed) await this.checkpoint();
  }

  /** Learn everything queued now (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.queue.length > 0 || this.draining) {
      if (!this.draining) {
        this.draining = true;
        await this.drain();
      } else await new Promise((r) => setImmediate(r));
    }
    if (this.retraining) await this.retraining.catch(() => undefined);
  }

  async checkpoint(): Promise<void> {
    this.sinceCheckpoint = 0;
    const body = stringify({ state: this.policy.getState(), lastSeq: this.lastLearnedSeq });
    await this.store.state.putState('bandit', Buffer.from(body));
  }

  // ---------------------------------------------------------------- snapshots

  private async fitSnapshot(source: string, train: Dataset, inWorker = false): Promise<SnapshotMeta> {
    const { kind, config } = this.config.model;
    const { meta, body } = await fitSnapshot(source, kind, config, train, inWorker ? null : this.factory);
    await this.store.snapshots.putSnapshot(meta, body);
    this.log(`snapshot ${meta.id}: ${meta.kind} on ${train.nInteractions} interactions (${meta.info.fitSeconds} s)`);
    return meta;
  }

  /** Training data for a retrain: the base dataset plus every positive online reward. */
  trainingData(): Dataset {
    return withOnline(this.base, this.items.keys(), this.histories);
  }

  /** Fit a new snapshot on the base data plus online feedback; activate it when asked. */
  retrain(activate: boolean): Promise<SnapshotMeta> {
    if (this.retraining) return this.retraining;
    this.retraining = (async () => {
      try {
        const meta = await this.fitSnapshot('retrain', this.trainingData(), this.config.retrainInWorker);
        this.counters.retrains++;
        if (activate) await this.activateSnapshot(meta.id);
        return meta;
      } finally {
        this.retraining = null;
      }
    })();
    return this.retraining;
  }

  /** Store the active model again under a new id (a named restore point). */
  async saveSnapshot(): Promise<SnapshotMeta> {
    const m = this.model;
    const meta: SnapshotMeta = { ...this.snapshotMeta, id: `${this.snapshotMeta.id}-copy-${randomUUID().slice(0, 4)}`, created: Date.now(), source: 'manual' };
    await this.store.snapshots.putSnapshot(meta, encodeSnapshot(m));
    return meta;
  }

  async listSnapshots(): Promise<{ active: string; snapshots: SnapshotMeta[] }> {
    return { active: this.snapshotMeta.id, snapshots: await this.store.snapshots.listSnapshots() };
  }

  async activateSnapshot(id: string): Promise<SnapshotMeta> {
    const snap = await this.store.snapshots.getSnapshot(id);
    if (!snap) throw new NotFoundError(`unknown snapshot "${id}"`, 'id');
    const m = decodeSnapshot(id, snap.body, this.factory);
    await this.store.snapshots.activateSnapshot(id);
    this.install(m, snap.meta);
    return snap.meta;
  }

  /** Go back to the snapshot that was active before the current one. */
  async rollback(): Promise<SnapshotMeta> {
    const hist = await this.store.snapshots.activations(1000);
    const current = this.snapshotMeta.id;
    const prev = hist.find((a) => a.snapshotId !== current);
    if (!prev) throw new ConflictError('no earlier snapshot to roll back to');
    return this.activateSnapshot(prev.snapshotId);
  }

  // ---------------------------------------------------------------- catalogue

  getEntry(kind: CatalogueKind, id: string): Record<string, unknown> | undefined {
    return kind === 'items' ? this.items.get(id)?.meta : this.users.get(id);
  }

  /** Insert or replace entries (all or none). `mustBeNew` refuses ids that exist (POST). */
  async putEntries(kind: CatalogueKind, entries: { id: string; meta: Record<string, unknown> }[], mustBeNew = false): Promise<{ created: number; updated: number }> {
    const ids = new Set<string>();
    entries.forEach((e, i) => {
      if (ids.has(e.id)) throw new RequestError(`duplicate id "${e.id}"`, `[${i}].id`);
      ids.add(e.id);
      if (mustBeNew && this.getEntry(kind, e.id)) throw new ConflictError(`${kind === 'items' ? 'item' : 'user'} "${e.id}" already exists`, 'id');
    });
    const now = Date.now();
    if (kind === 'items') this.poolVersion++;
    const created = await this.store.catalogue.upsert(
      kind,
      entries.map((e) => ({ id: e.id, meta: e.meta, created: now, updated: now })),
    );
    for (const e of entries) {
      if (kind === 'users') {
        this.users.set(e.id, e.meta);
        continue;
      }
      const hashed = this.policy.hashItem(featuresOf(e.meta));
      const isNew = !this.items.has(e.id);
      this.items.set(e.id, { meta: e.meta, hashed });
      const i = this.model.itemIndex.get(e.id);
      if (i !== undefined) {
        this.deleted[i] = 0;
        this.hashedByIndex[i] = hashed;
      } else if (isNew) this.cold.push(e.id);
    }
    // Again after the in-memory update: a pool computed while the write was pending is stale.
    if (kind === 'items') this.poolVersion++;
    return { created, updated: entries.length - created };
  }

  async deleteEntry(kind: CatalogueKind, id: string): Promise<void> {
    if (!this.getEntry(kind, id)) throw new NotFoundError(`unknown ${kind === 'items' ? 'item' : 'user'} "${id}"`, 'id');
    await this.store.catalogue.remove(kind, id);
    if (kind === 'users') {
      this.users.delete(id);
      return;
    }
    this.items.delete(id);
    this.poolVersion++;
    const i = this.model.itemIndex.get(id);
    if (i !== undefined) this.deleted[i] = 1;
    else this.cold = this.cold.filter((x) => x !== id);
  }

  listEntries(kind: CatalogueKind, offset: number, limit: number): { id: string; meta: Record<string, unknown> }[] {
    const out: { id: string; meta: Record<string, unknown> }[] = [];
    let n = 0;
    const src = kind === 'items' ? [...this.items].map(([id, v]) => [id, v.meta] as const) : [...this.users];
    for (const [id, meta] of src) {
      if (n++ < offset) continue;
      if (out.length >= limit) break;
      out.push({ id, meta });
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.settle();
    this.closed = true;
    await this.checkpoint();
  }
}

function learnJob(d: DecisionRecord | undefined, f: FeedbackRecord): LearnJob | undefined {
  if (!d || !d.activated || f.position === null || d.payload === null || typeof d.payload !== 'object') return undefined;
  return { payload: d.payload, position: f.position, reward: f.reward, seq: f.seq ?? 0 };
}

/** Which data a store was seeded from (name and sizes), to warn when it is reopened on other data. */
function datasetStamp(d: Dataset): string {
  return `${d.name} (${d.nUsers} users, ${d.nItems} items, ${d.nInteractions} interactions)`;
}

/** Item metadata as stored in the catalogue (plain JSON). */
function itemMetaJson(m: ItemMeta | undefined): Record<string, unknown> {
  return m ? (JSON.parse(JSON.stringify(m)) as Record<string, unknown>) : {};
}

/** What the bandit hashes from an item: its categories, tags and attributes (not free text or title). */
function featuresOf(meta: Record<string, unknown>): unknown {
  return { categories: meta.categories ?? null, tags: meta.tags ?? null, attributes: meta.attributes ?? null };
}

