/**
 * The serving path without HTTP: Engine.recommend and Engine.feedback called in batches of 16
 * concurrent requests (as 16 connections would send them), on the same synthetic catalogue as
 * bench/load.ts (10,000 items, 64-d BPR factors, cb policy, fsync'd SQLite). Prints wall and CPU
 * time per request; run with --cpu-prof to see where the time goes without the HTTP layer.
 *
 *   node --import tsx bench/serve-micro.ts [--requests 20000] [--store full|normal|memory] [--feedback 0]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../src/serve/engine.js';
import { registryModels } from '../src/serve/model.js';
import { openStore } from '../src/store/open.js';
import { numArg, strArg } from './args.js';
import { syntheticCatalogue } from './synthetic-catalogue.js';


const total = numArg('requests', 20_000);
const mode = strArg('store', 'full');
const dir = mkdtempSync(join(tmpdir(), 'chorus-micro-'));
const store = openStore(mode === 'memory' ? 'sqlite::memory:' : `sqlite:${join(dir, 'm.db')}?synchronous=${mode}`);
const engine = await Engine.open(store, syntheticCatalogue(2000, 10_000, 50, 7), registryModels, { model: { kind: 'bpr', config: { factors: 64, iterations: 3 } }, retrainInWorker: false });
const nUsers = 2000;
let n = 0;
const events: { eventId: string; item: string }[] = [];
async function phase(name: string, count: number, one: (i: number) => Promise<unknown>): Promise<void> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let done = 0; done < count; done += 16) await Promise.all(Array.from({ length: 16 }, (_, j) => one(done + j)));
  const c = process.cpuUsage(c0);
  const wall = performance.now() - t0;
  process.stdout.write(`| ${name} | ${count} | ${((1000 * wall) / count).toFixed(1)} | ${((c.user + c.system) / count).toFixed(1)} |\n`);
}
const rec = (i: number) => {
  n++;
  return engine.recommend({ user: `u${i % nUsers}`, k: 10, excludeSeen: true, context: { device: n % 2 ? 'phone' : 'desktop' } }).then((r) => {
    if (events.length < 400) events.push({ eventId: r.eventId, item: r.items[events.length % 10]!.id });
  });
};
process.stdout.write(`store ${mode}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n\n| phase | requests | wall µs/req | CPU µs/req |\n| --- | ---: | ---: | ---: |\n`);
await phase('recommend (warm-up)', 4000, rec);
await phase('recommend', total, rec);
if (numArg('feedback', 1) > 0) await phase('feedback', total, (i) => engine.feedback({ ...events[i % events.length]!, type: 'click' }));
await engine.close();
await store.close();
rmSync(dir, { recursive: true, force: true });
