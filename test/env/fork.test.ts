/**
 * Forking a running session (SessionBatch.forkSlot + reseed): the copy must continue exactly as
 * the original would, for both simulator families, or a planner's rollouts are not rollouts of
 * the session it is planning for.
 */
import { describe, expect, it } from 'vitest';
import { buildPreset, createVecEnv, type SimPreset } from '../../src/env/presets.js';
import type { VecStepResult } from '../../src/env/session-batch.js';
import { VecEnv } from '../../src/env/vec-env.js';
import { Rng } from '../../src/util/rng.js';
import { toyWorld } from './toy-world.js';

const toy = toyWorld();

function slates(rng: Rng, n: number, K: number, nItems: number): Int32Array {
  const out = new Int32Array(n * K);
  for (let i = 0; i < out.length; i++) out[i] = rng.int(nItems);
  return out;
}

function snapshot(r: VecStepResult, slot: number, K: number): unknown {
  return {
    reward: r.rewards[slot],
    clicks: Array.from(r.clicks.subarray(slot * K, (slot + 1) * K)),
    done: r.done[slot],
    history: Array.from(r.observations[slot]!.history),
    t: r.observations[slot]!.t,
    context: Array.from(r.observations[slot]!.context ?? []),
    discounted: r.done[slot] ? r.episodeDiscounted[slot] : null,
  };
}

/** Everything a family hides about slot 0, as plain data. */
function hidden(env: ReturnType<typeof createVecEnv>): unknown {
  if (env instanceof VecEnv) {
    const h = env.hiddenState(0);
    return { user: h.user, satiation: Array.from(h.satiation), drift: Array.from(h.drift), history: Array.from(h.history), patience: env.patienceOf(0) };
  }
  const h = env.interestState(0);
  return { user: h.user, interest: Array.from(h.interest), budget: h.budget, history: Array.from(h.history) };
}

describe.each([
  ['sim-ml-ls-v1', buildPreset('sim-ml-ls-v1', toy.full, toy.train)],
  ['sim-ml-ls-v2', buildPreset('sim-ml-ls-v2', toy.full, toy.train)],
  ['sim-interest-v1', buildPreset('sim-interest-v1', toy.full, toy.train)],
] as [string, SimPreset][])('forkSlot on %s', (_name, preset) => {
  const K = preset.config.slateSize;
  const N = preset.world.nItems;

  it('a forked session, reseeded like the original, has the same future step for step', () => {
    // The original, a few steps in (its history, satiation or interests and budget have moved).
    const orig = createVecEnv(preset, 1, { autoReset: false });
    orig.reset(11);
    const warm = new Rng(3);
    for (let k = 0; k < 3; k++) if (orig.step(slates(warm, 1, K, N)).done[0]) return expect.unreachable('toy session ended during warm-up');
    const copy = createVecEnv(preset, 1, { autoReset: false });
    copy.reset(99);
    copy.forkSlot(orig as never, 0, 0);
    expect(hidden(copy)).toEqual(hidden(orig));
    orig.reseed(1234);
    copy.reseed(1234);
    const a = new Rng(8);
    const b = new Rng(8);
    let steps = 0;
    let clicks = 0;
    for (let k = 0; k < 40; k++) {
      const ro = orig.step(slates(a, 1, K, N));
      const want = snapshot(ro, 0, K);
      const rc = copy.step(slates(b, 1, K, N));
      expect(snapshot(rc, 0, K)).toEqual(want);
      steps++;
      clicks += ro.clicks.reduce((x, y) => x + y, 0);
      if (ro.done[0]) break;
    }
    expect(steps).toBeGreaterThan(1);
    expect(clicks).toBeGreaterThan(0);
  });

  it('the fork continues the original session: its history, step and totals carry over, and the original is untouched', () => {
    const orig = createVecEnv(preset, 1, { autoReset: false });
    const obs0 = orig.reset(5)[0]!;
    const rng = new Rng(4);
    let last = orig.step(slates(rng, 1, K, N));
    for (let k = 0; k < 2 && !last.done[0]; k++) last = orig.step(slates(rng, 1, K, N));
    if (last.done[0]) return expect.unreachable('toy session ended during warm-up');
    const before = last.observations[0]!;
    const fork = createVecEnv(preset, 2, { autoReset: false });
    fork.reset(77);
    fork.forkSlot(orig as never, 0, 1);
    fork.reseed(1);
    const ro = fork.step(slates(new Rng(9), 2, K, N));
    const after = ro.observations[1]!;
    expect(after.user).toBe(obs0.user);
    expect(after.t).toBe(before.t + 1);
    // The history continues the original's (one more item on a click).
    expect(Array.from(after.history.subarray(0, before.history.length))).toEqual(Array.from(before.history));
    expect(after.history.length - before.history.length).toBe(ro.clicks.subarray(K, 2 * K).reduce((x, y) => x + y, 0));
    // Stepping the fork does not move the original.
    const again = orig.step(slates(new Rng(10), 1, K, N));
    expect(again.observations[0]!.t).toBe(before.t + 1);
  });

  it('refuses a source batch built on another world', () => {
    const other = buildPreset(preset.config.preset, toy.full, toy.train);
    const a = createVecEnv(preset, 1);
    const b = createVecEnv(other, 1);
    a.reset(1);
    b.reset(1);
    expect(() => b.forkSlot(a as never, 0, 0)).toThrow(/same world and config/);
    expect(() => a.forkSlot(a as never, 0, 3)).toThrow(/slot 3/);
  });
});
