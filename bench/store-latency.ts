/**
 * Latency of the two store calls a `POST /feedback` on a decision makes — `getDecision` (read the
 * decision) and `appendFeedback` (the group-committed insert, answered after its COMMIT) — at a
 * fixed offered rate, without HTTP or the server around them: which part of /feedback's latency
 * is the store's. Each "request" reads one of 2,000 decisions written first (each with a payload
 * of 200 numbers, like the cb policy's) and appends a click on it.
 *
 *   node --import tsx bench/store-latency.ts <store URL> [--rate 500] [--seconds 10] [--no-read]
 *   e.g. sqlite:/tmp/lat.db   postgres://postgres@127.0.0.1:5432/chorus_lat (an existing database)
 *
 * --no-read: the decision is not read, as for feedback on a decision the server keeps in memory
 * (src/serve/recent-decisions.ts: the one it logged, or one it read before); only the append runs.
 */
import { readFileSync } from 'node:fs';
import { newEventId } from '../src/serve/event-id.js';
import { openStore } from '../src/store/open.js';
import { numArg } from './args.js';

const url = process.argv[2];
if (!url || url.startsWith('--')) throw new Error('usage: bench/store-latency.ts <store URL> [--rate 500] [--seconds 10]');
const rate = numArg('rate', 500);
const seconds = numArg('seconds', 10);
const read = !process.argv.includes('--no-read');
const store = openStore(url);
const payload = { x: Array.from({ length: 200 }, (_, i) => i * 0.001) };
const ids: string[] = [];
for (let i = 0; i < 2000; i++) {
  const id = newEventId();
  ids.push(id);
  await store.events.appendDecision({ id, ts: Date.now(), user: `u${i}`, kind: 'recommend', items: ['a', 'b', 'c'], propensities: [1, 1, 1], scores: [1, 2, 3], snapshotId: null, activated: true, payload });
}
const lat = { getDecision: [] as number[], appendFeedback: [] as number[], both: [] as number[] };
const n = rate * seconds;
const t0 = performance.now();
const all: Promise<void>[] = [];
for (let k = 0; k < n; k++) {
  const wait = t0 + (k * 1000) / rate - performance.now();
  if (wait >= 1) await new Promise((r) => setTimeout(r, wait));
  all.push(
    (async () => {
      const a = performance.now();
      const id = ids[k % ids.length]!;
      const d = read ? await store.events.getDecision(id) : { id, user: `u${k % ids.length}` };
      const b = performance.now();
      await store.events.appendFeedback({ eventId: d!.id, ts: Date.now(), user: d!.user, item: 'a', type: 'click', value: null, reward: 1, position: 0, propensity: 1 }, { onDecision: true });
      const c = performance.now();
      if (read) lat.getDecision.push(b - a);
      lat.appendFeedback.push(c - b);
      lat.both.push(c - a);
    })(),
  );
}
await Promise.all(all);
await store.close();
const q = (xs: number[], p: number): string => xs[Math.floor(p * (xs.length - 1))]!.toFixed(2);
console.log(`store ${url.split('?')[0]}, ${rate} requests/s for ${seconds} s${read ? '' : ', no getDecision (--no-read)'}, ${new Date().toISOString()}, load ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
console.log('| call | p50 ms | p90 ms | p99 ms | max ms |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const [k, xs] of Object.entries(lat)) {
  if (xs.length === 0) continue;
  xs.sort((x, y) => x - y);
  console.log(`| ${k} | ${q(xs, 0.5)} | ${q(xs, 0.9)} | ${q(xs, 0.99)} | ${q(xs, 1)} |`);
}
