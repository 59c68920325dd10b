/**
 * Rebuilds the bundled demo data (data/demo/*.csv) from MovieLens ml-latest-small.
 * Run from the repository root: npx tsx data/demo/make-demo.ts [path/to/ml-latest-small]
 * Deterministic: the same input and seed give byte-identical files (see README.md here).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMovieLens } from '../../src/data/index.js';
import { scanLines } from '../../src/data/scan.js';
import { Rng } from '../../src/util/rng.js';

const SEED = 42;
const N_MOVIES = 1500;
const N_USERS = 150;
const MIN_USER_RATINGS = 20;

const src = resolve(process.argv[2] ?? '../shared/datasets/ml-latest-small');
const out = dirname(fileURLToPath(import.meta.url));
const { dataset: ds } = await loadMovieLens(src);
const it = ds.interactions;
const num = (ids: string[]) => ids.map(Number);

// 1. The N_MOVIES most-rated movies (ties: smaller movieId first).
const counts = ds.itemCounts();
const itemOrder = Array.from({ length: ds.nItems }, (_, i) => i).sort(
  (a, b) => counts[b]! - counts[a]! || Number(ds.items.toExternal(a)) - Number(ds.items.toExternal(b)),
);
const keepItem = new Uint8Array(ds.nItems);
for (const i of itemOrder.slice(0, N_MOVIES)) keepItem[i] = 1;

// 2. Users with at least MIN_USER_RATINGS ratings on those movies, in userId order; N_USERS drawn by a seeded shuffle.
const perUser = new Int32Array(ds.nUsers);
for (let k = 0; k < it.length; k++) if (keepItem[it.item[k]!]) perUser[it.user[k]!]++;
const eligible = Array.from({ length: ds.nUsers }, (_, u) => u)
  .filter((u) => perUser[u]! >= MIN_USER_RATINGS)
  .sort((a, b) => Number(ds.users.toExternal(a)) - Number(ds.users.toExternal(b)));
const chosen = new Rng(SEED).shuffle(eligible.slice()).slice(0, N_USERS);
const keepUser = new Uint8Array(ds.nUsers);
for (const u of chosen) keepUser[u] = 1;

// 3. Their ratings of those movies, sorted by (userId, movieId) like the original file.
const rows: [number, number, number, number][] = [];
for (let k = 0; k < it.length; k++) {
  if (keepUser[it.user[k]!] && keepItem[it.item[k]!]) {
    rows.push([Number(ds.users.toExternal(it.user[k]!)), Number(ds.items.toExternal(it.item[k]!)), it.value[k]!, it.timestamp[k]!]);
  }
}
rows.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
const csv = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
const ratings = ['userId,movieId,rating,timestamp', ...rows.map(([u, i, v, t]) => `${u},${i},${v.toFixed(1)},${t}`)];
writeFileSync(join(out, 'ratings.csv'), ratings.join('\r\n') + '\r\n');

const movieIds = num(itemOrder.slice(0, N_MOVIES).map((i) => ds.items.toExternal(i))).sort((a, b) => a - b);
const movies = ['movieId,title,genres'];
for (const id of movieIds) {
  const m = ds.itemMeta[ds.items.toIndex(String(id))]!;
  movies.push(`${id},${csv(m.title!)},${m.categories!.length ? m.categories!.join('|') : '(no genres listed)'}`);
}
writeFileSync(join(out, 'movies.csv'), movies.join('\r\n') + '\r\n');

// 4. tags.csv rows (any user) on those movies, copied verbatim. userId and movieId are the
//    first two fields and never quoted, so a split on the first two commas finds the movie.
const keepMovie = new Set(movieIds.map(String));
const tags: string[] = [];
await scanLines(join(src, 'tags.csv'), 'utf8', (line, n) => {
  if (n === 1 || line === '') return void (n === 1 && tags.push(line));
  if (keepMovie.has(line.split(',', 2)[1]!)) tags.push(line);
});
writeFileSync(join(out, 'tags.csv'), tags.join('\r\n') + '\r\n');
console.log(`wrote ${rows.length} ratings by ${chosen.length} users on ${movieIds.length} movies, ${tags.length - 1} tags, to ${out}`);
