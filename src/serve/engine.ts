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
import { CbPolicy, type CbConfig } from './cb-policy.js';
import { SlatePolicy, type PolicyConfig } from './policy.js';
import { replayWindow, RewardWindows } from './reward-window.js';
import { LearnLoop, type LearnJob, type LearnStage } from './learn-loop.js';
import { selectPool } from './select.js';
import { SessionIds } from './sessions.js';
import type { Candidate, Explanation, PolicyInput, ServingPolicy } from './serving-policy.js';
import { fitSnapshot, withOnline } from './training.js';

export interface EngineConfig {
  /** Recommender fitted for the first snapshot and on retrain. */
  model: { kind: string; config: Record<string, unknown> };
  /**
   * The serving policy when no agent is served: `cb` (the default, ./cb-policy.ts: namespace
   * features and a sparse ridge/SGD reward model) or `linucb-rerank` (./policy.ts: hashed blocks
   * and a dense LinUCB, the policy before `cb`), with its settings.
   */
  serving: 'cb' | 'linucb-rerank';
  policy: Partial<CbConfig> & Partial<PolicyConfig>;
  /**
   * Serve a registered agent (src/agents registry name, with config overrides) instead of the
   * LinUCB re-ranker; null (the default) keeps the re-ranker.
   */
  agent: { name: string; config?: Record<string, unknown> } | null;
  /** Refit the recommender (new snapshot, activated) after this many feedback events; 0 = never. */
  retrainEvery: number;
  /** Checkpoint the bandit after this many learned rewards (restart replays the rest). */
  checkpointEvery: number;
  /**
   * …and at most once per this many seconds: a policy's state can be megabytes (the cb policy's
   * ridge inverse is d² doubles), and a restart replays whatever came after the last checkpoint.
   */
  checkpointSeconds: number;
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
  /**
   * Most rewards waiting for the background learner. When the queue is full, the request that
   * adds one learns a batch at once, synchronously (back-pressure: nothing is dropped).
   */
  maxQueue: number;
  /**
   * Personalizer's `rewardWaitTime`: an activated decision waits this long for feedback; then
   * every shown position that got none is learned with `defaultReward`, and later feedback is
   * logged but not learned (./reward-window.ts).
   */
  rewardWaitSeconds: number;
  defaultReward: number;
  /** A recommend request without a `session` continues the user's session when it comes less than this long after their last one (./sessions.ts). */
  sessionIdleSeconds: number;
}

export const ENGINE_DEFAULTS: EngineConfig = {
  model: { kind: 'popularity', config: {} },
  serving: 'cb',
  policy: {},
  agent: null,
  retrainEvery: 0,
  checkpointEvery: 500,
  checkpointSeconds: 5,
  coldSlots: 5,
  ratingMid: 3,
  ratingHalfRange: 2,
  dwellFull: 60,
  poolCache: 10_000,
  retrainInWorker: true,
  maxQueue: 100_000,
  rewardWaitSeconds: 60,
  defaultReward: 0,
  sessionIdleSeconds: 1800,
};

export interface RecommendRequest {
  user: string;
  context?: Record<string, unknown>;
  k: number;
  candidates?: string[];
  exclude?: string[];
  excludeSeen: boolean;
  /** The user's session; derived from the user and idle time when absent (./sessions.ts). */
  session?: string;
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

const NO_ITEMS = new Int32Array(0);

/** Counters the metrics endpoint and dashboard read. */
export interface EngineCounters {
  decisions: number;
  feedback: Record<string, number>;
  rewardSum: number;
  learned: number;
  retrains: number;
  retrainErrors: number;
  /**
   * Errors caught in the learning loop, by stage. A `learn` error fails that one reward (skipped,
   * not retried), so `learn` is also the number of failed learner jobs.
   */
  learnErrors: Record<LearnStage, number>;
  /** Times the learner queue was full and a request learned a batch synchronously. */
  learnQueueFull: number;
  /** Shown positions learned with the default reward (no feedback within the reward wait). */
  defaultRewards: number;
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
  readonly counters: EngineCounters = {
    decisions: 0,
    feedback: {},
    rewardSum: 0,
    learned: 0,
    retrains: 0,
    retrainErrors: 0,
    learnErrors: { learn: 0, flush: 0, checkpoint: 0 },
    learnQueueFull: 0,
    defaultRewards: 0,
  };
  private readonly factory: ModelFactory;
  private readonly base: Dataset;
  private readonly log: Log;
  private model!: ServedModel;
  private snapshotMeta!: SnapshotMeta;
  private readonly items = new Map<string, { meta: Record<string, unknown>; hashed: unknown }>();
  private readonly users = new Map<string, Record<string, unknown>>();
  /** Catalogue items the active model does not know, oldest first. */
  private cold: string[] = [];
  /** 1 where a model item is no longer in the catalogue. */
  private deleted = new Uint8Array(0);
  private mask = new Uint8Array(0);
  private scoreBuf = new Float32Array(0);
  private hashedByIndex: unknown[] = [];
  /** Items each user rewarded positively online (fold-in state), in order. */
  private readonly histories = new Map<string, string[]>();
  readonly exposure = new Map<string, number>();
  private readonly learner: LearnLoop;
  private sinceRetrain = 0;
  private retraining: Promise<SnapshotMeta> | null = null;
  /** user → recommender pool; valid while `version` equals `poolVersion`. Map order is LRU order. */
  private readonly pools = new Map<string, { version: number; size: number; items: Int32Array; scores: Float32Array }>();
  private poolVersion = 0;
  readonly poolStats = { hits: 0, misses: 0 };
  private anon: { version: number; scores: Float32Array } | null = null;
  private closed = false;
  private readonly windows: RewardWindows;
  private sweeper: NodeJS.Timeout | null = null;
  private sweeping = false;
  /** Derived session ids of recommend requests that name none. */
  private readonly sessionIds = new SessionIds();

  private constructor(store: Store, base: Dataset, factory: ModelFactory, config: EngineConfig, log: Log) {
    this.store = store;
    this.base = base;
    this.factory = factory;
    this.config = config;
    this.log = log;
    this.policy = config.agent
      ? new AgentPolicy({ agent: config.agent.name, config: config.agent.config ?? {}, sessionIdleSeconds: config.sessionIdleSeconds }, log)
      : config.serving === 'linucb-rerank'
        ? new SlatePolicy(config.policy)
        : new CbPolicy(config.policy);
    this.windows = new RewardWindows({ waitMs: config.rewardWaitSeconds * 1000, defaultReward: config.defaultReward });
    // Through this.log, not `log`: the engine's log is the one place lines go (tests replace it).
    this.learner = new LearnLoop(this.policy, this.counters, config, () => this.saveCheckpoint(), (m) => this.log(m));
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
    // Expire reward windows about 4 times per wait (at most once a second); unref: never keeps the process alive.
    const tick = Math.max(10, Math.min(1000, this.windows.config.waitMs / 4));
    this.sweeper = setInterval(() => void this.sweepWindows(), tick);
    this.sweeper.unref();
  }

  /**
   * Rebuild online state from the log: histories from all feedback; the policy from its checkpoint,
   * then the feedback logged after it (what the live reward windows learned: ./reward-window.ts),
   * then the reward windows that closed after it (default rewards, end of decision); windows
   * still open are opened again.
   */
  private async recover(): Promise<void> {
    const ck = await this.store.state.getState('bandit');
    let fromSeq = 0;
    let checkpointAt = 0;
    let windowsFrom = 0;
    if (ck) {
      const o = parse(ck.toString('utf8')) as { state: unknown; lastSeq: number; at?: number; windowsFrom?: number };
      if (this.policy.setState(o.state)) {
        fromSeq = o.lastSeq;
        checkpointAt = o.at ?? 0;
        windowsFrom = o.windowsFrom ?? 0;
      } else this.log(`the policy checkpoint does not fit ${this.policy.name} (another policy, dimension or snapshot): relearning from the log`);
    }
    const waitMs = this.windows.config.waitMs;
    let after = 0;
    let replayed = 0;
    const decisions = new Map<string, DecisionRecord | undefined>();
    const pending: FeedbackRecord[] = [];
    const flushPending = async (): Promise<void> => {
      // Which of these were learned live depends on each decision's earlier feedback: ask per decision.
      const ids = [...new Set(pending.map((f) => f.eventId!))].filter((id) => !decisions.has(id));
      for (const id of ids) decisions.set(id, await this.store.events.getDecision(id));
      const byEvent = new Map<string, FeedbackRecord[]>();
      for (const f of await this.store.events.feedbackFor([...new Set(pending.map((f) => f.eventId!))])) {
        let l = byEvent.get(f.eventId!);
        if (!l) byEvent.set(f.eventId!, (l = []));
        l.push(f);
      }
      // Which feedback each decision's window learned, worked out once per decision.
      const learnedBy = new Map<string, Set<number>>();
      for (const f of pending) {
        const d = decisions.get(f.eventId!);
        const job = learnJob(d, f);
        if (!job) continue;
        let learned = learnedBy.get(f.eventId!);
        if (!learned) learnedBy.set(f.eventId!, (learned = replayWindow(d!, byEvent.get(f.eventId!) ?? [], waitMs).learned));
        if (!learned.has(f.seq!)) continue;
        try {
          if (this.policy.learn(job.payload, job.position, job.reward)) replayed++;
        } catch (e) {
          this.learner.failure('learn', e, `feedback seq ${f.seq} (replay)`);
        }
      }
      pending.length = 0;
    };
    for (;;) {
      const page = await this.store.events.feedbackSince(after, 5000);
      if (page.length === 0) break;
      for (const f of page) {
        after = f.seq!;
        this.counters.feedback[f.type] = (this.counters.feedback[f.type] ?? 0) + 1;
        this.counters.rewardSum += f.reward;
        if (f.reward > 0 && f.user !== null) this.remember(f.user, f.item);
        if (f.seq! > fromSeq && f.eventId !== null) pending.push(f);
      }
      await flushPending();
    }
    const recent = await this.store.events.recentDecisions(200_000);
    const now = Date.now();
    let closedSince = 0;
    const open = recent.filter((d) => d.ts >= windowsFrom && d.activated && d.payload !== null && typeof d.payload === 'object').reverse();
    for (let i = 0; i < open.length; i += 500) {
      const chunk = open.slice(i, i + 500);
      const byEvent = new Map<string, FeedbackRecord[]>();
      for (const f of await this.store.events.feedbackFor(chunk.map((d) => d.id))) {
        let l = byEvent.get(f.eventId!);
        if (!l) byEvent.set(f.eventId!, (l = []));
        l.push(f);
      }
      for (const d of chunk) {
        const w = replayWindow(d, byEvent.get(d.id) ?? [], waitMs);
        if (w.closesAt <= checkpointAt) continue; // in the checkpoint already
        if (w.closesAt > now) {
          this.windows.opened(d, d.ts, w.got);
          continue;
        }
        try {
          for (const position of w.missing) this.policy.learn(d.payload, position, this.config.defaultReward);
          this.policy.endDecision?.(d.payload);
          closedSince++;
        } catch (e) {
          this.learner.failure('learn', e, `the reward window of ${d.id} (replay)`);
        }
      }
    }
    try {
      this.policy.flush();
    } catch (e) {
      this.learner.failure('flush', e);
    }
    this.learner.lastLearnedSeq = after;
    this.counters.learned = this.policy.updates;
    this.counters.decisions = await this.store.events.countDecisions();
    for (const d of recent) for (const id of d.items) this.exposure.set(id, (this.exposure.get(id) ?? 0) + 1);
    if (replayed > 0 || closedSince > 0) this.log(`replayed ${replayed} rewards and ${closedSince} closed reward windows logged after the policy checkpoint`);
  }

  private install(m: ServedModel, meta: SnapshotMeta): void {
    this.poolVersion++;
    this.model = m;
    this.snapshotMeta = meta;
    const n = m.itemIds.length;
    this.deleted = new Uint8Array(n);
    this.mask = new Uint8Array(n);
    this.scoreBuf = new Float32Array(n);
    this.hashedByIndex = new Array<unknown>(n);
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
    return this.learner.length;
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

  /** `live`: a logged decision (a step of the user's session); a preview is none. */
  private buildSlate(req: RecommendRequest, eventId: string, live = false) {
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
    const now = Date.now();
    const choice = this.policy.choose({
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

  /** A slate for the user, logged (with propensities and learning features) before it returns. */
  async recommend(req: RecommendRequest): Promise<RecommendResponse> {
    const eventId = newEventId();
    const { items, payload } = this.buildSlate(req, eventId, true);
    const decision: DecisionRecord = {
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
    };
    await this.store.events.appendDecision(decision);
    this.windows.opened(decision, decision.ts);
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
    if (!this.learnFeedback(f, d)) this.learner.lastLearnedSeq = Math.max(this.learner.lastLearnedSeq, f.seq!);
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
      model: this.model,
    };
    const r = this.policy.choose(input);
    const ranking = r.items.map((x, p) => ({ id: x.id, probability: r.propensities[p]! }));
    const decision: DecisionRecord = {
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
    };
    try {
      await this.store.events.appendDecision(decision);
    } catch (e) {
      if (/UNIQUE/.test((e as Error).message)) throw new ConflictError(`event id "${eventId}" was already used`, 'eventId');
      throw e;
    }
    if (decision.activated) this.windows.opened(decision, decision.ts);
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

  /** Activate a deferred Rank event: its reward window opens now, and rewards sent before are learned. */
  async activateEvent(eventId: string): Promise<void> {
    const before = await this.store.events.getDecision(eventId);
    if (!(await this.store.events.activateDecision(eventId))) throw new NotFoundError(`unknown event "${eventId}"`, 'eventId');
    if (!before || before.activated) return; // activating twice opens nothing new
    const d: DecisionRecord = { ...before, activated: true };
    this.windows.opened(d, Date.now());
    for (const f of await this.store.events.feedbackFor([eventId])) this.learnFeedback(f, d);
  }

  /** Feedback on a logged decision: learned while its reward window is open; the end of the window after it. */
  private learnFeedback(f: FeedbackRecord, d: DecisionRecord | undefined): boolean {
    const job = learnJob(d, f);
    if (!job || f.eventId === null) return false;
    const w = this.windows.feedback(f.eventId, job.position);
    if (w.learn) this.learner.enqueue(job);
    if (w.closed) this.learner.enqueue({ payload: job.payload, position: -1, reward: 0, seq: 0, end: true });
    return w.learn;
  }

  /**
   * Close the reward windows whose wait is over: each shown position without feedback learns the
   * default reward, then the policy hears that the decision is complete. Never throws (a failed
   * read is logged; its windows are lost to learning, not to the log).
   */
  private async sweepWindows(): Promise<void> {
    if (this.sweeping || this.closed) return;
    this.sweeping = true;
    try {
      for (;;) {
        const due = this.windows.expired(Date.now(), 1000);
        if (due.length === 0) break;
        for (const w of due) {
          const d = await this.store.events.getDecision(w.id);
          if (!d || d.payload === null || typeof d.payload !== 'object') continue;
          for (const position of w.missing) {
            this.learner.enqueue({ payload: d.payload, position, reward: this.config.defaultReward, seq: 0 });
            this.counters.defaultRewards++;
          }
          this.learner.enqueue({ payload: d.payload, position: -1, reward: 0, seq: 0, end: true });
        }
      }
    } catch (e) {
      this.log(`reward windows: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.sweeping = false;
    }
  }

  /** Decisions still waiting for feedback. */
  get openWindows(): number {
    return this.windows.size;
  }

  // ---------------------------------------------------------------- online learning loop

  /** Learn everything queued now (tests, shutdown); waits for a checkpoint or retrain in progress. */
  async settle(): Promise<void> {
    await this.learner.settle();
    if (this.retraining) await this.retraining.catch(() => undefined);
  }

  /** Checkpoint the policy now (./learn-loop.ts: never throws; true when saved). */
  checkpoint(): Promise<boolean> {
    return this.learner.checkpoint();
  }

  /**
   * The checkpoint: the policy state and the last learned seq (a restart replays the log after it),
   * `at` and `windowsFrom` (a restart learns the reward windows that closed after this checkpoint,
   * and rescans the decisions logged since the oldest window still open).
   */
  private async saveCheckpoint(): Promise<void> {
    const at = Date.now();
    const body = stringify({ state: this.policy.getState(), lastSeq: this.learner.lastLearnedSeq, at, windowsFrom: this.windows.oldestOpen(at) });
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

  /**
   * Learn what is queued and save a last checkpoint. Does not throw on learning or checkpoint
   * errors (they are logged and counted), so the caller goes on to close the store.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.sweeper) clearInterval(this.sweeper);
    while (this.sweeping) await new Promise((r) => setTimeout(r, 5));
    await this.settle();
    this.closed = true;
    this.learner.closed = true;
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

