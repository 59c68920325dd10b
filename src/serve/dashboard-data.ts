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

/** Everything the dashboard draws, from the store (history) and the engine (live state). */
export async function dashboardData(engine: Engine, user: string | undefined, hours: number) {
  const now = Date.now();
  const span = hours * 3600_000;
  // The finest bucket (10 s … 1 h) that keeps the chart under ~120 points.
  let bucketMs = 10_000;
  let tl = await engine.store.events.timeline(bucketMs, now - span);
  for (const b of [60_000, 300_000, 900_000, 3600_000]) {
    if (tl.length <= 120) break;
    bucketMs = b;
    tl = await engine.store.events.timeline(bucketMs, now - span);
  }
  const items = engine.listEntries('items', 0, Number.MAX_SAFE_INTEGER).map((e) => e.id);
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
      points: tl.map((b) => ({
        ...b,
        ctr: b.shown > 0 ? b.clicks / b.shown : null,
        avgReward: b.feedback > 0 ? b.rewardSum / b.feedback : null,
      })),
    },
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
    user: who === null ? null : { id: who, items: engine.preview(who, 10).map((x) => ({ ...x, title: title(engine, x.id) })) },
  };
}
