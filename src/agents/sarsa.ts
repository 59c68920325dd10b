import type { Observation, Slate } from '../env/types.js';
import { TabularAgent } from './qlearning.js';
import type { Transition } from './types.js';

interface Pending {
  s: number;
  a: number;
  r: number;
}

/**
 * On-policy SARSA over the same state abstraction and actions as Q-learning. The update for
 * (s, a, r, s') waits until the agent acts in s' (it needs a'), so pending updates are keyed by
 * the next observation object; terminal transitions update at once.
 */
export class SarsaAgent extends TabularAgent {
  readonly name = 'sarsa';
  private readonly pending = new WeakMap<Observation, Pending>();

  act(obs: Observation, k: number): Slate {
    const s = this.abstraction.index(obs);
    const a = this.chooseAction(s);
    const p = this.pending.get(obs);
    if (p) {
      this.pending.delete(obs);
      this.table.learnSarsa(p.s, p.a, p.r, s, a, false, this.config.gamma, this.config.lr);
    }
    return this.slateFor(obs, a, k);
  }

  override observe(t: Transition): void {
    const a = this.actionOf.get(t.slate.items);
    if (a === undefined || !this.training) return;
    const s = this.abstraction.index(t.observation);
    if (t.done) this.table.learnSarsa(s, a, t.reward, 0, 0, true, this.config.gamma, this.config.lr);
    else this.pending.set(t.next, { s, a, r: t.reward });
  }
}
