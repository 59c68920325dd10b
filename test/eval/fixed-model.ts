import type { Dataset } from '../../src/data/dataset.js';
import { BaseRecommender } from '../../src/recommenders/base.js';
import type { UserRef } from '../../src/recommenders/types.js';

/**
 * A recommender whose scores are given up front (one row per user, or one row for everyone), so
 * an evaluation test can compute the expected lists by hand.
 */
export class FixedScores extends BaseRecommender<{ rows: number[][] }> {
  readonly kind = 'fixed';
  readonly version = 1;

  protected async fitModel(_train: Dataset): Promise<void> {}

  scoreAll(user: UserRef, out?: Float32Array): Float32Array {
    const rows = this.config.rows;
    const row = rows[typeof user === 'number' ? Math.min(user, rows.length - 1) : 0]!;
    const o = out ?? new Float32Array(this.nItems);
    for (let i = 0; i < this.nItems; i++) o[i] = row[i] ?? 0;
    return o;
  }

  protected getState(): Record<string, unknown> {
    return {};
  }

  protected setState(): void {}
}
