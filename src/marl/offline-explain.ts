/**
 * Evidence behind `team-blend`'s (`TeamBlendRecommender`) per-agent votes, in words, from what the
 * fitted model holds — so `chorus recommend --explain` works from the model file alone:
 *  - user agent: "because you watched <the user's training item most similar to it>", by cosine of
 *    the user model's item factors when it exposes them (ALS, BPR, MF: `itemEmbeddings()`), else by
 *    cosine of item co-occurrence in the training rows the model keeps to exclude seen items;
 *  - content agent: "matches your interest in <genre>" (of the item's genres, the one most frequent
 *    in the user's training items), from the genre lists saved with the model (`EvidenceState`);
 *  - item agent: "new this week" (first training interaction within 7 days of the newest one, from
 *    the item agent's ages), then "new: few ratings so far" (fewer than `EXPLAIN_COLD_THRESHOLD`
 *    interactions, the simulator's cold rule), "rarely rated (n ratings)" (at most the median
 *    count of rated items) or "widely rated (n ratings)";
 *  - extra agents: "<name> ranks it #r for you" (rank by that member's own scores among the items
 *    the user has not interacted with).
 * Titles come from the item metadata saved with the model (`item <index>` where there is none).
 */
import type { Dataset } from '../data/dataset.js';
import { categoryCsr } from '../data/categories.js';
import type { Recommender } from '../recommenders/types.js';
import type { Evidence } from './explain.js';
import type { ItemExplanation } from './team.js';
import type { UserRef } from '../recommenders/types.js';

/** Items with fewer training interactions than this are "new: few ratings so far" (the simulator's cold threshold). */
export const EXPLAIN_COLD_THRESHOLD = 3;
/** An item first interacted with this many days before the newest training interaction, or fewer, is "new this week". */
export const EXPLAIN_NEW_DAYS = 7;

/** The part of the training data that explanations need and the fitted members do not hold. */
export interface EvidenceState {
  /** Title per item index ('' where none). Left out when the data has no titles. */
  titles?: string[];
  /** Genre (category) names; item i's genres are catIndices[catIndptr[i] .. catIndptr[i+1]). */
  catNames: string[];
  catIndptr: Int32Array;
  catIndices: Int32Array;
}

export function evidenceState(train: Dataset): EvidenceState {
  const cats = categoryCsr(train);
  const titles = Array.from({ length: train.nItems }, (_, i) => train.itemMeta[i]?.title ?? '');
  return {
    ...(titles.some((t) => t.length > 0) ? { titles } : {}),
    catNames: cats.names,
    catIndptr: cats.indptr,
    catIndices: cats.indices,
  };
}

/** Restores an `EvidenceState` from a saved model's state; undefined when absent or malformed (an older file: explanations fall back to generic texts). */
export function readEvidenceState(v: unknown, nItems: number): EvidenceState | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const o = v as Partial<EvidenceState>;
  if (!(o.catIndptr instanceof Int32Array) || o.catIndptr.length !== nItems + 1 || !(o.catIndices instanceof Int32Array) || !Array.isArray(o.catNames)) return undefined;
  if (o.titles !== undefined && (!Array.isArray(o.titles) || o.titles.length !== nItems)) return undefined;
  return { titles: o.titles, catNames: o.catNames, catIndptr: o.catIndptr, catIndices: o.catIndices };
}

/** A recommender that can say why it ranks items as it does (`team-blend`). */
export interface ExplainingRecommender extends Recommender {
  explain(user: UserRef, items: ArrayLike<number>): ItemExplanation[];
}

export function canExplain(r: Recommender): r is ExplainingRecommender {
  return typeof (r as { explain?: unknown }).explain === 'function';
}

/** Which fused member plays which role, for the evidence texts. */
export interface EvidenceRoles {
  /** Agent name per member, in member order. */
  names: string[];
  role: ('user' | 'extra' | 'content' | 'item')[];
}

/** What the evidence reads: the fitted members, the training rows by user, the saved metadata. */
export interface EvidenceSources {
  members: readonly Recommender[];
  nItems: number;
  /** Training CSR by user (the rows the model keeps to exclude seen items). */
  seenIndptr: Int32Array;
  seenIndices: Int32Array;
  state: EvidenceState | undefined;
}

/** Builds evidence texts; caches per-model lookups (item counts, factors, the co-occurrence index) between calls. */
export class OfflineEvidence {
  private counts: Int32Array | null = null;
  private medianCount = 0;
  private factors: { v: Float32Array; dim: number } | null | undefined;
  private byItem: { indptr: Int32Array; users: Int32Array } | null = null;

  constructor(
    private readonly src: EvidenceSources,
    private readonly roles: EvidenceRoles,
  ) {}

  title(i: number): string {
    const t = this.src.state?.titles?.[i];
    return t ? t : `item ${i}`;
  }

  /** Evidence for each of `items` (one list per item), given the user's training items and each member's raw scores. */
  evidence(history: Int32Array, items: ArrayLike<number>, raw: Float32Array[]): Evidence[][] {
    const seen = new Uint8Array(this.src.nItems);
    for (const j of history) seen[j] = 1;
    const genreCounts = this.genreCounts(history);
    return Array.from(items, (item) => {
      const out: Evidence[] = [];
      for (let m = 0; m < this.roles.names.length; m++) {
        const agent = this.roles.names[m]!;
        switch (this.roles.role[m]) {
          case 'user':
            out.push({ agent, text: this.userText(history, item) });
            break;
          case 'content':
            out.push({ agent, text: this.contentText(genreCounts, item) });
            break;
          case 'item':
            for (const text of this.itemTexts(m, item)) out.push({ agent, text });
            break;
          default:
            out.push({ agent, text: `${agent} ranks it #${rankAmongUnseen(raw[m]!, seen, item)} for you` });
        }
      }
      return out;
    });
  }

  private userText(history: Int32Array, item: number): string {
    if (history.length === 0) return 'no history yet: popular with other users';
    const f = this.itemFactors();
    let best = -1;
    let bestSim = -Infinity;
    for (const j of history) {
      if (j === item) continue;
      const sim = f ? cosineRows(f.v, f.dim, item, j) : this.cooccurrenceCosine(item, j);
      // Ties go to the more recent item (history is in time order).
      if (sim >= bestSim) (bestSim = sim), (best = j);
    }
    return best >= 0 ? `because you watched ${this.title(best)}` : 'popular with users like you';
  }

  private contentText(genreCounts: Float64Array, item: number): string {
    const s = this.src.state;
    if (s) {
      let best = -1;
      for (let c = s.catIndptr[item]!; c < s.catIndptr[item + 1]!; c++) {
        const g = s.catIndices[c]!;
        if (genreCounts[g]! > 0 && (best < 0 || genreCounts[g]! > genreCounts[best]!)) best = g;
      }
      if (best >= 0) return `matches your interest in ${s.catNames[best]}`;
    }
    return 'similar in content to what you watched';
  }

  private itemTexts(member: number, item: number): string[] {
    const counts = this.itemCounts();
    const n = counts[item]!;
    const ages = (this.src.members[member] as { ageDays?: unknown }).ageDays;
    const age = ages instanceof Float32Array ? ages[item] : undefined;
    const out: string[] = [];
    if (age !== undefined && age <= EXPLAIN_NEW_DAYS) out.push('new this week');
    if (n < EXPLAIN_COLD_THRESHOLD) out.push(n === 0 ? 'new: no ratings yet' : 'new: few ratings so far');
    else if (n <= this.medianCount) out.push(`rarely rated (${n} ratings)`);
    else out.push(`widely rated (${n} ratings)`);
    return out;
  }

  /** How many of the user's training items carry each genre. */
  private genreCounts(history: Int32Array): Float64Array {
    const s = this.src.state;
    if (!s) return new Float64Array(0);
    const counts = new Float64Array(s.catNames.length);
    for (const j of history) for (let c = s.catIndptr[j]!; c < s.catIndptr[j + 1]!; c++) counts[s.catIndices[c]!]! += 1;
    return counts;
  }

  /** Training interactions per item, and the median count over items with at least one. */
  private itemCounts(): Int32Array {
    if (!this.counts) {
      const c = new Int32Array(this.src.nItems);
      for (const i of this.src.seenIndices) c[i]! += 1;
      const rated = Array.from(c).filter((x) => x > 0).sort((a, b) => a - b);
      this.medianCount = rated.length > 0 ? rated[(rated.length - 1) >> 1]! : 0;
      this.counts = c;
    }
    return this.counts;
  }

  /** The user model's item factors when it exposes them, else null (co-occurrence is used). */
  private itemFactors(): { v: Float32Array; dim: number } | null {
    if (this.factors === undefined) {
      this.factors = null;
      const user = this.src.members[this.roles.role.indexOf('user')] as { itemEmbeddings?: () => Float32Array } | undefined;
      if (user && typeof user.itemEmbeddings === 'function') {
        const v = user.itemEmbeddings();
        const dim = v.length / this.src.nItems;
        if (Number.isInteger(dim) && dim > 0) this.factors = { v, dim };
      }
    }
    return this.factors;
  }

  /** Cosine of two items' user sets in the training rows: |U_i ∩ U_j| / √(|U_i|·|U_j|). */
  private cooccurrenceCosine(i: number, j: number): number {
    if (!this.byItem) {
      const { seenIndptr, seenIndices, nItems } = this.src;
      const indptr = new Int32Array(nItems + 1);
      for (const it of seenIndices) indptr[it + 1]! += 1;
      for (let k = 0; k < nItems; k++) indptr[k + 1]! += indptr[k]!;
      const fill = indptr.slice(0, nItems);
      const users = new Int32Array(seenIndices.length);
      for (let u = 0; u + 1 < seenIndptr.length; u++) for (let p = seenIndptr[u]!; p < seenIndptr[u + 1]!; p++) users[fill[seenIndices[p]!]!++] = u;
      this.byItem = { indptr, users }; // each item's users come out sorted (rows visited in order)
    }
    const { indptr, users } = this.byItem;
    let a = indptr[i]!;
    let b = indptr[j]!;
    const ae = indptr[i + 1]!;
    const be = indptr[j + 1]!;
    const ni = ae - a;
    const nj = be - b;
    if (ni === 0 || nj === 0) return 0;
    let both = 0;
    while (a < ae && b < be) {
      const x = users[a]!;
      const y = users[b]!;
      if (x === y) {
        both++;
        a++;
        b++;
      } else if (x < y) a++;
      else b++;
    }
    return both / Math.sqrt(ni * nj);
  }
}

function cosineRows(v: Float32Array, dim: number, i: number, j: number): number {
  let dot = 0;
  let ni = 0;
  let nj = 0;
  for (let d = 0; d < dim; d++) {
    const x = v[i * dim + d]!;
    const y = v[j * dim + d]!;
    dot += x * y;
    ni += x * x;
    nj += y * y;
  }
  return dot / Math.sqrt(ni * nj + 1e-12);
}

/** 1 + the number of items the user has not interacted with that the member scores strictly higher. */
function rankAmongUnseen(scores: Float32Array, seen: Uint8Array, item: number): number {
  const x = scores[item]!;
  let r = 1;
  for (let j = 0; j < scores.length; j++) if (!seen[j] && j !== item && scores[j]! > x) r++;
  return r;
}
