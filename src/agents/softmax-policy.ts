/**
 * A softmax policy over a per-step candidate set, shared by REINFORCE, A2C and PPO:
 * π(i | s) ∝ exp(f_θ(s, i)) with f_θ an MLP over `PairFeatures` rows. A slate is k items drawn
 * without replacement (Plackett–Luce): the propensity logged for position p is the exact
 * probability of its item given the positions before it, π(a_p) / (1 − Σ_{q<p} π(a_q)); the
 * learners' importance ratios use π(a | s) itself (`PolicyStep.behaviour`). In evaluation mode the
 * slate is the top-k logits (propensity 1).
 *
 * Learning goes through `gradientStep`: the caller gives, per stored step, a weight w_a for each
 * slate action a, and the step ascends Σ w_a · log π(a | s) (+ an entropy bonus); the weight
 * carries the algorithm (return × top-K correction, advantage, clipped ratio × advantage).
 * With a history encoder in the pair features (./encoder-state.ts) the same step trains it: the
 * policy's loss is the one loss that moves the encoder; V(s) reads the encoder's state but its
 * regression loss does not train it (one objective per encoder keeps its Adam moments on one
 * scale).
 */
import type { Observation, Slate } from '../env/types.js';
import { Adam, Mlp } from '../nn/index.js';
import type { Rng } from '../util/rng.js';
import { CandidateSource, PairFeatures, grow, packFloats, packInts, packObservations, sampleWithoutReplacement, snapshotObservation, unpackFloats, unpackInts, unpackObservations, type PackedObservations } from './neural.js';
import type { ActOptions, Transition } from './types.js';

/** One acted step as the policy saw it. */
export interface PolicyStep {
  obs: Observation;
  cands: Int32Array;
  /** Positions (into cands) of the slate items. */
  actions: Int32Array;
  /** Behaviour probabilities π_old(a | s) of the actions when acted. */
  behaviour: Float32Array;
}

export class SoftmaxPolicy {
  readonly net: Mlp;
  readonly opt: Adam;
  private x: Float32Array = new Float32Array(0);
  private g: Float32Array = new Float32Array(0);
  private probs: Float32Array = new Float32Array(0);
  private taken = new Uint8Array(0);
  private picks = new Int32Array(0);

  constructor(
    readonly pairs: PairFeatures,
    readonly source: CandidateSource,
    hidden: number[],
    lr: number,
    rng: Rng,
  ) {
    // A small output layer starts the policy near uniform over the candidates.
    this.net = new Mlp({ sizes: [pairs.dim, ...hidden, 1], outputInitScale: 0.1 }, rng);
    this.opt = new Adam(this.net.params, this.net.grads, { lr, maxGradNorm: 5 });
  }

  /** Logits of all candidates, softmax written into this.probs[0..n). */
  private distribution(obs: Observation, cands: Int32Array): Float32Array {
    const n = cands.length;
    this.x = grow(this.x, n * this.pairs.dim);
    this.pairs.fill(obs, cands, this.x);
    const logits = this.net.forward(this.x, n);
    this.probs = grow(this.probs, n);
    let mx = -Infinity;
    for (let q = 0; q < n; q++) mx = Math.max(mx, logits[q]!);
    let s = 0;
    for (let q = 0; q < n; q++) s += this.probs[q] = Math.exp(logits[q]! - mx);
    for (let q = 0; q < n; q++) this.probs[q]! /= s;
    return this.probs;
  }

  /** Act: sample (training) or take the top-k (evaluation). Returns the slate and what to remember. */
  act(obs: Observation, k: number, rng: Rng, explore: boolean, options?: ActOptions): { slate: Slate; step: PolicyStep } {
    const cands = this.source.get(obs, rng, options);
    const n = cands.length;
    const p = this.distribution(obs, cands);
    const m = Math.min(k, n);
    if (this.taken.length < n) this.taken = new Uint8Array(n * 2);
    if (this.picks.length < m) this.picks = new Int32Array(m * 2);
    if (explore) sampleWithoutReplacement(p, n, m, rng, this.picks, this.taken);
    else topPositions(p, n, m, this.picks);
    const actions = this.picks.slice(0, m);
    const items = new Int32Array(m);
    const props = new Float32Array(m);
    const scores = new Float32Array(m);
    let rest = 1;
    for (let s = 0; s < m; s++) {
      const pa = p[actions[s]!]!;
      items[s] = cands[actions[s]!]!;
      // sampleWithoutReplacement fills in order once the remaining mass underflows: certain then.
      props[s] = explore && rest > 1e-12 ? Math.min(1, pa / rest) : 1;
      rest -= pa;
      scores[s] = pa;
    }
    return { slate: { items, propensities: props, scores }, step: { obs, cands, actions, behaviour: Float32Array.from(actions, (a) => p[a]!) } };
  }

  /**
   * Current π(a | s) for every step's actions (one forward over all candidate rows), written
   * into out[step][action]. Also leaves the forward cached for `gradientStep`.
   */
  probabilities(steps: PolicyStep[]): Float32Array[] {
    let rows = 0;
    for (const st of steps) rows += st.cands.length;
    this.x = grow(this.x, rows * this.pairs.dim);
    const enc = this.pairs.encoder;
    // One batched encoder pass, kept for gradientStep's backward into the encoder.
    const states = enc ? this.pairs.encodeBatch(steps.map((st) => st.obs)) : null;
    let r = 0;
    for (let t = 0; t < steps.length; t++) {
      const st = steps[t]!;
      this.pairs.fill(st.obs, st.cands, this.x, r, states?.subarray(t * enc!.dim, (t + 1) * enc!.dim));
      r += st.cands.length;
    }
    const logits = this.net.forward(this.x, rows);
    this.probs = grow(this.probs, rows);
    const out: Float32Array[] = [];
    r = 0;
    for (const st of steps) {
      const n = st.cands.length;
      let mx = -Infinity;
      for (let q = 0; q < n; q++) mx = Math.max(mx, logits[r + q]!);
      let s = 0;
      for (let q = 0; q < n; q++) s += this.probs[r + q] = Math.exp(logits[r + q]! - mx);
      for (let q = 0; q < n; q++) this.probs[r + q]! /= s;
      out.push(Float32Array.from(st.actions, (a) => this.probs[r + a]!));
      r += n;
    }
    return out;
  }

  /**
   * After `probabilities(steps)`: one Adam step ascending Σ_t Σ_a w[t][a]·log π(a|s_t) / |steps|
   * plus entropyCoef × the mean entropy (and one for the history encoder, when there is one; no
   * other encoder pass may come between the two calls).
   */
  gradientStep(steps: PolicyStep[], weights: Float32Array[], entropyCoef: number): void {
    let rows = 0;
    for (const st of steps) rows += st.cands.length;
    this.g = grow(this.g, rows);
    const g = this.g;
    const inv = 1 / Math.max(1, steps.length);
    let r = 0;
    for (let t = 0; t < steps.length; t++) {
      const st = steps[t]!;
      const n = st.cands.length;
      const w = weights[t]!;
      let wsum = 0;
      for (let a = 0; a < w.length; a++) wsum += w[a]!;
      // d(−Σ w_a log π_a)/dlogit_q = −(Σ_a w_a 1[q=a]) + π_q Σ_a w_a
      for (let q = 0; q < n; q++) g[r + q] = inv * this.probs[r + q]! * wsum;
      for (let a = 0; a < st.actions.length; a++) g[r + st.actions[a]!]! -= inv * w[a]!;
      if (entropyCoef > 0) {
        let h = 0;
        for (let q = 0; q < n; q++) {
          const pq = this.probs[r + q]!;
          if (pq > 0) h -= pq * Math.log(pq);
        }
        // dH/dlogit_q = −π_q (log π_q + H); the loss takes −entropyCoef·H.
        for (let q = 0; q < n; q++) {
          const pq = this.probs[r + q]!;
          if (pq > 0) g[r + q]! += inv * entropyCoef * pq * (Math.log(pq) + h);
        }
      }
      r += n;
    }
    this.net.zeroGrad();
    if (this.pairs.encoder) {
      const dx = this.net.backward(g.subarray(0, rows), true)!;
      this.pairs.trainEncoder(
        dx,
        steps.map((st) => st.cands.length),
      );
    } else this.net.backward(g.subarray(0, rows));
    this.opt.step();
  }
}

/** Positions of the m largest values of p[0..n), best first (ties by position). */
export function topPositions(p: Float32Array, n: number, m: number, out: Int32Array): void {
  let size = 0;
  for (let q = 0; q < n; q++) {
    const v = p[q]!;
    if (size < m) {
      let s = size++;
      while (s > 0 && p[out[s - 1]!]! < v) (out[s] = out[s - 1]!), s--;
      out[s] = q;
    } else if (v > p[out[m - 1]!]!) {
      let s = m - 1;
      while (s > 0 && p[out[s - 1]!]! < v) (out[s] = out[s - 1]!), s--;
      out[s] = q;
    }
  }
}

/** State-value baseline V(s): an MLP over the state features trained by MSE. */
export class ValueNet {
  readonly net: Mlp;
  readonly opt: Adam;
  private x: Float32Array = new Float32Array(0);
  private g: Float32Array = new Float32Array(0);

  constructor(
    readonly pairs: PairFeatures,
    hidden: number[],
    lr: number,
    rng: Rng,
  ) {
    this.net = new Mlp({ sizes: [pairs.stateDim, ...hidden, 1] }, rng);
    this.opt = new Adam(this.net.params, this.net.grads, { lr, maxGradNorm: 5 });
  }

  /** V of each observation (a fresh array). */
  values(obs: Observation[]): Float32Array {
    const n = obs.length;
    this.x = grow(this.x, n * this.pairs.stateDim);
    this.pairs.encodeStates(obs, this.x);
    return Float32Array.from(this.net.forward(this.x, n));
  }

  /** One Adam step of MSE towards targets (values() must not have been called since for other states). */
  fit(obs: Observation[], targets: Float32Array): number {
    const v = this.values(obs);
    const n = obs.length;
    this.g = grow(this.g, n);
    let loss = 0;
    for (let t = 0; t < n; t++) {
      const d = v[t]! - targets[t]!;
      loss += d * d;
      this.g[t] = (2 * d) / n;
    }
    this.net.zeroGrad();
    this.net.backward(this.g.subarray(0, n));
    this.opt.step();
    return loss / n;
  }
}

/** An acted step waiting for its reward, found again by its slate's items array. */
export class PendingSteps {
  private readonly map = new WeakMap<Int32Array, PolicyStep>();

  remember(slate: Slate, step: PolicyStep): void {
    this.map.set(slate.items, step);
  }

  /**
   * The policy step behind a transition: the acted step itself when the shown slate is the one
   * acted; the acted step restricted to the shown items when a server filtered or topped it up;
   * else (logged data, or a server's transition after a restart) one rebuilt from the shown slate.
   */
  recall(t: Transition): PolicyStep {
    const acted = t.acted ?? t.slate;
    const s = this.map.get(acted.items);
    if (s && acted.items === t.slate.items) return s;
    const logged = loggedPropensities(t.slate);
    if (s) {
      // Shown items the policy could have drawn (its candidates) are its actions; β is the acted
      // probability for the items it drew, the logged one for items a server put there.
      const actions: number[] = [];
      const behaviour: number[] = [];
      t.slate.items.forEach((i, p) => {
        const q = s.cands.indexOf(i);
        if (q < 0) return;
        const a = s.actions.indexOf(q);
        actions.push(q);
        behaviour.push(a >= 0 ? s.behaviour[a]! : logged[p]!);
      });
      return { obs: s.obs, cands: s.cands, actions: Int32Array.from(actions), behaviour: Float32Array.from(behaviour) };
    }
    // A slate this agent did not act (or no longer remembers): its items are the candidates and the
    // actions, β the logged probabilities (uniform over the slate only when none were logged).
    const n = t.slate.items.length;
    return {
      obs: snapshotObservation(t.observation),
      cands: Int32Array.from(t.slate.items),
      actions: Int32Array.from({ length: n }, (_, i) => i),
      behaviour: logged,
    };
  }
}

/**
 * β for learning from a shown slate: its logged propensities (each position's, given the ones
 * before it: for a Plackett–Luce logger position 0's is π(a | s) itself, later ones are at least
 * π(a | s), so ratios π/β err small, never large); uniform over the slate only when none were logged.
 */
function loggedPropensities(slate: Slate): Float32Array {
  const n = slate.items.length;
  return slate.propensities ? Float32Array.from(slate.propensities.subarray(0, n), (x) => Math.max(x, 1e-8)) : new Float32Array(n).fill(1 / Math.max(1, n));
}

/** (x − mean) / std in place (std floored so a constant batch stays finite). */
export function standardise(x: Float32Array): Float32Array {
  const n = x.length;
  if (n === 0) return x;
  let m = 0;
  for (let i = 0; i < n; i++) m += x[i]!;
  m /= n;
  let s = 0;
  for (let i = 0; i < n; i++) s += (x[i]! - m) ** 2;
  const sd = Math.max(Math.sqrt(s / n), 1e-6);
  for (let i = 0; i < n; i++) x[i] = (x[i]! - m) / sd;
  return x;
}

/** Policy steps as a few typed arrays (for saving the agents' pending on-policy data). */
export function packPolicySteps(steps: PolicyStep[]): unknown {
  return {
    obs: packObservations(steps.map((s) => s.obs)),
    cands: packInts(steps.map((s) => s.cands)),
    actions: packInts(steps.map((s) => s.actions)),
    behaviour: packFloats(steps.map((s) => s.behaviour)),
  };
}

export function unpackPolicySteps(packed: unknown): PolicyStep[] {
  const p = packed as
    | { obs: PackedObservations; cands: { ptr: Int32Array; data: Int32Array }; actions: { ptr: Int32Array; data: Int32Array }; behaviour: { ptr: Int32Array; data: Float32Array } }
    | undefined;
  if (!p || !p.obs) return [];
  const obs = unpackObservations(p.obs);
  const cands = unpackInts(p.cands);
  const actions = unpackInts(p.actions);
  const behaviour = unpackFloats(p.behaviour);
  return obs.map((o, i) => ({ obs: o, cands: cands[i]!, actions: actions[i]!, behaviour: behaviour[i]! }));
}
