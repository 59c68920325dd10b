/**
 * Popularity: every user gets the items with the most training interactions. Two trend-aware
 * options (time-window.ts), both measured back from the newest training interaction, so the list
 * follows what is popular now: a recent window (`windowDays`: older interactions do not count)
 * and a half-life (`halfLifeDays`: each interaction counts 2^(−age/half-life)). Either may be
 * 'auto', chosen on a validation split of the training data.
 */
import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { dpCountsConfigSchema, parseDp, PLAIN_COUNTS, refuseWithDp, type PrivacyReport } from '../privacy/config.js';
import { boundUserItems, countSensitivity, noisyItemCounts, planCounts, type DpCountsPlan } from '../privacy/dp-counts.js';
import { Rng } from '../util/rng.js';
import { BaseRecommender } from './base.js';
import { typedField } from './saved-state.js';
import {
  DAY_SECONDS,
  decayRate,
  newestTimestamp,
  requireTimestamps,
  resolveTimeConfig,
  TIME_DEFAULTS,
  timeConfigShape,
  type Resolved,
  type TimeTrial,
} from './time-window.js';
import type { FitOptions, UserRef } from './types.js';

export const popularityConfigSchema = z.strictObject({
  ...timeConfigShape,
  /** Sum interaction values (play counts, ratings) instead of counting interactions. */
  useValues: z.boolean(),
  /**
   * Differential privacy (docs/privacy.md): each user counts once for at most
   * `dp.maxItemsPerUser` items and Gaussian noise is added to every item's count.
   */
  dp: dpCountsConfigSchema.optional(),
});
export type PopularityConfig = z.infer<typeof popularityConfigSchema>;
export const POPULARITY_DEFAULTS: PopularityConfig = { ...TIME_DEFAULTS, useValues: false };

export class Popularity extends BaseRecommender<PopularityConfig> {
  readonly kind = 'popularity';
  readonly version = 1;
  private itemScores: Float32Array = new Float32Array(0);
  /** The config as given: 'auto' fields are chosen again on every fit. */
  private readonly requested: PopularityConfig;
  private trials: TimeTrial[] = [];

  constructor(config: Partial<PopularityConfig> = {}) {
    super({ ...POPULARITY_DEFAULTS, ...config });
    this.requested = this.config;
  }

  /** The validation NDCG@10 of each grid point tried by the last fit (empty when nothing was 'auto'). */
  get timeTrials(): readonly TimeTrial[] {
    return this.trials;
  }


  protected async fitModel(train: Dataset, options: FitOptions): Promise<void> {
    if (this.requested.dp) {
      const dp = parseDp(dpCountsConfigSchema, this.requested.dp, 'popularity');
      // Tuning 'auto' on the data, windows and value sums would each need their own privacy analysis.
      const { windowDays, halfLifeDays, useValues } = this.requested;
      refuseWithDp('popularity', [['windowDays', windowDays, windowDays !== 0], ['halfLifeDays', halfLifeDays, halfLifeDays !== 0], ['useValues', useValues, useValues]], PLAIN_COUNTS);
      const m = dp.maxItemsPerUser;
      const { plan, sigma } = planCounts(dp, countSensitivity(m), train.nUsers, 'popularity');
      const rng = new Rng(dp.seed);
      this.itemScores = Float32Array.from(noisyItemCounts(boundUserItems(train.byUser(), train.nItems, m, rng), train.nItems, sigma, rng));
      this.trials = [];
      (this as { config: Readonly<PopularityConfig> }).config = Object.freeze({ ...this.requested, dp: plan });
      return;
    }
    const { config, trials } = await resolveTimeConfig(train, 'popularity', this.requested, (c) => new Popularity(c), options.onProgress);
    // The stamp prints `config`: it must show the window and half-life actually used, so the
    // chosen values replace 'auto' (the field is readonly to callers, not to the model).
    (this as { config: Readonly<PopularityConfig> }).config = Object.freeze(config);
    this.trials = trials;
    this.itemScores = popularityScores(train, config);
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

/** Each item's (windowed, decayed) count or value sum. */
function popularityScores(train: Dataset, config: Resolved<PopularityConfig>): Float32Array {
  const { item, value, timestamp, length } = train.interactions;
  const { windowDays, halfLifeDays, useValues } = config;
  if (windowDays > 0) requireTimestamps(train, 'popularity', 'windowDays');
  if (halfLifeDays > 0) requireTimestamps(train, 'popularity', 'halfLifeDays');
  const tMax = windowDays > 0 || halfLifeDays > 0 ? newestTimestamp(train) : -Infinity;
  const from = windowDays > 0 ? tMax - windowDays * DAY_SECONDS : -Infinity;
  const rate = decayRate(halfLifeDays);
  const acc = new Float64Array(train.nItems);
  for (let k = 0; k < length; k++) {
    if (timestamp[k]! < from) continue;
    let w = useValues ? value[k]! : 1;
    if (rate > 0) w *= Math.exp(-rate * (tMax - timestamp[k]!));
    acc[item[k]!] += w;
  }
  return Float32Array.from(acc);
}
