/**
 * The `Agent` conformance suite. Every agent — the classic ones here, the neural agents, and a
 * src/marl team — runs it:
 *
 *   agentContract({ name: 'linucb', ctx, make: (seed) => createAgent('linucb', ctx, { seed }),
 *                   restore: (saved) => restoreAgent(saved, ctx) });
 *
 * It drives the agent with a deterministic synthetic stream of observations and transitions and
 * checks: slates of k distinct valid items outside the history, propensities in (0, 1]; the same
 * seed gives the same slates; save (toJSON → JSON text → parse) and restore gives an agent that
 * acts exactly like the original from then on; evaluation mode still yields valid slates.
 */
import { describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agents/types.js';
import type { AgentContext } from '../../src/agents/state.js';
import type { Observation, Slate } from '../../src/env/types.js';
import { Rng } from '../../src/util/rng.js';
import { parse, stringify } from '../../src/util/serialize.js';

export interface ContractAgent extends Agent {
  setTraining?(on: boolean): void;
}

export interface ContractOptions {
  name: string;
  ctx: AgentContext;
  make(seed: number): ContractAgent;
  restore(saved: ReturnType<Agent['toJSON']>): ContractAgent;
  /** Slate size asked for (default ctx.slateSize). */
  k?: number;
  /** Transitions fed before the save/load check (default 60). */
  warmup?: number;
}

/** Deterministic observation stream: user, a random history, step, context. */
function makeObservation(rng: Rng, ctx: AgentContext, t: number): Observation {
  const len = rng.int(4);
  const history = new Int32Array(len);
  for (let a = 0; a < len; a++) history[a] = rng.int(ctx.items.nItems);
  return { user: rng.int(ctx.nUsers), history, t, context: Float32Array.of(rng.int(2), rng.next()) };
}

/** Feed `n` steps to `agent`; rewards follow a fixed rule so learners have something to learn. Returns the slates. */
export function drive(agent: ContractAgent, ctx: AgentContext, k: number, n: number, seed: number, learn = true): Slate[] {
  const rng = new Rng(seed);
  const out: Slate[] = [];
  let obs = makeObservation(rng, ctx, 0);
  for (let s = 0; s < n; s++) {
    const slate = agent.act(obs, k);
    out.push(slate);
    const clicks = new Int32Array(slate.items.length);
    let reward = 0;
    for (let p = 0; p < slate.items.length; p++) {
      if (slate.items[p]! % 3 === 0 && reward === 0) {
        clicks[p] = 1;
        reward = 1 + (slate.items[p]! % 2);
      }
    }
    const done = s % 7 === 6;
    const next = makeObservation(rng, ctx, done ? 0 : obs.t + 1);
    if (learn) {
      agent.observe({ observation: obs, slate, reward, parts: { R: reward, G: 0, A: 0 }, clicks, next, done });
      agent.update();
    }
    obs = next;
  }
  return out;
}

function slateKey(s: Slate): string {
  return `${Array.from(s.items).join(',')}|${Array.from(s.propensities ?? []).map((x) => x.toFixed(6)).join(',')}`;
}

export function agentContract(o: ContractOptions): void {
  const k = o.k ?? o.ctx.slateSize;
  describe(`Agent contract: ${o.name}`, () => {
    it('returns k distinct valid items outside the history, with propensities in (0, 1]', () => {
      const agent = o.make(1);
      const rng = new Rng(5);
      for (let s = 0; s < 30; s++) {
        const obs = makeObservation(rng, o.ctx, s);
        const slate = agent.act(obs, k);
        expect(slate.items.length).toBe(k);
        expect(new Set(slate.items).size).toBe(k);
        for (const i of slate.items) {
          expect(Number.isInteger(i) && i >= 0 && i < o.ctx.items.nItems).toBe(true);
          expect(Array.from(obs.history)).not.toContain(i);
        }
        expect(slate.propensities?.length).toBe(k);
        for (const p of slate.propensities!) {
          expect(p).toBeGreaterThan(0);
          expect(p).toBeLessThanOrEqual(1 + 1e-6);
        }
      }
    });

    it('gives the same slates for the same seed', () => {
      const a = drive(o.make(7), o.ctx, k, 40, 11).map(slateKey);
      const b = drive(o.make(7), o.ctx, k, 40, 11).map(slateKey);
      expect(a).toEqual(b);
    });

    it('saves to JSON and restores to an agent that acts identically', () => {
      const a = o.make(3);
      drive(a, o.ctx, k, o.warmup ?? 60, 21);
      const saved = a.toJSON();
      expect(saved.kind).toBe(a.name);
      expect(typeof saved.version).toBe('number');
      const b = o.restore(parse(stringify(saved)) as ReturnType<Agent['toJSON']>);
      const after = (x: ContractAgent) => drive(x, o.ctx, k, 25, 31).map(slateKey);
      expect(after(b)).toEqual(after(a));
    });

    it('still returns valid slates in evaluation mode', () => {
      const agent = o.make(2);
      drive(agent, o.ctx, k, 20, 41);
      agent.setTraining?.(false);
      const slates = drive(agent, o.ctx, k, 10, 43, false);
      for (const s of slates) {
        expect(s.items.length).toBe(k);
        expect(new Set(s.items).size).toBe(k);
      }
    });
  });
}
