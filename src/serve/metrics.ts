import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SnapshotMeta } from '../store/types.js';
import type { EngineCounters } from './engine.js';

/**
 * `/metrics`: prom-client metrics in one Registry per server. Not prom-client's global registry:
 * several servers in one process (tests, an embedding application) would share and clash on it.
 */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** What the metrics read from the engine at scrape time (the Engine satisfies it). */
export interface MetricsSource {
  readonly counters: EngineCounters;
  readonly learnQueueLength: number;
  readonly openWindows: number;
  readonly config: { readonly maxQueue: number };
  readonly poolStats: { readonly hits: number; readonly misses: number };
  /** Absent on sources without a shared pool cache (tests' fakes): the counter reads 0. */
  readonly sharedPoolStats?: { readonly hits: number; readonly misses: number; readonly errors: number; readonly setErrors: number; readonly delErrors: number };
  readonly activeSnapshot: SnapshotMeta;
  readonly policy: { weights(): { recommender: number } };
  catalogueSize(kind: 'items' | 'users'): number;
  /** Absent on sources that are not cluster-aware (tests' fakes): the counter reads 0. */
  readonly cluster?: { readonly policyUpdates: number };
}

/**
 * A counter whose value the engine already keeps (it survives restarts from the log, so the
 * engine, not this module, owns it): each scrape sets it to the engine's figure per label set.
 */
function engineCounter(registry: Registry, name: string, help: string, label: string | null, read: () => Record<string, number>): void {
  new Counter({
    name,
    help,
    labelNames: label ? [label] : [],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, value] of Object.entries(read())) {
        if (label) this.inc({ [label]: key }, value);
        else this.inc(value);
      }
    },
  });
}

function engineGauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly duration: Histogram<'method' | 'route'>;

  constructor(engine: MetricsSource) {
    const r = this.registry;
    collectDefaultMetrics({ register: r });
    this.requests = new Counter({
      name: 'chorus_http_requests_total',
      help: 'HTTP requests answered, by route and status.',
      labelNames: ['method', 'route', 'status'],
      registers: [r],
    });
    this.duration = new Histogram({
      name: 'chorus_http_request_duration_seconds',
      help: 'Time to answer an HTTP request.',
      labelNames: ['method', 'route'],
      buckets: BUCKETS,
      registers: [r],
    });
    const c = engine.counters;
    const one = (v: number) => ({ '': v });
    engineCounter(r, 'chorus_decisions_total', 'Logged decisions (recommend and rank).', null, () => one(c.decisions));
    engineCounter(r, 'chorus_feedback_total', 'Accepted feedback events by type.', 'type', () => c.feedback);
    // A gauge, not a counter: rewards may be negative, so the sum can go down.
    engineGauge(r, 'chorus_reward_sum', 'Sum of rewards received.', () => c.rewardSum);
    engineCounter(r, 'chorus_bandit_updates_total', 'Rewards the online bandit has learned from.', null, () => one(c.learned));
    engineGauge(r, 'chorus_learn_queue_length', 'Rewards waiting for the background learner.', () => engine.learnQueueLength);
    engineGauge(r, 'chorus_reward_windows_open', 'Logged decisions still inside their reward wait.', () => engine.openWindows);
    engineCounter(r, 'chorus_default_rewards_total', 'Shown items learned with the default reward (no feedback within the reward wait).', null, () =>
      one(c.defaultRewards),
    );
    engineGauge(r, 'chorus_learn_queue_capacity', 'Most rewards the learner queue holds (maxQueue).', () => engine.config.maxQueue);
    engineCounter(r, 'chorus_learn_queue_full_total', 'Times the learner queue was full and a request learned a batch synchronously.', null, () =>
      one(c.learnQueueFull),
    );
    engineCounter(r, 'chorus_learn_errors_total', 'Errors caught in the learning loop by stage; stage="learn" counts failed (skipped) rewards.', 'stage', () => c.learnErrors);
    engineCounter(r, 'chorus_cluster_policy_updates_total', 'Cluster server: learner checkpoints applied to the served policy.', null, () => one(engine.cluster?.policyUpdates ?? 0));
    engineCounter(r, 'chorus_retrains_total', 'Background retrains finished.', null, () => one(c.retrains));
    engineCounter(r, 'chorus_retrain_errors_total', 'Background retrains that failed.', null, () => one(c.retrainErrors));
    engineCounter(r, 'chorus_pool_cache_total', 'Candidate-pool cache lookups by result.', 'result', () => ({ hit: engine.poolStats.hits, miss: engine.poolStats.misses }));
    engineCounter(r, 'chorus_pool_cache_shared_total', 'Shared (Redis, --redis) candidate-pool cache lookups after an in-process miss, by result (error: the read failed and the pool was computed; not also a miss).', 'result', () => {
      const st = engine.sharedPoolStats;
      return { hit: st?.hits ?? 0, miss: st?.misses ?? 0, error: st?.errors ?? 0 };
    });
    engineCounter(r, 'chorus_pool_cache_shared_write_errors_total', 'Shared candidate-pool cache commands Redis failed, by command (set: a computed pool not shared; del: an erasure whose entry is left to its TTL).', 'command', () => {
      const st = engine.sharedPoolStats;
      return { set: st?.setErrors ?? 0, del: st?.delErrors ?? 0 };
    });
    engineGauge(r, 'chorus_catalogue_items', 'Items in the catalogue.', () => engine.catalogueSize('items'));
    engineGauge(r, 'chorus_catalogue_users', 'Users in the catalogue.', () => engine.catalogueSize('users'));
    engineGauge(r, 'chorus_recommender_weight', 'Learned weight of the recommender score in the bandit.', () => engine.policy.weights().recommender);
    new Gauge({
      name: 'chorus_active_snapshot_info',
      help: 'The active model snapshot (value 1).',
      labelNames: ['id', 'kind'],
      registers: [r],
      collect() {
        // Reset first: after an activation only the new snapshot's series may remain.
        this.reset();
        this.set({ id: engine.activeSnapshot.id, kind: engine.activeSnapshot.kind }, 1);
      },
    });
  }

  /** Count one answered request; `route` is the route pattern (`/items/:id`), never the raw URL. */
  observe(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.duration.observe({ method, route }, seconds);
  }

  /** Content type of `render()`'s text (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
