/** LLM-played users (src/env/llm-users.ts) against the local test server, and `simulate --users llm` end to end. */
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LlmUserVecEnv, userProfile } from '../../src/env/llm-users.js';
import { runSimulation } from '../../src/eval/sim/simulate.js';
import { ChatCache } from '../../src/llm/cache.js';
import { HttpChatProvider } from '../../src/llm/http.js';
import { ManagedChat } from '../../src/llm/managed.js';
import { runCli, tempDir, writeTinyMovieLens } from '../cli/helpers.js';
import { toyWorld } from '../env/toy-world.js';
import { FakeLlmServer } from '../fixtures/llm/server.js';

let server: FakeLlmServer;
beforeAll(async () => {
  server = await new FakeLlmServer().start();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

const chatFor = (cache?: ChatCache): ManagedChat => new ManagedChat(new HttpChatProvider({ baseUrl: server.url, model: 'fake-user' }), { backoffMs: 5, ...(cache ? { cache } : {}) });

describe('LlmUserVecEnv', () => {
  const { world, config, train } = toyWorld();

  it('profiles a user from their train ratings', () => {
    const u = world.users[0]!;
    const p = userProfile(train, u);
    const csr = train.byUser();
    expect(p.nRated).toBe(csr.indptr[u + 1]! - csr.indptr[u]!);
    expect(p.topGenres.length).toBeGreaterThan(0);
    // Every liked title was rated ≥ 4 by this user in the train split.
    const ratedTitles = new Map<string, number>();
    for (let k = csr.indptr[u]!; k < csr.indptr[u + 1]!; k++) ratedTitles.set(train.itemMeta[csr.indices[k]!]!.title!, csr.values[k]!);
    for (const t of p.liked) expect(ratedTitles.get(t)).toBeGreaterThanOrEqual(4);
    for (const t of p.disliked) expect(ratedTitles.get(t)).toBeLessThanOrEqual(2.5);
  });

  it('shows profile, memory and slate; clicks what the model chose; pays the rating family\'s reward', async () => {
    const env = new LlmUserVecEnv(world, config, 2, { chat: chatFor(), train });
    const obs = env.reset(3);
    expect(() => env.step()).toThrow(/stepAsync/);
    const ids = train.items.ids();
    const K = config.slateSize;
    // Per slot: K − 1 items in none of the user's favourite genres, then an unwatched item of the first one.
    const slates = new Int32Array(2 * K).fill(-1);
    const fav: string[] = [];
    for (let s = 0; s < 2; s++) {
      const p = env.profileOf(env.userOf(s));
      fav.push(p.topGenres[0]!);
      const genres = (i: number): string[] => train.itemMeta[i]!.categories ?? [];
      let k = 0;
      for (let i = 0; i < world.nItems && k < K - 1; i++) if (!genres(i).some((g) => p.topGenres.includes(g))) slates[s * K + k++] = i;
      for (let i = world.nItems - 1; i >= 0; i--) {
        if (genres(i).includes(p.topGenres[0]!) && !obs[s]!.history.includes(i)) {
          slates[s * K + K - 1] = i;
          break;
        }
      }
    }
    const req = env.request(0, slates.subarray(0, K));
    const prompt = req.messages[1]!.content;
    expect(prompt).toContain(`favourite genres: ${env.profileOf(env.userOf(0)).topGenres.join(', ')}`);
    expect(prompt).toContain('This session has just started.');
    expect(prompt).toContain(`- id ${ids[slates[0]!]}: ${train.itemMeta[slates[0]!]!.title}`);
    const r = await env.stepAsync(slates);
    for (let s = 0; s < 2; s++) {
      // The fake model opens the first unwatched favourite-genre item (the last of each slate) and rates it 4.
      const clicked = Array.from(r.clicks.subarray(s * K, s * K + K));
      const nClicks = clicked.reduce((a, b) => a + b, 0);
      expect(nClicks).toBe(1);
      const G = Array.from(slates.subarray(s * K, s * K + K)).reduce((a, i) => a + world.exposureValue[i]!, 0) / K;
      const A = Array.from(slates.subarray(s * K, s * K + K)).reduce((a, i) => a + world.attract[i]!, 0) / K;
      expect(r.G[s]).toBeCloseTo(G, 5);
      expect(r.A[s]).toBeCloseTo(A, 5);
      const bought = r.purchases.subarray(s * K, s * K + K).reduce((a, b) => a + b, 0);
      const R = config.reward.click + config.reward.purchase * bought + (config.reward.rating * (4 - 3)) / 2;
      expect(r.R[s]).toBeCloseTo(R, 6);
      expect(r.rewards[s]).toBeCloseTo(R + config.reward.lambda * G + config.reward.alpha * A, 5);
      expect(clicked[K - 1]).toBe(1);
      expect(r.ratings[s * K + K - 1]).toBe(4);
      expect(env.reasonOf(s)).toBe(`likes ${fav[s]}`);
      // The click joined the history the agent observes.
      expect(r.observations[s]!.history.at(-1)).toBe(slates[s * K + K - 1]);
    }
    // The next prompt remembers page 1.
    const again = env.request(0, slates.subarray(0, K)).messages[1]!.content;
    expect(r.done[0]).toBe(0);
    expect(again).toContain(`you opened ${train.itemMeta[slates[K - 1]!]!.title} (rated 4)`);
    expect(again).toContain(`(already watched)`);
  });

  it('ends sessions the model leaves and restarts them (auto-reset)', async () => {
    const env = new LlmUserVecEnv(world, config, 4, { chat: chatFor(), train });
    env.reset(5);
    const K = config.slateSize;
    let finished = 0;
    // The fake model leaves after 3 pages at the latest.
    for (let t = 0; t < 4; t++) {
      const slates = new Int32Array(4 * K);
      for (let x = 0; x < slates.length; x++) slates[x] = (x * 7 + t * 3) % world.nItems;
      const r = await env.stepAsync(slates);
      for (let s = 0; s < 4; s++) if (r.done[s]) (finished++, expect(r.episodeLength[s]).toBeLessThanOrEqual(4));
    }
    expect(finished).toBeGreaterThanOrEqual(4);
    expect(env.stats.decisions).toBe(16);
  });
});

describe('simulate with LLM users', () => {
  it('linucb, 200 steps, 1 seed, 20 sessions: completes, reports totals; a rerun with the cache makes no model call', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir, 30, 60, 3);
    const file = join(dir, 'chat.sqlite');
    const base = { preset: 'sim-ml-ls-v1', dataDir: dir, agent: 'linucb', trainSteps: 200, seeds: 1, evalSessions: 20, workers: 1 };
    const cache1 = new ChatCache(file);
    const first = await runSimulation({ ...base, llmUsers: { chat: chatFor(cache1) } });
    cache1.close();
    expect(first.llm).toBeDefined();
    expect(first.llm!.calls).toBeGreaterThan(200);
    expect(first.llm!.calls).toBe(first.llm!.cacheHits + first.llm!.modelCalls);
    expect(first.llm!.modelCalls).toBe(server.requests);
    expect(first.llm!.promptTokens).toBe(server.promptTokens);
    expect(first.llm!.completionTokens).toBe(server.completionTokens);
    expect(first.perSeed[0]!.sessions).toBe(20);
    expect(first.ctr).toBeGreaterThan(0);
    const served = server.requests;
    const cache2 = new ChatCache(file);
    const second = await runSimulation({ ...base, llmUsers: { chat: chatFor(cache2) } });
    cache2.close();
    expect(server.requests).toBe(served);
    expect(second.llm).toMatchObject({ calls: first.llm!.calls, cacheHits: first.llm!.calls, modelCalls: 0, promptTokens: 0, completionTokens: 0 });
    expect(second.return).toEqual(first.return);
    expect(second.ctr).toBe(first.ctr);
  });

  it('the CLI: --users llm --llm <url#model> adds "llm" totals to --json, and refuses --llm without --users llm', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir, 30, 60, 4);
    const args = ['simulate', '--users', 'llm', '--llm', `${server.url}#fake-user`, '--llm-cache', join(dir, 'c.sqlite'), '--agent', 'linucb', '--steps', '64', '--seeds', '1', '--eval-sessions', '8', '--data', dir, '--no-report', '--json'];
    const a = await runCli(args);
    expect(a.code, a.stderr).toBe(0);
    const run = JSON.parse(a.stdout).runs[0];
    expect(run.llm).toMatchObject({ model: `http:${server.url}/v1/chat/completions#fake-user`, cacheHits: 0 });
    expect(run.llm.calls).toBeGreaterThan(0);
    expect(run.llm.promptTokens).toBeGreaterThan(0);
    const b = await runCli(args);
    expect(JSON.parse(b.stdout).runs[0].llm).toMatchObject({ calls: run.llm.calls, cacheHits: run.llm.calls, modelCalls: 0 });
    const bad = await runCli(['simulate', '--llm', `${server.url}#x`, '--data', dir, '--json']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--users llm/);
  });
});
