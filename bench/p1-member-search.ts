/**
 * Validation-only search of hybrid member sets on P1 (`ml-ls-t20`): never touches the test split.
 *
 *   node --import tsx bench/p1-member-search.ts <all|pos4> name=model[:json-config] … \
 *     --sets 'a+b+c;a+b+d' [--hybrid '{"tuneStep":0.1}']
 *
 * Each named member is fitted once on P1's validation fit part (train minus each user's last 20 %
 * of train rows, `validationSplit(train, P1_SPLIT)`) and its scores for every user are cached in
 * the temp folder (keyed by variant, name and config, so a changed config refits). The script
 * prints every member's own validation NDCG@10, then, for each member set, the weights and the
 * validation NDCG@10 that the hybrid's own tuning (`HybridRecommender` with `tune`) chooses on
 * those cached scores — the same split, users, grid and fusion as `hybrid.fit` runs, without
 * refitting the members for each set. The hybrid's refit on all of train is skipped (the cached
 * members ignore it): this script only compares sets by the number the hybrid selects weights by.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { P1_SPLIT, validationSplit } from '../src/data/split.js';
import { loadP1, type P1Variant } from '../src/eval/p1.js';
import { HybridRecommender } from '../src/recommenders/hybrid.js';
import { createRecommender } from '../src/recommenders/registry.js';
import type { Ranked, Recommender, SavedModel, UserRef } from '../src/recommenders/types.js';
import { validationNdcgOf, validationUsers } from '../src/recommenders/validation-ndcg.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');
const DATA = process.env.CHORUS_DATA ?? resolve(ROOT, '..', 'shared', 'datasets', 'ml-latest-small');
const CACHE = join(tmpdir(), 'chorus-member-search');

/** A member already fitted on the fit part: serves its cached scores, and `fit` keeps them (the hybrid calls it twice). */
class CachedMember implements Recommender {
  readonly config: Readonly<Record<string, unknown>> = {};
  constructor(
    readonly kind: string,
    private readonly rows: Float32Array,
    private readonly nItems: number,
    readonly coversNewItems: boolean,
  ) {}
  async fit(): Promise<void> {}
  scoreAll(user: UserRef, out?: Float32Array): Float32Array {
    if (typeof user !== 'number') throw new Error(`${this.kind}: cached scores exist only for training users`);
    const o = out ?? new Float32Array(this.nItems);
    o.set(this.rows.subarray(user * this.nItems, (user + 1) * this.nItems));
    return o;
  }
  score(user: UserRef, candidates: Int32Array): Float32Array {
    const all = this.scoreAll(user);
    return Float32Array.from(candidates, (i) => all[i]!);
  }
  recommend(): Ranked {
    throw new Error(`${this.kind}: a cached member only scores (the hybrid's tuning uses scoreAll)`);
  }
  toJSON(): SavedModel {
    throw new Error(`${this.kind}: a cached member is not saved`);
  }
}

const args = process.argv.slice(2);
const variant = args[0] as P1Variant;
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const sets = (flag('sets') ?? '').split(';').filter(Boolean);
const hybridOverrides = JSON.parse(flag('hybrid') ?? '{}') as Record<string, unknown>;
const specs = args.slice(1).filter((a, i, all) => a.includes('=') && !all[i - 1]?.startsWith('--') && !a.startsWith('--'));

const data = await loadP1(DATA, variant);
const { train: fitPart, validation } = validationSplit(data.train, P1_SPLIT);
const nItems = fitPart.nItems;
const users = validationUsers(validation, 1_000_000);
mkdirSync(CACHE, { recursive: true });

const members = new Map<string, CachedMember>();
for (const spec of specs) {
  const eq = spec.indexOf('=');
  const name = spec.slice(0, eq);
  const rest = spec.slice(eq + 1);
  const colon = rest.indexOf(':');
  const kind = colon < 0 ? rest : rest.slice(0, colon);
  const config = JSON.parse(colon < 0 ? '{}' : rest.slice(colon + 1)) as Record<string, unknown>;
  const key = createHash('sha256').update(`${variant}|${kind}|${JSON.stringify(config)}`).digest('hex').slice(0, 16);
  const file = join(CACHE, `${variant}-${name.replace(/[^\w+-]/g, '_')}-${key}`);
  let rows: Float32Array;
  let covers: boolean;
  let fitS = NaN;
  if (existsSync(`${file}.f32`)) {
    rows = new Float32Array(readFileSync(`${file}.f32`).buffer.slice(0));
    ({ covers, fitS } = JSON.parse(readFileSync(`${file}.json`, 'utf8')) as { covers: boolean; fitS: number });
  } else {
    const model = createRecommender(kind, config);
    const t0 = performance.now();
    await model.fit(fitPart);
    fitS = (performance.now() - t0) / 1000;
    covers = (model as { coversNewItems?: boolean }).coversNewItems === true;
    rows = new Float32Array(fitPart.nUsers * nItems);
    // Only users with validation rows are ever scored by the tuning; the other rows stay 0.
    for (const u of users) model.scoreAll(u, rows.subarray(u * nItems, (u + 1) * nItems));
    writeFileSync(`${file}.f32`, rows);
    writeFileSync(`${file}.json`, JSON.stringify({ kind, config, covers, fitS }));
  }
  const member = new CachedMember(name, rows, nItems, covers);
  members.set(name, member);
  const alone = validationNdcgOf((u, out) => void member.scoreAll(u, out), fitPart, validation, users, 10);
  console.log(`member ${name} (${kind} ${JSON.stringify(config)}): validation NDCG@10 ${alone.toFixed(4)}, fit ${fitS.toFixed(1)} s`);
}

console.log(`\nP1 ml-ls-t20/validation ${variant}: ${users.length} users with validation rows (${validation.nInteractions} rows), K=10, hybrid tuning ${JSON.stringify(hybridOverrides)}`);
for (const set of sets) {
  const names = set.split('+');
  for (const n of names) if (!members.has(n)) throw new Error(`set ${set}: no member named ${n}`);
  const hybrid = new HybridRecommender(
    { ...hybridOverrides, members: names.map((kind) => ({ kind })), tune: true },
    {
      create: (kind) => members.get(kind)!,
      restore: () => {
        throw new Error('not restored');
      },
    },
  );
  // The hybrid splits `train` by the same rule, so its fit part and validation are the ones cached above.
  await hybrid.fit(data.train);
  const w = hybrid.weights.map((x, m) => `${names[m]} ${x.toFixed(2)}`).join(', ');
  console.log(`| ${set} | ${hybrid.tunedNdcg.toFixed(4)} | ${w} |`);
}
