/**
 * The item agent as an offline scorer (`team-item`): it values fair exposure and new items, so an
 * item scores higher the fewer training interactions it has (−log(1 + count)) and the newer it is
 * (first interaction within `newDays` of the newest one earns `newBonus`). Only items with ≥ 1
 * training interaction are scored above −∞ elsewhere by the fusion (P1 candidates).
 */
import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { BaseRecommender } from '../recommenders/base.js';
import type { UserRef } from '../recommenders/types.js';

export const itemAgentSchema = z.strictObject({
  newDays: z.number().min(0),
  newBonus: z.number().min(0),
});
export type ItemAgentConfig = z.infer<typeof itemAgentSchema>;
export const ITEM_AGENT_DEFAULTS: ItemAgentConfig = { newDays: 30, newBonus: 1 };

export class ItemAgentRecommender extends BaseRecommender<ItemAgentConfig> {
  readonly kind = 'team-item';
  readonly version = 1;
  private itemScores: Float32Array = new Float32Array(0);
  /** Days between each item's first training interaction and the newest interaction. */
  ageDays: Float32Array = new Float32Array(0);

  constructor(config: Partial<ItemAgentConfig> = {}) {
    super({ ...ITEM_AGENT_DEFAULTS, ...config });
  }

  protected async fitModel(train: Dataset): Promise<void> {
    const { item, timestamp, length } = train.interactions;
    const n = train.nItems;
    const counts = new Float64Array(n);
    const first = new Float64Array(n).fill(Infinity);
    let tMax = -Infinity;
    for (let k = 0; k < length; k++) {
      const i = item[k]!;
      counts[i]! += 1;
      const t = timestamp[k]!;
      if (Number.isFinite(t)) {
        if (t < first[i]!) first[i] = t;
        if (t > tMax) tMax = t;
      }
    }
    this.itemScores = new Float32Array(n);
    this.ageDays = new Float32Array(n).fill(Infinity);
    for (let i = 0; i < n; i++) {
      const age = Number.isFinite(first[i]!) ? (tMax - first[i]!) / 86400 : Infinity;
      this.ageDays[i] = age;
      this.itemScores[i] = -Math.log1p(counts[i]!) + (age <= this.config.newDays ? this.config.newBonus : 0);
    }
  }

  scoreAll(_user: UserRef, out?: Float32Array): Float32Array {
    this.assertFitted();
    const o = out ?? new Float32Array(this.nItems);
    o.set(this.itemScores);
    return o;
  }

  protected getState(): Record<string, unknown> {
    return { itemScores: this.itemScores, ageDays: this.ageDays };
  }

  protected setState(s: Record<string, unknown>): void {
    this.itemScores = s.itemScores as Float32Array;
    this.ageDays = s.ageDays as Float32Array;
  }
}
