/**
 * Popularity within the user's preferred genres (P2's baseline, `popularity-genre`): a user's
 * taste is the share of their training interactions that carry each category (genre); an item
 * scores the mean share of its categories, plus `popularityWeight` × its normalised popularity,
 * so among items of the user's favourite genres the popular ones come first. A new item has no
 * popularity yet, so among new items the ranking is by genre taste alone; a new user gets plain
 * popularity.
 */
import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { BaseRecommender } from './base.js';
import { logPopularity } from '../util/log-popularity.js';
import { typedField } from './saved-state.js';
import type { UserRef } from './types.js';

export const popularityGenreConfigSchema = z.strictObject({
  /** Weight of normalised popularity against genre taste (taste is in [0, 1]). */
  popularityWeight: z.number().min(0),
});
export type PopularityGenreConfig = z.infer<typeof popularityGenreConfigSchema>;
export const POPULARITY_GENRE_DEFAULTS: PopularityGenreConfig = { popularityWeight: 0.5 };

export class PopularityGenre extends BaseRecommender<PopularityGenreConfig> {
  readonly kind = 'popularity-genre';
  readonly version = 1;
  private nGenres = 0;
  /** CSR item → genre ids. */
  private genreIndptr: Int32Array = new Int32Array(1);
  private genreIds: Int32Array = new Int32Array(0);
  private popularity: Float32Array = new Float32Array(0);
  private share: Float64Array = new Float64Array(0);

  constructor(config: Partial<PopularityGenreConfig> = {}) {
    super({ ...POPULARITY_GENRE_DEFAULTS, ...config });
  }

  protected async fitModel(train: Dataset): Promise<void> {
    const names = new Map<string, number>();
    const indptr = new Int32Array(train.nItems + 1);
    const ids: number[] = [];
    for (let i = 0; i < train.nItems; i++) {
      for (const g of train.itemMeta[i]?.categories ?? []) {
        let id = names.get(g);
        if (id === undefined) names.set(g, (id = names.size));
        ids.push(id);
      }
      indptr[i + 1] = ids.length;
    }
    this.nGenres = names.size;
    this.genreIndptr = indptr;
    this.genreIds = Int32Array.from(ids);
    this.popularity = logPopularity(train.itemCounts(), new Float32Array(train.nItems));
  }

  scoreAll(user: UserRef, out?: Float32Array): Float32Array {
    this.assertFitted();
    const o = out ?? new Float32Array(this.nItems);
    const hist = this.seenItems(user);
    if (this.share.length !== this.nGenres) this.share = new Float64Array(this.nGenres);
    const share = this.share;
    share.fill(0);
    const gp = this.genreIndptr;
    const gi = this.genreIds;
    for (let p = 0; p < hist.length; p++) {
      const i = hist[p]!;
      for (let q = gp[i]!; q < gp[i + 1]!; q++) share[gi[q]!] += 1;
    }
    if (hist.length > 0) for (let g = 0; g < share.length; g++) share[g] /= hist.length;
    const w = this.config.popularityWeight;
    for (let i = 0; i < this.nItems; i++) {
      const lo = gp[i]!;
      const hi = gp[i + 1]!;
      let taste = 0;
      for (let q = lo; q < hi; q++) taste += share[gi[q]!]!;
      o[i] = (hi > lo ? taste / (hi - lo) : 0) + w * this.popularity[i]!;
    }
    return o;
  }

  protected getState(): Record<string, unknown> {
    return { nGenres: this.nGenres, genreIndptr: this.genreIndptr, genreIds: this.genreIds, popularity: this.popularity };
  }

  protected setState(state: Record<string, unknown>): void {
    this.nGenres = state.nGenres as number;
    this.genreIndptr = typedField(state, 'genreIndptr', Int32Array, this.nItems + 1);
    this.genreIds = typedField(state, 'genreIds', Int32Array);
    this.popularity = typedField(state, 'popularity', Float32Array, this.nItems);
  }
}
