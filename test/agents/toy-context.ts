/** A small synthetic item space for agent tests: random CF vectors, genres, popularity, cold flags. */
import type { AgentContext, ItemSpace } from '../../src/agents/state.js';
import { Rng } from '../../src/util/rng.js';

export function toyItemSpace(nItems = 40, dim = 4, nCats = 3, seed = 3): ItemSpace {
  const rng = new Rng(seed);
  const vectors = new Float32Array(nItems * dim);
  for (let k = 0; k < vectors.length; k++) vectors[k] = rng.normal() * 0.5;
  const indptr = new Int32Array(nItems + 1);
  const indices: number[] = [];
  for (let i = 0; i < nItems; i++) {
    indices.push(i % nCats);
    if (i % 5 === 0) indices.push((i + 1) % nCats);
    indptr[i + 1] = indices.length;
  }
  const popularity = new Float32Array(nItems);
  const cold = new Uint8Array(nItems);
  for (let i = 0; i < nItems; i++) {
    popularity[i] = (nItems - i) % 17;
    cold[i] = popularity[i]! < 2 ? 1 : 0;
  }
  return {
    nItems,
    dim,
    vectors,
    categoryNames: Array.from({ length: nCats }, (_, c) => `g${c}`),
    catIndptr: indptr,
    catIndices: Int32Array.from(indices),
    popularity,
    cold,
  };
}

export function toyContext(options: { nItems?: number; dim?: number; nCats?: number; nUsers?: number; slateSize?: number } = {}): AgentContext {
  const items = toyItemSpace(options.nItems, options.dim, options.nCats);
  const nUsers = options.nUsers ?? 8;
  const rng = new Rng(99);
  const userVectors = new Float32Array(nUsers * items.dim);
  for (let k = 0; k < userVectors.length; k++) userVectors[k] = rng.normal();
  return { items, userVectors, nUsers, slateSize: options.slateSize ?? 5, horizon: 20 };
}

/** A bandit context whose items are one-hot vectors (dim = nItems) with no genres and equal popularity. */
export function oneHotContext(nItems: number, slateSize = 1): AgentContext {
  const vectors = new Float32Array(nItems * nItems);
  for (let i = 0; i < nItems; i++) vectors[i * nItems + i] = 1;
  return {
    items: {
      nItems,
      dim: nItems,
      vectors,
      categoryNames: [],
      catIndptr: new Int32Array(nItems + 1),
      catIndices: new Int32Array(0),
      popularity: new Float32Array(nItems),
      cold: new Uint8Array(nItems),
    },
    nUsers: 1,
    slateSize,
    horizon: 1,
  };
}
