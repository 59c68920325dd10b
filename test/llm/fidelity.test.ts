/**
 * The LLM-user fidelity protocol (src/eval/sim/llm-fidelity.ts) against the local test server,
 * whose "model" clicks the first slate item sharing a genre with the profile's favourites: the
 * reported hit share must equal what that rule gives on the very slates shown, the slates must hold
 * each user's next item among items they never rated, and the command prints the documented JSON.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userProfile } from '../../src/env/llm-users.js';
import { clickUtility, initialSatiation } from '../../src/env/world.js';
import { loadSimData } from '../../src/eval/sim/data.js';
import { buildSetup } from '../../src/eval/sim/setup.js';
import { nextItems } from '../../src/eval/sim/llm-fidelity.js';
import { runCli, tempDir, writeTinyMovieLens } from '../cli/helpers.js';
import { FakeLlmServer } from '../fixtures/llm/server.js';

let server: FakeLlmServer;
beforeAll(async () => {
  server = await new FakeLlmServer().start();
});
afterAll(async () => {
  await server.close();
});

describe('LLM-user fidelity', () => {
  const dir = tempDir('chorus-fidelity-');
  writeTinyMovieLens(dir, 40, 80, 5);

  it('shows each user their next item among unrated ones, and scores the model by its own clicks', async () => {
    const { code, stdout, stderr } = await runCli(['simulate', '--users', 'llm', '--llm', `${server.url}#fake-user`, '--llm-cache', 'none', '--fidelity', '25', '--data', dir, '--json']);
    expect(stderr).not.toMatch(/chorus:/);
    expect(code).toBe(0);
    const doc = JSON.parse(stdout);
    const r = doc.fidelity;
    expect(r.users).toBe(25);
    expect(r.slateSize).toBe(10);
    expect(r.chance).toBeCloseTo(0.1);
    expect(doc.llm.calls).toBe(25);
    expect(doc.llm.modelCalls).toBe(25);

    const data = await loadSimData(dir);
    const next = nextItems(data.full, data.train);
    const rated = data.full.byUser();
    let expected = 0;
    let popExpected = 0;
    // Popularity clicks the slate's most-rated item in the train split (the first such in slate order).
    const counts = new Map<string, number>();
    for (let k = 0; k < data.train.interactions.length; k++) {
      const id = data.train.items.toExternal(data.train.interactions.item[k]!);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const s of r.slates) {
      const u = data.full.users.toIndex(s.user)!;
      expect(s.next).toBe(data.full.items.toExternal(next[u]!));
      expect(s.items).toHaveLength(10);
      expect(new Set(s.items).size).toBe(10);
      expect(s.items).toContain(s.next);
      const seen = new Set(Array.from(rated.indices.subarray(rated.indptr[u]!, rated.indptr[u + 1]!), (i) => data.full.items.toExternal(i)));
      for (const id of s.items) if (id !== s.next) expect(seen.has(id)).toBe(false);
      // The fake model's rule, applied here to the same slate.
      const fav = userProfile(data.train, u).topGenres;
      const pick = s.items.find((id: string) => (data.full.itemMeta[data.full.items.toIndex(id)!]?.categories ?? []).some((g) => fav.includes(g)));
      expect(s.llmClicks).toEqual(pick ? [pick] : []);
      if (pick === s.next) expected++;
      let top = s.items[0] as string;
      for (const id of s.items as string[]) if ((counts.get(id) ?? 0) > (counts.get(top) ?? 0)) top = id;
      if (top === s.next) popExpected++;
    }
    expect(r.llm.hit.mean).toBeCloseTo(expected / 25, 12);
    // The parametric user's figure is the logit click probability of the next item, recomputed
    // here from the preset's world for every slate.
    const { preset } = await buildSetup({ preset: 'sim-ml-ls-v1', dataDir: dir });
    const { world: w, config: cfg } = preset;
    const drift = new Float32Array(w.dim);
    const sat = new Float32Array(w.categoryNames.length);
    let paramSum = 0;
    for (const s of r.slates) {
      const u = data.full.users.toIndex(s.user)!;
      initialSatiation(w, cfg, u, sat, 0);
      const ex = (s.items as string[]).map((id, pos) => Math.exp(clickUtility(w, cfg, u, data.full.items.toIndex(id)!, pos, drift, 0, sat, 0)));
      const z = ex.reduce((a, b) => a + b, Math.exp(cfg.choice.noClickUtility));
      paramSum += ex[(s.items as string[]).indexOf(s.next)]! / z;
    }
    expect(r.parametric.hit.mean).toBeCloseTo(paramSum / 25, 9);
    expect(r.parametric.hit.mean).toBeGreaterThan(0);
    expect(r.parametric.hit.mean).toBeLessThan(1);
    expect(r.parametric.anyClick).toBeGreaterThan(0);
    expect(r.parametric.anyClick).toBeLessThan(1);
    expect(r.popularity.hit.mean).toBeCloseTo(popExpected / 25, 12);
  });

  it('refuses --fidelity without LLM users', async () => {
    const r = await runCli(['simulate', '--fidelity', '--data', dir]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--fidelity measures LLM-played users/);
  });

  it("a user's next item is their earliest held-out interaction", async () => {
    const data = await loadSimData(dir);
    const next = nextItems(data.full, data.train);
    const f = data.full.interactions;
    const trainPairs = new Set<string>();
    for (let k = 0; k < data.train.interactions.length; k++) trainPairs.add(`${data.train.interactions.user[k]}:${data.train.interactions.item[k]}`);
    for (let u = 0; u < data.full.nUsers; u++) {
      let best = -1;
      let when = Infinity;
      for (let k = 0; k < f.length; k++) {
        if (f.user[k] !== u || trainPairs.has(`${u}:${f.item[k]}`)) continue;
        if (f.timestamp[k]! < when) (when = f.timestamp[k]!), (best = f.item[k]!);
      }
      expect(next[u]).toBe(best);
    }
  });
});
