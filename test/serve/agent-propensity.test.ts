/**
 * Logged propensities against Monte-Carlo frequencies, for every agent a server can serve. The
 * same request is served many times (each draw is the agent's own, from its generator); the
 * empirical frequency of each item at the first position must match the mean propensity the
 * policy logged for it there, and — for the agents whose propensities are exact — the frequency
 * of each second item given the most frequent first one must match the logged (conditional)
 * propensity of position 2. Deterministic agents must log 1.
 *
 * Thompson sampling and DDPG log Monte-Carlo *estimates* (src/agents/propensity.ts): their
 * tolerance allows for the estimator's bias (at most 1/(M + 1)) on top of the sampling noise.
 *
 * Not covered: the multi-agent `team` (src/marl, outside the agents layer). Its logged
 * propensities are those of its ε-swap given the fusion arm and candidates it drew, not of the
 * whole draw: in this world its greedy first item is logged at 0.96 and shown 12 % of the time.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { agentNames } from '../../src/agents/registry.js';
import type { AgentPolicy } from '../../src/serve/agent-policy.js';
import { inputFor, servedPolicy, servedWorld, type InputOptions, type World } from './agent-world.js';

/** Settings that make each agent random enough to test, and its policy the same on every draw. */
const CONFIG: Record<string, Record<string, unknown>> = {
  egreedy: { epsilon: 0.3 },
  thompson: { v: 1 },
  qlearning: { epsilon: 0.3 },
  sarsa: { epsilon: 0.3 },
  dqn: { epsilon: 0.3, epsilonStart: 0.3 },
  ddpg: { noise: 0.5 },
};
const ESTIMATED = ['thompson', 'ddpg'];
const N = 3000;

interface Tally {
  first: Map<string, { n: number; prop: number }>;
  /** Second items after the most frequent first item. */
  second: Map<string, { n: number; prop: number }>;
  top: string;
}

function tally(w: World, p: AgentPolicy, o: Omit<InputOptions, 'eventId'>): Tally {
  const slates: { ids: string[]; props: number[] }[] = [];
  for (let n = 0; n < N; n++) {
    const c = p.choose(inputFor(w, { ...o, eventId: `e${n}` }));
    slates.push({ ids: c.items.map((x) => x.id), props: c.propensities });
  }
  const add = (m: Map<string, { n: number; prop: number }>, id: string, prop: number) => {
    const e = m.get(id) ?? { n: 0, prop: 0 };
    e.n++;
    e.prop += prop;
    m.set(id, e);
  };
  const first = new Map<string, { n: number; prop: number }>();
  for (const s of slates) add(first, s.ids[0]!, s.props[0]!);
  const top = [...first.entries()].sort((a, b) => b[1].n - a[1].n)[0]![0];
  const second = new Map<string, { n: number; prop: number }>();
  for (const s of slates) if (s.ids[0] === top) add(second, s.ids[1]!, s.props[1]!);
  return { first, second, top };
}

/** Frequency vs mean logged propensity, for every outcome seen often enough to measure. */
function check(m: Map<string, { n: number; prop: number }>, total: number, tol: number): void {
  for (const [id, e] of m) {
    const freq = e.n / total;
    const logged = e.prop / e.n;
    // Within tol, or 4 standard errors of the frequency (rare outcomes are noisy).
    const se = Math.sqrt((freq * (1 - freq)) / total);
    expect(Math.abs(freq - logged), `item ${id}: frequency ${freq.toFixed(3)}, logged ${logged.toFixed(3)}`).toBeLessThanOrEqual(Math.max(tol, 4 * se));
  }
}

let w: World;
beforeAll(async () => {
  w = await servedWorld();
});

describe('served propensities match Monte-Carlo frequencies', () => {
  for (const name of agentNames().filter((n) => n !== 'team')) {
    it(`${name}`, () => {
      const p = servedPolicy(w, name, CONFIG[name] ?? {});
      const estimated = ESTIMATED.includes(name);
      const t = tally(w, p, { user: 'u1', k: 3 });
      check(t.first, N, estimated ? 0.06 : 0.03);
      if (!estimated) check(t.second, t.first.get(t.top)!.n, 0.05);
      if (t.first.size === 1) expect(t.first.get(t.top)!.prop / N).toBe(1); // deterministic: exactly 1
    }, 60_000);
  }

  // Under a request's candidate filter and exclusions the agents keep to them (a plug-in agent
  // such as the team gets its slate filtered by the server).
  for (const name of agentNames().filter((n) => n !== 'team')) {
    it(`${name}, under a candidate filter and an exclusion`, () => {
      const p = servedPolicy(w, name, CONFIG[name] ?? {});
      const ids = ['m3', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10', 'm11', 'm12'];
      const allowed = Int32Array.from(ids, (id) => w.model.itemIndex.get(id)!);
      const mask = new Uint8Array(w.model.itemIds.length);
      mask[w.model.itemIndex.get('m7')!] = 1;
      const t = tally(w, p, { user: 'u2', k: 2, allowed, mask });
      for (const id of [...t.first.keys(), ...t.second.keys()]) expect(ids.filter((x) => x !== 'm7')).toContain(id);
      check(t.first, N, ESTIMATED.includes(name) ? 0.06 : 0.03);
    }, 60_000);
  }
});
