import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PopularityAgent } from '../../src/agents/popularity.js';
import { createAgent, restoreAgent } from '../../src/agents/registry.js';
import type { Observation } from '../../src/env/types.js';
import { BcAgent, BC_DEFAULTS } from '../../src/ope/learn/bc.js';
import { CqlAgent, CQL_DEFAULTS, type CqlConfig } from '../../src/ope/learn/cql.js';
import { registerOfflineAgents } from '../../src/ope/learn/register.js';
import { readSessionLog, writeSessionLog, type LoggedStep, type SessionLog } from '../../src/ope/learn/session-log.js';
import { Rng } from '../../src/util/rng.js';
import { parse, stringify } from '../../src/util/serialize.js';
import type { SavedAgent } from '../../src/agents/base.js';
import { toyContext as banditContext } from '../agents/toy-context.js';
import { K, runEpisodes, toyContext, ToyEnv } from '../agents/neural-toy.js';

const STATE = { contextDim: 3 };

/**
 * Sessions of the toy task (test/agents/neural-toy.ts) logged by a uniformly random slate policy
 * over the first `support` items (the others never appear in the log).
 */
function randomLog(episodes: number, seed: number, support = 24): SessionLog {
  const env = new ToyEnv();
  const rng = new Rng(seed);
  const steps: LoggedStep[] = [];
  for (let e = 0; e < episodes; e++) {
    let obs = env.reset(seed * 1000 + e);
    for (;;) {
      const items = new Int32Array(K);
      for (let p = 0; p < K; p++) {
        let i: number;
        do i = rng.int(support);
        while (obs.history.includes(i) || items.subarray(0, p).includes(i));
        items[p] = i;
      }
      const r = env.step({ items });
      const rewards = Float32Array.from(r.info.clicks);
      steps.push({ obs, items, propensities: new Float32Array(K).fill(1 / support), rewards, reward: r.reward, next: r.observation, done: r.done });
      obs = r.observation;
      if (r.done) break;
    }
  }
  return { behaviour: 'random', steps };
}

function cql(config: Partial<CqlConfig>): CqlAgent {
  return new CqlAgent(toyContext(), { seed: 5, ...CQL_DEFAULTS, hidden: [32], lr: 3e-3, steps: 300, batchSize: 16, negatives: 10, randomNegatives: 5, nextCandidates: 10, state: STATE, ...config });
}

describe('behaviour cloning', () => {
  it('reproduces a deterministic behaviour policy’s slates on states it was not trained on', () => {
    const ctx = banditContext({ nItems: 40, slateSize: 5 });
    // Distinct popularity, so the behaviour (most popular unseen items) has no ties.
    const order = Array.from({ length: 40 }, (_, i) => i);
    new Rng(11).shuffle(order);
    order.forEach((i, rank) => (ctx.items.popularity[i] = 5 + 3 * rank));
    const behaviour = new PopularityAgent(ctx, { seed: 1 });
    const rng = new Rng(4);
    const state = (): Observation => {
      const h = new Set<number>();
      const len = rng.int(6);
      while (h.size < len) h.add(rng.int(40));
      return { user: rng.int(ctx.nUsers), history: Int32Array.from(h), t: len };
    };
    const steps: LoggedStep[] = [];
    for (let s = 0; s < 400; s++) {
      const obs = state();
      const sl = behaviour.act(obs, 5);
      steps.push({ obs, items: sl.items, propensities: new Float32Array(5).fill(1), rewards: new Float32Array(5), reward: 0, next: obs, done: true });
    }
    const bc = new BcAgent(ctx, { seed: 2, ...BC_DEFAULTS, hidden: [16], lr: 1e-2, steps: 400, batchSize: 16 }).fit({ behaviour: 'popularity', steps });
    bc.setTraining(false);
    let same = 0;
    let first = 0;
    const trials = 100;
    for (let s = 0; s < trials; s++) {
      const obs = state();
      const want = [...behaviour.act(obs, 5).items];
      const got = [...bc.act(obs, 5).items];
      if (got[0] === want[0]) first++;
      same += got.filter((i) => want.includes(i)).length / 5;
    }
    expect(first / trials).toBeGreaterThanOrEqual(0.95);
    expect(same / trials).toBeGreaterThanOrEqual(0.95);
  });
});

describe('offline agents act over what the log showed', () => {
  it('the most logged items join the candidates even where the prior ranks them low', () => {
    const ctx = banditContext({ nItems: 40, slateSize: 5 });
    const rng = new Rng(8);
    const state = (): Observation => ({ user: rng.int(ctx.nUsers), history: new Int32Array(0), t: 0 });
    const favourites = Int32Array.from([30, 31, 32, 33, 34]);
    const steps: LoggedStep[] = Array.from({ length: 200 }, () => {
      const obs = state();
      return { obs, items: favourites, propensities: new Float32Array(5).fill(1), rewards: new Float32Array(5), reward: 0, next: obs, done: true };
    });
    const fit = (logCandidates: number) =>
      new BcAgent(ctx, { seed: 2, ...BC_DEFAULTS, candidates: 5, randomCandidates: 0, negatives: 5, randomNegatives: 5, logCandidates, hidden: [16], lr: 1e-2, steps: 300 }).fit({ behaviour: 'fixed', steps });
    const wide = fit(10);
    const narrow = fit(0);
    let wideHits = 0;
    let narrowHits = 0;
    for (let s = 0; s < 20; s++) {
      const obs = state();
      wideHits += [...wide.act(obs, 5).items].filter((i) => favourites.includes(i)).length;
      narrowHits += [...narrow.act(obs, 5).items].filter((i) => favourites.includes(i)).length;
    }
    expect(wideHits).toBe(100);
    // Only the prior's top 5 per user: the favourites show up only where the prior ranks them there.
    expect(narrowHits).toBeLessThan(50);
  });
});

describe('conservative Q-learning', () => {
  const log = randomLog(200, 1);

  it('the conservative term lowers Q of the actions the log does not show, relative to the logged ones', () => {
    // Items 12..23 never appear in this log; the network still scores them from their features.
    const skewed = randomLog(200, 1, 12);
    const plain = cql({ alpha: 0 }).fit(skewed);
    const conservative = cql({ alpha: 1 }).fit(skewed);
    const inLog = Int32Array.from({ length: 12 }, (_, i) => i);
    const notInLog = Int32Array.from({ length: 12 }, (_, i) => 12 + i);
    const gap = (agent: CqlAgent): number => {
      let g = 0;
      const probe = randomLog(30, 2, 12).steps;
      for (const st of probe) {
        const mean = (q: Float32Array): number => q.reduce((a, b) => a + b, 0) / q.length;
        g += mean(agent.scores(st.obs, notInLog)) - mean(agent.scores(st.obs, inLog));
      }
      return g / probe.length;
    };
    // Same init, same batches: only α differs. Unlogged actions end lower under α = 1.
    const a = gap(plain);
    const b = gap(conservative);
    expect(b).toBeLessThan(a - 0.1);
    expect(b).toBeLessThan(0);
  });

  it('learns from random logs a policy that beats the logging policy on-policy', () => {
    const agent = cql({ alpha: 0.5, steps: 600 }).fit(randomLog(300, 3));
    agent.setTraining(false);
    const learned = runEpisodes(agent, new ToyEnv(), 60, 5000, false);
    // A random slate earns ≈ 2 per session here; the optimum is 6.
    expect(learned).toBeGreaterThan(4.5);
  });

  it('the same seed gives the same parameters; another seed others', () => {
    const a = cql({ steps: 50 }).fit(log);
    const b = cql({ steps: 50 }).fit(log);
    const c = cql({ steps: 50, seed: 6 }).fit(log);
    expect(Buffer.from(a.q.params.buffer).equals(Buffer.from(b.q.params.buffer))).toBe(true);
    expect(Buffer.from(a.q.params.buffer).equals(Buffer.from(c.q.params.buffer))).toBe(false);
  });

  it('is registered, learns from a log file on its first act, and restores without training again', () => {
    registerOfflineAgents();
    registerOfflineAgents(); // a second call does nothing
    const file = join(mkdtempSync(join(tmpdir(), 'chorus-cql-')), 'log.jsonl');
    writeSessionLog(file, log);
    expect(readSessionLog(file).steps.length).toBe(log.steps.length);
    const config = { hidden: [32], steps: 40, negatives: 10, randomNegatives: 5, nextCandidates: 10, state: STATE, log: file };
    const agent = createAgent('cql', toyContext(), { ...config, seed: 3 });
    agent.setTraining(false);
    const obs = new ToyEnv().reset(1);
    const slate = agent.act(obs, K);
    const saved = parse(stringify(agent.toJSON())) as SavedAgent & { config: Record<string, unknown> };
    // The file is gone from the config: a restored agent must not need (or re-learn) it.
    const restored = restoreAgent({ ...saved, config: { ...saved.config, log: join(file, 'missing') } }, toyContext());
    restored.setTraining(false);
    expect([...restored.act(obs, K).items]).toEqual([...slate.items]);
    expect(() => createAgent('bc', toyContext(), { log: join(file, 'missing'), state: STATE }).act(obs, K)).toThrow(/cannot read the session log/);
  });
});
