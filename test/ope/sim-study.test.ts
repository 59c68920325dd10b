import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentFileDocument, agentSpaceOf } from '../../src/agents/agent-file.js';
import { createAgent } from '../../src/agents/registry.js';
import { itemSpaceFromTrain, type AgentContext } from '../../src/agents/state.js';
import type { SimSetup } from '../../src/eval/sim/runner.js';
import { VecEnv } from '../../src/env/vec-env.js';
import { runSimOpe } from '../../src/ope/sim-study.js';
import { toyWorld } from '../env/toy-world.js';

function toySetup(slateSize = 3): SimSetup {
  const { world, config, full, train } = toyWorld({ slateSize });
  const { items, userVectors } = itemSpaceFromTrain(train, { dim: 4, iterations: 3 });
  const ctx: AgentContext = { items, userVectors, nUsers: full.nUsers, slateSize: config.slateSize, horizon: config.horizon };
  return { preset: { config, world }, ctx };
}

describe('runSimOpe', () => {
  const setup = toySetup();

  it('a saved agent file is evaluated as saved, and one saved on another item list is refused', async () => {
    const ids = { items: Array.from({ length: setup.ctx.items.nItems }, (_, i) => `m${i}`), users: Array.from({ length: setup.ctx.nUsers }, (_, u) => `u${u}`) };
    const withIds: SimSetup = { ...setup, ids };
    const dir = mkdtempSync(join(tmpdir(), 'chorus-sim-ope-'));
    try {
      // popularity does not learn: trained here it is the same agent as the one saved.
      const file = join(dir, 'popularity.json');
      writeFileSync(file, JSON.stringify(agentFileDocument(createAgent('popularity', setup.ctx, { seed: 3 }).toJSON(), {}, agentSpaceOf(setup.ctx, ids.items, ids.users))));
      const common = { preset: 'toy', behaviour: 'egreedy', behaviourConfig: { epsilon: 0.5 }, decisions: 300, seeds: 1, trainSteps: 0, bootstrap: 10, setup: withIds };
      const fromFile = await runSimOpe({ ...common, policy: 'popularity', policyFile: file });
      const trained = await runSimOpe({ ...common, policy: 'popularity' });
      expect(fromFile.truth).toEqual(trained.truth);
      expect(fromFile.estimates).toEqual(trained.estimates);
      const other = join(dir, 'other.json');
      writeFileSync(other, JSON.stringify(agentFileDocument(createAgent('popularity', setup.ctx, { seed: 3 }).toJSON(), {}, agentSpaceOf(setup.ctx, ids.items.map((id) => `x${id}`), ids.users))));
      await expect(runSimOpe({ ...common, policy: 'popularity', policyFile: other })).rejects.toThrow(/another item list/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with the behaviour as the target every weight is 1: IPS, SNIPS and the slate estimators give the logged mean', async () => {
    const r = await runSimOpe({ preset: 'toy', behaviour: 'egreedy', policy: 'egreedy', policyFromBehaviour: true, policyMode: 'training', behaviourConfig: { epsilon: 0.3 }, decisions: 400, seeds: 2, trainSteps: 0, bootstrap: 20, setup });
    expect(r.ess).toBeCloseTo(400, 6);
    for (const p of r.perSeed) {
      for (const e of ['ips', 'snips', 'position-ips', 'pseudo-inverse']) expect(p.estimates[e]!.value).toBeCloseTo(p.loggedMean, 5);
      expect(p.support).toBe(1);
    }
  });

  it('IPS recovers the on-policy truth of a different target on a toy world, over several seeds', async () => {
    // ε-greedy logging (ε = 0.5) over a 3-slot slate; the target explores less (ε = 0.1): every
    // logged slate is one the target could show, and the truth is measured on fresh sessions.
    const r = await runSimOpe({ preset: 'toy', behaviour: 'egreedy', policy: 'egreedy', policyFromBehaviour: true, policyMode: 'training', behaviourConfig: { epsilon: 0.5 }, policyConfig: { epsilon: 0.1 }, decisions: 3000, seeds: 4, trainSteps: 0, bootstrap: 100, estimators: ['ips', 'snips', 'dr'], setup });
    expect(r.support).toBe(1);
    // The target shows its greedy slate more often than the behaviour does, so the two values differ
    // and the estimate has to move from the logged mean towards the truth.
    expect(Math.abs(r.loggedMean - r.truth.value)).toBeGreaterThan(0.02);
    for (const e of ['ips', 'snips', 'dr']) expect(Math.abs(r.estimates[e]!.value - r.truth.value)).toBeLessThan(Math.abs(r.loggedMean - r.truth.value) / 2);
    expect(r.relativeError.ips).toBeLessThan(0.1);
  });

  it('refuses an agent whose slate distribution has no closed form', async () => {
    await expect(runSimOpe({ preset: 'toy', behaviour: 'egreedy', policy: 'thompson', decisions: 10, seeds: 1, trainSteps: 0, setup })).rejects.toThrow(/thompson.*exact slate distribution/);
    await expect(runSimOpe({ preset: 'toy', behaviour: 'ddpg', policy: 'popularity', decisions: 10, seeds: 1, trainSteps: 0, setup })).rejects.toMatchObject({ code: 'E_NO_DISTRIBUTION' });
  });
});

describe('slateDistribution', () => {
  it("ε-greedy's slot marginals and slate probabilities match its own draws", () => {
    const setup = toySetup(4);
    const agent = createAgent('egreedy', setup.ctx, { epsilon: 0.4, seed: 3 });
    const env = new VecEnv(setup.preset.world, setup.preset.config, 1, { autoReset: false });
    const obs = env.reset(9)[0]!;
    const dist = agent.slateDistribution!(obs, 4);
    const draws = 20000;
    const counts = new Map<string, number>();
    const slotCounts = new Map<string, number>();
    for (let t = 0; t < draws; t++) {
      const s = agent.act(obs, 4);
      // The logged propensities are the product form of the slate probability.
      if (t === 0) expect(dist.slateProbability(s.items)).toBeCloseTo(s.propensities!.reduce((a, b) => a * b, 1), 6);
      const key = s.items.join(',');
      counts.set(key, (counts.get(key) ?? 0) + 1);
      s.items.forEach((i, j) => slotCounts.set(`${j}:${i}`, (slotCounts.get(`${j}:${i}`) ?? 0) + 1));
    }
    const greedy = Array.from(dist.mode).join(',');
    expect((counts.get(greedy) ?? 0) / draws).toBeCloseTo(dist.slateProbability(dist.mode), 1);
    expect(dist.slateProbability(dist.mode)).toBeCloseTo(0.6 ** 4, 10);
    // Every slot's marginals: listed items, and the rest's total, against the draw frequencies.
    for (let j = 0; j < 4; j++) {
      const sup = dist.support(j);
      let listed = 0;
      for (let q = 0; q < sup.items.length; q++) {
        const f = (slotCounts.get(`${j}:${sup.items[q]}`) ?? 0) / draws;
        expect(Math.abs(f - sup.probs[q]!)).toBeLessThan(0.015);
        expect(dist.slotProbability(j, sup.items[q]!)).toBeCloseTo(sup.probs[q]!, 12);
        listed += sup.probs[q]!;
      }
      expect(listed + sup.restProbability * sup.restCount).toBeCloseTo(1, 10);
    }
    // Evaluation mode is the greedy slate with probability 1.
    agent.setTraining(false);
    const det = agent.slateDistribution!(obs, 4);
    expect(det.slateProbability(det.mode)).toBe(1);
    expect(Array.from(agent.act(obs, 4).items)).toEqual(Array.from(det.mode));
  });
});
