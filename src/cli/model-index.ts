/**
 * The id index written next to a model by `chorus train` (`<model>.index.json`): the dataset's
 * external user and item ids in index order plus item titles, so `chorus recommend` maps a user
 * id to the model's row and prints titles without reloading the data.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Dataset } from '../data/dataset.js';
import { parseJsonText } from '../data/json-error.js';
import { DataError } from '../errors.js';
import { itemPopularity } from '../util/no-history.js';

export const MODEL_INDEX_FORMAT = 'chorus-model-index';
export const MODEL_INDEX_VERSION = 1;

export interface ModelIndex {
  format: typeof MODEL_INDEX_FORMAT;
  version: number;
  model: string;
  dataset: { name: string; file?: string; sha256?: string; trainedOn: 'all' | 'p1-train' };
  users: string[];
  items: string[];
  /** Title per item index ("" when the item has none). */
  titles: string[];
  /**
   * Training users per item index: `chorus recommend` ranks a user the model does not know by it
   * (util/no-history.ts). Absent in indexes written before it was added.
   */
  popularity?: number[];
}

export function modelIndexPath(modelPath: string): string {
  return `${modelPath.replace(/\.json$/i, '')}.index.json`;
}

export async function writeModelIndex(modelPath: string, model: string, ds: Dataset, trainedOn: 'all' | 'p1-train'): Promise<string> {
  const path = modelIndexPath(modelPath);
  const index: ModelIndex = {
    format: MODEL_INDEX_FORMAT,
    version: MODEL_INDEX_VERSION,
    model,
    dataset: { name: ds.name, file: ds.source?.file, sha256: ds.source?.sha256, trainedOn },
    users: ds.users.ids(),
    items: ds.items.ids(),
    titles: Array.from({ length: ds.nItems }, (_, i) => ds.itemMeta[i]?.title ?? ''),
    popularity: Array.from(itemPopularity(ds.byUser().indices, ds.nItems)),
  };
  await writeFile(path, JSON.stringify(index), 'utf8');
  return path;
}

export async function readModelIndex(modelPath: string): Promise<ModelIndex> {
  const path = modelIndexPath(modelPath);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new DataError(`model id index not found (chorus train writes it next to the model)`, { file: path }, 'E_NOT_FOUND');
  }
  const doc = parseJsonText(text, { file: path }) as Partial<ModelIndex>;
  if (doc.format !== MODEL_INDEX_FORMAT) throw new DataError(`not a ${MODEL_INDEX_FORMAT} file`, { file: path, field: 'format' });
  if (doc.version !== MODEL_INDEX_VERSION) throw new DataError(`index version ${String(doc.version)} is not supported (this build reads ${MODEL_INDEX_VERSION})`, { file: path, field: 'version' });
  for (const f of ['users', 'items', 'titles'] as const) {
    if (!Array.isArray(doc[f])) throw new DataError(`missing list "${f}"`, { file: path, field: f });
  }
  return doc as ModelIndex;
}
