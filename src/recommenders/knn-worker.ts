/**
 * Worker thread for item-kNN: computes a range of neighbour rows (knn-rows.ts) from the CSR
 * inputs it received once, in shared memory, as workerData.
 */
import { serveWorker } from '../util/workers.js';
import { itemSimRows, type ItemSimInput } from './knn-rows.js';

serveWorker<ItemSimInput>((payload, input) => {
  const { from, to } = payload as { from: number; to: number };
  return itemSimRows(input, from, to);
});
