/**
 * The fidelity protocol for LLM-played users (issue 21): do simulated users choose what real
 * users chose? On P1's rule (each user's train split; the *next* item is the earliest of their
 * held-out interactions), every test user is shown one slate: their next item among K − 1 items
 * they never rated (drawn uniformly, seeded), in a seeded random order. Three users choose from
 * the same slates:
 *  - the LLM user (src/env/llm-users.ts: the same profile from the train split, the same prompt
 *    and answer schema as in `chorus simulate --users llm`, at the first page of a session);
 *  - the parametric simulator's user (the preset's choice model: multinomial logit over the
 *    slate's click utilities and the no-click option, at the session's start);
 *  - popularity (clicks the slate's most-rated item).
 * The figure per user is the share of the user's clicks that hit the next item: 1 or 0 for
 * popularity, the click probability of the next item for the parametric user, and
 * |clicks ∩ {next}| / |clicks| for the LLM user (0 when it clicks nothing; several clicks share
 * the credit, so clicking everything is no better than chance). Chance is 1/K for a user who
 * always clicks one item. A second figure, "any click", counts slates with at least one click.
 *
 * The parametric world is fitted on the whole dataset, held-out interactions included (that is
 * how the simulator is calibrated), so it has seen the next item; the LLM user has not. Read its
 * figure as a ceiling for a well-calibrated model, not as a peer.
 */
import type { Dataset } from '../../data/dataset.js';
import type { SimConfig } from '../../env/config.js';
import { userDecisionSchema, userProfile, userPrompt, USER_SYSTEM_PROMPT, type UserDecision } from '../../env/llm-users.js';
import { clickUtility, initialSatiation, type SimWorld } from '../../env/world.js';
import type { ChatProvider } from '../../llm/types.js';
import { Rng } from '../../util/rng.js';
import { meanCi, type MeanCi } from './stats.js';

export interface FidelityOptions {
  full: Dataset;
  train: Dataset;
  world: SimWorld;
  config: SimConfig;
  chat: ChatProvider;
  /** Test users (the first n with a held-out item, by user index; default 100). */
  users?: number;
  /** Slate size K (default the preset's). */
  slateSize?: number;
  seed?: number;
  /** Model calls at once (default 4; the provider may limit further). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface FidelityRow {
  /** Mean share of the user's clicks on the next item, with a Student-t 95 % interval over users. */
  hit: MeanCi;
  /** Share of slates with at least one click. */
  anyClick: number;
}

export interface FidelityResult {
  users: number;
  slateSize: number;
  seed: number;
  chance: number;
  llm: FidelityRow;
  parametric: FidelityRow;
  popularity: FidelityRow;
  /** LLM answers that named items not on the slate (ignored). */
  ignoredClicks: number;
  /** Per user: the slate (external ids, shown order), the next item and what the LLM user clicked. */
  slates: { user: string; next: string; items: string[]; llmClicks: string[] }[];
}

/** Each user's next item (earliest held-out interaction), -1 where the user has none. */
export function nextItems(full: Dataset, train: Dataset): Int32Array {
  const inTrain = new Set<number>();
  const { user, item, length } = train.interactions;
  const nI = full.nItems;
  for (let k = 0; k < length; k++) inTrain.add(user[k]! * nI + item[k]!);
  const next = new Int32Array(full.nUsers).fill(-1);
  const when = new Float64Array(full.nUsers).fill(Infinity);
  const f = full.interactions;
  for (let k = 0; k < f.length; k++) {
    const u = f.user[k]!;
    const i = f.item[k]!;
    if (inTrain.has(u * nI + i)) continue;
    const t = Number.isFinite(f.timestamp[k]!) ? f.timestamp[k]! : k;
    if (t < when[u]!) (when[u] = t), (next[u] = i);
  }
  return next;
}

export async function runLlmFidelity(o: FidelityOptions): Promise<FidelityResult> {
  const { full, train, world: w, config: cfg } = o;
  const K = o.slateSize ?? cfg.slateSize;
  const seed = o.seed ?? 0;
  const rng = new Rng(seed);
  const next = nextItems(full, train);
  const rated = full.byUser();
  const counts = new Int32Array(full.nItems);
  for (let k = 0; k < train.interactions.length; k++) counts[train.interactions.item[k]!]!++;
  const chosen: number[] = [];
  for (let u = 0; u < full.nUsers && chosen.length < (o.users ?? 100); u++) {
    if (next[u]! >= 0 && train.byUser().indptr[u + 1]! > train.byUser().indptr[u]!) chosen.push(u);
  }
  // Slates first, from one seeded stream, so that they do not depend on the model's timing.
  const slates = chosen.map((u) => {
    const seen = new Set(rated.indices.subarray(rated.indptr[u]!, rated.indptr[u + 1]!));
    const items = [next[u]!];
    while (items.length < K) {
      const i = rng.int(full.nItems);
      if (!seen.has(i) && !items.includes(i)) items.push(i);
    }
    for (let a = items.length - 1; a > 0; a--) {
      const b = rng.int(a + 1);
      [items[a], items[b]] = [items[b]!, items[a]!];
    }
    return items;
  });

  const title = (i: number): string => full.itemMeta[i]?.title ?? full.items.toExternal(i);
  const genres = (i: number): string[] => full.itemMeta[i]?.categories ?? [];
  const llmClicks: string[][] = chosen.map(() => []);
  const llmHit = new Array<number>(chosen.length).fill(0);
  const llmAny = new Array<number>(chosen.length).fill(0);
  let ignored = 0;
  let done = 0;
  let at = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const k = at++;
      if (k >= chosen.length) return;
      const u = chosen[k]!;
      const slate = slates[k]!;
      const shown = slate.map((i) => ({ id: full.items.toExternal(i), title: title(i), genres: genres(i), seen: false }));
      const res = await o.chat.chat({
        messages: [
          { role: 'system', content: USER_SYSTEM_PROMPT },
          { role: 'user', content: userPrompt(userProfile(train, u), [], shown, 0) },
        ],
        schema: userDecisionSchema(K),
        schemaName: 'user_action',
        temperature: 0,
        maxTokens: 200,
      });
      const d = res.json as UserDecision;
      const onSlate = new Set(shown.map((s) => s.id));
      const clicks = [...new Set(d.clicks)].filter((c) => onSlate.has(c) || (ignored++, false));
      const nextId = full.items.toExternal(next[u]!);
      llmClicks[k] = clicks;
      llmAny[k] = clicks.length > 0 ? 1 : 0;
      llmHit[k] = clicks.length > 0 ? (clicks.includes(nextId) ? 1 / clicks.length : 0) : 0;
      o.onProgress?.(++done, chosen.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? 4) }, worker));

  // The parametric user at a session's start: logit over the slate and the no-click option.
  const drift = new Float32Array(w.dim);
  const sat = new Float32Array(w.categoryNames.length);
  const paramHit: number[] = [];
  const paramAny: number[] = [];
  const popHit: number[] = [];
  chosen.forEach((u, k) => {
    const slate = slates[k]!;
    initialSatiation(w, cfg, u, sat, 0);
    const util = slate.map((i, pos) => clickUtility(w, cfg, u, i, pos, drift, 0, sat, 0));
    const top = Math.max(cfg.choice.noClickUtility, ...util);
    const ex = util.map((x) => Math.exp(x - top));
    const z = ex.reduce((a, b) => a + b, Math.exp(cfg.choice.noClickUtility - top));
    paramHit.push(ex[slate.indexOf(next[u]!)]! / z);
    paramAny.push(1 - Math.exp(cfg.choice.noClickUtility - top) / z);
    let best = slate[0]!;
    for (const i of slate) if (counts[i]! > counts[best]!) best = i;
    popHit.push(best === next[u] ? 1 : 0);
  });
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  return {
    users: chosen.length,
    slateSize: K,
    seed,
    chance: 1 / K,
    llm: { hit: meanCi(llmHit), anyClick: mean(llmAny) },
    parametric: { hit: meanCi(paramHit), anyClick: mean(paramAny) },
    popularity: { hit: meanCi(popHit), anyClick: 1 },
    ignoredClicks: ignored,
    slates: chosen.map((u, k) => ({ user: full.users.toExternal(u), next: full.items.toExternal(next[u]!), items: slates[k]!.map((i) => full.items.toExternal(i)), llmClicks: llmClicks[k]! })),
  };
}
