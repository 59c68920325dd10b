/**
 * NDCG@K on a validation split, for the models that tune themselves while fitting (hybrid
 * weights, trend windows). It lives here rather than in eval/ because recommenders may not import
 * eval (data → recommenders → … → eval); it is the same definition as eval's ranking NDCG with
 * P1's candidates: every item with a fit interaction, minus the user's own fit items.
 */
import type { Dataset } from '../data/dataset.js';
import { topK } from '../util/topk.js';
import type { Recommender } from './types.js';

/** NDCG@k of one ranked list, given the user's relevant items marked in `truth` (nTruth of them). */
export function listNdcg(list: Int32Array, truth: Uint8Array, nTruth: number, k: number): number {
  let dcg = 0;
  for (let r = 0; r < Math.min(list.length, k); r++) if (truth[list[r]!]) dcg += 1 / Math.log2(r + 2);
  let idcg = 0;
  for (let r = 0; r < Math.min(nTruth, k); r++) idcg += 1 / Math.log2(r + 2);
  return idcg > 0 ? dcg / idcg : 0;
}

/**
 * Users with at least one validation row, ascending. Above `max` they are thinned to every
 * (n / max)-th one: a fixed choice, so tuning needs no seed and gives the same answer each run.
 */
export function validationUsers(validation: Dataset, max: number): Int32Array {
  const csr = validation.byUser();
  const users: number[] = [];
  for (let u = 0; u < csr.rows; u++) if (csr.indptr[u + 1]! > csr.indptr[u]!) users.push(u);
  if (users.length <= max) return Int32Array.from(users);
  const step = users.length / max;
  return Int32Array.from({ length: max }, (_, j) => users[Math.floor(j * step)]!);
}

/**
 * Mean NDCG@k of a model fitted on `fitPart` over `users`' rows in `validation`. Allocates its
 * buffers once; the model is scored with `scoreAll`.
 */
export function validationNdcg(model: Recommender, fitPart: Dataset, validation: Dataset, users: Int32Array, k: number): number {
  return validationNdcgOf((u, out) => void model.scoreAll(u, out), fitPart, validation, users, k);
}

/** The same for any scorer of a fit-part user index (a model being trained, before it is a `Recommender`). */
export function validationNdcgOf(scoreUser: (user: number, out: Float32Array) => void, fitPart: Dataset, validation: Dataset, users: Int32Array, k: number): number {
  const n = fitPart.nItems;
  const counts = fitPart.itemCounts();
  const fit = fitPart.byUser();
  const val = validation.byUser();
  const scores = new Float32Array(n);
  const mask = new Uint8Array(n);
  const truth = new Uint8Array(n);
  let sum = 0;
  for (const u of users) {
    scoreUser(u, scores);
    for (let i = 0; i < n; i++) mask[i] = counts[i]! > 0 ? 0 : 1;
    for (let p = fit.indptr[u]!; p < fit.indptr[u + 1]!; p++) mask[fit.indices[p]!] = 1;
    let nTruth = 0;
    for (let p = val.indptr[u]!; p < val.indptr[u + 1]!; p++) {
      const i = val.indices[p]!;
      if (!truth[i]) {
        truth[i] = 1;
        nTruth++;
      }
    }
    sum += listNdcg(topK(scores, k, mask).items, truth, nTruth, k);
    for (let p = val.indptr[u]!; p < val.indptr[u + 1]!; p++) truth[val.indices[p]!] = 0;
  }
  return users.length > 0 ? sum / users.length : 0;
}
