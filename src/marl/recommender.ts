/**
 * The team as an offline ranker (a `Recommender`, registry name `team`), for P1 and `chorus train`:
 * the same agents, each a scorer fitted on the logs — the user agent (implicit ALS: relevance),
 * extra agents (EASE, user-kNN and item-kNN by default: any registered recommender), the content agent
 * (content recommender over the built-in text encoder) and the item agent (`team-item`: fair
 * exposure, favouring rarely interacted-with and new items) — fused by a weighted sum of per-user
 * z-scored scores whose weights are learned on a validation split cut from train (P1's rule),
 * through the hybrid recommender's fusion. `explain(user, items)` gives each agent's contribution.
 */
import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { createRecommender, restoreRecommender } from '../recommenders/registry.js';
import { BaseRecommender } from '../recommenders/base.js';
import { HybridRecommender, type HybridConfig } from '../recommenders/hybrid.js';
import type { FitOptions, SavedModel, UserRef } from '../recommenders/types.js';

export const teamRecommenderSchema = z.strictObject({
  /** User agent's relevance model. */
  user: z.string().min(1),
  /** Extra agents: registered recommender names. */
  extras: z.array(z.string().min(1)),
  /** Include the content agent (content recommender) and the item agent (team-item). */
  content: z.boolean(),
  item: z.boolean(),
  /** Text encoder of the content agent. */
  embedder: z.string(),
  fusion: z.enum(['weighted', 'borda', 'rrf']),
  tuneUsers: z.number().int().min(1),
  tuneStep: z.number().gt(0).max(1),
  seed: z.number().int(),
});
export type TeamRecommenderConfig = z.infer<typeof teamRecommenderSchema>;
export const TEAM_RECOMMENDER_DEFAULTS: TeamRecommenderConfig = {
  user: 'als',
  extras: ['ease', 'userknn', 'itemknn'],
  content: true,
  item: true,
  embedder: 'builtin',
  fusion: 'weighted',
  tuneUsers: 300,
  tuneStep: 0.2,
  seed: 42,
};

export class TeamRecommender extends BaseRecommender<TeamRecommenderConfig> {
  readonly kind = 'team';
  readonly version = 1;
  private hybrid: HybridRecommender | null = null;
  readonly agentNames: string[];

  constructor(config: Partial<TeamRecommenderConfig> | Record<string, unknown> = {}) {
    super(teamRecommenderSchema.parse({ ...TEAM_RECOMMENDER_DEFAULTS, ...config }));
    const c = this.config;
    this.agentNames = ['user', ...c.extras, ...(c.content ? ['content'] : []), ...(c.item ? ['item'] : [])];
  }

  private hybridConfig(): Partial<HybridConfig> {
    const c = this.config;
    const members: HybridConfig['members'] = [{ kind: c.user }, ...c.extras.map((kind) => ({ kind }))];
    if (c.content) members.push({ kind: 'content', config: { embedder: c.embedder } });
    if (c.item) members.push({ kind: 'team-item' });
    const fusion = c.fusion === 'weighted' ? 'score' : c.fusion;
    return { members, fusion, tune: members.length > 1, tuneUsers: c.tuneUsers, tuneStep: c.tuneStep, seed: c.seed };
  }

  private newHybrid(): HybridRecommender {
    return new HybridRecommender(this.hybridConfig(), { create: createRecommender, restore: restoreRecommender });
  }

  protected async fitModel(train: Dataset, options: FitOptions): Promise<void> {
    this.hybrid = this.newHybrid();
    await this.hybrid.fit(train, options);
  }

  /** Learned fusion weight per agent (sums to 1). */
  get weights(): Record<string, number> {
    const w = this.hybrid?.weights ?? [];
    return Object.fromEntries(this.agentNames.map((n, k) => [n, w[k] ?? NaN]));
  }

  scoreAll(user: UserRef, out?: Float32Array): Float32Array {
    this.assertFitted();
    return this.hybrid!.scoreAll(user, out);
  }

  protected getState(): Record<string, unknown> {
    return { hybrid: this.hybrid!.toJSON() };
  }

  protected setState(state: Record<string, unknown>): void {
    this.hybrid = this.newHybrid();
    this.hybrid.restore(state.hybrid as SavedModel);
  }
}
