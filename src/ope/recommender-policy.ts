/**
 * A fitted recommender as an off-policy target: on each logged record it picks the candidate it
 * scores highest for the record's user (`scoredPolicy`: a deterministic ranking, ties shared).
 * `chorus ope --policy <model|recommender>` and the server's snapshot evaluation
 * (`POST /snapshots/{id}/evaluate`) both build their target with it, so the two give the same
 * numbers on the same log.
 */
import type { Recommender, UserRef } from '../recommenders/types.js';
import type { OpeDataset } from './logs.js';
import { scoredPolicy, type TargetPolicy } from './policies.js';

/**
 * The ranking of `rec` over each record's candidates. `users` and `items` are the model's external
 * ids in index order. A user the model does not know, or a record without a user (Personalizer
 * Rank), is scored as a user with no history. Candidates the model does not know score −∞, so they
 * are never chosen unless the model knows none of a record's candidates (then all tie: uniform).
 */
export function recommenderPolicy(name: string, rec: Recommender, users: readonly string[], items: readonly string[], data: OpeDataset): TargetPolicy {
  const userIndex = new Map(users.map((u, i) => [u, i]));
  const itemIndex = new Map(items.map((it, i) => [it, i]));
  const candItem = Int32Array.from(data.log.actions, (a) => itemIndex.get(data.actionIds[a]!) ?? -1);
  const empty: UserRef = { items: new Int32Array(0) };
  // Per-record scratch, grown to the largest candidate set seen: positions of the known candidates.
  let known = new Int32Array(0);
  return scoredPolicy(name, data, (record, out) => {
    const lo = data.log.indptr[record]!;
    if (known.length < out.length) known = new Int32Array(out.length);
    let m = 0;
    for (let c = 0; c < out.length; c++) if (candItem[lo + c]! >= 0) known[m++] = c;
    out.fill(m === 0 ? 0 : -Infinity);
    if (m === 0) return;
    const u = data.users?.[record];
    const ref = u !== undefined && u !== null && userIndex.has(u) ? userIndex.get(u)! : empty;
    const modelItems = new Int32Array(m);
    for (let j = 0; j < m; j++) modelItems[j] = candItem[lo + known[j]!]!;
    const s = rec.score(ref, modelItems);
    for (let j = 0; j < m; j++) out[known[j]!] = s[j]!;
  });
}
