/**
 * Warm-starting the serving bandit from a decision log (issue 17, learning from logs): replay the
 * logged decisions of a store — each with the feature rows the `cb` policy logged for every shown
 * position (./cb-policy.ts payload) and the feedback they received — into a fresh `CbPolicy`,
 * then save its checkpoint where `chorus serve` restores the policy from (state key `bandit`,
 * the same body as ./feedback.ts `saveCheckpoint`).
 *
 * The live server learns each reward with weight 1, which is what the policy that chose the
 * action saw. A policy started from someone else's log should instead correct for how that log
 * was chosen: with `weighting: 'ips'` every reward is learned with importance weight
 * min(maxWeight, 1/μ) — μ the logged propensity of that position — as VW's `--cb_type mtr`
 * (src/ope/learn/cb-regression.ts is the same regression on a BanditLog). Reward windows are
 * replayed as the server does (./reward-window.ts): feedback inside a decision's window is
 * learned, and shown positions without any get `defaultReward`.
 *
 * This file only reads the log and writes one state key; it changes nothing in the server.
 */
import type { Store } from '../store/types.js';
import { ConfigError } from '../errors.js';
import { writeCheckpoint } from './checkpoint.js';
import { CbPolicy } from './cb-policy.js';
import { learnedRewards } from './reward-window.js';
import type { SparseRow } from './namespaces.js';

export interface WarmStartOptions {
  /** 'ips' (default): weight 1/μ per learned reward; 'none': weight 1, as the live server. */
  weighting: 'ips' | 'none';
  /** Cap on the importance weight (bounds the variance one rare action adds). */
  maxWeight: number;
  /** The serving reward window (engine `rewardWaitSeconds`) and the reward of a position without feedback. */
  rewardWaitSeconds: number;
  defaultReward: number;
}

export const WARM_START_DEFAULTS: WarmStartOptions = { weighting: 'ips', maxWeight: 50, rewardWaitSeconds: 60, defaultReward: 0 };

export interface WarmStartReport {
  /** Decisions read, and those with learnable cb rows. */
  decisions: number;
  usable: number;
  /** Rewards learned (feedback and default rewards). */
  learned: number;
  /** Highest feedback seq of the source log. */
  lastFeedbackSeq: number;
  /** Sum of the importance weights learned with, and their largest. */
  weightSum: number;
  maxWeight: number;
}

function rowAt(payload: unknown, position: number): SparseRow | null {
  const p = payload as { cb?: unknown; rows?: unknown } | null;
  if (!p || p.cb !== 1 || !Array.isArray(p.rows)) return null;
  const r = p.rows[position] as Partial<SparseRow> | null | undefined;
  return r && Array.isArray(r.idx) && Array.isArray(r.val) && r.idx.length === r.val.length ? (r as SparseRow) : null;
}

/** Replay the store's decision log into `policy` (normally a fresh one). */
export async function learnFromDecisionLog(source: Store, policy: CbPolicy, options: Partial<WarmStartOptions> = {}): Promise<WarmStartReport> {
  const o = { ...WARM_START_DEFAULTS, ...options };
  if (o.weighting !== 'ips' && o.weighting !== 'none') throw new ConfigError(`weighting: expected "ips" or "none", got "${String(o.weighting)}"`, 'weighting');
  if (!(o.maxWeight >= 1)) throw new ConfigError(`maxWeight: expected >= 1, got ${o.maxWeight}`, 'maxWeight');
  const waitMs = o.rewardWaitSeconds * 1000;
  const rep: WarmStartReport = { decisions: 0, usable: 0, learned: 0, lastFeedbackSeq: 0, weightSum: 0, maxWeight: 0 };
  const learn = (row: SparseRow, reward: number, propensity: number): void => {
    const w = o.weighting === 'ips' ? Math.min(o.maxWeight, 1 / Math.max(propensity, 1e-12)) : 1;
    const before = policy.model.n;
    policy.model.learn(row, reward, w);
    if (policy.model.n > before) {
      rep.learned++;
      rep.weightSum += w;
      if (w > rep.maxWeight) rep.maxWeight = w;
    }
  };
  let after = 0;
  for (;;) {
    const page = await source.events.decisionsAfter(after, 1000);
    if (page.length === 0) break;
    after = page[page.length - 1]!.seq!;
    const feedback = await source.events.feedbackFor(page.map((d) => d.id));
    const byEvent = new Map<string, typeof feedback>();
    for (const f of feedback) {
      if (f.seq !== undefined && f.seq > rep.lastFeedbackSeq) rep.lastFeedbackSeq = f.seq;
      const l = byEvent.get(f.eventId!) ?? [];
      l.push(f);
      byEvent.set(f.eventId!, l);
    }
    for (const d of page) {
      rep.decisions++;
      if (!d.activated || rowAt(d.payload, 0) === null) continue;
      rep.usable++;
      const fb = byEvent.get(d.id) ?? [];
      // A window still open at the end of the log would learn the default reward later; so do we.
      for (const { position, reward } of learnedRewards(d, fb, waitMs, o.defaultReward)) {
        const row = rowAt(d.payload, position);
        if (row) learn(row, reward, d.propensities[position] ?? 1);
      }
    }
  }
  policy.flush();
  return rep;
}

/**
 * Save `policy` as the checkpoint `chorus serve` on `target` starts from. `lastSeq` is the feedback
 * seq of `target`'s own log that the policy already includes: the source log's last seq when
 * target is the source store (so a restart does not learn that feedback again), 0 for a new store.
 */
export async function saveWarmStart(target: Store, policy: CbPolicy, lastSeq: number): Promise<void> {
  const at = Date.now();
  await writeCheckpoint(target, { state: policy.getState(), lastSeq, at, windowsFrom: at });
}
