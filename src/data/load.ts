/**
 * One front door for data: `loadDataDir(path)` picks the loader for a MovieLens folder, a Last.fm
 * HetRec folder, a dataset snapshot, or a single interaction file. The result's `warning` is set
 * when the interaction file lost more than the `dropWarning` share of its rows.
 */
import { stat } from 'node:fs/promises';
import { DataError } from '../errors.js';
import { isLastfmDir, loadLastfm } from './lastfm.js';
import { isMovieLensDir, loadMovieLens, type FolderLoadOptions, type FolderLoadResult } from './movielens.js';
import { readInteractions } from './read-interactions.js';
import type { CleaningReport } from './report.js';
import { isSnapshotFile, loadDatasetFile } from './snapshot.js';
import { ratingRange } from './value-scale.js';

export async function loadDataDir(path: string, options: FolderLoadOptions = {}): Promise<FolderLoadResult> {
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new DataError('no such file or folder', { file: path }, 'E_NOT_FOUND');
  }
  if (st.isDirectory()) {
    if (isMovieLensDir(path)) return loadMovieLens(path, options);
    if (isLastfmDir(path)) return loadLastfm(path, options);
    throw new DataError('folder holds no known dataset: expected MovieLens ratings.csv / ratings.dat / u.data or Last.fm user_artists.dat', {
      file: path,
    });
  }
  if (await isSnapshotFile(path)) {
    const dataset = await loadDatasetFile(path);
    const n = dataset.nInteractions;
    const report: CleaningReport = { file: path, format: 'snapshot', rowsRead: n, rowsKept: n, rowsDropped: 0, rowsRepaired: 0, issues: [] };
    // The import read the value scale from the data (or was told it); the snapshot keeps it.
    const scale = dataset.source?.valueScale;
    if (scale) {
      report.valueScale = scale;
      const range = ratingRange(scale);
      if (range) report.valueRange = range;
    }
    return { dataset, report, metadataReports: [] };
  }
  return { ...(await readInteractions(path, options)), metadataReports: [] };
}
