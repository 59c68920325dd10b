/**
 * Probes for the team's scoring tests: a slate acted without moving the item agent's state (the
 * exposure counts a shown slate adds), and each agent's own value of one item as it scores it.
 */
import type { Observation, Slate } from '../../src/env/types.js';
import type { TeamAgent } from '../../src/marl/team.js';

/** The team's slate for `obs`, with its item state put back as it was before the slate was shown. */
export function actUnshown(t: TeamAgent, obs: Observation, k: number): Slate {
  const before = structuredClone(t.itemState.toJSON());
  const slate = t.act(obs, k);
  t.itemState.load(before);
  return slate;
}

/** Agent k's value θ_kᵀφ_k(obs, item) from its own view. */
export function agentValue(t: TeamAgent, k: number, obs: Observation, item: number): number {
  const x = new Float64Array(t.views[k]!.dim);
  t.views[k]!.features(obs, Int32Array.of(item), 1, x);
  return t.values[k]!.value(x, 0);
}
