/**
 * Data for simulator runs: any dataset Chorus reads (a MovieLens or Last.fm folder, an interaction
 * file, a snapshot), all of it (the hidden user model needs the full data) with titles and genres
 * where the data has them, and P1's train split (what the agents may learn from; a seeded random
 * 20 % split when the data has no timestamps).
 *
 * The hidden world is a rating model on MovieLens's 0.5–5 star scale (src/env/world.ts), so values
 * are put on that scale first: explicit ratings by the affine map from their own scale, implicit
 * values (play counts, clicks) by their percentile within the user's own interactions, mapped to
 * 3–5 stars (an item a user chose is liked; what they chose most is liked most).
 */
import { Dataset, interactionsFrom } from '../../data/dataset.js';
import type { ReadOptions } from '../../data/read-interactions.js';
import { splitDataset, t20Rule } from '../../data/split.js';
import { loadAnyData, type DataSummary } from '../any-data.js';

export interface SimData {
  /** Every interaction, values on the 0.5–5 star scale. */
  full: Dataset;
  train: Dataset;
  /** The path the data came from. */
  dir: string;
  /** The dataset's own name, hash, size and value scale (for reports). */
  summary: DataSummary;
  /** How values reached the star scale: 'identity', 'affine' or 'user-percentile'. */
  valueMapping: 'identity' | 'affine' | 'user-percentile';
}

const STAR_LO = 0.5;
const STAR_HI = 5;

/**
 * Load `path` for the simulator. Index order follows the file (no id sorting), which keeps the
 * hidden model's seeded initialisation, and so every documented ml-latest-small figure, unchanged.
 */
export async function loadSimData(path: string, options: ReadOptions = {}): Promise<SimData> {
  const { dataset, summary } = await loadAnyData(path, { sortIds: false, ...options });
  const { full, mapping } = onStarScale(simItemMeta(dataset), summary.valueScale);
  const { train } = splitDataset(full, t20Rule(full, 0));
  return { full, train, dir: path, summary, valueMapping: mapping };
}

/**
 * Items keep their title and genres only: the presets' worlds and the agents' text features were
 * calibrated on "title | genres", and tags (written after viewing) would leak the future into them.
 */
function simItemMeta(ds: Dataset): Dataset {
  const meta = ds.itemMeta.map((m) => (m ? { title: m.title, categories: m.categories } : undefined));
  return new Dataset({ name: ds.name, users: ds.users, items: ds.items, interactions: ds.interactions, eventTypes: ds.eventTypes, itemMeta: meta, userMeta: ds.userMeta, source: ds.source });
}

function onStarScale(ds: Dataset, scale: DataSummary['valueScale']): { full: Dataset; mapping: SimData['valueMapping'] } {
  if (scale && scale.lo === STAR_LO && scale.hi === STAR_HI) return { full: ds, mapping: 'identity' };
  const it = ds.interactions;
  const v = new Float32Array(it.length);
  let mapping: SimData['valueMapping'];
  if (scale && scale.hi > scale.lo) {
    const a = (STAR_HI - STAR_LO) / (scale.hi - scale.lo);
    for (let k = 0; k < it.length; k++) v[k] = STAR_LO + a * (Math.min(scale.hi, Math.max(scale.lo, it.value[k]!)) - scale.lo);
    mapping = 'affine';
  } else {
    userPercentileStars(ds, v);
    mapping = 'user-percentile';
  }
  const full = new Dataset({
    name: ds.name,
    users: ds.users,
    items: ds.items,
    interactions: interactionsFrom({ user: it.user, item: it.item, value: v, timestamp: it.timestamp, eventType: it.eventType }),
    eventTypes: ds.eventTypes,
    itemMeta: ds.itemMeta,
    userMeta: ds.userMeta,
    source: ds.source,
  });
  return { full, mapping };
}

/** 3 + 2 · (mid-rank percentile of the value among the user's own interactions). */
function userPercentileStars(ds: Dataset, out: Float32Array): void {
  const it = ds.interactions;
  const byUser: number[][] = Array.from({ length: ds.nUsers }, () => []);
  for (let k = 0; k < it.length; k++) byUser[it.user[k]!]!.push(k);
  for (const rows of byUser) {
    if (rows.length === 0) continue;
    rows.sort((a, b) => it.value[a]! - it.value[b]!);
    // Ties share their mid-rank, so a user whose values are all equal gets 4 stars throughout.
    for (let lo = 0; lo < rows.length; ) {
      let hi = lo + 1;
      while (hi < rows.length && it.value[rows[hi]!] === it.value[rows[lo]!]) hi++;
      const pct = rows.length === 1 ? 0.5 : ((lo + hi - 1) / 2) / (rows.length - 1);
      for (let r = lo; r < hi; r++) out[rows[r]!] = 3 + 2 * pct;
      lo = hi;
    }
  }
}
