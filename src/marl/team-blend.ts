/**
 * The team's offline scorers blended (a `Recommender`, registry name `team-blend`), for P1 and
 * `chorus train`: what each of the team's agents scores with, fitted on the logs — the user agent's
 * relevance model (implicit ALS), extra agents (EASE, user-kNN and item-kNN by default: any
 * registered recommender), the content agent's model (content recommender over the built-in text
 * encoder) and the item agent's (`team-item`: fair exposure, favouring rarely interacted-with and
 * new items) — fused by a weighted sum of per-user z-scored scores whose weights are learned on a
 * validation split cut from train (P1's rule), through the hybrid recommender's fusion. No agent
 * acts or learns from rewards here: it is a hybrid with the team's members and the team's
 * explanations, named for that (it was recommender `team` until the name was left to the agent;
 * files saved under it still load). `explain(user, items)` gives each agent's contribution
 * (weight × its normalised score, or × its rank vote for borda/rrf: they add up to the fused score)
 * and the evidence behind it (./offline-explain.ts). The genre lists and titles the evidence needs
 * are saved in the model state (`evidence`), so a restored model explains without the data.
 */
import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { createRecommender, restoreRecommender } from '../recommenders/registry.js';
import { BaseRecommender } from '../recommenders/base.js';
import { HybridRecommender, type HybridConfig } from '../recommenders/hybrid.js';
import type { FitOptions, SavedModel, UserRef } from '../recommenders/types.js';
import { ConfigError } from '../errors.js';
import { evidenceState, OfflineEvidence, readEvidenceState, type EvidenceRoles, type EvidenceState } from './offline-explain.js';
import type { ItemExplanation } from './team.js';

/**
 * A list of names given as one comma-separated string, as CLI hyper-parameters (`-p extras=itemknn,ease`,
 * `-p members=user,mf`) and the config's `models` section hold scalars; any other value passes through.
 */
export function commaList(v: unknown): unknown {
  return typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter((x) => x.length > 0) : v;
}

export const teamBlendSchema = z.strictObject({
  /** User agent's relevance model. */
  user: z.string().min(1),
  /** Extra agents: registered recommender names (or one comma-separated string, `commaList`). */
  extras: z.preprocess(commaList, z.array(z.string().min(1))),
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
export type TeamBlendConfig = z.infer<typeof teamBlendSchema>;
export const TEAM_BLEND_DEFAULTS: TeamBlendConfig = {
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

export class TeamBlendRecommender extends BaseRecommender<TeamBlendConfig> {
  readonly kind = 'team-blend';
  readonly version = 1;
  private hybrid: HybridRecommender | null = null;
  /** Agent name per fused member, in member order (a repeated name gets a suffix: `itemknn#2`). */
  readonly agentNames: string[];
  private readonly roles: EvidenceRoles;
  /** Training-data lookups for explanations (undefined for a model saved before they were kept). */
  private evidenceData: EvidenceState | undefined;
  private evidence: OfflineEvidence | null = null;

  constructor(config: Partial<TeamBlendConfig> | Record<string, unknown> = {}) {
    super(teamBlendSchema.parse({ ...TEAM_BLEND_DEFAULTS, ...config }));
    const c = this.config;
    const role: EvidenceRoles['role'] = ['user', ...c.extras.map(() => 'extra' as const), ...(c.content ? ['content' as const] : []), ...(c.item ? ['item' as const] : [])];
    const raw = ['user', ...c.extras, ...(c.content ? ['content'] : []), ...(c.item ? ['item'] : [])];
    // Contributions are keyed by agent name, so names must be unique (extras may repeat a kind).
    const used = new Map<string, number>();
    this.agentNames = raw.map((n) => {
      const k = (used.get(n) ?? 0) + 1;
      used.set(n, k);
      return k === 1 ? n : `${n}#${k}`;
    });
    this.roles = { names: this.agentNames, role };
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
    this.evidenceData = evidenceState(train);
    this.evidence = null;
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

  /**
   * Why the team scores `items` (item indices) as it does for `user`: per item the fused score,
   * each agent's contribution to it (they add up to the score, up to float32 rounding) and the
   * evidence behind each agent's vote, e.g. `{ agent: 'user', text: 'because you watched Heat (1995)' }`.
   */
  explain(user: UserRef, items: ArrayLike<number>): ItemExplanation[] {
    this.assertFitted();
    for (const i of Array.from(items)) {
      if (!Number.isInteger(i) || i < 0 || i >= this.nItems) throw new ConfigError(`team-blend.explain: item index ${i} is not in 0..${this.nItems - 1}`, 'items');
    }
    const hybrid = this.hybrid!;
    const { terms, scores, raw } = hybrid.scoreTerms(user, items);
    this.evidence ??= new OfflineEvidence(
      { members: hybrid.memberModels, nItems: this.nItems, seenIndptr: this.seenIndptr, seenIndices: this.seenIndices, state: this.evidenceData },
      this.roles,
    );
    const evidence = this.evidence.evidence(this.seenItems(user), items, raw);
    const M = this.agentNames.length;
    return Array.from(items, (item, p) => {
      const contributions: Record<string, number> = {};
      for (let m = 0; m < M; m++) contributions[this.agentNames[m]!] = terms[p * M + m]!;
      return { item, score: scores[p]!, contributions, evidence: evidence[p]! };
    });
  }

  protected getState(): Record<string, unknown> {
    return { hybrid: this.hybrid!.toJSON(), evidence: this.evidenceData };
  }

  protected setState(state: Record<string, unknown>): void {
    this.hybrid = this.newHybrid();
    this.hybrid.restore(state.hybrid as SavedModel);
    this.evidenceData = readEvidenceState(state.evidence, this.nItems);
    this.evidence = null;
  }
}
