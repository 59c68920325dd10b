/**
 * MovieLens folders: ml-latest(-small)/ml-20m/ml-25m (ratings.csv, movies.csv, tags.csv),
 * ml-1m/ml-10m (ratings.dat, movies.dat, tags.dat, users.dat with "::") and ml-100k (u.data,
 * u.item, u.user). Ratings, movies and tags become one Dataset with item metadata.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DataError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { readItemMetadata, readUserMetadata, titleYear, type MetadataOptions } from './metadata.js';
import { readInteractions, type LoadResult, type ReadOptions } from './read-interactions.js';
import type { CleaningReport } from './report.js';

/** ml-100k genre order (u.genre); used when the folder has no u.genre. */
export const ML100K_GENRES: readonly string[] = [
  'unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy',
  'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western',
];

export interface FolderLoadOptions extends ReadOptions {
  /** Read item metadata files when present (default true). */
  metadata?: boolean;
}

/** A folder load: the dataset, the interaction file's report, and one report per metadata file. */
export interface FolderLoadResult extends LoadResult {
  metadataReports: CleaningReport[];
}

/** True when `dir` holds a MovieLens ratings file. */
export function isMovieLensDir(dir: string): boolean {
  return ['ratings.csv', 'ratings.dat', 'u.data'].some((f) => existsSync(join(dir, f)));
}

/**
 * Load a MovieLens folder: ratings plus, when present, movies (title → `title`, genres →
 * `categories`, year → `attributes.year`), tags (aggregated per movie, most frequent first →
 * `tags`) and users (ml-1m/ml-100k demographics → user `attributes`). Each movie's `text` is
 * its title and genres (P2's primary item text); tags stay in `tags` only, because they were
 * written after viewing and P2 reports them separately.
 */
export async function loadMovieLens(dir: string, options: FolderLoadOptions = {}): Promise<FolderLoadResult> {
  const has = (f: string): boolean => existsSync(join(dir, f));
  const name = options.name ?? basename(dir.replace(/[\\/]+$/, ''));
  let result: LoadResult;
  if (has('ratings.csv')) result = await readInteractions(join(dir, 'ratings.csv'), { format: 'movielens-csv', ...options, name });
  else if (has('ratings.dat')) result = await readInteractions(join(dir, 'ratings.dat'), { format: 'movielens-dat', ...options, name });
  else if (has('u.data')) result = await readInteractions(join(dir, 'u.data'), { format: 'udata', ...options, name });
  else throw new DataError('not a MovieLens folder: expected ratings.csv, ratings.dat or u.data', { file: dir }, 'E_NOT_FOUND');
  const ds = result.dataset;
  const reports: CleaningReport[] = [];
  if (options.metadata !== false) {
    const movies = moviesFile(dir, has);
    if (movies) reports.push(await readItemMetadata(movies.path, ds, movies.options));
    if (has('tags.csv')) {
      reports.push(await readItemMetadata(join(dir, 'tags.csv'), ds, { format: 'csv', header: true, listSeparator: '', columns: { id: 'movieId', tags: 'tag' } }));
    } else if (has('tags.dat')) {
      reports.push(
        await readItemMetadata(join(dir, 'tags.dat'), ds, { format: 'delimited', delimiter: '::', header: false, listSeparator: '', columns: { id: 1, tags: 2 } }),
      );
    }
    if (has('users.dat')) {
      reports.push(
        await readUserMetadata(join(dir, 'users.dat'), ds, {
          format: 'delimited',
          delimiter: '::',
          header: false,
          columns: { id: 0, attributes: { gender: 1, age: 2, occupation: 3, zip: 4 } },
        }),
      );
    } else if (has('u.user')) {
      reports.push(
        await readUserMetadata(join(dir, 'u.user'), ds, {
          format: 'delimited',
          delimiter: '|',
          header: false,
          encoding: 'latin1',
          columns: { id: 0, attributes: { age: 1, gender: 2, occupation: 3, zip: 4 } },
        }),
      );
    }
    composeMovieText(ds);
  }
  return { ...result, metadataReports: reports };
}

function moviesFile(dir: string, has: (f: string) => boolean): { path: string; options: MetadataOptions } | undefined {
  if (has('movies.csv')) {
    return {
      path: join(dir, 'movies.csv'),
      options: { format: 'csv', header: true, noneValues: ['(no genres listed)'], columns: { id: 'movieId', title: 'title', categories: 'genres' } },
    };
  }
  if (has('movies.dat')) {
    // ml-1m's movies.dat is ISO-8859-1; Latin-1 decodes every byte, so ASCII-only files read the same.
    return {
      path: join(dir, 'movies.dat'),
      options: {
        format: 'delimited',
        delimiter: '::',
        header: false,
        encoding: 'latin1',
        noneValues: ['(no genres listed)'],
        columns: { id: 0, title: 1, categories: 2 },
      },
    };
  }
  if (has('u.item')) {
    return {
      path: join(dir, 'u.item'),
      options: {
        format: 'delimited',
        delimiter: '|',
        header: false,
        encoding: 'latin1',
        columns: { id: 0, title: 1, attributes: { releaseDate: 2 } },
        categoryFlags: { from: 5, names: ML100K_GENRES },
      },
    };
  }
  return undefined;
}

/** text = "Title (Year). Genres: A, B."; attributes.year from the title. */
function composeMovieText(ds: Dataset): void {
  for (const m of ds.itemMeta) {
    if (!m?.title) continue;
    const year = titleYear(m.title);
    if (year !== undefined) (m.attributes ??= {}).year = year;
    const cats = m.categories ?? [];
    m.text ??= cats.length ? `${m.title}. Genres: ${cats.join(', ')}.` : m.title;
  }
}
