import { randomUUID } from 'node:crypto';
import type { Dataset, ItemMeta } from '../data/dataset.js';
import { ChorusError, NotFoundError } from '../errors.js';
import { withoutUsers } from '../privacy/erasure.js';
import { checkIdMode, datasetIdMode, pseudonymiseDataset, RAW_IDS, type Pseudonymiser } from '../privacy/pseudonym.js';
import type { CatalogueEntry, CatalogueKind, ErasureRecord, SnapshotMeta, Store } from '../store/types.js';
import type { WarmAgent } from '../agents/agent-file.js';
import { AgentPolicy } from './agent-policy.js';
import { Catalogue, type EntryInput } from './catalogue.js';
import { CbPolicy, type CbConfig } from './cb-policy.js';
import { checkpointEntry } from './checkpoint.js';
import { ErasureMarks, ID_MODE_KEY, scrubSnapshotBody, Tombstones } from './erasure.js';
import { ConflictError, RequestError } from './errors.js';
import { Decisions, type RankRequest, type RankResponse, type RecommendRequest, type RecommendResponse, type SlateItem } from './decisions.js';
import { Feedback, type FeedbackRequest } from './feedback.js';
import { UserHistories } from './histories.js';
import { LearnLoop, type LearnStage } from './learn-loop.js';
import type { ModelFactory, ServedModel } from './model.js';
import { SlatePolicy, type PolicyConfig } from './policy.js';
import { recoverFromLog } from './recover.js';
import { RewardWindows } from './reward-window.js';
import type { ServingPolicy } from './serving-policy.js';
import { ActivationRefusedError, evaluateSnapshot, gateMessage, type ActivationGate, type EvaluationOptions, type SnapshotEvaluation } from './snapshot-evaluation.js';
import { Snapshots } from './snapshots.js';
import { withOnline } from './training.js';
import type { SharedPoolStats, SharedPools } from './shared-pools.js';
import { explainAsText, HISTORY_SHOWN } from './text-explanations.js';
import type { ChatProvider } from '../llm/types.js';
import { Announcer, DEFAULT_GAP_MS, LEARNER_RECENT_DECISIONS, LearnerTail, readVersion, ServerFollower } from './cluster/cluster-sync.js';
import { RecentDecisions } from './recent-decisions.js';
import type { ClusterVersion, ServeRole } from './cluster/roles.js';
import type { UpdateBus } from './cluster/updates.js';
import { forEachFeedback, recoverFollower } from './recover.js';
import type { PolicyCheckpoint } from './checkpoint.js';

export type { FeedbackRequest } from './feedback.js';
export type { RankRequest, RankResponse, RecommendRequest, RecommendResponse, SlateItem } from './decisions.js';

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
  agent: { name: string; config?: Record<string, unknown>; warm?: WarmAgent } | null;
  /** Refit the recommender (new snapshot, activated) after this many feedback events; 0 = never. */
  retrainEvery: number;
  /**
   * The default activation gate (./snapshot-evaluation.ts): `dr` evaluates a snapshot on the live
   * log before activating it (explicit activations and retrains, not rollback) and refuses it
   * unless the 95 % lower bound of DR(its ranking) − DR(the active snapshot's ranking) is above 0;
   * `none` activates unchecked.
   */
  activationGate: ActivationGate;
  /** Checkpoint the bandit after this many learned rewards (restart replays the rest). */
  checkpointEvery: number;
  /**
   * …and at most once per this many seconds: a policy's state can be megabytes (the cb policy's
   * ridge inverse is d² doubles), and a restart replays whatever came after the last checkpoint.
   */
  checkpointSeconds: number;
  /**
   * Snapshots kept: after each new one, all but the newest `keepSnapshots` are deleted, except the
   * active one and the one rollback goes back to (./snapshots.ts). 0 keeps every snapshot.
   */
  keepSnapshots: number;
  /** Online history kept in memory per user: the last `historyLength` positively rewarded items (./histories.ts). */
  historyLength: number;
  /** Users whose online history is kept in memory; past it the least recently used user's is dropped. */
  historyUsers: number;
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
  /**
   * Decisions kept in memory after this process logged them, so that the feedback on
   * them reads nothing (./recent-decisions.ts); 0 keeps none. A cluster learner keeps
   * LEARNER_RECENT_DECISIONS instead (the decisions it reads from the log).
   */
  recentDecisions: number;
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
  /**
   * `--pseudonymise`: every user id from a request or the base data is replaced by its keyed
   * pseudonym (src/privacy/pseudonym.ts) before it reaches the store, a log or a snapshot;
   * answers name the caller's own id. The store records the mode and refuses the other one.
   */
  pseudonyms: Pseudonymiser | null;
  /**
   * The chat model that writes `explain: "text"` sentences (./text-explanations.ts); null: such
   * requests are refused (400) before anything is logged.
   */
  llm: ChatProvider | null;
  /**
   * What this process does in a cluster of processes on one store (./cluster/roles.ts): `both`
   * (one process serves and learns, the default), `server` (serves, learns nothing, follows the
   * learner) or `learner` (learns from the log the servers write, announces its changes).
   */
  role: ServeRole;
  /** Cluster: how often a server pulls the learner's changes and the learner reads the log (ms). */
  syncMs: number;
}

/** A cluster's wiring, given to `Engine.open` by whoever holds the bus and the API keys (./server.ts). */
export interface ClusterLinks {
  /** The update bus (null: servers only poll the store). */
  bus: UpdateBus | null;
  /** Re-read the API keys (a server does every few seconds: keys are issued and revoked elsewhere). */
  reloadKeys?: () => Promise<void>;
  /**
   * The shared pool cache will be used (`useSharedPools`, `--redis`): snapshots are decoded with
   * the hash of their body that it keys on. Without it no body is hashed.
   */
  sharedPools?: boolean;
}

export const ENGINE_DEFAULTS: EngineConfig = {
  model: { kind: 'popularity', config: {} },
  serving: 'cb',
  policy: {},
  agent: null,
  retrainEvery: 0,
  activationGate: 'none',
  checkpointEvery: 500,
  checkpointSeconds: 5,
  keepSnapshots: 20,
  historyLength: 1000,
  historyUsers: 100_000,
  coldSlots: 5,
  ratingMid: 3,
  ratingHalfRange: 2,
  dwellFull: 60,
  poolCache: 10_000,
  recentDecisions: 4096,
  retrainInWorker: true,
  maxQueue: 100_000,
  rewardWaitSeconds: 60,
  defaultReward: 0,
  sessionIdleSeconds: 1800,
  pseudonyms: null,
  llm: null,
  role: 'both',
  syncMs: 500,
};

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

/** An activation's gate (absent: the configured default) and how the gate evaluates. */
export type ActivationRequest = Partial<EvaluationOptions> & { gate?: ActivationGate };

/**
 * The serving core, independent of HTTP, as a façade over its parts: the catalogue
 * (./catalogue.ts), decisions (./decisions.ts: recommend, rank, exposure), feedback and reward
 * windows (./feedback.ts), the learning loop (./learn-loop.ts), the model snapshots
 * (./snapshots.ts), per-user online histories (./histories.ts) and the restart replay
 * (./recover.ts). Every accepted event is committed to the store before its promise resolves;
 * online learning happens after the commit, in a background loop (setImmediate batches), so a
 * request never waits for it.
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
  /** The base data (pseudonymised, and without erased users, at start; an erasure drops its user). */
  private base: Dataset;
  private tombstones: Tombstones | null = null;
  /** Users erased while a retrain's fit ran on data taken before: its snapshot is scrubbed before it is stored. */
  private erasedDuringFit: string[] | null = null;
  /** Erasures for requests in flight (./erasure.ts, ErasureMarks). */
  private readonly erasureMarks = new ErasureMarks();
  /** Decisions kept for their feedback (a learner: the ones its tail read); every erasure drops its user's. */
  private readonly recent: RecentDecisions;
  private readonly log: Log;
  private readonly catalogue: Catalogue;
  private readonly histories: UserHistories;
  private readonly snapshots: Snapshots;
  private readonly decisions: Decisions;
  private readonly fb: Feedback;
  private readonly learner: LearnLoop;
  private readonly windows: RewardWindows;
  private sweeper: NodeJS.Timeout | null = null;
  private closed = false;
  /**
   * The tail of the snapshot lock: activations (with their gate), the store-and-activate step of
   * retrains, rollbacks, saves and deletes run one at a time, each after the previous one settled.
   * Without it a gate could compare a candidate with the active snapshot, await, and activate it
   * after another activation had replaced the snapshot it was compared with.
   */
  private snapshotLock: Promise<unknown> = Promise.resolve();
  /** The retrain in progress (fit, gate and activation), if any: one at a time. */
  private retraining: Promise<SnapshotMeta> | null = null;
  private readonly links: ClusterLinks;
  /** A cluster learner's announcements (null elsewhere, and until the start is done). */
  private announcer: Announcer | null = null;
  private tail: LearnerTail | null = null;
  /** The learner lock was lost: no checkpoint or erasure may be written by this process any more. */
  private lockLost = false;
  private follower: ServerFollower | null = null;

  private constructor(store: Store, base: Dataset, factory: ModelFactory, config: EngineConfig, log: Log, links: ClusterLinks) {
    this.store = store;
    this.base = base;
    this.config = config;
    this.log = log;
    this.links = links;
    // Parts log through this.log, not `log`: the engine's log is the one place lines go (tests replace it).
    const say: Log = (m) => this.log(m);
    this.policy = config.agent
      ? new AgentPolicy({ agent: config.agent.name, config: config.agent.config ?? {}, sessionIdleSeconds: config.sessionIdleSeconds, ...(config.agent.warm ? { warm: config.agent.warm } : {}) }, log)
      : config.serving === 'linucb-rerank'
        ? new SlatePolicy(config.policy)
        : new CbPolicy(config.policy);
    const policy = this.policy;
    this.windows = new RewardWindows({ waitMs: config.rewardWaitSeconds * 1000, defaultReward: config.defaultReward });
    this.learner = new LearnLoop(policy, this.counters, config, () => this.saveCheckpoint(), say);
    this.catalogue = new Catalogue(store, policy);
    this.histories = new UserHistories({ perUser: config.historyLength, users: config.historyUsers }, (user) => this.decisions.forgetUser(user));
    this.snapshots = new Snapshots(store, factory, config, this.counters, (m) => this.install(m), say);
    this.snapshots.contentIds = links.sharedPools === true;
    this.recent = new RecentDecisions(config.role === 'learner' ? LEARNER_RECENT_DECISIONS : config.recentDecisions);
    this.decisions = new Decisions(config, {
      store,
      policy,
      catalogue: this.catalogue,
      histories: this.histories,
      model: () => this.snapshots.model,
      snapshotId: () => this.snapshots.active.id,
      // A cluster server learns nothing, so it keeps no reward windows (the learner does).
      opened: config.role === 'server' ? () => {} : (d) => this.windows.opened(d, d.ts),
      counters: this.counters,
      recent: { decisions: this.recent, erasures: this.erasureMarks },
    });
    const learnerLag = config.role === 'learner' ? 4 * config.syncMs + 1000 : 0;
    this.fb = new Feedback({ ...config, live: config.role !== 'server', sweepLagMs: learnerLag, rescanSlackMs: learnerLag > 0 ? learnerLag + DEFAULT_GAP_MS + 10_000 : 0 }, {
      store,
      policy,
      catalogue: this.catalogue,
      histories: this.histories,
      learner: this.learner,
      windows: this.windows,
      counters: this.counters,
      // A background retrain the gate refuses is kept, inactive: that is the gate working, not a failed retrain.
      retrain: () =>
        this.retrain(true).catch((e: unknown) => {
          if (!(e instanceof ActivationRefusedError)) throw e;
          this.log(`retrained snapshot ${e.snapshot.id} kept inactive: ${e.message}`);
        }),
      retraining: () => this.retrainInProgress,
      erasures: this.erasureMarks,
      recent: this.recent,
      log: say,
      // Until the tail runs (recovery), the loop's own record is the replay point.
      // Read and handed to the learner by a finished pass, and not still waiting in the learn queue.
      ...(config.role === 'learner' ? { checkpointSeq: () => Math.min(this.tail?.feedbackPosition ?? this.learner.lastLearnedSeq, this.learner.lowestQueuedSeq() - 1) } : {}),
    });
  }

  /**
   * Open the engine on a store: on first start it imports the dataset's catalogue and fits the
   * first snapshot; afterwards it restores the active snapshot, the catalogue, the bandit
   * checkpoint, and replays the feedback logged after that checkpoint.
   */
  static async open(store: Store, base: Dataset, factory: ModelFactory, config: Partial<EngineConfig> = {}, log: Log = () => {}, links: ClusterLinks = { bus: null }): Promise<Engine> {
    const e = new Engine(store, base, factory, { ...ENGINE_DEFAULTS, ...config }, log, links);
    try {
      await e.start();
    } catch (err) {
      await e.stopCluster();
      throw err;
    }
    return e;
  }

  /**
   * A cluster server waits for the learner to have seeded the store and activated a snapshot
   * (servers never seed or fit: two doing it at once would race).
   */
  private async waitForLearner(): Promise<void> {
    let said = false;
    for (;;) {
      if ((await this.store.state.getState('seeded')) && (await this.store.snapshots.activations(1)).length > 0) return;
      if (!said) this.log('waiting for the learner to seed the store and activate a first snapshot');
      said = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  private async start(): Promise<void> {
    const st = this.store;
    const role = this.config.role;
    if (role === 'server') await this.waitForLearner();
    // A server reads the learner's version before anything else: whatever changes while it loads
    // (an erasure, a catalogue change, a snapshot) is then newer than it, and the first sync applies it.
    const startVersion = role === 'server' ? await readVersion(st) : null;
    await this.checkIds();
    // The stamp of the data as given: after a restart the tombstones filter it, and the store's
    // stamp (of the same files) must still match.
    const stamp = datasetStamp(this.base);
    this.tombstones = await Tombstones.read(st.state);
    const kept = this.tombstones.filter(this.base);
    if (kept.users > 0) {
      this.base = kept.dataset;
      this.log(`${kept.users} users of the base data were erased from this store and are left out (chorus forget --data removes them from the files)`);
    }
    if (!(await st.state.getState('seeded'))) {
      const now = Date.now();
      const items: CatalogueEntry[] = this.base.items.ids().map((id, i) => ({ id, meta: itemMetaJson(this.base.itemMeta[i]), created: now, updated: now }));
      const users: CatalogueEntry[] = this.base.users.ids().map((id, i) => ({ id, meta: { ...(this.base.userMeta[i] ?? {}) }, created: now, updated: now }));
      await Promise.all([
        st.catalogue.upsert('items', items),
        st.catalogue.upsert('users', users),
        st.state.putState('seeded', Buffer.from(stamp)),
      ]);
    } else {
      const seeded = (await st.state.getState('seeded'))!.toString('utf8');
      if (seeded !== stamp) {
        this.log(`this store was seeded from ${seeded}, not ${stamp}: serving its saved catalogue and snapshot; retrains use the new data`);
      }
    }
    await this.catalogue.load();
    await this.snapshots.start(this.base);
    if (role === 'server') return this.startFollower(startVersion);
    const from = await recoverFromLog({
      store: st,
      policy: this.policy,
      learner: this.learner,
      windows: this.windows,
      feedback: this.fb,
      counters: this.counters,
      exposure: this.decisions.exposure,
      defaultReward: this.config.defaultReward,
      log: (m) => this.log(m),
    });
    // Expire reward windows about 4 times per wait (at most once a second); unref: never keeps the process alive.
    const tick = Math.max(10, Math.min(1000, this.windows.config.waitMs / 4));
    this.sweeper = setInterval(() => void this.fb.sweep(), tick);
    this.sweeper.unref();
    if (role === 'learner') await this.startLearner(from);
  }

  /** A cluster learner: read the servers' log from where recovery stopped, and announce its state. */
  private async startLearner(from: { feedbackSeq: number; decisionSeq: number }): Promise<void> {
    const before = await readVersion(this.store);
    this.announcer = new Announcer(this.store, this.links.bus, before ?? { checkpointAt: 0, snapshot: this.snapshots.active.id, catalogue: 0, erasures: 0 }, this.log);
    this.tail = new LearnerTail(
      {
        store: this.store,
        mark: () => this.erasureMarks.mark(),
        erasedSince: (user, mark) => this.erasureMarks.since(user, mark),
        recent: this.recent,
        decision: (d, mark) => {
          if (!this.erasureMarks.since(d.user, mark)) this.decisions.logged(d);
        },
        feedback: (f, d, mark) => {
          if (!this.erasureMarks.since(f.user, mark)) this.fb.apply(f, d);
        },
        log: this.log,
      },
      from,
    );
    // A checkpoint of the recovered state first: servers (and a later failover) start from it.
    await this.learner.checkpoint();
    await this.announcer.announce({ snapshot: this.snapshots.active.id });
    this.tail.start(Math.max(20, this.config.syncMs / 5));
    this.log(`learning from the log (feedback after seq ${from.feedbackSeq}, decisions after seq ${from.decisionSeq})`);
  }

  /** A cluster server: the learner's checkpoint as it stands, the log for histories, then follow. */
  private async startFollower(version: ClusterVersion | null): Promise<void> {
    const r = await recoverFollower({ store: this.store, policy: this.policy, feedback: this.fb, counters: this.counters, exposure: this.decisions.exposure, log: (m) => this.log(m) });
    const v = version ?? { checkpointAt: 0, snapshot: '', catalogue: 0, erasures: 0 };
    this.follower = new ServerFollower(
      {
        store: this.store,
        policy: this.policy,
        activeSnapshot: () => this.snapshots.active.id,
        followSnapshot: (id) => this.followSnapshot(id),
        reloadCatalogue: () => this.catalogue.reload(),
        mark: () => this.erasureMarks.mark(),
        erasedSince: (user, mark) => this.erasureMarks.since(user, mark),
        count: (f) => this.fb.count(f),
        forgetUser: (user) => this.forgetLocally(user),
        rebuildUserMemory: () => this.rebuildUserMemory(),
        reloadKeys: this.links.reloadKeys ?? (async () => {}),
        log: this.log,
      },
      // The snapshot and checkpoint it serves are the ones it loaded; the rest of the version is the one read first.
      { feedbackSeq: r.feedbackSeq, version: { ...v, checkpointAt: r.checkpointAt, snapshot: v.snapshot === this.snapshots.active.id ? v.snapshot : '' } },
    );
    this.follower.start(this.config.syncMs);
    await this.links.bus?.subscribe((n) => this.follower?.notice(n));
    // Whatever the learner changed while this server started.
    await this.follower.sync();
  }

  /**
   * A cluster server heard that the learner erased `user`: it leaves this process's memory too
   * (the follower then re-reads the active snapshot, whose stored body no longer holds them, and
   * the learner's checkpoint written with the erasure).
   */
  private forgetLocally(user: string): void {
    this.erasureMarks.erased(user);
    this.histories.forget(user);
    // The model keeps the user's row until the follower re-reads the snapshot (`followSnapshot`).
    this.decisions.eraseHeard(user);
    this.catalogue.forgetUser(user);
    this.policy.forgetUser?.(user);
  }

  /**
   * A cluster server serves stored snapshot `id` (the learner's activation, or the active one again
   * after an erasure rewrote it). The erasures heard before the read began are then out of the
   * model: their users' pools may be shared again (../decisions.ts, `reloaded`).
   */
  private async followSnapshot(id: string): Promise<void> {
    const heard = this.decisions.heardMark;
    await this.snapshots.follow(id);
    this.decisions.reloaded(heard);
  }

  /**
   * A cluster server that missed an erasure notice (it does not know whose): every history again
   * from the log and the catalogue from the store (neither holds the user any more), and no
   * memoised pool or derived session kept.
   */
  private async rebuildUserMemory(): Promise<void> {
    await this.catalogue.reload();
    this.decisions.clearUsers();
    this.histories.clear();
    await forEachFeedback(this.store, (f) => {
      if (f.reward > 0 && f.user !== null) this.histories.remember(f.user, f.item);
    });
  }

  /** The policy checkpoint, stored; a cluster learner announces it. */
  private async saveCheckpoint(): Promise<void> {
    const c = await this.fb.saveCheckpoint();
    await this.announcer?.announce({ checkpoint: c });
  }

  /** This process's part in a cluster, for /metrics and the tests. */
  get cluster(): { role: ServeRole; version: ClusterVersion | null; policyUpdates: number } {
    return {
      role: this.config.role,
      version: this.announcer?.version ?? this.follower?.version ?? null,
      policyUpdates: this.follower?.policyUpdates ?? 0,
    };
  }

  /** A request this role does not take (./cluster/roles.ts). */
  private refuse(roles: readonly ServeRole[], what: string): void {
    if (!roles.includes(this.config.role)) return;
    throw new ConflictError(
      this.config.role === 'server'
        ? `this process runs with --role server and takes no admin changes (${what}): send them to the learner (--role learner), which announces them to every server`
        : `this process runs with --role learner and takes no decisions or feedback (${what}): send them to a server (--role server)`,
    );
  }

  /**
   * The learner lock was lost (./cluster/learner-lock.ts): another learner may hold it now, so
   * this one stops reading the log and writing checkpoints at once. It keeps answering reads.
   */
  stopLearning(reason: string): void {
    this.log(`learner lock lost (${reason}): this process stops learning`);
    this.lockLost = true;
    this.learner.closed = true;
    this.announcer = null;
    void this.tail?.stop();
    this.tail = null;
  }

  private async stopCluster(): Promise<void> {
    await this.tail?.stop();
    await this.follower?.stop();
  }

  /**
   * The store's id mode against this engine's (refuses to mix raw ids and pseudonyms, or two
   * keys); a new store records it. A store seeded before modes were recorded holds raw ids. Under
   * `pseudonyms` the base data is pseudonymised here, before anything is seeded or fitted from it,
   * unless it already was with this key (an imported snapshot); a mismatch is refused.
   */
  private async checkIds(): Promise<void> {
    const st = this.store;
    const wanted = this.config.pseudonyms?.mode ?? RAW_IDS;
    const stored = (await st.state.getState(ID_MODE_KEY))?.toString('utf8');
    const recorded = stored ?? ((await st.state.getState('seeded')) ? RAW_IDS : undefined);
    checkIdMode(recorded, wanted, `the store ${st.url}`);
    // Base data imported with `chorus import --pseudonymise` records its key's mode: it must be
    // this server's (it is then used as it is: pseudonymising it again would hash ids twice).
    const given = datasetIdMode(this.base);
    if (given !== RAW_IDS) checkIdMode(given, wanted, `the base data ${this.base.name}`);
    if (stored === undefined) await st.state.putState(ID_MODE_KEY, Buffer.from(wanted));
    if (this.config.pseudonyms) this.base = pseudonymiseDataset(this.base, this.config.pseudonyms);
  }

  /** A user id as the store keeps it: the caller's id, or its pseudonym under `pseudonyms`. */
  storedId(user: string): string {
    return this.config.pseudonyms ? this.config.pseudonyms.of(user) : user;
  }

  /** A model became active: the catalogue, the decision buffers and the policy re-align to it. */
  private install(m: ServedModel): void {
    this.catalogue.bind(m);
    this.decisions.bind(m);
    this.policy.bind(m, (id) => this.catalogue.get('items', id));
    // A learner's activation, rollback or retrain reaches every server.
    void this.announcer?.announce({ snapshot: this.snapshots.active.id }).catch((e: unknown) => this.log(`cluster: announcing snapshot ${this.snapshots.active.id} failed: ${(e as Error).message}`));
  }

  /**
   * Erasure: the active model re-served with user row `row` scrubbed. Like `install`, except that
   * a policy with `bindErased` re-aligns only its user side (an agent policy's full bind refits its
   * item space: seconds on the event loop, for a change to one user row).
   */
  private installErased(m: ServedModel, row: number): void {
    this.catalogue.bind(m);
    this.decisions.bind(m);
    const get = (id: string) => this.catalogue.get('items', id);
    if (row >= 0 && this.policy.bindErased) this.policy.bindErased(m, get, row);
    else this.policy.bind(m, get);
  }

  get activeSnapshot(): SnapshotMeta {
    return this.snapshots.active;
  }

  get modelKind(): string {
    return this.snapshots.model.rec.kind;
  }

  get learnQueueLength(): number {
    return this.learner.length;
  }

  /** Decisions still waiting for feedback. */
  get openWindows(): number {
    return this.windows.size;
  }

  /** Shown count per item (Rank: the pick), from the recent log at start plus every decision since. */
  get exposure(): ReadonlyMap<string, number> {
    return this.decisions.exposure;
  }

  get poolStats(): { readonly hits: number; readonly misses: number } {
    return this.decisions.poolStats;
  }

  /** The shared (Redis) pool cache's lookups after an in-process miss, and its failed writes (all 0 without one). */
  get sharedPoolStats(): Readonly<SharedPoolStats> {
    return this.decisions.sharedStats;
  }

  /** Share candidate pools with the other servers through `shared` (./shared-pools.ts; `chorus serve --redis`). */
  useSharedPools(shared: SharedPools | null): void {
    this.decisions.useShared(shared);
  }

  // ---------------------------------------------------------------- decisions

  /** A slate for the user, logged (with propensities and learning features) before it returns. */
  async recommend(req: RecommendRequest): Promise<RecommendResponse> {
    this.refuse(['learner'], 'recommend');
    const llm = this.config.llm;
    if (req.explain === 'text' && !llm) {
      throw new RequestError('this server has no language model for text explanations: start it with --llm <url>#<model>', 'explain', 'E_NO_LLM');
    }
    let r: RecommendResponse;
    const stored = this.config.pseudonyms ? { ...req, user: this.storedId(req.user) } : req;
    // The shared pool cache is read before anything else of the request happens (and before the
    // erasure mark), so that everything after the read runs as it did without one: the slate is
    // built from the state as it is then, and the decision is logged in the same turn.
    const waiting = this.decisions.sharedLookup(stored);
    const found = waiting ? await waiting : undefined;
    const mark = this.erasureMarks.mark();
    r = await this.decisions.recommend(stored, found);
    // The answer names the caller's id; only the pseudonym went into the log.
    if (this.config.pseudonyms) r = { ...r, user: req.user };
    // Erased while its decision was being committed: the erasure deleted it (the writes are
    // serial and it was queued first), so its reward window goes too.
    if (this.erasureMarks.since(this.storedId(req.user), mark)) this.windows.drop(r.eventId);
    return req.explain === 'text' ? this.withTextExplanations(r, this.storedId(req.user), llm!) : r;
  }

  /**
   * The slate with a model-written sentence per item beside the structured explanation. The slate
   * is already logged; a failing model call costs the sentences only (`explanationTextError`).
   */
  private async withTextExplanations(r: RecommendResponse, storedUser: string, llm: ChatProvider): Promise<RecommendResponse> {
    const titleOf = (id: string): string => {
      const t = this.catalogue.get('items', id)?.title;
      return typeof t === 'string' && t.length > 0 ? t : id;
    };
    const history = (this.histories.get(storedUser) ?? []).slice(-HISTORY_SHOWN).map(titleOf);
    const items = r.items.map((it) => {
      const meta = this.catalogue.get('items', it.id);
      const g = meta?.genres ?? meta?.categories;
      const genres = Array.isArray(g) ? g.filter((x): x is string => typeof x === 'string') : typeof g === 'string' ? g.split('|').filter(Boolean) : undefined;
      return { id: it.id, ...(typeof meta?.title === 'string' ? { title: meta.title } : {}), ...(genres ? { genres } : {}), explanation: it.explanation };
    });
    try {
      const text = await explainAsText(llm, { history, items });
      return { ...r, items: r.items.map((it) => (text.has(it.id) ? { ...it, explanationText: text.get(it.id)! } : it)) };
    } catch (e) {
      return { ...r, explanationTextError: (e as Error).message };
    }
  }

  /** The user's online history as this process holds it (stored id), oldest first; read-only. */
  history(user: string): readonly string[] {
    return this.histories.entries().get(this.storedId(user)) ?? [];
  }

  /** The same slate logic without logging anything (dashboard preview). */
  preview(user: string, k: number, opts: { stored?: boolean } = {}): SlateItem[] {
    return this.decisions.preview(opts.stored ? user : this.storedId(user), k);
  }

  /** Personalizer Rank. */
  async rank(req: RankRequest): Promise<RankResponse> {
    this.refuse(['learner'], 'rank');
    return this.decisions.rank(req);
  }

  // ---------------------------------------------------------------- feedback

  rewardOf(type: FeedbackRequest['type'], value: number | undefined): number {
    return this.fb.rewardOf(type, value);
  }

  async feedback(req: FeedbackRequest): Promise<{ seq: number; reward: number; eventId: string | null }> {
    this.refuse(['learner'], 'feedback');
    return this.fb.feedback(req.user !== undefined ? { ...req, user: this.storedId(req.user) } : req);
  }

  /** Personalizer Reward. */
  async reward(eventId: string, value: number): Promise<void> {
    this.refuse(['learner'], 'reward');
    return this.fb.reward(eventId, value);
  }

  /** Activate a deferred Rank event: its reward window opens now, and rewards sent before are learned. */
  async activateEvent(eventId: string): Promise<void> {
    this.refuse(['learner'], 'activate');
    return this.fb.activateEvent(eventId);
  }

  // ---------------------------------------------------------------- online learning loop

  /** Learn everything queued now (tests, shutdown); waits for a checkpoint or retrain in progress. */
  async settle(): Promise<void> {
    await this.learner.settle();
    const retraining = this.retraining;
    if (retraining) await retraining.catch(() => undefined);
  }

  /** Checkpoint the policy now (./learn-loop.ts: never throws; true when saved). */
  checkpoint(): Promise<boolean> {
    // A cluster server learned nothing: the checkpoint in the store is the learner's to write; and
    // a learner that lost its lock may not write one (another learner holds it now).
    if (this.config.role === 'server' || this.lockLost) return Promise.resolve(false);
    return this.learner.checkpoint();
  }

  // ---------------------------------------------------------------- snapshots

  /** Training data for a retrain: the base dataset plus the positive online rewards kept in memory (./histories.ts). */
  trainingData(): Dataset {
    return withOnline(this.base, this.catalogue.itemIds(), this.histories.entries());
  }

  /** Run `fn` under the snapshot lock (see `snapshotLock`); a failure does not block the next one. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.snapshotLock.then(fn);
    this.snapshotLock = run.catch(() => undefined);
    return run;
  }

  /** Whether a retrain is in progress, from its fit to the end of its gate and activation. */
  get retrainInProgress(): boolean {
    return this.retraining !== null;
  }

  /**
   * Fit a new snapshot on the base data plus online feedback; activate it when asked, through the
   * activation gate (`gate.gate`, else the configured default). A refused snapshot stays stored,
   * inactive, and the promise rejects with ActivationRefusedError. One retrain at a time: a call
   * while one is in progress (until its gate and activation are done) gets that one's promise.
   * The fit runs outside the snapshot lock (other activations need not wait for it); storing,
   * the gate and the activation run under it.
   */
  retrain(activate: boolean, gate: ActivationRequest = {}): Promise<SnapshotMeta> {
    this.refuse(['server'], 'retrain');
    if (this.retraining) return this.retraining;
    const run = (async () => {
      this.erasedDuringFit = [];
      try {
        const fitted = await this.snapshots.fitRetrain(() => this.trainingData());
        return await this.exclusive(async () => {
          // Users erased while it was fitting are in its data: they leave it before it is stored.
          for (const user of this.erasedDuringFit ?? []) fitted.body = scrubSnapshotBody(fitted.body, user) ?? fitted.body;
          this.erasedDuringFit = null;
          const meta = await this.snapshots.add(fitted);
          if (!activate) return meta;
          try {
            return await this.activateNow(meta.id, gate);
          } catch (e) {
            // The gate could not judge (e.g. no usable decisions logged yet): say which snapshot was kept.
            if (e instanceof ChorusError && !(e instanceof ActivationRefusedError) && e.status === 409) throw new ConflictError(`snapshot ${meta.id} was retrained but not activated: ${e.message}`);
            throw e;
          }
        });
      } finally {
        this.erasedDuringFit = null;
        this.retraining = null;
      }
    })();
    this.retraining = run;
    return run;
  }

  /** Store the active model again under a new id (a named restore point). */
  saveSnapshot(): Promise<SnapshotMeta> {
    this.refuse(['server'], 'save a snapshot');
    return this.exclusive(() => this.snapshots.save());
  }

  listSnapshots(): Promise<{ active: string; snapshots: SnapshotMeta[] }> {
    return this.snapshots.list();
  }

  /**
   * Serve snapshot `id`. With the gate on (`gate.gate`, else the configured default) it is first
   * evaluated on the live log and refused (ActivationRefusedError, 409) when it does not pass.
   */
  activateSnapshot(id: string, gate: ActivationRequest = {}): Promise<SnapshotMeta> {
    this.refuse(['server'], 'activate a snapshot');
    return this.exclusive(() => this.activateNow(id, gate));
  }

  /** `activateSnapshot`'s work; only under the snapshot lock. */
  private async activateNow(id: string, gate: ActivationRequest): Promise<SnapshotMeta> {
    // Serving it already: nothing to judge (against itself the difference is 0 and would be refused).
    if (id === this.snapshots.active.id) return this.snapshots.activate(id);
    if (this.gateOf(gate) === 'dr') {
      // The candidate is decoded once, for the gate and then for serving.
      const candidate = await this.snapshots.peek(id);
      // Under the lock nothing else activates, so the active snapshot the gate compared against is still the active one.
      const evaluation = await this.evaluateWith(id, gate, async () => candidate);
      if (!evaluation.gate.passes) throw new ActivationRefusedError(candidate.meta, evaluation);
      this.log(`snapshot ${id} passed the activation gate: ${gateMessage(evaluation)}`);
      return this.snapshots.activate(id, candidate);
    }
    return this.snapshots.activate(id);
  }

  /** Off-policy estimates of snapshot `id` on the live decision log, without serving it (./snapshot-evaluation.ts). */
  evaluateSnapshot(id: string, options: Partial<EvaluationOptions> = {}): Promise<SnapshotEvaluation> {
    return this.evaluateWith(id, options, (sid) => this.snapshots.peek(sid));
  }

  private evaluateWith(id: string, options: Partial<EvaluationOptions>, load: (id: string) => ReturnType<Snapshots['peek']>): Promise<SnapshotEvaluation> {
    return evaluateSnapshot(
      {
        events: this.store.events,
        rewards: { waitMs: this.config.rewardWaitSeconds * 1000, defaultReward: this.config.defaultReward },
        now: Date.now(),
        active: { meta: this.snapshots.active, model: this.snapshots.model },
        load,
      },
      id,
      options,
    );
  }

  private gateOf(r: ActivationRequest): ActivationGate {
    return r.gate ?? this.config.activationGate;
  }

  /** Go back to the snapshot that was active before the current one. */
  rollback(): Promise<SnapshotMeta> {
    this.refuse(['server'], 'roll back');
    return this.exclusive(() => this.snapshots.rollback());
  }

  /** Delete a snapshot (409 for the active one, 404 for an unknown one). */
  deleteSnapshot(id: string): Promise<void> {
    this.refuse(['server'], 'delete a snapshot');
    return this.exclusive(() => this.snapshots.delete(id));
  }

  // ---------------------------------------------------------------- catalogue

  getEntry(kind: CatalogueKind, id: string): Record<string, unknown> | undefined {
    return this.catalogue.get(kind, kind === 'users' ? this.storedId(id) : id);
  }

  /** Insert or replace entries (./catalogue.ts: all or none up to a chunk; bulk puts commit chunk by chunk). `mustBeNew` refuses ids that exist (POST). */
  async putEntries(kind: CatalogueKind, entries: readonly EntryInput[], mustBeNew = false): Promise<{ created: number; updated: number }> {
    this.refuse(['server'], 'catalogue changes');
    const stored = kind === 'users' && this.config.pseudonyms ? entries.map((e) => ({ ...e, id: this.storedId(e.id) })) : entries;
    try {
      return await this.catalogue.put(kind, stored, mustBeNew);
    } finally {
      // Also after a partial failure: bulk puts commit chunk by chunk.
      await this.announcer?.announce({ catalogue: true });
    }
  }

  /** Delete a catalogue row only (for users, `eraseUser` is the erasure: DELETE /users/:id calls that). */
  async deleteEntry(kind: CatalogueKind, id: string): Promise<void> {
    this.refuse(['server'], 'catalogue changes');
    await this.catalogue.remove(kind, kind === 'users' ? this.storedId(id) : id);
    await this.announcer?.announce({ catalogue: true });
  }

  // ---------------------------------------------------------------- erasure

  /**
   * Erase a user (the caller's id; its pseudonym under `pseudonyms`), in one store transaction
   * before it resolves: their decisions, the feedback they gave or that answers their decisions,
   * their catalogue row, and their row in every stored snapshot (./erasure.ts); in memory their
   * history, memoised pool, session, the policy's per-user state and their row in the served
   * model (with its fold-in cache, rebuilt empty); and the base data used by retrains. A user in
   * the base data files gets a salted tombstone so that restarts leave them out too. Writes an
   * audit record with counts only. Resolves with it, or null when nothing held the user.
   * The policy's shared weights keep what they learned from the user (docs/privacy.md).
   */
  async eraseUser(id: string): Promise<ErasureRecord | null> {
    this.refuse(['server'], 'erasure');
    if (this.lockLost) throw new ChorusError('E_LEARNER_LOST', 'this learner lost the learner lock: send the erasure to the learner that holds it now', { status: 503 });
    const user = this.storedId(id);
    // Under the snapshot lock: no snapshot is stored or activated between the rewrite and the commit.
    return this.exclusive(async () => {
      const active = this.snapshots.active.id;
      const snapshots: { id: string; body: Buffer }[] = [];
      let activeModel: ReturnType<Snapshots['decode']> | null = null;
      for (const meta of await this.store.snapshots.listSnapshots()) {
        const snap = await this.store.snapshots.getSnapshot(meta.id);
        const body = snap ? scrubSnapshotBody(snap.body, user) : null;
        if (!body) continue;
        snapshots.push({ id: meta.id, body });
        // Decoded before anything changes: a body that does not decode stops the erasure here, whole.
        if (meta.id === active) activeModel = this.snapshots.decode(active, body);
      }
      const state: { key: string; value: Buffer }[] = [];
      const inBase = this.base.users.has(user);
      // The tombstone is remembered (and `this.base` kept filtered) only once the commit succeeded.
      if (inBase) state.push(this.tombstones!.withUser(user));
      // From here to the commit nothing awaits: no request sees the user half-erased in memory.
      // Requests in flight check the mark after their own commit (ErasureMarks) and leave the
      // in-memory state alone; their queued learning is dropped here.
      this.erasureMarks.erased(user);
      const counts: Record<string, number> = {
        historyItems: this.histories.forget(user),
        cacheEntries: this.decisions.eraseUser(user) + Number(this.catalogue.forgetUser(user)),
        policyEntries: (this.policy.forgetUser?.(user) ?? 0) + this.learner.dropUser(user),
        baseInteractions: 0,
        servedModelRows: activeModel ? 1 : 0,
      };
      const checkpoint: PolicyCheckpoint | undefined = this.policy.forgetUser ? this.fb.checkpoint() : undefined;
      if (checkpoint) state.push(checkpointEntry(checkpoint));
      const base = this.base;
      if (inBase) {
        // Filtered before the commit: a retrain starting while it runs must not fit on the user.
        const r = withoutUsers(this.base, (u) => u === user);
        this.base = r.dataset;
        counts.baseInteractions = r.interactions;
      }
      if (activeModel) {
        const row = this.snapshots.model.userIndex.get(user) ?? -1;
        this.snapshots.reinstall(activeModel, (m) => this.installErased(m, row));
      }
      this.erasedDuringFit?.push(user);
      const found = snapshots.length > 0 || inBase || Object.values(counts).some((n) => n > 0);
      let record: ErasureRecord | null;
      try {
        record = await this.store.erasures.eraseUser({ user, id: randomUUID(), ts: Date.now(), snapshots, state, counts, found });
      } catch (e) {
        // Not committed: the store still holds the user, and so must the base data (with no
        // tombstone), so that a retry finds them in it and tombstones them.
        this.base = base;
        throw e;
      }
      if (!record) return null;
      if (inBase) this.tombstones!.add(user);
      // Again after the commit: a cluster learner's log reader may have kept one of the user's
      // decisions between the erasure's mark and its commit (the rows still read until then).
      this.recent.forgetUser(user);
      // Every server drops the user from memory (and reads the rewritten snapshot and checkpoint).
      // Committed already: a failed announcement is logged, not the erasure's failure (servers
      // that miss it keep the user in memory until the next version write shows the erasure).
      await this.announcer?.announce({ erasure: user, ...(checkpoint ? { checkpoint } : {}) }).catch((e: unknown) => this.log(`cluster: announcing erasure ${record!.id} failed: ${(e as Error).message}`));
      const c = record.counts;
      this.log(`erasure ${record.id}: ${Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ')}${c.walWipePending ? ' (the WAL still holds old pages: a reader is open; retried every second)' : ''}`);
      return record;
    });
  }

  /** The erasure audit, most recent first. */
  erasures(limit: number): Promise<ErasureRecord[]> {
    return this.store.erasures.list(limit);
  }

  /** Every catalogue item id, in catalogue order (no metadata copied). */
  itemIds(): IterableIterator<string> {
    return this.catalogue.itemIds();
  }

  /** One page of entries, catalogue order; copies only the page. */
  listEntries(kind: CatalogueKind, offset: number, limit: number): EntryInput[] {
    return this.catalogue.page(kind, offset, limit);
  }

  catalogueSize(kind: CatalogueKind): number {
    return this.catalogue.size(kind);
  }

  /**
   * Learn what is queued and save a last checkpoint. Does not throw on learning or checkpoint
   * errors (they are logged and counted), so the caller goes on to close the store.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.stopCluster();
    if (this.sweeper) clearInterval(this.sweeper);
    await this.fb.stop();
    await this.settle();
    this.closed = true;
    this.learner.closed = true;
    await this.checkpoint();
  }
}

/** Which data a store was seeded from (name and sizes), to warn when it is reopened on other data. */
function datasetStamp(d: Dataset): string {
  return `${d.name} (${d.nUsers} users, ${d.nItems} items, ${d.nInteractions} interactions)`;
}

/** Item metadata as stored in the catalogue (plain JSON). */
function itemMetaJson(m: ItemMeta | undefined): Record<string, unknown> {
  return m ? (JSON.parse(JSON.stringify(m)) as Record<string, unknown>) : {};
}
