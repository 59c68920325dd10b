/**
 * `chorus robust`: each model's exposure to shilling attacks on a dataset — P1's split rule
 * (per-user temporal 80/20) on the data, the train part attacked, the test part's users measured —
 * with the pushed items' hit ratio@K before/after (and after the detector with `--detector`).
 *
 * `chorus robust scan --store <url>`: rate anomalies in a server's feedback log (items or users
 * whose feedback rate spikes; see src/robust/rate-anomaly.ts), read through the store interface.
 */
import type { Command } from 'commander';
import { temporalRatioSplit } from '../../data/split.js';
import { ConfigError } from '../../errors.js';
import { evalModelNames } from '../../eval/models.js';
import { renamedRecommenderError } from '../../recommenders/registry.js';
import { ATTACK_TYPES, type AttackType } from '../../robust/attacks.js';
import { runShilling } from '../../robust/experiment.js';
import { scanRates, type RateEvent } from '../../robust/rate-anomaly.js';
import { openStore } from '../../store/open.js';
import { intFlag, loadConfig } from '../config.js';
import { addDataFlags, dataFlagOptions, dataPath, loadData, numberFlag, readOptions, type DataFlags } from '../data.js';
import { table, withCleanStdout, writeErr, writeJson, writeOut } from '../output.js';
import { fractionFlag, targetItems } from './attack.js';

interface RobustFlags extends DataFlags {
  data?: string;
  models?: string;
  attack?: string;
  size?: string;
  filler?: string;
  targets?: string;
  targetIds?: string;
  seed?: string;
  k?: string;
  detector?: boolean;
  config?: string;
  json?: boolean;
}

interface ScanFlags {
  store?: string;
  window?: string;
  history?: string;
  z?: string;
  minCount?: string;
  json?: boolean;
}

/** "90s", "15m", "1h", "1d" or bare milliseconds. */
export function durationMs(v: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim());
  if (!m) throw new ConfigError(`expected a duration like 15m, 1h or 1d, got "${v}"`, flag);
  const unit = { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

function pct(x: number): string {
  return Number.isFinite(x) ? `${(100 * x).toFixed(1)} %` : '—';
}

export function register(program: Command): void {
  const command = program
    .command('robust')
    .description("each model's exposure to shilling attacks: pushed items' hit ratio@K before/after, with --detector after removing flagged profiles")
    .option('-d, --data <path>', 'dataset folder or file (default: the bundled demo data)')
    .option('--models <names>', 'comma-separated model names (default popularity,itemknn,ease,als,bpr)')
    .option('--attack <types>', `comma-separated attacks: ${ATTACK_TYPES.join(', ')} (default average)`)
    .option('--size <fraction>', 'fake profiles as a fraction of the users, e.g. 0.05 or 5% (default 0.05)')
    .option('--filler <fraction>', 'filler items per profile as a fraction of the catalogue (default 0.01)')
    .option('--targets <n>', 'push n items picked at random among modestly popular ones (default 5)')
    .option('--target-ids <ids>', 'push these item ids instead (comma-separated)')
    .option('--seed <n>', 'seed of the attack, the target pick and the models (default 0)')
    .option('-k, --k <n>', 'top-K cut-off (default 10)')
    .option('--detector', 'also fit without the profiles the detector flags, and report its precision and recall');
  addDataFlags(command).action(async function (this: Command) {
    const flags = this.optsWithGlobals<RobustFlags>();
    const { config } = loadConfig(flags.config);
    const seed = intFlag(flags.seed, 'seed') ?? 0;
    const k = intFlag(flags.k, 'k', 1) ?? 10;
    const models = (flags.models ?? 'popularity,itemknn,ease,als,bpr').split(',').map((s) => s.trim()).filter(Boolean);
    const known = evalModelNames();
    for (const m of models) {
      if (known.includes(m)) continue;
      throw renamedRecommenderError(m) ?? new ConfigError(`unknown model "${m}"; expected one of: ${known.join(', ')}`, 'models');
    }
    const types = (flags.attack ?? 'average').split(',').map((s) => s.trim()) as AttackType[];
    for (const t of types) if (!(ATTACK_TYPES as readonly string[]).includes(t)) throw new ConfigError(`expected one of ${ATTACK_TYPES.join(', ')}, got "${t}"`, 'attack');
    const size = fractionFlag(flags.size, 'size') ?? 0.05;
    const filler = fractionFlag(flags.filler, 'filler') ?? 0.01;
    const json = Boolean(flags.json);
    await withCleanStdout(json, async () => {
      const { dataset } = await loadData(dataPath(flags.data, config), readOptions(config, dataFlagOptions(flags)));
      const { train, test } = temporalRatioSplit(dataset, 0.2);
      const testCounts = test.userCounts();
      const users = Int32Array.from({ length: train.nUsers }, (_, u) => u).filter((u) => testCounts[u]! > 0);
      const result = await runShilling({
        train,
        users,
        models,
        attacks: types.map((type) => ({ type, size, filler })),
        targets: targetItems(train, flags, seed),
        seed,
        k,
        detector: Boolean(flags.detector),
        onStep: json || !process.stderr.isTTY ? undefined : (m) => writeErr(m),
      });
      const targets = Array.from(result.targets, (t) => train.items.toExternal(t));
      const protocol = `dataset ${dataset.name}, split temporal 80/20 per user (P1's rule), ${users.length} genuine users, HR@${k}, seed ${seed}, filler ${pct(filler)}`;
      if (json) {
        writeJson({ protocol, k, seed, targets, detector: result.detector ?? null, rows: result.rows });
        return;
      }
      writeOut(protocol);
      writeOut(`targets: ${targets.join(', ')}`);
      const headers = ['model', 'attack', 'fakes', `HR@${k} before`, `HR@${k} after`, 'rank shift', 'pred. shift'];
      if (flags.detector) headers.push(`HR@${k} detector`, 'precision', 'recall');
      writeOut(
        table(
          headers,
          result.rows.map((r) => {
            const row: (string | number)[] = [r.model, `${r.attack.type} ${pct(r.attack.size)}`, r.fakeProfiles, pct(r.hitRatioBefore), pct(r.hitRatioAfter), r.rankShift, r.predictionShift];
            if (flags.detector) row.push(pct(r.hitRatioDetector), r.precision, r.recall);
            return row;
          }),
        ),
      );
      writeOut('rank shift: mean rank of a target before minus after (positive = pushed up); pred. shift only for rating models (mf).');
    });
  });

  command
    .command('scan')
    .description("flag feedback-rate spikes per item and per user in a server's store (e.g. many new users on one item)")
    .requiredOption('--store <url>', 'store URL, e.g. sqlite:./.chorus/serve.db')
    .option('--window <duration>', 'window width: 15m, 1h, 1d … (default 1h)')
    .option('--history <n>', 'past windows forming the baseline (default 24)')
    .option('--z <x>', 'z-score that flags a window (default 4)')
    .option('--min-count <n>', 'fewest events in a flagged window (default 10)')
    // main.ts sets exitOverride on top-level commands only; errors here must reach it the same way.
    .exitOverride()
    .action(async function (this: Command) {
      const flags = this.optsWithGlobals<ScanFlags>();
      const store = openStore(flags.store!);
      try {
        const events: RateEvent[] = [];
        // The feedback log in commit order, a page at a time.
        let after = 0;
        for (;;) {
          const page = await store.events.feedbackSince(after, 10_000);
          if (page.length === 0) break;
          for (const f of page) events.push({ ts: f.ts, user: f.user, item: f.item });
          after = page[page.length - 1]!.seq ?? after + page.length;
        }
        // Commit order is nearly time order; a stable sort makes it exact for the scan.
        events.sort((a, b) => a.ts - b.ts);
        const flagged = scanRates(events, {
          windowMs: flags.window ? durationMs(flags.window, 'window') : undefined,
          history: intFlag(flags.history, 'history', 2),
          z: numberFlag(flags.z, 'z'),
          minCount: intFlag(flags.minCount, 'min-count', 1),
        });
        if (flags.json) {
          writeJson({ events: events.length, flags: flagged });
          return;
        }
        writeOut(`${events.length} feedback events scanned, ${flagged.length} windows flagged`);
        if (flagged.length > 0) {
          writeOut(
            table(
              ['kind', 'id', 'window start', 'events', 'expected', 'z', 'new users'],
              flagged.map((f) => [f.kind, f.id, new Date(f.windowStart).toISOString(), f.count, f.expected, f.z, f.newUserShare === undefined ? '' : pct(f.newUserShare)]),
            ),
          );
        }
      } finally {
        await store.close();
      }
    });
}
