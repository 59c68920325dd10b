/**
 * HetRec 2011 Last.fm folder (hetrec2011-lastfm-2k): user_artists.dat play counts as values,
 * artists.dat names as titles, and the user tag assignments (user_taggedartists.dat with tag
 * text from tags.dat, which is ISO-8859-1) aggregated per artist as tags.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DataError } from '../errors.js';
import { readItemMetadata, readLookup } from './metadata.js';
import type { FolderLoadOptions, FolderLoadResult } from './movielens.js';
import { readInteractions } from './read-interactions.js';
import type { CleaningReport } from './report.js';

/** How many of an artist's most frequent tags go into its `text`. */
export const LASTFM_TEXT_TAGS = 10;

export function isLastfmDir(dir: string): boolean {
  return existsSync(join(dir, 'user_artists.dat'));
}

/**
 * Load a HetRec Last.fm folder. Values are raw play counts (1 – 352,698); weight or log-scale
 * them in the model if needed. Each artist's `text` is "Name. Tags: t1, t2, …" with its
 * `LASTFM_TEXT_TAGS` most frequent tags.
 */
export async function loadLastfm(dir: string, options: FolderLoadOptions = {}): Promise<FolderLoadResult> {
  const file = join(dir, 'user_artists.dat');
  if (!existsSync(file)) throw new DataError('not a Last.fm HetRec folder: expected user_artists.dat', { file: dir }, 'E_NOT_FOUND');
  const name = options.name ?? basename(dir.replace(/[\\/]+$/, ''));
  const result = await readInteractions(file, { format: 'lastfm', ...options, name });
  const ds = result.dataset;
  const reports: CleaningReport[] = [];
  if (options.metadata !== false) {
    if (existsSync(join(dir, 'artists.dat'))) {
      reports.push(
        await readItemMetadata(join(dir, 'artists.dat'), ds, { format: 'tsv', header: true, columns: { id: 'id', title: 'name', attributes: { url: 'url' } } }),
      );
    }
    if (existsSync(join(dir, 'user_taggedartists.dat')) && existsSync(join(dir, 'tags.dat'))) {
      const tagText = await readLookup(join(dir, 'tags.dat'), { encoding: 'latin1', header: true });
      reports.push(
        await readItemMetadata(join(dir, 'user_taggedartists.dat'), ds, {
          format: 'tsv',
          header: true,
          listSeparator: '',
          tagLookup: tagText,
          columns: { id: 'artistID', tags: 'tagID' },
        }),
      );
    }
    for (const m of ds.itemMeta) {
      if (!m?.title) continue;
      const tags = (m.tags ?? []).slice(0, LASTFM_TEXT_TAGS);
      m.text ??= tags.length ? `${m.title}. Tags: ${tags.join(', ')}.` : m.title;
    }
  }
  return { ...result, metadataReports: reports };
}
