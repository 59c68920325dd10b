import type { Dataset } from './dataset.js';

/** Items' categories (genres, tags) as CSR over dense category indices, numbered in order of first appearance. */
export interface CategoryCsr {
  /** Category index → name. */
  names: string[];
  /** Item i's categories are indices[indptr[i] .. indptr[i+1]). */
  indptr: Int32Array;
  indices: Int32Array;
}

/**
 * The categories of every item of `ds` (from `itemMeta[i].categories`). MovieLens's
 * '(no genres listed)' is a "none" marker, not a genre, so it is dropped here too for data read
 * without the loader's noneValues option.
 */
export function categoryCsr(ds: Dataset): CategoryCsr {
  const nI = ds.nItems;
  const cats = new Map<string, number>();
  const indptr = new Int32Array(nI + 1);
  const indices: number[] = [];
  for (let i = 0; i < nI; i++) {
    for (const c of ds.itemMeta[i]?.categories ?? []) {
      if (c === '(no genres listed)') continue;
      let ci = cats.get(c);
      if (ci === undefined) cats.set(c, (ci = cats.size));
      indices.push(ci);
    }
    indptr[i + 1] = indices.length;
  }
  return { names: [...cats.keys()], indptr, indices: Int32Array.from(indices) };
}
