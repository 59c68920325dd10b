/**
 * Popularity: every user gets the items with the most training interactions. With a half-life,
 * each interaction counts 2^(−age/half-life), age measured back from the newest interaction, so
 * the list follows what is popular now.
 */
import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { DataError } from '../errors.js';
import { BaseRecommender } from './base.js';
import { typedField } from './saved-state.js';
import type { UserRef } from './types.js';

export const popularityConfigSchema = z.strictObject({
  /** Half-life of an interaction's weight in days; 0 turns decay off. */
  halfLifeDays: z.number().min(0),
  /** Sum interaction values (play counts, ratings) instead of counting interactions. */
  useValues: z.boolean(),
});
export type PopularityConfig = z.infer<typeof popularityConfigSchema>;
export const POPULARITY_DEFAULTS: PopularityConfig = { halfLifeDays: 0, useValues: false };

export class Popularity extends BaseRecommender<PopularityConfig> {
  readonly kind = 'popularity';
  readonly version = 1;
  private itemScores: Float32Array = new Float32Array(0);

  constructor(config: Partial<PopularityConfig> = {}) {
    super({ ...POPULARITY_DEFAULTS, ...config });
  }

  protected async fitModel(train: Dataset): Promise<void> {
    const { item, value, timestamp, length } = train.interactions;
    const { halfLifeDays, useValues } = this.config;
    const acc = new Float64Array(train.nItems);
    let tMax = -Infinity;
    if (halfLifeDays > 0) {
      for (let k = 0; k < length; k++) {
        const t = timestamp[k]!;
        if (!Number.isFinite(t)) {
          throw new DataError(`popularity with halfLifeDays > 0 needs timestamps; interaction ${k} has none`, { field: 'timestamp' });
        }
        if (t > tMax) tMax = t;
      }
    }
    // ln 2 / half-life in seconds: weight = exp(−rate · age) halves every half-life.
    const rate = halfLifeDays > 0 ? Math.LN2 / (halfLifeDays * 86400) : 0;
    for (let k = 0; k < length; k++) {
      let w = useValues ? value[k]! : 1;
      if (rate > 0) w *= Math.exp(-rate * (tMax - timestamp[k]!));
      acc[item[k]!] += w;
    }
    this.itemScores = Float32Array.from(acc);
  }

  scoreAll(_user: UserRef, out?: Float32Array): Float32Array {
    this.assertFitted();
    const o = out ?? new Float32Array(this.nItems);
    o.set(this.itemScores);
    return o;
  }

  protected getState(): Record<string, unknown> {
    return { itemScores: this.itemScores };
  }

  protected setState(state: Record<string, unknown>): void {
    this.itemScores = typedField(state, 'itemScores', Float32Array, this.nItems);
  }
}
