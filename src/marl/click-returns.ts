/**
 * The team's Monte Carlo targets under SlateQ credit (`target: 'mc'`): each clicked item's agents'
 * feature rows wait with their session until it ends; then each learns toward its share of the
 * discounted return from the step it was clicked at. Open sessions are part of the saved team.
 */
import { SessionTracker } from '../agents/neural.js';
import type { Transition } from '../agents/types.js';

/** Per clicked sample: its agents' rows (concatenated), the step it was clicked at and its share of that step. */
interface OpenSession {
  rows: Float64Array[];
  step: number[];
  share: number[];
  rewards: number[];
}

/** A finished sample: the concatenated rows and its target. */
export interface ReturnSample {
  row: Float64Array;
  y: number;
}

interface SavedSession {
  user: number;
  rows: Float64Array;
  step: ArrayLike<number>;
  share: ArrayLike<number>;
  rewards: ArrayLike<number>;
}

export class ClickReturns {
  private readonly sessions = new SessionTracker<OpenSession>();

  /** `width`: the concatenated row's length (Σ of the agents' feature dims). */
  constructor(
    private readonly width: number,
    private readonly gamma: number,
  ) {}

  /**
   * Record one transition: its reward, and for each clicked position p the row `rowOf(p)` writes
   * (called only when something was clicked). Returns the session's samples with their targets
   * when the transition ends it, else an empty list.
   */
  record(t: Transition, rowOf: (p: number, out: Float64Array) => void): ReturnSample[] {
    const open = this.sessions.session(t, () => ({ rows: [], step: [], share: [], rewards: [] }));
    open.rewards.push(t.reward);
    const K = t.slate.items.length;
    let clicked = 0;
    for (let p = 0; p < K; p++) clicked += t.clicks?.[p] ? 1 : 0;
    for (let p = 0; p < K && clicked > 0; p++) {
      if (!t.clicks![p]) continue;
      const row = new Float64Array(this.width);
      rowOf(p, row);
      open.rows.push(row);
      open.step.push(open.rewards.length - 1);
      open.share.push(1 / clicked);
    }
    if (!t.done) return [];
    const ret = new Float64Array(open.rewards.length);
    for (let s = open.rewards.length - 1, acc = 0; s >= 0; s--) ret[s] = acc = open.rewards[s]! + this.gamma * acc;
    return open.rows.map((row, j) => ({ row, y: open.share[j]! * ret[open.step[j]!]! }));
  }

  /** The open sessions for the saved team (none: undefined). */
  save(): SavedSession[] | undefined {
    const open = this.sessions.openByUser();
    if (open.length === 0) return undefined;
    return open.map(([user, o]) => ({ user, rows: concatRows(o.rows), step: Float64Array.from(o.step), share: Float64Array.from(o.share), rewards: Float64Array.from(o.rewards) }));
  }

  load(saved: unknown): void {
    const list = Array.isArray(saved) ? (saved as SavedSession[]) : [];
    const w = this.width;
    this.sessions.restoreOpen(
      list.map(({ user, rows, step, share, rewards }) => [
        user,
        { rows: Array.from(step, (_, j) => rows.slice(j * w, (j + 1) * w)), step: Array.from(step), share: Array.from(share), rewards: Array.from(rewards) },
      ]),
    );
  }
}

/** Rows of equal width as one array (saved agents store typed arrays). */
function concatRows(rows: Float64Array[]): Float64Array {
  const out = new Float64Array(rows.reduce((a, r) => a + r.length, 0));
  let o = 0;
  for (const r of rows) (out.set(r, o), (o += r.length));
  return out;
}
