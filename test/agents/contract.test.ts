import { createAgent, restoreAgent } from '../../src/agents/registry.js';
import { agentContract } from './contract.js';
import { toyContext } from './toy-context.js';

const ctx = toyContext({ nItems: 40, slateSize: 5 });

for (const name of ['random', 'popularity', 'greedy-als', 'egreedy', 'ucb', 'linucb', 'thompson', 'qlearning', 'sarsa']) {
  agentContract({
    name,
    ctx,
    make: (seed) => createAgent(name, ctx, { seed }),
    restore: (saved) => restoreAgent(saved, ctx),
  });
}
