/**
 * Which client holds which users: a seeded split of the user indices into N clients.
 *
 * - `iid`: a seeded shuffle dealt round-robin — clients of equal size (±1) with like users.
 * - `by-activity`: users sorted by their number of interactions (ties in seeded order) and cut into
 *   N runs of equal size — one client holds the heaviest users, another the lightest. A simple
 *   non-IID split: clients differ in how much each user tells them and in which items they see
 *   (heavy users reach into the long tail).
 */
import { ConfigError } from '../errors.js';
import { Rng } from '../util/rng.js';

export type PartitionScheme = 'iid' | 'by-activity';

/** Each client's user indices, ascending. `counts[u]` (interactions per user) is needed by `by-activity`. */
export function partitionUsers(nUsers: number, nClients: number, scheme: PartitionScheme, seed: number, counts?: Int32Array): Int32Array[] {
  if (!(Number.isInteger(nClients) && nClients >= 1)) throw new ConfigError(`clients must be a positive integer, got ${nClients}`, 'clients');
  if (nClients > nUsers) throw new ConfigError(`${nClients} clients for ${nUsers} users: every client needs at least one user`, 'clients');
  const order = new Int32Array(nUsers);
  for (let u = 0; u < nUsers; u++) order[u] = u;
  new Rng(seed).shuffle(order);
  const groups: number[][] = Array.from({ length: nClients }, () => []);
  if (scheme === 'iid') {
    for (let r = 0; r < nUsers; r++) groups[r % nClients]!.push(order[r]!);
  } else {
    if (!counts || counts.length !== nUsers) throw new ConfigError('by-activity partition needs the interaction count of every user', 'partition');
    // A stable sort of the shuffled order: equal counts stay in seeded order.
    const sorted = Array.from(order).sort((a, b) => counts[b]! - counts[a]!);
    for (let r = 0; r < nUsers; r++) groups[Math.floor((r * nClients) / nUsers)]!.push(sorted[r]!);
  }
  return groups.map((g) => Int32Array.from(g).sort());
}
