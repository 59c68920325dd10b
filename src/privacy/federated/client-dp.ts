/**
 * Client-level differential privacy for federated averaging (DP-FedAvg, McMahan, Ramage, Talwar &
 * Zhang 2018, "Learning Differentially Private Recurrent Language Models"): each round samples
 * every client with probability q (Poisson), clips each sampled client's update to L2 norm ≤ C,
 * sums the clipped updates, adds N(0, (σC)²) to every coordinate and divides by the expected
 * number of clients q·N (a public number; the realised count is not used). One round is one step
 * of the sampled Gaussian mechanism with the client as the unit, so the RDP accountant of
 * ../accountant.ts gives (ε, δ) after `rounds` rounds; δ defaults to 1/N, N the number of clients.
 */
import { ConfigError } from '../../errors.js';
import { dpSgdEpsilon, noiseForEpsilon } from '../accountant.js';
import { checkSpent, resolveDelta } from '../config.js';

export interface ClientDpOptions {
  /** L2 bound on one client's update per round. */
  clip: number;
  /** Target ε (the noise is chosen to meet it), or … */
  epsilon?: number;
  /** … a noise multiplier σ (ε is then computed). */
  noiseMultiplier?: number;
  /** Default 1/N. */
  delta?: number;
}

/** The resolved budget of a DP-FedAvg run (what its `privacy` report prints). */
export interface ClientDpPlan {
  clip: number;
  noiseMultiplier: number;
  delta: number;
  /** ε after all rounds (never above a given target). */
  epsilon: number;
  sampleRate: number;
  rounds: number;
  /** The protected unit: one client with all its users' interactions. */
  unit: 'client';
  mechanism: 'dp-fedavg';
}

export function planClientDp(o: ClientDpOptions, nClients: number, sampleRate: number, rounds: number): ClientDpPlan {
  if (!(o.clip > 0)) throw new ConfigError(`client DP clip must be > 0, got ${o.clip}`, 'dp.clip');
  if (o.epsilon === undefined && o.noiseMultiplier === undefined) throw new ConfigError('client DP needs epsilon (a target) or noiseMultiplier', 'dp');
  // The unit is a client, so δ defaults to 1/N clients (as DP-SGD's is 1/n users).
  const delta = resolveDelta(o.delta, nClients, 'federated (client-level)');
  const budget = { sampleRate, steps: rounds, delta };
  const sigma = o.noiseMultiplier ?? noiseForEpsilon(o.epsilon!, budget);
  const epsilon = dpSgdEpsilon(sigma, budget);
  checkSpent('federated (client-level)', epsilon, o.epsilon);
  return { clip: o.clip, noiseMultiplier: sigma, delta, epsilon, sampleRate, rounds, unit: 'client', mechanism: 'dp-fedavg' };
}

/** ε spent after `rounds` rounds of a plan (for per-round reports). */
export function clientDpEpsilonAfter(plan: ClientDpPlan, rounds: number): number {
  return rounds === 0 ? 0 : dpSgdEpsilon(plan.noiseMultiplier, { sampleRate: plan.sampleRate, steps: rounds, delta: plan.delta });
}

/** Scale `update` in place so that its L2 norm is at most `clip`; returns the norm it had. */
export function clipUpdate(update: Float64Array, clip: number): number {
  let ss = 0;
  for (let k = 0; k < update.length; k++) ss += update[k]! * update[k]!;
  const norm = Math.sqrt(ss);
  if (norm > clip) {
    const s = clip / norm;
    for (let k = 0; k < update.length; k++) update[k] = update[k]! * s;
  }
  return norm;
}
