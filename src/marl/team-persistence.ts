/**
 * The team's learned state: what a saved team holds (the agents' values, the stake models, the
 * coordination mode's own parameters, the meta-fusion counts, the item state, the RLS matrices),
 * and the parameter vector distributed learners exchange after each round (distributed.ts).
 */
import { ConfigError } from '../errors.js';
import type { MetaFusion } from './fusion.js';
import type { LinearValue } from './mixer.js';
import type { CoordinationMode } from './modes/mode.js';
import type { RewardSplit } from './reward-split.js';
import type { JointRls } from './rls.js';
import type { ItemState } from './views.js';

export interface TeamParts {
  memberNames: string[];
  values: LinearValue[];
  split: RewardSplit;
  mode: CoordinationMode;
  meta: MetaFusion;
  itemState: ItemState;
  rls: JointRls[];
}

/**
 * The saved state. Mode parameters keep the keys they always had (`mixer` for the weighted VDN,
 * `fusionW`, `commGain`, `critic`/`criticOpt`), so files saved before the split still load.
 */
export function saveTeamState(t: TeamParts, rMax: number): Record<string, unknown> {
  return {
    members: t.memberNames,
    values: t.values.map((v) => v.theta),
    stakeG: t.split.stakeG.theta,
    stakeA: t.split.stakeA.theta,
    ...t.mode.saveState(),
    meta: { counts: t.meta.counts, sums: t.meta.sums, total: t.meta.total },
    items: t.itemState.toJSON(),
    rMax,
    rls: t.rls.map((f) => f.P),
  };
}

/** Restores a saved state into the team's parts; returns the saved rMax. */
export function loadTeamState(t: TeamParts, s: Record<string, unknown>): number {
  const members = s.members as string[];
  if (members.join() !== t.memberNames.join()) throw new ConfigError(`saved team has members [${members.join(', ')}], this one [${t.memberNames.join(', ')}]`, 'members');
  (s.values as Float64Array[]).forEach((th, k) => t.values[k]!.theta.set(th));
  t.split.stakeG.theta.set(s.stakeG as Float64Array);
  t.split.stakeA.theta.set(s.stakeA as Float64Array);
  t.mode.loadState(s);
  const meta = s.meta as { counts: Float64Array; sums: Float64Array; total: number };
  t.meta.counts.set(meta.counts);
  t.meta.sums.set(meta.sums);
  t.meta.total = meta.total;
  t.itemState.load(s.items as Record<string, unknown>);
  // States saved before the RLS learner (or by an LMS team) have no P: the fitters keep their prior.
  const P = (s.rls as Float64Array[] | undefined) ?? [];
  t.rls.forEach((f, k) => {
    if (P[k] && P[k]!.length === f.P.length) f.P.set(P[k]!);
  });
  return s.rMax as number;
}

/**
 * What a distributed learner sends after a round: the update its value models made in the round
 * (θ now − θ at the round's start), then the auxiliary parameters (stake models, the mode's own).
 */
export function exportSync(t: TeamParts, base: Float64Array[] | null): Float64Array {
  const b = base ?? t.values.map((v) => new Float64Array(v.dim));
  const deltas = t.values.map((v, k) => v.theta.map((x, j) => x - b[k]![j]!));
  const parts: Float64Array[] = [...deltas, t.split.stakeG.theta, t.split.stakeA.theta, ...t.mode.syncParts()];
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
}

/** Applies a round's averaged sync vector: θ = round start + mean update, identical in every replica. */
export function importSync(t: TeamParts, base: Float64Array[] | null, avg: Float64Array): void {
  let o = 0;
  t.values.forEach((v, k) => {
    const b = base?.[k];
    for (let j = 0; j < v.dim; j++) v.theta[j] = (b ? b[j]! : v.theta[j]!) + avg[o + j]!;
    o += v.dim;
  });
  for (const p of [t.split.stakeG.theta, t.split.stakeA.theta, ...t.mode.syncParts()]) {
    p.set(avg.subarray(o, o + p.length));
    o += p.length;
  }
}
