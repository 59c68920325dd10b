/**
 * Where the team's candidates come from: the user's top items by the myopic prior, a few random
 * unseen items while training, and every proposer's own best items (the item agent's and the
 * content agent's by their current values, each extra scorer's by its scores). Also the item
 * agent's fair-exposure picks for the last slate positions (evaluation and serving).
 */
import type { CandidateSource } from '../agents/neural.js';
import type { Observation } from '../env/types.js';
import type { Rng } from '../util/rng.js';
import { topK } from '../util/topk.js';
import type { LinearValue } from './mixer.js';
import type { TeamConfig } from './team-config.js';
import { ScorerView, type ContentView, type ItemState, type ItemView, type View } from './views.js';

export class TeamCandidates {
  private readonly candMask: Uint8Array;
  private readonly allScores: Float64Array;
  private readonly wBuf: Float64Array;
  private readonly row: Float64Array;

  constructor(
    private readonly config: TeamConfig,
    private readonly nItems: number,
    readonly source: CandidateSource,
    private readonly views: View[],
    private readonly memberNames: string[],
    private readonly values: LinearValue[],
    private readonly itemView: ItemView,
    private readonly contentView: ContentView,
  ) {
    this.candMask = new Uint8Array(nItems);
    this.allScores = new Float64Array(nItems);
    this.wBuf = new Float64Array(Math.max(contentView.cdim, 1));
    this.row = new Float64Array(itemView.dim);
  }

  /** Candidate items for an observation (never history items). `random` adds the random part. */
  get(obs: Observation, random: boolean, rng: Rng): Int32Array {
    const base = random ? this.source.get(obs, rng) : this.source.top(obs, this.config.candidates);
    const P = this.config.proposals;
    if (P <= 0 || base.length >= this.nItems - obs.history.length) return base;
    const mask = this.candMask;
    const h = obs.history;
    for (let a = 0; a < h.length; a++) if (h[a]! >= 0) mask[h[a]!] = 1;
    for (let r = 0; r < base.length; r++) mask[base[r]!] = 1;
    const extra: number[] = [];
    const add = (scores: Float64Array): void => {
      const top = topK(scores, P, mask);
      for (let r = 0; r < top.items.length; r++) {
        extra.push(top.items[r]!);
        mask[top.items[r]!] = 1;
      }
    };
    const ki = this.memberNames.indexOf('item');
    if (ki >= 0) {
      const th = this.values[ki]!.theta;
      const row = this.row;
      const value = (i: number): number => {
        this.itemView.row(i, row, 0);
        let v = 0;
        for (let j = 0; j < this.itemView.dim; j++) v += th[j]! * row[j]!;
        return v;
      };
      for (let i = 0; i < this.allScores.length; i++) this.allScores[i] = value(i);
      add(this.allScores);
    }
    const kc = this.memberNames.indexOf('content');
    if (kc >= 0) {
      this.contentView.setState(obs);
      this.contentView.scoreAll(this.values[kc]!.theta, this.wBuf, this.allScores);
      add(this.allScores);
    }
    // Extra scorers recommend too: their own top items join the candidates, so a model that ranks
    // differently from the prior can put items on the slate, not only re-rank the prior's.
    for (const v of this.views) {
      if (!(v instanceof ScorerView)) continue;
      const z = v.z(obs);
      for (let i = 0; i < this.allScores.length; i++) this.allScores[i] = z[i]!;
      add(this.allScores);
    }
    for (let a = 0; a < h.length; a++) if (h[a]! >= 0) mask[h[a]!] = 0;
    for (let r = 0; r < base.length; r++) mask[base[r]!] = 0;
    for (const i of extra) mask[i] = 0;
    if (extra.length === 0) return base;
    const out = new Int32Array(base.length + extra.length);
    out.set(base);
    out.set(extra, base.length);
    return out;
  }

  /**
   * The item agent's fair-exposure picks: f items outside the history and the first `keep` picks,
   * best by z_prior(i) − fairBeta·ln(1 + exposure_i) among the user's top `fairSlotPool` items by
   * the prior (the whole catalogue when 0).
   */
  fairFill(obs: Observation, itemState: ItemState, cands: Int32Array, pick: Int32Array, keep: number, f: number): Int32Array {
    const z = this.source.zPrior(obs.user);
    const e = itemState.exposure;
    const beta = this.config.fairBeta;
    const sc = this.allScores;
    const mask = this.candMask;
    const h = obs.history;
    for (let a = 0; a < h.length; a++) if (h[a]! >= 0) mask[h[a]!] = 1;
    for (let p = 0; p < keep; p++) mask[cands[pick[p]!]!] = 1;
    const P = this.config.fairSlotPool;
    let top: { items: Int32Array };
    if (P > 0) {
      const pool = topK(z, P, mask).items;
      const ps = new Float64Array(pool.length);
      for (let r = 0; r < pool.length; r++) ps[r] = z[pool[r]!]! - beta * Math.log1p(e[pool[r]!]!);
      const best = topK(ps, f);
      top = { items: best.items.map((r) => pool[r]!) };
    } else {
      for (let i = 0; i < sc.length; i++) sc[i] = z[i]! - beta * Math.log1p(e[i]!);
      top = topK(sc, f, mask);
    }
    for (let a = 0; a < h.length; a++) if (h[a]! >= 0) mask[h[a]!] = 0;
    for (let p = 0; p < keep; p++) mask[cands[pick[p]!]!] = 0;
    return Int32Array.from(top.items);
  }
}
