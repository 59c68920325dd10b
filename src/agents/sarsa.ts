import type { Observation, Slate } from '../env/types.js';
import { TabularAgent } from './qlearning.js';
import type { ActOptions, Transition } from './types.js';

interface Pending {
  s: number;
  a: number;
  r: number;
}

/**
 * On-policy SARSA over the same state abstraction and actions as Q-learning. The update for
 * (s, a, r, s') needs a', the action taken in s'. When the transition names the slate acted at s'
 * (`nextSlate`: a server emits a step once the session's next decision exists) it updates at once;
 * otherwise (the simulator) the update waits until the agent acts in s', keyed by the next
 * observation object. Terminal transitions update at once.
 */
export class SarsaAgent extends TabularAgent {
  readonly name = 'sarsa';
  private readonly pending = new WeakMap<Observation, Pending>();

  act(obs: Observation, k: number, options?: ActOptions): Slate {
    const s = this.abstraction.index(obs);
    const a = this.chooseAction(s);
    const p = this.pending.get(obs);
    if (p) {
      this.pending.delete(obs);
      this.table.learnSarsa(p.s, p.a, p.r, s, a, false, this.config.gamma, this.config.lr);
    }
    return this.slateFor(obs, a, k, options);
  }

  override observe(t: Transition): boolean {
    if (!this.training) return false;
    const a = this.actionFor(t);
    if (a === undefined) return false;
    const { gamma, lr } = this.config;
    const s = this.abstraction.index(t.observation);
    if (t.done) {
      this.table.learnSarsa(s, a, t.reward, 0, 0, true, gamma, lr);
      return true;
    }
    const ns = t.nextSlate;
    const a2 = ns ? (this.actionOf.get(ns.items) ?? this.inferAction(t.next, ns.items)) : undefined;
    if (a2 !== undefined) this.table.learnSarsa(s, a, t.reward, this.abstraction.index(t.next), a2, false, gamma, lr);
    else this.pending.set(t.next, { s, a, r: t.reward });
    return true;
  }
}
