import { DecisionRewards } from './decision-rewards.js';
import type { Engine } from './engine.js';

function gini(counts: number[]): number {
  const n = counts.length;
  if (n === 0) return 0;
  const xs = [...counts].sort((a, b) => a - b);
  let cum = 0;
  let weighted = 0;
  for (let i = 0; i < n; i++) {
    cum += xs[i]!;
    weighted += (i + 1) * xs[i]!;
  }
  return cum === 0 ? 0 : (2 * weighted) / (n * cum) - (n + 1) / n;
}

function title(engine: Engine, id: string): string {
  const t = engine.getEntry('items', id)?.title;
  return typeof t === 'string' ? t : id;
}

/**
 * The shape the dashboard's OPE card reads from a feed's `ope` field: off-policy estimates of other
 * policies on the logged decisions. The server does not compute off-policy estimates itself
 * (`chorus ope --log` does, offline), so its feed leaves `ope` out and the page hides the card; a
 * feed that carries one (a proxy, a later server) gets it drawn.
 */
export interface OpeFigures {
  /** Dataset, decisions, estimator settings: the protocol line every figure names. */
  protocol: string;
  estimates: { policy: string; estimator: string; value: number; ci: [number, number] | null; decisions: number }[];
}

/** One sample of the learner's live gauges, taken when the feed is read. */
interface LearnSample {
  t: number;
  updates: number;
  queue: number;
  openWindows: number;
}

/** Finest reward-per-decision bucket; the timeline's buckets (10 s … 1 h) are multiples of it. */
const FINEST_MS = 10_000;
/** Decisions (and feedback records) read from the log per feed request, so that a long log is caught up over several polls. */
const READ_LIMIT = 50_000;
/** Learner samples kept: an hour at one poll every 5 s. */
const MAX_SAMPLES = 720;

/** What the feed keeps between requests, per engine (several servers may share a process). */
const kept = new WeakMap<Engine, { rewards: DecisionRewards; samples: LearnSample[] }>();

function keptFor(engine: Engine) {
  let k = kept.get(engine);
  if (!k) {
    k = {
      rewards: new DecisionRewards(engine.store.events, {
        waitMs: engine.config.rewardWaitSeconds * 1000,
        defaultReward: engine.config.defaultReward,
        bucketMs: FINEST_MS,
        readLimit: READ_LIMIT,
      }),
      samples: [],
    };
    kept.set(engine, k);
  }
  return k;
}

/** The online learner's figures: counters, live gauges sampled at each read, rewards learned per bucket. */
function learning(engine: Engine, samples: LearnSample[], now: number) {
  const c = engine.counters;
  const last = samples[samples.length - 1];
  // One sample per second at most: several open pages must not crowd the series.
  if (!last || now - last.t >= 1000) {
    samples.push({ t: now, updates: c.learned, queue: engine.learnQueueLength, openWindows: engine.openWindows });
    if (samples.length > MAX_SAMPLES) samples.splice(0, samples.length - MAX_SAMPLES);
  }
  return {
    policy: engine.policy.name,
    updates: c.learned,
    queueLength: engine.learnQueueLength,
    queueCapacity: engine.config.maxQueue,
    queueFull: c.learnQueueFull,
    openWindows: engine.openWindows,
    defaultRewards: c.defaultRewards,
    errors: { ...c.learnErrors },
    checkpointEvery: engine.config.checkpointEvery,
    checkpointSeconds: engine.config.checkpointSeconds,
    retrains: c.retrains,
    retrainErrors: c.retrainErrors,
    samples: [...samples],
  };
}

/** Everything the dashboard draws, from the store (history) and the engine (live state). */
export async function dashboardData(engine: Engine, user: string | undefined, hours: number) {
  const now = Date.now();
  const span = hours * 3600_000;
  const since = now - span;
  // The finest bucket (10 s … 1 h) that keeps the chart under ~120 points.
  let bucketMs = FINEST_MS;
  let tl = await engine.store.events.timeline(bucketMs, since);
  for (const b of [60_000, 300_000, 900_000, 3600_000]) {
    if (tl.length <= 120) break;
    bucketMs = b;
    tl = await engine.store.events.timeline(bucketMs, since);
  }
  const k = keptFor(engine);
  await k.rewards.update(now, since);
  const perDecision = k.rewards.buckets(bucketMs, since);
  let counted = 0;
  let rewardSum = 0;
  for (const b of perDecision) {
    counted += b.decisions;
    rewardSum += b.rewardSum;
  }
  const items = [...engine.itemIds()];
  const counts = items.map((id) => engine.exposure.get(id) ?? 0);
  const shown = counts.filter((c) => c > 0).length;
  const hist: { bucket: string; items: number }[] = [];
  const edges = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, Infinity];
  for (let b = 0; b < edges.length - 1; b++) {
    const lo = edges[b]!;
    const hi = edges[b + 1]!;
    const n = counts.filter((c) => c >= lo && c < hi).length;
    hist.push({ bucket: hi === lo + 1 ? String(lo) : hi === Infinity ? `${lo}+` : `${lo}–${hi - 1}`, items: n });
  }
  const mostShown = [...engine.exposure.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10);
  const who = user ?? engine.listEntries('users', 0, 1)[0]?.id ?? null;
  const activations = await engine.store.snapshots.activations(10);
  return {
    generated: now,
    hours,
    snapshot: engine.activeSnapshot,
    activations,
    totals: {
      decisions: engine.counters.decisions,
      feedback: Object.values(engine.counters.feedback).reduce((a, b) => a + b, 0),
      rewardSum: engine.counters.rewardSum,
      learned: engine.counters.learned,
      items: engine.catalogueSize('items'),
      users: engine.catalogueSize('users'),
    },
    timeline: {
      bucketMs,
      points: tl.map((b) => ({ ...b, ctr: b.shown > 0 ? b.clicks / b.shown : null })),
    },
    /** Mean reward per decision (./decision-rewards.ts says which decisions count and with what). */
    rewardPerDecision: {
      bucketMs,
      waitSeconds: engine.config.rewardWaitSeconds,
      defaultReward: engine.config.defaultReward,
      /** False while the log is still being read (a long log is caught up over several requests). */
      complete: k.rewards.complete,
      decisions: counted,
      rewardSum,
      perDecision: counted > 0 ? rewardSum / counted : null,
      points: perDecision.map((b) => ({ t: b.t, decisions: b.decisions, perDecision: b.perDecision })),
      learned: perDecision.filter((b) => b.learned > 0).map((b) => ({ t: b.t, learned: b.learned })),
    },
    learning: learning(engine, k.samples, now),
    weights: engine.policy.weights(),
    exposure: {
      catalogue: items.length,
      shownItems: shown,
      coverage: items.length ? shown / items.length : 0,
      gini: gini(counts),
      histogram: hist,
      mostShown: mostShown.map(([id, count]) => ({ id, title: title(engine, id), count })),
    },
    topItems: (await engine.store.events.topItems(10)).map((t) => ({ ...t, title: title(engine, t.item) })),
    // A user picked from the catalogue is named as stored (a pseudonym under --pseudonymise), a requested one as given.
    user: who === null ? null : { id: who, items: engine.preview(who, 10, { stored: user === undefined }).map((x) => ({ ...x, title: title(engine, x.id) })) },
  };
}
