/**
 * Evidence behind each agent's vote for an item, in words:
 *  - user agent: "because you watched <the recent item most similar to it>" (cosine of CF vectors);
 *  - item agent: "new this week" (when item ages are known), "new: few ratings so far" (cold),
 *    "never shown before" or "rarely shown (n times)";
 *  - content agent: "matches your interest in <genre>" (the item's genre most present in the
 *    recent items), else "similar in content to what you watched";
 *  - extra agents: "<name> ranks it among its top picks".
 */
import type { Observation } from '../env/types.js';
import type { TeamContext } from './context.js';
import type { ItemState } from './views.js';

export interface Evidence {
  agent: string;
  text: string;
}

function title(ctx: TeamContext, i: number): string {
  return ctx.titles?.[i] ?? `item ${i}`;
}

export function evidenceFor(ctx: TeamContext, state: ItemState, members: string[], obs: Observation, item: number): Evidence[] {
  const out: Evidence[] = [];
  const { vectors, dim, catIndptr, catIndices, categoryNames, cold } = ctx.items;
  for (const agent of members) {
    if (agent === 'user') {
      let best = -1;
      let bestCos = -Infinity;
      const h = obs.history;
      for (let a = 0; a < h.length; a++) {
        const j = h[a]!;
        if (j < 0) continue;
        let dot = 0;
        let nj = 0;
        let ni = 0;
        for (let d = 0; d < dim; d++) {
          dot += vectors[j * dim + d]! * vectors[item * dim + d]!;
          nj += vectors[j * dim + d]! ** 2;
          ni += vectors[item * dim + d]! ** 2;
        }
        const cos = dot / Math.sqrt(nj * ni + 1e-12);
        if (cos > bestCos) (bestCos = cos), (best = j);
      }
      out.push({ agent, text: best >= 0 ? `because you watched ${title(ctx, best)}` : 'popular with users like you' });
    } else if (agent === 'item') {
      const e = state.exposure[item]!;
      const age = ctx.itemAgeDays?.[item];
      let mean = 0;
      for (let i = 0; i < state.exposure.length; i++) mean += state.exposure[i]!;
      mean /= Math.max(1, state.exposure.length);
      if (age !== undefined && age <= 7) out.push({ agent, text: 'new this week' });
      else if (cold[item]) out.push({ agent, text: 'new: few ratings so far' });
      if (e === 0) out.push({ agent, text: 'never shown before' });
      else if (e <= mean) out.push({ agent, text: `rarely shown (${e} times)` });
      else out.push({ agent, text: `shown ${e} times` });
    } else if (agent === 'content') {
      const counts = new Float64Array(categoryNames.length);
      const h = obs.history;
      for (let a = 0; a < h.length; a++) {
        const j = h[a]!;
        if (j < 0) continue;
        for (let c = catIndptr[j]!; c < catIndptr[j + 1]!; c++) counts[catIndices[c]!]! += 1;
      }
      let best = -1;
      for (let c = catIndptr[item]!; c < catIndptr[item + 1]!; c++) {
        const g = catIndices[c]!;
        if (counts[g]! > 0 && (best < 0 || counts[g]! > counts[best]!)) best = g;
      }
      if (best >= 0) out.push({ agent, text: `matches your interest in ${categoryNames[best]}` });
      else out.push({ agent, text: 'similar in content to what you watched' });
    } else out.push({ agent, text: `${agent} ranks it among its top picks` });
  }
  return out;
}
