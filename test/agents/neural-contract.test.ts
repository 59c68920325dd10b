/** The shared Agent conformance suite (test/agents/contract.ts) for the neural agents. */
import { createAgent, restoreAgent } from '../../src/agents/registry.js';
import { agentContract } from './contract.js';
import { toyContext } from './toy-context.js';

const ctx = toyContext({ nItems: 40, slateSize: 5 });

// Small networks and an early start to learning, so the suite's short streams exercise updates.
const SMALL: Record<string, Record<string, unknown>> = {
  dqn: { hidden: [16], learningStarts: 20, batchSize: 8 },
  reinforce: { hidden: [16], batchEpisodes: 2 },
  a2c: { hidden: [16], nSteps: 8 },
  ddpg: { hidden: [16], learningStarts: 20, batchSize: 8 },
  ppo: { hidden: [16], rolloutSteps: 16, minibatch: 8 },
  trpo: { hidden: [16], rolloutSteps: 16, minibatch: 8 },
};

for (const name of Object.keys(SMALL)) {
  agentContract({
    name,
    ctx,
    make: (seed) => createAgent(name, ctx, { ...SMALL[name], seed }),
    restore: (saved) => restoreAgent(saved, ctx),
  });
}
