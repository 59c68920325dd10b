/**
 * `chorus attack`: inject shilling profiles into a dataset and write the attacked dataset folder —
 * a snapshot every command reads with `--data <out>/dataset.chorus-dataset`, and manifest.json
 * naming the fake users and the targets, so an evaluation knows the ground truth.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { saveDataset } from '../../data/snapshot.js';
import { ConfigError } from '../../errors.js';
import { ATTACK_TYPES, injectAttack, pickTargets } from '../../robust/attacks.js';
import { intFlag, loadConfig } from '../config.js';
import { addDataFlags, dataFlagOptions, dataPath, loadData, numberFlag, oneOf, readOptions, type DataFlags } from '../data.js';
import { withCleanStdout, writeJson, writeOut } from '../output.js';
import type { Dataset } from '../../data/dataset.js';

interface AttackFlags extends DataFlags {
  data?: string;
  type?: string;
  size?: string;
  filler?: string;
  targets?: string;
  targetIds?: string;
  selected?: string;
  segment?: string;
  values?: string;
  seed?: string;
  out?: string;
  config?: string;
  json?: boolean;
}

/** `--target-ids a,b` (external ids) or `--targets N` (picked, seeded); shared with `chorus robust`. */
export function targetItems(ds: Dataset, flags: { targets?: string; targetIds?: string }, seed: number): Int32Array {
  if (flags.targetIds !== undefined) {
    const ids = flags.targetIds.split(',').map((s) => s.trim()).filter(Boolean);
    return Int32Array.from(ids, (id) => {
      const i = ds.items.toIndex(id);
      if (i < 0) throw new ConfigError(`unknown item id "${id}"`, 'target-ids');
      return i;
    });
  }
  return pickTargets(ds, intFlag(flags.targets, 'targets', 1) ?? 5, seed);
}

/** `--size`/`--filler`: a fraction, or a percentage written with %. */
export function fractionFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const pct = v.trim().endsWith('%');
  const x = numberFlag(pct ? v.trim().slice(0, -1) : v, flag)!;
  return pct ? x / 100 : x;
}

export function register(program: Command): void {
  const command = program
    .command('attack')
    .description('inject fake (shilling) profiles that push target items; write the attacked dataset and a manifest of the fake users')
    .option('-d, --data <path>', 'dataset folder or file (default: the bundled demo data)')
    .option('--type <name>', `attack: ${ATTACK_TYPES.join(', ')} (default average)`)
    .option('--size <fraction>', 'fake profiles as a fraction of the users, e.g. 0.05 or 5% (default 0.05)')
    .option('--filler <fraction>', 'filler items per profile as a fraction of the catalogue (default 0.01)')
    .option('--targets <n>', 'push n items picked at random among modestly popular ones (default 5)')
    .option('--target-ids <ids>', 'push these item ids instead (comma-separated)')
    .option('--selected <n>', 'bandwagon/segment: popular items rated at the top (default 5)')
    .option('--segment <category>', 'segment attack: the category (default: the most common among the targets)')
    .option('--values <mode>', 'auto, explicit or implicit (implicit: bare interactions) (default auto)')
    .option('--seed <n>', 'random seed (default 0)')
    .requiredOption('-o, --out <dir>', 'folder to write dataset.chorus-dataset and manifest.json into');
  addDataFlags(command).action(async function (this: Command) {
    const flags = this.optsWithGlobals<AttackFlags>();
    const { config } = loadConfig(flags.config);
    const seed = intFlag(flags.seed, 'seed') ?? 0;
    const json = Boolean(flags.json);
    await withCleanStdout(json, async () => {
      const { dataset } = await loadData(dataPath(flags.data, config), readOptions(config, dataFlagOptions(flags)));
      const targets = targetItems(dataset, flags, seed);
      const type = oneOf(flags.type, ATTACK_TYPES, 'type') ?? 'average';
      const atk = injectAttack(dataset, {
        type,
        targets,
        size: fractionFlag(flags.size, 'size') ?? 0.05,
        filler: fractionFlag(flags.filler, 'filler') ?? 0.01,
        seed,
        selected: intFlag(flags.selected, 'selected', 1),
        segment: flags.segment,
        values: oneOf(flags.values, ['auto', 'explicit', 'implicit'] as const, 'values'),
      });
      const out = resolve(flags.out!);
      await mkdir(out, { recursive: true });
      const snapshot = join(out, 'dataset.chorus-dataset');
      await saveDataset(atk.dataset, snapshot);
      const ids = atk.dataset.users;
      const manifest = {
        attack: type,
        size: fractionFlag(flags.size, 'size') ?? 0.05,
        filler: fractionFlag(flags.filler, 'filler') ?? 0.01,
        seed,
        source: dataset.source?.file ?? dataset.name,
        scale: atk.scale,
        targets: Array.from(targets, (t) => dataset.items.toExternal(t)),
        selected: Array.from(atk.selected, (t) => dataset.items.toExternal(t)),
        segment: atk.segment ?? null,
        fillerItems: atk.fillerCount,
        genuineUsers: atk.genuineUsers,
        fakeUsers: Array.from(atk.fake, (u) => ids.toExternal(u)),
        snapshot,
      };
      await writeFile(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      if (json) {
        writeJson(manifest);
        return;
      }
      writeOut(
        `${type} attack: ${atk.fake.length} fake profiles (${manifest.size * 100} % of ${atk.genuineUsers} users), ` +
          `${targets.length} targets + ${atk.selected.length} selected + ${atk.fillerCount} filler items each, seed ${seed}` +
          (atk.segment ? `, segment "${atk.segment}"` : '') +
          (atk.scale.explicit ? `, ratings ${atk.scale.lo}–${atk.scale.hi}` : ', implicit'),
      );
      writeOut(`targets: ${manifest.targets.join(', ')}`);
      writeOut(`written: ${snapshot} and ${join(out, 'manifest.json')}`);
    });
  });
}
