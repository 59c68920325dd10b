/**
 * Data for CLI commands: one path (MovieLens or Last.fm folder, interaction file, or dataset
 * snapshot) through the data layer's front door, with the config's read options and a progress
 * bar while the file streams in.
 */
import { loadDataDir } from '../data/load.js';
import type { FolderLoadResult } from '../data/movielens.js';
import type { ReadOptions } from '../data/read-interactions.js';
import type { ChorusConfig } from './config.js';
import { demoDataDir } from './paths.js';
import { progressBar } from './progress.js';

/** The data path a command uses: the flag, else config "data", else the bundled demo data. */
export function dataPath(flag: string | undefined, config: ChorusConfig): string {
  return flag ?? config.data ?? demoDataDir();
}

/** Read options from the config's `import` section (minus CLI-only keys), flags merged over them. */
export function readOptions(config: ChorusConfig, overrides: ReadOptions = {}): ReadOptions {
  const { out: _out, ...rest } = config.import ?? {};
  const opts = { ...rest, ...overrides } as ReadOptions;
  if (rest.columns && overrides.columns) opts.columns = { ...rest.columns, ...overrides.columns } as ReadOptions['columns'];
  for (const k of Object.keys(opts) as (keyof ReadOptions)[]) if (opts[k] === undefined) delete opts[k];
  return opts;
}

export async function loadData(path: string, options: ReadOptions = {}): Promise<FolderLoadResult> {
  const bar = progressBar('read');
  try {
    return await loadDataDir(path, { ...options, onProgress: (done, total) => bar.update(Math.round(done / 1024), Math.round(total / 1024), 'KiB') });
  } finally {
    bar.stop();
  }
}
