import { describe, expect, it } from 'vitest';
import { itemSpaceFromTrain, type AgentContext } from '../../src/agents/state.js';
import { trainDistributed } from '../../src/marl/distributed.js';
import type { CommMode, QmixMode } from '../../src/marl/modes/index.js';
import { TeamAgent, TEAM_DEFAULTS } from '../../src/marl/team.js';
import { toyWorld } from '../env/toy-world.js';

describe('distributed learners exchanging gradients on worker threads', () => {
  it('train one team from averaged replica gradients, deterministically for a seed', async () => {
    const { world, config, train } = toyWorld();
    const { items, userVectors } = itemSpaceFromTrain(train, { dim: 4, iterations: 2 });
    const ctx: AgentContext = { items, userVectors, nUsers: train.nUsers, slateSize: config.slateSize, horizon: config.horizon };
    const run = () => trainDistributed({ world, config, ctx, team: { seed: 4, coordination: 'vdn', candidates: 20, randomCandidates: 4, proposals: 4 }, workers: 2, trainSteps: 2 * 8 * 6, nEnvs: 8 });
    const a = await run();
    expect(a.rounds).toBe(6);
    // The value models moved away from their zero start …
    const norm = a.team.values.reduce((t, v) => t + v.theta.reduce((s, x) => s + x * x, 0), 0);
    expect(norm).toBeGreaterThan(0);
    // … and the same seed gives the same parameters (averaging is in worker order).
    const b = await run();
    for (let k = 0; k < a.team.m; k++) expect(Array.from(b.team.values[k]!.theta)).toEqual(Array.from(a.team.values[k]!.theta));
  }, 60000);

  // The QMIX mixer and the comm messages are averaged across replicas with the values.
  for (const coordination of ['qmix', 'comm'] as const) {
    it(`trains ${coordination}'s own network across replicas, deterministically for a seed`, async () => {
      const { world, config, train } = toyWorld();
      const { items, userVectors } = itemSpaceFromTrain(train, { dim: 4, iterations: 2 });
      const ctx: AgentContext = { items, userVectors, nUsers: train.nUsers, slateSize: config.slateSize, horizon: config.horizon };
      const team = { seed: 4, coordination, candidates: 20, randomCandidates: 4, proposals: 4 };
      const run = () => trainDistributed({ world, config, ctx, team, workers: 2, trainSteps: 2 * 8 * 4, nEnvs: 8 });
      const params = (t: Awaited<ReturnType<typeof run>>['team']): number[] => Array.from((t.mode as QmixMode | CommMode).syncParts()[0]!);
      const fresh = params(new TeamAgent(ctx, { ...TEAM_DEFAULTS, ...team }));
      const a = await run();
      const b = await run();
      expect(Math.max(...params(a.team).map((x, j) => Math.abs(x - fresh[j]!)))).toBeGreaterThan(1e-4);
      expect(params(b.team)).toEqual(params(a.team));
    }, 60000);
  }

  it('refuses the critics, naming the field', async () => {
    const { world, config, train } = toyWorld();
    const { items, userVectors } = itemSpaceFromTrain(train, { dim: 4, iterations: 1 });
    const ctx: AgentContext = { items, userVectors, nUsers: train.nUsers, slateSize: config.slateSize, horizon: config.horizon };
    for (const coordination of ['central-critic', 'item-critic'] as const) {
      await expect(trainDistributed({ world, config, ctx, team: { seed: 1, coordination }, workers: 1, trainSteps: 10, nEnvs: 2 })).rejects.toThrow(/coordination/);
    }
  });
});
