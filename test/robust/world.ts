/**
 * A small rated world for the robustness tests: power-law users and items in four taste groups
 * (the group is the item's category, so segment attacks have segments), deduplicated (user, item)
 * pairs, integer ratings 1–5 from item quality + user bias + noise. Seeded.
 */
import { Dataset, IdMap } from '../../src/data/dataset.js';
import { syntheticPowerLaw } from '../../src/data/synthetic.js';
import { Rng } from '../../src/util/rng.js';

export function ratedWorld(seed: number, users = 300, items = 400, interactions = 9000, itemExponent = 0.9): Dataset {
  const { dataset: raw, itemGroup } = syntheticPowerLaw({ users, items, interactions, seed, groups: 4, itemExponent });
  const rng = new Rng(seed + 1);
  const quality = Float64Array.from({ length: items }, () => 0.6 * rng.normal());
  const bias = Float64Array.from({ length: users }, () => 0.4 * rng.normal());
  const seen = new Set<number>();
  const u: number[] = [];
  const i: number[] = [];
  const v: number[] = [];
  const t: number[] = [];
  const it = raw.interactions;
  for (let k = 0; k < it.length; k++) {
    const key = it.user[k]! * items + it.item[k]!;
    if (seen.has(key)) continue;
    seen.add(key);
    u.push(it.user[k]!);
    i.push(it.item[k]!);
    v.push(Math.min(5, Math.max(1, Math.round(3.5 + quality[it.item[k]!]! + bias[it.user[k]!]! + 0.7 * rng.normal()))));
    t.push(it.timestamp[k]!);
  }
  return new Dataset({
    name: 'rated-world',
    users: raw.users.clone(),
    items: IdMap.from(raw.items.ids()),
    interactions: {
      length: u.length,
      user: Int32Array.from(u),
      item: Int32Array.from(i),
      value: Float32Array.from(v),
      timestamp: Float64Array.from(t),
      eventType: new Uint8Array(u.length),
    },
    itemMeta: Array.from({ length: items }, (_, j) => ({ categories: [`g${itemGroup[j]}`] })),
    source: { file: 'synthetic', format: 'synthetic', valueScale: { lo: 1, hi: 5, source: 'standard', min: 1, max: 5 } },
  });
}
