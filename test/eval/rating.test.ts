import { describe, expect, it } from 'vitest';
import { datasetFromTriples } from '../../src/data/dataset.js';
import { isRatingPredictor, ratingErrors } from '../../src/eval/rating.js';

describe('ratingErrors (hand-computed)', () => {
  it('RMSE and MAE over every test row', () => {
    // truths 4, 2, 5; predictions 3.5, 3, 5 → errors −0.5, +1, 0
    const test = datasetFromTriples([
      ['a', 'x', 4],
      ['a', 'y', 2],
      ['b', 'x', 5],
    ]);
    const pred: Record<string, number> = { '0:0': 3.5, '0:1': 3, '1:0': 5 };
    const model = { predict: (u: number, i: number) => pred[`${u}:${i}`]! };
    expect(isRatingPredictor(model)).toBe(true);
    const e = ratingErrors(model, test);
    expect(e.n).toBe(3);
    // RMSE = √((0.25 + 1 + 0) / 3) = √0.416667 = 0.645497; MAE = 1.5 / 3 = 0.5
    expect(e.rmse).toBeCloseTo(0.645497, 6);
    expect(e.mae).toBeCloseTo(0.5, 12);
  });

  it('is undefined on an empty test set, and a ranking-only model is not a predictor', () => {
    const empty = datasetFromTriples([]);
    expect(Number.isNaN(ratingErrors({ predict: () => 0 }, empty).rmse)).toBe(true);
    expect(isRatingPredictor({ scoreAll: () => new Float32Array(0) })).toBe(false);
  });
});
