/**
 * The serving benchmarks' catalogue (bench/load.ts, bench/serve-micro.ts): users with a Zipf-ish
 * taste over items — each draws `perUser` distinct items, popular ones more often — and two genres
 * per item, so the cb policy has item namespaces to cross.
 */
import { Dataset, IdMap, interactionsFrom } from '../src/data/dataset.js';
import { Rng } from '../src/util/rng.js';

export function syntheticCatalogue(nUsers: number, nItems: number, perUser: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const users = IdMap.from(Array.from({ length: nUsers }, (_, u) => `u${u}`));
  const items = IdMap.from(Array.from({ length: nItems }, (_, i) => `i${i}`));
  const u: number[] = [];
  const it: number[] = [];
  for (let a = 0; a < nUsers; a++) {
    const seen = new Set<number>();
    while (seen.size < perUser) seen.add(Math.floor(nItems * Math.pow(rng.next(), 2)));
    for (const i of seen) {
      u.push(a);
      it.push(i);
    }
  }
  const ds = new Dataset({ name: `synthetic-${nUsers}x${nItems}`, users, items, interactions: interactionsFrom({ user: u, item: it }) });
  const genres = ['Action', 'Comedy', 'Drama', 'Horror', 'Romance', 'SciFi', 'Documentary', 'Animation'];
  for (let i = 0; i < nItems; i++) ds.itemMeta[i] = { title: `Item ${i}`, categories: [genres[i % 8]!, genres[(i * 7) % 8]!] };
  return ds;
}
