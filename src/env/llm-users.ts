/**
 * LLM-played users: sessions of the rating family's world (src/env/world.ts) in which a chat
 * model, not the multinomial-logit choice model, decides what the user clicks, how they rate it
 * and when they leave.
 *
 * Each simulated user gets a profile summarised from their *train* interactions (the split the
 * simulator's opening histories come from): favourite genres, a few liked and disliked titles.
 * Each session keeps a memory of what was shown and what the user did. Every step the model sees
 * profile, memory and the slate (titles and genres) and answers
 * `{clicks:[ids], ratings:{id: 1..5}, leave, reason}` under a JSON schema.
 *
 * Everything else is the parametric world's, reused through `SessionBatch`: the session's user
 * draw and opening history, the exposure value G and attractiveness A of the slate (fair-share
 * included), the observation, auto-reset and reward accounting r = R + λ·G + α·A. R per clicked
 * item is the rating family's (src/env/vec-env.ts): click + purchase·bought + rating·(r − 3)/2,
 * with the purchase drawn from the preset's logistic in the rating. Unlike the parametric users,
 * an LLM user may click several items of one slate.
 *
 * The model answers asynchronously, so the step is `stepAsync`; the observations, step results
 * and rewards have exactly the `VecEnv` shapes, and the agents see no difference.
 */
import type { Dataset } from '../data/dataset.js';
import { ChorusError } from '../errors.js';
import type { ChatProvider, ChatRequest, JSONSchema } from '../llm/types.js';
import type { SimConfig } from './config.js';
import { SessionBatch, type VecStepResult } from './session-batch.js';
import type { Observation } from './types.js';
import { purchaseProbability, type SimWorld } from './world.js';

export interface UserProfile {
  topGenres: string[];
  liked: string[];
  disliked: string[];
  nRated: number;
  meanRating: number;
}

/** What the model answers for one step. */
export interface UserDecision {
  clicks: string[];
  ratings: Record<string, number>;
  leave: boolean;
  reason: string;
}

export interface LlmUsersOptions {
  chat: ChatProvider;
  /** The train split the world's opening histories came from (profiles are summarised from it). */
  train: Dataset;
  /** Answer-temperature (default 0: the same prompt gives the same answer, and the cache holds it). */
  temperature?: number;
  maxTokens?: number;
  /** Steps of session memory put in the prompt (default 8, oldest dropped first). */
  memorySteps?: number;
  autoReset?: boolean;
}

export interface LlmUserStats {
  /** Clicked ids that were not on the slate or already consumed (ignored). */
  ignoredClicks: number;
  decisions: number;
}

interface MemoryStep {
  shown: string[];
  clicked: string[];
}

/** Profile of user u from the train split: up to 3 genres, 5 liked (≥ 4 stars) and 3 disliked (≤ 2.5) titles. */
export function userProfile(train: Dataset, u: number): UserProfile {
  const csr = train.byUser();
  const s = csr.indptr[u]!;
  const e = csr.indptr[u + 1]!;
  const genre = new Map<string, number>();
  const rated: { title: string; v: number; p: number }[] = [];
  let sum = 0;
  for (let p = s; p < e; p++) {
    const m = train.itemMeta[csr.indices[p]!];
    const v = csr.values[p]!;
    sum += v;
    for (const g of m?.categories ?? []) if (g !== '(no genres listed)') genre.set(g, (genre.get(g) ?? 0) + 1);
    if (m?.title) rated.push({ title: m.title, v, p });
  }
  const topGenres = [...genre.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 3).map(([g]) => g);
  // Highest (lowest) rated first, the most recent first among equals.
  const liked = rated.filter((r) => r.v >= 4).sort((a, b) => b.v - a.v || b.p - a.p).slice(0, 5).map((r) => r.title);
  const disliked = rated.filter((r) => r.v <= 2.5).sort((a, b) => a.v - b.v || b.p - a.p).slice(0, 3).map((r) => r.title);
  return { topGenres, liked, disliked, nRated: e - s, meanRating: e > s ? sum / (e - s) : NaN };
}

/** The answer's JSON schema for a slate of `k` items. */
export function userDecisionSchema(k: number): JSONSchema {
  return {
    type: 'object',
    properties: {
      clicks: { type: 'array', items: { type: 'string' }, maxItems: k, description: 'ids of the items you open' },
      ratings: { type: 'object', additionalProperties: { type: 'integer', minimum: 1, maximum: 5 }, description: 'your rating of each item you opened' },
      leave: { type: 'boolean', description: 'true to end the session now' },
      reason: { type: 'string', maxLength: 300 },
    },
    required: ['clicks', 'ratings', 'leave', 'reason'],
    additionalProperties: false,
  };
}

export const USER_SYSTEM_PROMPT =
  'You play one user of a movie recommendation service. Stay in character: choose only what this user would choose, ' +
  'judging by their profile and what happened so far in this session. You may open several items, one, or none, and ' +
  'you may leave when nothing appeals. Rate each item you open from 1 (hated it) to 5 (loved it). Answer only with the JSON object asked for.';

/** Chat request for one step: profile, session memory and the slate. */
export function userPrompt(profile: UserProfile, memory: readonly MemoryStep[], slate: readonly { id: string; title: string; genres: string[]; seen: boolean }[], step: number): string {
  const lines: string[] = [];
  lines.push('Your profile (from your past ratings):');
  lines.push(`- favourite genres: ${profile.topGenres.join(', ') || 'none in particular'}`);
  lines.push(`- movies you liked: ${profile.liked.join('; ') || 'none recorded'}`);
  lines.push(`- movies you disliked: ${profile.disliked.join('; ') || 'none recorded'}`);
  lines.push(`- you rated ${profile.nRated} movies${Number.isFinite(profile.meanRating) ? `, ${profile.meanRating.toFixed(1)} stars on average` : ''}`);
  lines.push('');
  if (memory.length === 0) lines.push('This session has just started.');
  else {
    lines.push('This session so far:');
    for (const [k, m] of memory.entries()) {
      const did = m.clicked.length > 0 ? `you opened ${m.clicked.join('; ')}` : 'you opened nothing';
      lines.push(`- page ${step - memory.length + k + 1}: shown ${m.shown.join('; ')}; ${did}`);
    }
  }
  lines.push('');
  lines.push(`Page ${step + 1} shows:`);
  for (const it of slate) lines.push(`- id ${it.id}: ${it.title} [${it.genres.join('|') || 'no genre'}]${it.seen ? ' (already watched)' : ''}`);
  lines.push('');
  lines.push('Answer {"clicks": [ids you open], "ratings": {"<id>": 1-5 for each opened id}, "leave": true|false, "reason": "one short sentence"}.');
  return lines.join('\n');
}

export class LlmUserVecEnv extends SessionBatch {
  readonly stats: LlmUserStats = { ignoredClicks: 0, decisions: 0 };
  private readonly chat: ChatProvider;
  private readonly train: Dataset;
  private readonly opts: Required<Pick<LlmUsersOptions, 'temperature' | 'memorySteps'>> & Pick<LlmUsersOptions, 'maxTokens'>;
  private readonly itemIds: string[];
  private readonly idToItem: Map<string, number>;
  private readonly profiles = new Map<number, UserProfile>();
  private readonly memory: MemoryStep[][];
  private readonly pending: (UserDecision | null)[];
  private readonly lastReason: string[];
  private requestSeed = 0;

  constructor(world: SimWorld, config: SimConfig, n: number, options: LlmUsersOptions) {
    super(world, config, n, { autoReset: options.autoReset ?? true });
    if (config.interest) throw new ChorusError('E_ENV_FAMILY', `LLM users play the rating family's world; preset ${config.preset} is an interest-evolution preset`, { location: { field: 'preset' } });
    if (options.train.nItems !== world.nItems) throw new ChorusError('E_ENV_STATE', 'LLM users: the train split must share the world\'s item index', { location: { field: 'train' } });
    this.chat = options.chat;
    this.train = options.train;
    this.opts = { temperature: options.temperature ?? 0, memorySteps: options.memorySteps ?? 8, maxTokens: options.maxTokens };
    this.itemIds = options.train.items.ids();
    this.idToItem = new Map(this.itemIds.map((id, i) => [id, i]));
    this.memory = Array.from({ length: n }, () => []);
    this.pending = new Array<UserDecision | null>(n).fill(null);
    this.lastReason = new Array<string>(n).fill('');
  }

  override reset(seed: number): Observation[] {
    // Every request carries the run's seed, so a rerun asks (and caches) exactly the same thing.
    this.requestSeed = seed >>> 0;
    return super.reset(seed);
  }

  /** A fork would have to replay the model's conversation; planners fork the simulated families only. */
  protected override forkFamilySlot(): void {
    throw new ChorusError('E_ENV_STATE', 'LLM users cannot be forked: their state is the model\'s conversation', { location: { field: 'src' } });
  }

  /** The model answers asynchronously: use `stepAsync`. */
  override step(): VecStepResult {
    throw new ChorusError('E_ENV_STATE', 'LLM users answer asynchronously: call stepAsync(slates)', { location: { field: 'step' } });
  }

  /** Ask the model for every slot's decision on its slate (concurrently), then advance all sessions. */
  async stepAsync(slates: Int32Array): Promise<VecStepResult> {
    const K = this.slateSize;
    await Promise.all(
      Array.from({ length: this.n }, async (_, s) => {
        const res = await this.chat.chat(this.request(s, slates.subarray(s * K, s * K + K)));
        this.pending[s] = res.json as UserDecision;
        this.stats.decisions++;
      }),
    );
    return super.step(slates);
  }

  /** Profile of user u (summarised once per env). */
  profileOf(u: number): UserProfile {
    let p = this.profiles.get(u);
    if (!p) {
      p = userProfile(this.train, u);
      this.profiles.set(u, p);
    }
    return p;
  }

  /** The model's reason for slot s's last decision (for logs and explanations). */
  reasonOf(s: number): string {
    this.checkSlot(s);
    return this.lastReason[s]!;
  }

  /** The chat request slot s's user answers for this slate. */
  request(s: number, slate: Int32Array): ChatRequest {
    const consumed = new Set(this.historyOf(s));
    const items = [];
    for (const i of slate) {
      if (i < 0) continue;
      const m = this.train.itemMeta[i];
      items.push({ id: this.itemIds[i] ?? String(i), title: m?.title ?? `item ${this.itemIds[i] ?? i}`, genres: (m?.categories ?? []).filter((g) => g !== '(no genres listed)'), seen: consumed.has(i) });
    }
    const content = userPrompt(this.profileOf(this.user[s]!), this.memory[s]!, items, this.t[s]!);
    const req: ChatRequest = {
      messages: [
        { role: 'system', content: USER_SYSTEM_PROMPT },
        { role: 'user', content },
      ],
      schema: userDecisionSchema(this.slateSize),
      schemaName: 'user_action',
      temperature: this.opts.temperature,
      seed: this.requestSeed,
    };
    if (this.opts.maxTokens !== undefined) req.maxTokens = this.opts.maxTokens;
    return req;
  }

  protected override startSession(s: number): void {
    this.memory[s] = [];
    this.lastReason[s] = '';
  }

  /**
   * Not used for choosing: the model chooses. `chooseFromSlate` is still called for the slate's
   * G and A and the fair-share exposure count, and its logit draw is discarded, so a constant
   * utility is enough.
   */
  protected override utility(): number {
    return 0;
  }

  protected override stepOne(s: number, slates: Int32Array, off: number): void {
    const d = this.pending[s];
    if (!d) throw new ChorusError('E_ENV_STATE', `slot ${s} has no decision from the model; call stepAsync`, { location: { field: 'step' } });
    this.pending[s] = null;
    const cfg = this.config;
    const out = this.out;
    const K = this.slateSize;
    this.chooseFromSlate(s, slates, off, cfg.choice.noClickUtility);
    const consumed = new Set(this.historyOf(s));
    const want = new Set(d.clicks);
    const shown: string[] = [];
    const clicked: string[] = [];
    let R = 0;
    for (const id of want) {
      const i = this.idToItem.get(id);
      let pos = -1;
      if (i !== undefined) for (let k = 0; k < K; k++) if (slates[off + k] === i) pos = k;
      if (i === undefined || pos < 0 || consumed.has(i)) {
        this.stats.ignoredClicks++;
        continue;
      }
      const given = d.ratings[id];
      const rating = typeof given === 'number' ? Math.min(5, Math.max(1, Math.round(given))) : NaN;
      let bought = 0;
      if (!Number.isNaN(rating)) {
        bought = this.rng.next() < purchaseProbability(cfg, rating) ? 1 : 0;
      }
      out.clicks[off + pos] = 1;
      out.purchases[off + pos] = bought;
      out.ratings[off + pos] = rating;
      // The rating family's R per clicked item (src/env/vec-env.ts); a click without a rating earns the click only.
      R += cfg.reward.click + cfg.reward.purchase * bought + (Number.isNaN(rating) ? 0 : (cfg.reward.rating * (rating - 3)) / 2);
      this.consume(s, i);
      consumed.add(i);
      clicked.push(`${this.titleOf(i)}${Number.isNaN(rating) ? '' : ` (rated ${rating})`}`);
    }
    for (let k = 0; k < K; k++) if (slates[off + k]! >= 0) shown.push(this.titleOf(slates[off + k]!));
    if (clicked.length === 0) this.noClick(s);
    const mem = this.memory[s]!;
    mem.push({ shown, clicked });
    if (mem.length > this.opts.memorySteps) mem.shift();
    this.lastReason[s] = d.reason;
    this.record(s, R, this.slateG, this.slateA);
    out.done[s] = d.leave || this.t[s]! >= cfg.horizon ? 1 : 0;
  }

  private titleOf(i: number): string {
    return this.train.itemMeta[i]?.title ?? `item ${this.itemIds[i] ?? i}`;
  }
}
