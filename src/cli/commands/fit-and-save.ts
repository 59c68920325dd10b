/**
 * The part of `chorus train` every model shares, federated or not: read the data (the P1 train
 * split with `--holdout`), fit with a progress bar, save the model and its id index.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Dataset } from '../../data/dataset.js';
import { splitDataset, t20Rule } from '../../data/split.js';
import { saveModel } from '../../recommenders/persist.js';
import type { Recommender } from '../../recommenders/types.js';
import type { ChorusConfig } from '../config.js';
import { dataFlagOptions, dataPath, loadData, readOptions, type DataFlags } from '../data.js';
import { writeModelIndex } from '../model-index.js';
import { progressBar } from '../progress.js';

export interface FitAndSaveFlags extends DataFlags {
  data?: string;
  holdout?: boolean;
}

export interface Fitted {
  dataset: Dataset;
  train: Dataset;
  fitSeconds: number;
  /** The id index written beside the model file. */
  index: string;
}

export async function fitAndSave(model: Recommender, name: string, out: string, flags: FitAndSaveFlags, config: ChorusConfig, label = `fit ${name}`): Promise<Fitted> {
  const holdout = flags.holdout ?? config.train?.holdout ?? false;
  const { dataset } = await loadData(dataPath(flags.data, config), readOptions(config, dataFlagOptions(flags)));
  const train = holdout ? splitDataset(dataset, t20Rule(dataset, 0)).train : dataset;
  const bar = progressBar(label);
  const t0 = performance.now();
  try {
    await model.fit(train, { onProgress: bar.update });
  } finally {
    bar.stop();
  }
  const fitSeconds = (performance.now() - t0) / 1000;
  await mkdir(dirname(out), { recursive: true });
  await saveModel(model, out);
  const index = await writeModelIndex(out, name, train, holdout ? 'p1-train' : 'all');
  return { dataset, train, fitSeconds, index };
}
