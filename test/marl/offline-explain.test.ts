import { beforeAll, describe, expect, it } from 'vitest';
import { registerTeam } from '../../src/marl/register.js';
import { Dataset, datasetFromTriples, type ItemMeta } from '../../src/data/dataset.js';
import { canExplain, EXPLAIN_COLD_THRESHOLD } from '../../src/marl/offline-explain.js';
import { TeamBlendRecommender } from '../../src/marl/team-blend.js';
import { HybridRecommender } from '../../src/recommenders/hybrid.js';
import { ItemKnn } from '../../src/recommenders/knn.js';
import { createRecommender, restoreRecommender } from '../../src/recommenders/registry.js';
import { deserializeModel, serializeModel } from '../../src/recommenders/persist.js';
import type { Recommender, SavedModel } from '../../src/recommenders/types.js';
import { Rng } from '../../src/util/rng.js';

// The team is not in the agent and recommender registries until asked for (as the CLI does).
registerTeam();

const DAY = 86400;

/**
 * 40 users × 29 titled items in two taste groups with genres: items i0–i13 are Sci-Fi (with Action
 * or Drama), i15–i29 Comedy (with Romance or Drama). Users 0–19 rate 6–9 Sci-Fi items and one
 * comedy, users 20–39 the reverse, on days 0–~60. Item "i29" is new: only two ratings, on days
 * 100–101 (the newest interaction is on day 102), so it is "new this week" with few ratings.
 */
function explainData(): Dataset {
  const rng = new Rng(5);
  const triples: [string, string, number, number][] = [];
  for (let u = 0; u < 40; u++) {
    const own = u < 20 ? 0 : 15;
    const other = u < 20 ? 15 : 0;
    const pool = rng.shuffle(Array.from({ length: 14 }, (_, j) => own + j)); // never item 29
    const picks = [...pool.slice(0, 6 + rng.int(4)), other + rng.int(14)];
    let day = rng.int(10);
    for (const i of picks) {
      triples.push([`u${u}`, `i${i}`, 3 + rng.int(3), 1_600_000_000 + day * DAY]);
      day += 1 + rng.int(6);
    }
  }
  triples.push(['u20', 'i29', 5, 1_600_000_000 + 100 * DAY], ['u21', 'i29', 4, 1_600_000_000 + 101 * DAY], ['u22', 'i15', 4, 1_600_000_000 + 102 * DAY]);
  const base = datasetFromTriples(triples, 'explain');
  const itemMeta: ItemMeta[] = base.items.ids().map((id) => {
    const i = Number(id.slice(1));
    const categories = i < 15 ? ['Sci-Fi', i % 2 ? 'Action' : 'Drama'] : ['Comedy', i % 2 ? 'Romance' : 'Drama'];
    return { title: `Film ${i} (${1990 + i})`, categories };
  });
  return new Dataset({ name: base.name, users: base.users, items: base.items, interactions: base.interactions, eventTypes: base.eventTypes, itemMeta });
}

/** The user's training items (indices), from the data. */
function history(data: Dataset, u: number): number[] {
  const csr = data.byUser();
  return Array.from(csr.indices.subarray(csr.indptr[u]!, csr.indptr[u + 1]!));
}

const SMALL = { extras: ['itemknn'], tuneUsers: 20, tuneStep: 0.25 };

describe('TeamBlendRecommender.explain', () => {
  let data: Dataset;
  let team: TeamBlendRecommender;
  beforeAll(async () => {
    data = explainData();
    team = new TeamBlendRecommender(SMALL);
    await team.fit(data);
  });

  it('gives per-agent contributions that add up to the fused score, each weight × a per-user z-score', () => {
    expect(canExplain(team)).toBe(true);
    const all = Array.from({ length: data.nItems }, (_, i) => i);
    const weights = team.weights;
    for (const u of [0, 7, 25, 39]) {
      const scores = team.scoreAll(u);
      const ex = team.explain(u, all);
      expect(ex).toHaveLength(data.nItems);
      const sumZ: Record<string, number> = {};
      for (const e of ex) {
        expect(Object.keys(e.contributions)).toEqual(['user', 'itemknn', 'content', 'item']);
        const sum = Object.values(e.contributions).reduce((a, b) => a + b, 0);
        expect(Math.abs(sum - e.score)).toBeLessThan(1e-5 * Math.max(1, Math.abs(e.score)));
        expect(e.score).toBe(scores[e.item]!);
        for (const [a, c] of Object.entries(e.contributions)) if (weights[a]! > 0) sumZ[a] = (sumZ[a] ?? 0) + c / weights[a]!;
      }
      // Every item here has training interactions, so each member's normalised scores are z-scores
      // over all items: contribution / weight averages 0 for every agent with weight.
      expect(Object.keys(sumZ).length).toBeGreaterThan(0);
      for (const s of Object.values(sumZ)) expect(Math.abs(s / data.nItems)).toBeLessThan(1e-4);
    }
    // The item agent's score for user 0 and user 25 is the same (it ignores the user), so is its contribution.
    const i = 3;
    expect(team.explain(0, [i])[0]!.contributions.item).toBeCloseTo(team.explain(25, [i])[0]!.contributions.item!, 6);
  });

  it('rank fusions explain by vote terms that also add up to the score', async () => {
    for (const fusion of ['borda', 'rrf'] as const) {
      const t = new TeamBlendRecommender({ ...SMALL, fusion });
      await t.fit(data);
      const top = t.recommend(4, 5).items;
      for (const e of t.explain(4, top)) {
        const sum = Object.values(e.contributions).reduce((a, b) => a + b, 0);
        expect(Math.abs(sum - e.score)).toBeLessThan(1e-6);
        for (const c of Object.values(e.contributions)) expect(c).toBeGreaterThanOrEqual(0); // votes are ≥ 0
      }
    }
  });

  it('names a real history item, the favourite matching genre, the extra member rank and item freshness', () => {
    const titles = data.itemMeta.map((m) => m!.title!);
    for (const u of [2, 30]) {
      const hist = history(data, u);
      const histTitles = new Set(hist.map((j) => titles[j]!));
      const top = team.recommend(u, 6).items;
      for (const e of team.explain(u, top)) {
        const by = (a: string) => e.evidence.filter((x) => x.agent === a).map((x) => x.text);
        const user = by('user');
        expect(user).toHaveLength(1);
        const watched = /^because you watched (.+)$/.exec(user[0]!)?.[1];
        expect(watched && histTitles.has(watched)).toBe(true);
        // The genre named is the item's genre most frequent among the user's training items.
        const genre = /^matches your interest in (.+)$/.exec(by('content')[0]!)?.[1];
        const count = (g: string) => hist.filter((j) => data.itemMeta[j]!.categories!.includes(g)).length;
        const itemGenres = data.itemMeta[e.item]!.categories!;
        expect(genre).toBeDefined();
        expect(itemGenres).toContain(genre);
        expect(count(genre!)).toBe(Math.max(...itemGenres.map(count)));
        expect(by('itemknn')[0]).toMatch(/^itemknn ranks it #\d+ for you$/);
      }
    }
    // The extra agent's rank is its own model's rank: a separately fitted item-kNN (deterministic) agrees.
    const knn = new ItemKnn();
    return knn.fit(data).then(() => {
      const own = knn.recommend(2, 3).items;
      const texts = team.explain(2, own).map((e) => e.evidence.find((x) => x.agent === 'itemknn')!.text);
      expect(texts).toEqual(['itemknn ranks it #1 for you', 'itemknn ranks it #2 for you', 'itemknn ranks it #3 for you']);
    });
  });

  it('tells new and rarely rated items from widely rated ones by the training counts', () => {
    const fresh = data.items.toIndex('i29');
    const counts = data.itemCounts();
    expect(counts[fresh]).toBeLessThan(EXPLAIN_COLD_THRESHOLD);
    const item = team.explain(0, [fresh])[0]!.evidence.filter((x) => x.agent === 'item').map((x) => x.text);
    expect(item).toEqual(['new this week', 'new: few ratings so far']);
    let busiest = 0;
    for (let i = 0; i < counts.length; i++) if (counts[i]! > counts[busiest]!) busiest = i;
    expect(team.explain(0, [busiest])[0]!.evidence.find((x) => x.agent === 'item')!.text).toBe(`widely rated (${counts[busiest]} ratings)`);
  });

  it('survives save and restore, and a file without the evidence state still explains', () => {
    const top = team.recommend(11, 5).items;
    const before = team.explain(11, top);
    const restored = deserializeModel(serializeModel(team));
    expect(canExplain(restored)).toBe(true);
    if (!canExplain(restored)) return;
    expect(restored.explain(11, top)).toEqual(before);
    // A model saved before explanations kept their data: generic texts, same contributions.
    const saved = team.toJSON();
    const { evidence: _drop, ...state } = saved.state as Record<string, unknown>;
    const old = deserializeModel(serializeModel({ toJSON: (): SavedModel => ({ ...saved, state }) } as unknown as Recommender));
    if (!canExplain(old)) throw new Error('restored team cannot explain');
    const e = old.explain(11, top);
    expect(e.map((x) => x.contributions)).toEqual(before.map((x) => x.contributions));
    expect(e[0]!.evidence.find((x) => x.agent === 'content')!.text).toBe('similar in content to what you watched');
    expect(e[0]!.evidence.find((x) => x.agent === 'user')!.text).toMatch(/^because you watched item \d+$/);
  });

  it('explains a user given by items (fold-in), and rejects items out of range', () => {
    const hist = history(data, 3).slice(0, 4);
    const [e] = team.explain({ items: Int32Array.from(hist) }, [20]);
    const watched = /^because you watched (.+)$/.exec(e!.evidence[0]!.text)?.[1];
    expect(hist.map((j) => data.itemMeta[j]!.title)).toContain(watched);
    expect(() => team.explain(0, [data.nItems])).toThrow(new RegExp(`item index ${data.nItems} is not in`));
  });

  it('without item factors in the user model, finds the most similar history item by co-occurrence', async () => {
    const t = new TeamBlendRecommender({ user: 'itemknn', extras: [], content: false, item: false, tuneUsers: 10 });
    await t.fit(data);
    expect(t.agentNames).toEqual(['user']);
    const u = 5;
    const hist = history(data, u);
    // The item-kNN user model's top item has co-raters among u's history, so the named item must share users with it.
    const [e] = t.explain(u, [t.recommend(u, 1).items[0]!]);
    const title = /^because you watched (.+)$/.exec(e!.evidence[0]!.text)![1]!;
    const j = hist.find((x) => data.itemMeta[x]!.title === title)!;
    expect(j).toBeDefined();
    const byItem = data.byItem();
    const users = (i: number) => new Set(byItem.indices.subarray(byItem.indptr[i]!, byItem.indptr[i + 1]!));
    const shared = [...users(j)].filter((x) => users(e!.item).has(x)).length;
    expect(shared).toBeGreaterThan(0);
    expect(Object.values(e!.contributions).reduce((a, b) => a + b, 0)).toBeCloseTo(e!.score, 5);
  });

  it('explains an item with no training interaction by the content agent alone, as the fusion scores it', async () => {
    const fresh = data.items.toIndex('i29');
    const keep = Int32Array.from({ length: data.nInteractions }, (_, k) => k).filter((k) => data.interactions.item[k] !== fresh);
    const t = new TeamBlendRecommender(SMALL);
    await t.fit(data.subset(keep));
    const [e] = t.explain(0, [fresh]);
    expect(e!.score).toBe(t.scoreAll(0)[fresh]!);
    expect(Math.abs(Object.values(e!.contributions).reduce((a, b) => a + b, 0) - e!.score)).toBeLessThan(1e-5 * Math.max(1, Math.abs(e!.score)));
    // The fusion scores such an item by the members that cover new items (content) when they have
    // weight, scaled up to the full weight; else (content weighted 0) by all members as usual.
    if (t.weights.content! > 0) {
      expect(e!.contributions.content).not.toBe(0);
      for (const a of ['user', 'itemknn', 'item']) expect(e!.contributions[a]).toBe(0);
    } else expect(e!.contributions.content).toBe(0);
    // Fixed weights exercise the first case for certain: item-kNN and content at 1 each.
    const h = new HybridRecommender({ members: [{ kind: 'itemknn', weight: 1 }, { kind: 'content', weight: 1 }], tune: false }, { create: createRecommender, restore: restoreRecommender });
    await h.fit(data.subset(keep));
    const warmItem = data.items.toIndex('i3');
    const { terms, scores } = h.scoreTerms(0, [fresh, warmItem]);
    const fused = h.scoreAll(0);
    expect(Array.from(scores)).toEqual([fused[fresh], fused[warmItem]]);
    expect(terms[0]).toBe(0); // item-kNN cannot score an item nobody interacted with
    expect(terms[1]).not.toBe(0);
    expect(terms[0]! + terms[1]!).toBeCloseTo(scores[0]!, 5);
    expect(terms[2]! + terms[3]!).toBeCloseTo(scores[1]!, 5);
    expect(terms[2]).not.toBe(0);
    expect(e!.evidence.filter((x) => x.agent === 'item').map((x) => x.text)).toEqual(['new: no ratings yet']);
  });

  it('accepts extras as a comma-separated string (CLI -p) and suffixes repeated agent names', () => {
    expect(new TeamBlendRecommender({ extras: 'ease, itemknn' as unknown as string[] }).agentNames).toEqual(['user', 'ease', 'itemknn', 'content', 'item']);
    expect(new TeamBlendRecommender({ extras: '' as unknown as string[] }).agentNames).toEqual(['user', 'content', 'item']);
    expect(new TeamBlendRecommender({ extras: ['itemknn', 'itemknn'], content: false }).agentNames).toEqual(['user', 'itemknn', 'itemknn#2', 'item']);
  });
});
