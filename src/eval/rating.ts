import type { Dataset } from '../data/dataset.js';

/** A model that predicts an explicit rating for a (user, item) pair (biased MF, for one). */
export interface RatingPredictor {
  predict(user: number, item: number): number;
}

export function isRatingPredictor(model: unknown): model is RatingPredictor {
  return typeof model === 'object' && model !== null && typeof (model as { predict?: unknown }).predict === 'function';
}

export interface RatingErrors {
  rmse: number;
  mae: number;
  /** Test rows predicted. */
  n: number;
}

/**
 * RMSE and MAE of `model` over every interaction of `test` (its `value` is the true rating).
 * Every row counts, including users or items the model never saw in training: how the model
 * answers for those (a global mean, a bias) is part of what is measured.
 */
export function ratingErrors(model: RatingPredictor, test: Dataset): RatingErrors {
  const { user, item, value, length } = test.interactions;
  let se = 0;
  let ae = 0;
  for (let k = 0; k < length; k++) {
    const err = model.predict(user[k]!, item[k]!) - value[k]!;
    se += err * err;
    ae += Math.abs(err);
  }
  return length > 0 ? { rmse: Math.sqrt(se / length), mae: ae / length, n: length } : { rmse: NaN, mae: NaN, n: 0 };
}
