import { describe, expect, it } from 'vitest';
import { itemSpaceFromTrain, type AgentContext } from '../../src/agents/state.js';
import { trainDistributed } from '../../src/marl/distributed.js';
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

  it('refuses the central critic, naming the field', async () => {
    const { world, config, train } = toyWorld();
    const { items, userVectors } = itemSpaceFromTrain(train, { dim: 4, iterations: 1 });
    const ctx: AgentContext = { items, userVectors, nUsers: train.nUsers, slateSize: config.slateSize, horizon: config.horizon };
    await expect(trainDistributed({ world, config, ctx, team: { seed: 1, coordination: 'central-critic' }, workers: 1, trainSteps: 10, nEnvs: 2 })).rejects.toThrow(/coordination/);
  });
});
