import type { DecisionRecord } from '../store/types.js';

/**
 * Reward windows, as Azure Personalizer's `rewardWaitTime` and `defaultReward` define them: an
 * activated decision waits `waitMs` for feedback. Feedback that arrives in time is learned; when
 * the window closes, every shown position that got none is learned with the default reward, so
 * the learner hears about every impression, not only the clicked ones. Feedback after the window
 * is logged but not learned (Personalizer drops it too).
 *
 * A Rank decision (one drawn action) takes the earliest reward, as Personalizer's default
 * `rewardAggregation: earliest`: its first reward closes the window. A slate decision stays open
 * until the deadline, since each of its positions may be clicked.
 *
 * The window of a deferred Rank event opens when it is activated; rewards that came before are
 * learned then.
 *
 * Open windows are kept in a Map in opening order. The wait is the same for all, so that is also
 * deadline order, and expiring them is a scan from the front.
 */
export interface RewardWindowConfig {
  waitMs: number;
  defaultReward: number;
}

interface OpenWindow {
  /** When the decision was logged (or activated): a restart rescans decisions from the oldest open one. */
  ts: number;
  deadline: number;
  /** Positions that can receive a reward. */
  size: number;
  /**
   * 1 where a position has had feedback; null while none has (most decisions never get any).
   * Made at the first feedback: a typed array per decision, alive for the whole wait, made the
   * young-generation GC copy and track an ArrayBuffer for every slate served (issue 22's profile).
   */
  got: Uint8Array | null;
  single: boolean;
}

export interface Expired {
  id: string;
  /** Positions that need the default reward. */
  missing: number[];
}

export class RewardWindows {
  readonly config: RewardWindowConfig;
  private readonly open = new Map<string, OpenWindow>();

  constructor(config: RewardWindowConfig) {
    this.config = config;
  }

  get size(): number {
    return this.open.size;
  }

  /** A decision starts waiting at `at`; `got` carries positions that already had feedback. */
  opened(d: Pick<DecisionRecord, 'id' | 'kind' | 'items'>, at: number, got?: Uint8Array): void {
    const single = d.kind === 'rank';
    this.open.delete(d.id); // re-opening (restart) moves it to its place in deadline order
    const size = got ? got.length : single ? Math.min(1, d.items.length) : d.items.length;
    this.open.set(d.id, { ts: at, deadline: at + this.config.waitMs, size, got: got ?? null, single });
  }

  /**
   * Feedback on `position` of decision `id`: `learn` when the window is open (and, for a Rank
   * decision, this is its first reward); `closed` when this feedback closed the window.
   */
  feedback(id: string, position: number): { learn: boolean; closed: boolean } {
    const w = this.open.get(id);
    if (!w || position < 0 || position >= w.size) return { learn: false, closed: false };
    (w.got ??= new Uint8Array(w.size))[position] = 1;
    if (w.single) {
      this.open.delete(id);
      return { learn: true, closed: true };
    }
    return { learn: true, closed: false };
  }

  /** Remove and return the windows whose deadline has passed by `now`, oldest first (at most `limit`). */
  expired(now: number, limit: number): Expired[] {
    const out: Expired[] = [];
    for (const [id, w] of this.open) {
      if (w.deadline > now || out.length >= limit) break;
      this.open.delete(id);
      const missing: number[] = [];
      for (let p = 0; p < w.size; p++) if (!w.got?.[p]) missing.push(p);
      out.push({ id, missing });
    }
    return out;
  }

  /** The log time from which a restart must rescan decisions for open windows. */
  oldestOpen(now: number): number {
    for (const w of this.open.values()) return Math.min(w.ts, now);
    return now;
  }

  /** Forget decision `id`'s window (its decision was erased); true when one was open. */
  drop(id: string): boolean {
    return this.open.delete(id);
  }

  clear(): void {
    this.open.clear();
  }
}

/**
 * A logged decision's window as the live server saw it, rebuilt from the log after a restart:
 * which feedback was learned, when the window closed (or will), and which positions need the
 * default reward. `feedback` is the decision's feedback, oldest first.
 *
 * The rebuild takes the decision's own time as the window's start; for a deferred Rank event the
 * live window started at activation, which the log does not keep, so after a restart such an
 * event's deadline counts from its Rank call.
 */
export function replayWindow(
  d: Pick<DecisionRecord, 'ts' | 'kind' | 'items'>,
  feedback: readonly { seq?: number; ts: number; position: number | null }[],
  waitMs: number,
): { learned: Set<number>; closesAt: number; got: Uint8Array; missing: number[] } {
  const single = d.kind === 'rank';
  const deadline = d.ts + waitMs;
  const got = new Uint8Array(single ? Math.min(1, d.items.length) : d.items.length);
  const learned = new Set<number>();
  let closesAt = deadline;
  for (const f of feedback) {
    if (f.position === null || f.position < 0 || f.position >= got.length || f.ts > deadline) continue;
    got[f.position] = 1;
    if (f.seq !== undefined) learned.add(f.seq);
    if (single) {
      closesAt = f.ts;
      break;
    }
  }
  const missing: number[] = [];
  for (let p = 0; p < got.length; p++) if (!got[p]) missing.push(p);
  return { learned, closesAt, got, missing };
}

/**
 * What the online learner takes from a decision once its window has closed: each feedback it
 * learned (in the order given), then the default reward on every position that got none. The one
 * rule behind the warm start's replay and the snapshot gate's rewards.
 */
export function learnedRewards(
  d: Pick<DecisionRecord, 'ts' | 'kind' | 'items'>,
  feedback: readonly { seq?: number; ts: number; position: number | null; reward: number }[],
  waitMs: number,
  defaultReward: number,
): { position: number; reward: number }[] {
  const w = replayWindow(d, feedback, waitMs);
  const out: { position: number; reward: number }[] = [];
  // replayWindow learns only feedback with a position inside the slate.
  for (const f of feedback) if (f.seq !== undefined && w.learned.has(f.seq)) out.push({ position: f.position!, reward: f.reward });
  for (const p of w.missing) out.push({ position: p, reward: defaultReward });
  return out;
}
