/** A small synthetic rating dataset with genres and timestamps, and the simulator world built from it. */
import { Dataset, IdMap, interactionsFrom, type ItemMeta } from '../../src/data/dataset.js';
import { temporalRatioSplit } from '../../src/data/split.js';
import { SIM_ML_LS_V1, withOverrides, type SimConfig } from '../../src/env/config.js';
import { buildWorld, calibrateNoClick, type SimWorld } from '../../src/env/world.js';
import { Rng } from '../../src/util/rng.js';

export function toyDataset(nUsers = 40, nItems = 80, seed = 5): Dataset {
  const rng = new Rng(seed);
  const genres = ['Action', 'Comedy', 'Drama', 'Horror', 'Sci-Fi'];
  const users = new IdMap();
  const items = new IdMap();
  for (let u = 0; u < nUsers; u++) users.add(`u${u}`);
  const meta: ItemMeta[] = [];
  for (let i = 0; i < nItems; i++) {
    items.add(`m${i}`);
    const g = [genres[i % genres.length]!];
    if (i % 4 === 0) g.push(genres[(i + 2) % genres.length]!);
    meta.push({ title: `Movie ${i} (${1980 + (i % 40)})`, categories: g });
  }
  const u: number[] = [];
  const it: number[] = [];
  const v: number[] = [];
  const t: number[] = [];
  for (let a = 0; a < nUsers; a++) {
    const fav = a % genres.length;
    const n = 8 + rng.int(12);
    const seen = new Set<number>();
    for (let k = 0; k < n; k++) {
      // Popular items (low index) more often; the favourite genre rated higher.
      let i = Math.floor(nItems * rng.next() ** 2);
      if (seen.has(i)) i = rng.int(nItems);
      if (seen.has(i)) continue;
      seen.add(i);
      const r = Math.min(5, Math.max(0.5, Math.round((3.2 + (i % genres.length === fav ? 1 : 0) + 0.7 * rng.normal()) * 2) / 2));
      u.push(a);
      it.push(i);
      v.push(r);
      t.push(1_000_000 + a * 1000 + k);
    }
  }
  return new Dataset({ name: 'toy', users, items, interactions: interactionsFrom({ user: u, item: it, value: v, timestamp: t }), itemMeta: meta });
}

export function toyWorld(patch: Parameters<typeof withOverrides>[1] = {}): { world: SimWorld; config: SimConfig; full: Dataset; train: Dataset } {
  const full = toyDataset();
  const { train } = temporalRatioSplit(full, 0.2);
  const config = withOverrides(SIM_ML_LS_V1, { slateSize: 5, ...patch } as Parameters<typeof withOverrides>[1]);
  const world = buildWorld(full, train, config, { mf: { dim: 4, iterations: 4 } });
  config.choice.noClickUtility = calibrateNoClick(world, config, config.calibration.targetFirstStepCtr);
  return { world, config, full, train };
}
