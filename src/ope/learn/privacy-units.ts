/**
 * The privacy units of a session log for DP training (./offline-agent.ts): the steps of each user
 * (`obs.user`, the dataset's user index, which server logs and simulator logs both fill in); where
 * the log does not know the user (index −1: a user the dataset lacks), each session — the steps up
 * to and including one marked `done` — is its own unit, and the guarantee is then per session.
 */
import type { LoggedStep } from './session-log.js';

export function privacyUnits(steps: readonly LoggedStep[]): { units: Int32Array[]; unit: 'user' | 'session' } {
  const byUser = new Map<number, number[]>();
  const sessions: number[][] = [];
  let open: number[] | null = null;
  for (let i = 0; i < steps.length; i++) {
    const st = steps[i]!;
    if (st.obs.user >= 0) {
      const l = byUser.get(st.obs.user);
      if (l) l.push(i);
      else byUser.set(st.obs.user, [i]);
    } else {
      (open ??= []).push(i);
      if (st.done) {
        sessions.push(open);
        open = null;
      }
    }
  }
  if (open) sessions.push(open);
  const units = [...byUser.values(), ...sessions].map((l) => Int32Array.from(l));
  return { units, unit: sessions.length > 0 ? 'session' : 'user' };
}
