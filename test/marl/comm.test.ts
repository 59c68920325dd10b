import { describe, expect, it } from 'vitest';
import { LinearValue } from '../../src/marl/mixer.js';
import { CommMessages } from '../../src/marl/messages.js';
import type { CommMode } from '../../src/marl/modes/index.js';
import { TeamAgent, TEAM_DEFAULTS } from '../../src/marl/team.js';
import { createAgent, restoreAgent } from '../../src/agents/registry.js';
import { registerTeam } from '../../src/marl/register.js';
import type { Observation } from '../../src/env/types.js';
import { Rng } from '../../src/util/rng.js';
import { toyContext } from '../agents/toy-context.js';

registerTeam();

describe('learned messages (comm)', () => {
  it('gradients match finite differences for every encoder and read-out weight', () => {
    const rng = new Rng(5);
    const dims = [3, 2, 4];
    const msgs = new CommMessages(dims, 3, 0.01, rng);
    for (let j = 0; j < msgs.params.length; j++) msgs.params[j] = rng.normal();
    const F = dims.map((d) => Float64Array.from({ length: d }, () => rng.normal()));
    const offs = [0, 0, 0];
    const w = [0.7, -1.3, 0.4];
    const out = new Float64Array(3);
    const loss = (): number => {
      msgs.messageValues(F, offs, out, 0);
      return w[0]! * out[0]! + w[1]! * out[1]! + w[2]! * out[2]!;
    };
    msgs.grads.fill(0);
    msgs.accumulate(F, offs, w);
    const analytic = Float64Array.from(msgs.grads);
    const h = 1e-6;
    let worst = 0;
    for (let j = 0; j < msgs.params.length; j++) {
      const x = msgs.params[j]!;
      msgs.params[j] = x + h;
      const lp = loss();
      msgs.params[j] = x - h;
      const lm = loss();
      msgs.params[j] = x;
      const num = (lp - lm) / (2 * h);
      worst = Math.max(worst, Math.abs(analytic[j]! - num) / (1 + Math.abs(num)));
    }
    expect(worst).toBeLessThan(1e-6);
    expect(analytic.filter((g) => g !== 0).length).toBe(msgs.params.length);
  });

  /**
   * Two agents each see one signal of an item (x_1 or x_2, with a constant); the team's value is
   * their product x_1·x_2 — worth something only when both agents' signals agree in sign. No sum of
   * one-agent values fits it (VDN's best is the mean); with learned messages, each agent reads the
   * other's message about the item and the team value holds the product.
   */
  it('fits a team value that needs what the other agent sees (x1·x2), which VDN cannot', () => {
    function fit(kind: 'comm' | 'vdn', seed: number): number {
      const rng = new Rng(seed);
      const agents = [new LinearValue(2, 0.02), new LinearValue(2, 0.02)];
      const msgs = new CommMessages([2, 2], 2, 0.01, new Rng(seed + 50));
      const part = new Float64Array(2);
      const predict = (F: Float64Array[]): number => {
        if (kind === 'comm') msgs.messageValues(F, [0, 0], part, 0);
        return agents[0]!.value(F[0]!) + agents[1]!.value(F[1]!) + (kind === 'comm' ? part[0]! + part[1]! : 0);
      };
      const draw = (): { F: Float64Array[]; y: number } => {
        const x1 = rng.normal();
        const x2 = rng.normal();
        return { F: [Float64Array.of(x1, 1), Float64Array.of(x2, 1)], y: x1 * x2 + 0.5 * x1 };
      };
      for (let t = 0; t < 6000; t++) {
        const { F, y } = draw();
        const err = y - predict(F);
        const norm = 1 + agents[0]!.sq(F[0]!, 0) + agents[1]!.sq(F[1]!, 0);
        agents.forEach((a, k) => a.accumulate(F[k]!, 0, err, 1, norm));
        if (kind === 'comm') {
          const e = Math.max(-2, Math.min(2, err));
          msgs.accumulate(F, [0, 0], [-e, -e]);
          msgs.step();
        }
        for (const a of agents) a.apply();
      }
      let mse = 0;
      for (let t = 0; t < 2000; t++) {
        const { F, y } = draw();
        mse += (y - predict(F)) ** 2 / 2000;
      }
      return mse;
    }
    for (const seed of [1, 2, 3]) {
      const c = fit('comm', seed);
      const v = fit('vdn', seed);
      // E[(x1·x2)²] = 1 is what no additive model removes.
      expect(v).toBeGreaterThan(0.8);
      expect(c).toBeLessThan(0.25 * v);
    }
  });
});

describe('comm team', () => {
  const ctx = toyContext({ nItems: 40, slateSize: 5 });

  it('learns its messages from the team reward: encoders and read-outs move, and the agents read them', () => {
    const t = new TeamAgent(ctx, { seed: 3, ...TEAM_DEFAULTS, coordination: 'comm' });
    const msgs = (t.mode as CommMode).messages;
    const p0 = Float64Array.from(msgs.params);
    const rng = new Rng(2);
    for (let s = 0; s < 60; s++) {
      const obs: Observation = { user: rng.int(8), history: Int32Array.of(rng.int(40)), t: s };
      const slate = t.act(obs, 5);
      const clicks = Int32Array.from(slate.items, (i) => (i % 3 === 0 ? 1 : 0));
      const R = clicks.reduce((a, b) => a + b, 0);
      t.observe({ observation: obs, slate, reward: R, parts: { R, G: 0, A: 0 }, clicks, next: obs, done: true });
      t.update();
    }
    let moved = 0;
    for (let j = 0; j < p0.length; j++) moved = Math.max(moved, Math.abs(msgs.params[j]! - p0[j]!));
    expect(moved).toBeGreaterThan(1e-3);
    // The read-outs started at 0 (the team started as VDN); they no longer are, so the agents'
    // values now depend on the others' messages.
    const readOuts = Array.from(msgs.params).filter((_, j) => p0[j] === 0);
    expect(readOuts.length).toBeGreaterThan(0);
    expect(Math.max(...readOuts.map(Math.abs))).toBeGreaterThan(1e-3);
    t.setTraining(false);
    const obs: Observation = { user: 1, history: Int32Array.of(3), t: 0 };
    const ex = t.explain(obs, t.act(obs, 5));
    for (const e of ex) expect(Math.abs(Object.values(e.contributions).reduce((a, b) => a + b, 0) - e.score)).toBeLessThan(1e-12);
  });

  it('refuses a team saved when "comm" named the value-sharing mode, and says how to load it', () => {
    const saved = createAgent('team', ctx, { seed: 1, coordination: 'value-sharing' }).toJSON();
    const renamed = { ...saved, config: { ...(saved.config as Record<string, unknown>), coordination: 'comm' } };
    expect(() => restoreAgent(renamed, ctx)).toThrow(/value-sharing/);
  });
});
