/**
 * Registers the agents that learn from logs, `bc` and `cql`, in the agent registry
 * (src/agents/registry.ts run-time registration): `chorus simulate --agent cql -p log=<file>`
 * evaluates on-policy a policy learned offline from a session log. The registry cannot name them
 * itself (agents never import ope), so the CLI calls `registerOfflineAgents()` once at start, as it
 * does `registerTeam()`. Importing this module registers nothing.
 */
import { agentNames, registerAgent } from '../../agents/registry.js';
import { BcAgent, BC_DEFAULTS } from './bc.js';
import { CqlAgent, CQL_DEFAULTS } from './cql.js';

/** Add `bc` and `cql` to the agent registry; a second call does nothing. */
export function registerOfflineAgents(): void {
  const have = new Set(agentNames());
  if (!have.has('bc')) {
    registerAgent('bc', {
      description: 'behaviour cloning: softmax policy over items fitted to a logged session log (-p log=<file>), acts by its mode (-p epsilon=… explores when served)',
      defaults: { seed: 1, ...BC_DEFAULTS, state: {} },
      // Learned offline from the log on the first act: the runner's online training does not apply.
      learns: false,
      honoursOptions: true,
      create: (ctx, c) => new BcAgent(ctx, c as never),
    });
  }
  if (!have.has('cql')) {
    registerAgent('cql', {
      description: 'conservative Q-learning (discrete, item-wise Q) on a logged session log (-p log=<file>), greedy slates (-p epsilon=… explores when served)',
      defaults: { seed: 1, ...CQL_DEFAULTS, state: {} },
      learns: false,
      honoursOptions: true,
      create: (ctx, c) => new CqlAgent(ctx, c as never),
    });
  }
}
