/**
 * Federated averaging (McMahan et al. 2017, "Communication-Efficient Learning of Deep Networks from
 * Decentralized Data") over simulated clients, for any model whose shared part is one vector of
 * parameters. Each round the server samples clients (each with probability q), sends them the
 * global parameters, each trains locally (`FederatedClient.localUpdate`) and returns its update
 * (local − global); the server moves the global parameters by the weighted mean update.
 *
 * Options, composable:
 * - client-level DP (DP-FedAvg, ../privacy/federated/client-dp.ts): updates clipped to L2 ≤ C,
 *   weight 1 each, Gaussian noise σC on the sum, divided by the expected count q·N;
 * - secure aggregation (../privacy/federated/secure-agg.ts): the server receives only pairwise-
 *   masked fixed-point vectors and learns only their sum; a round that sampled fewer than
 *   `minParticipants` clients (t, default 2) is skipped, since a sum over one client is its update;
 * - fixed point (./aggregate.ts): updates travel as 32-bit integers (2^−bits resolution) with or
 *   without secure aggregation, so that both give the same numbers bit for bit; `fixedPointBits:
 *   null` sums in float64 instead (exact FedAvg arithmetic; not with secure aggregation).
 *
 * Without DP the weight of client k is size_k / Σ size (its share of all users, a public total);
 * the weights travel inside the (masked) vector as one more coordinate, so the server divides by
 * the participants' total weight without seeing anyone's.
 *
 * The clients run one after another in this process: a simulation of the protocol's arithmetic
 * and message sizes, not a networked deployment.
 */
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { addGaussianNoise } from '../privacy/mechanisms.js';
import { clientDpEpsilonAfter, clipUpdate, planClientDp, type ClientDpPlan } from '../privacy/federated/client-dp.js';
import { Rng } from '../util/rng.js';
import { Aggregator, DEFAULT_MIN_PARTICIPANTS } from './aggregate.js';

/** A simulated client: holds its own data and local state; only `update` leaves it. */
export interface FederatedClient {
  readonly id: number;
  /** Its size for the FedAvg weight (users it holds). */
  readonly size: number;
  /** Train locally from `global` (never modified) and write local − global into `update`. */
  localUpdate(global: Float32Array, round: number, update: Float64Array): void;
}

export const clientDpSchema = z
  .strictObject({
    clip: z.number().positive(),
    epsilon: z.number().positive().optional(),
    noiseMultiplier: z.number().positive().optional(),
    delta: z.number().gt(0).lt(1).optional(),
  })
  .refine((d) => d.epsilon !== undefined || d.noiseMultiplier !== undefined, { message: 'dp needs epsilon or noiseMultiplier' });

export const fedAvgConfigSchema = z.strictObject({
  rounds: z.number().int().positive(),
  /** q: each client takes part in a round with this probability (1 = all, every round). */
  clientFraction: z.number().gt(0).max(1),
  /** Server step on the mean update (1 = plain FedAvg: the new model is the weighted mean of local models). */
  serverLearningRate: z.number().positive(),
  secureAgg: z.boolean(),
  /** With secureAgg: a round needs at least this many sampled clients, else it is skipped (Bonawitz's t). */
  minParticipants: z.number().int().min(2),
  /** Fraction bits of the fixed-point wire format; null = float64 sums (not with secureAgg). */
  fixedPointBits: z.number().int().min(4).max(28).nullable(),
  dp: clientDpSchema.optional(),
  seed: z.number().int(),
});
export type FedAvgConfig = z.infer<typeof fedAvgConfigSchema>;

export const FEDAVG_DEFAULTS: FedAvgConfig = {
  rounds: 20,
  clientFraction: 1,
  serverLearningRate: 1,
  secureAgg: false,
  minParticipants: DEFAULT_MIN_PARTICIPANTS,
  fixedPointBits: 20,
  seed: 0,
};

export interface RoundReport {
  round: number;
  /** Clients sampled this round (all of them took part, unless the round was skipped). */
  participants: number;
  /**
   * The round was skipped: secure aggregation with fewer sampled clients than its threshold. No
   * client trained or sent anything, no noise was drawn, and the global parameters did not change.
   */
  skipped: boolean;
  /** Bytes sent to the clients (the global parameters, float32) and from them (their updates). */
  bytesDown: number;
  bytesUp: number;
  /** Mean L2 norm of the participants' updates before clipping (0 in a skipped round). */
  meanUpdateNorm: number;
  /** With DP: ε spent after this round. */
  epsilon?: number;
}

export interface FedAvgResult {
  rounds: RoundReport[];
  bytesDown: number;
  bytesUp: number;
  /** Key publication for secure aggregation: each client's public key up, the others' down. */
  setupBytes: number;
  dp?: ClientDpPlan;
  /**
   * With DP and secure aggregation: the δ the threshold adds to the plan's (`thresholdDelta`).
   * The guarantee is then (ε, δ + thresholdDelta).
   */
  dpThresholdDelta?: number;
  /**
   * With DP: the report fields the privacy budget does not cover. They are simulation diagnostics,
   * read from the raw, unclipped updates and the realised sample, not outputs of the mechanism.
   */
  nonPrivate?: string[];
}

/** Per-round fields of `RoundReport` that DP does not cover (see `FedAvgResult.nonPrivate`). */
export const NON_PRIVATE_ROUND_FIELDS = ['participants', 'skipped', 'bytesDown', 'bytesUp', 'meanUpdateNorm'];

/**
 * The extra δ of the secure-aggregation threshold under client-level DP, for N clients, sampling
 * rate q, T rounds and threshold t. On neighbouring client sets the two runs differ from plain
 * DP-FedAvg only in a round where fewer than t of the *other* clients (at least N − 1 of them)
 * were sampled: with t or more of them, neither run skips, whether or not the extra client is
 * sampled. Otherwise the skip itself can tell the runs apart, which the accountant does not model.
 * So the guarantee is (ε, δ + P[some round has Bin(N − 1, q) < t]) = (ε, δ + 1 − (1 − p)^T).
 */
export function thresholdDelta(nClients: number, sampleRate: number, rounds: number, threshold: number): number {
  const others = nClients - 1;
  let p: number;
  // With q = 1 every other client is sampled: the count is exactly N − 1.
  if (sampleRate >= 1) p = others < threshold ? 1 : 0;
  else {
    // p = P[Bin(others, q) ≤ t − 1], term by term (t is small).
    p = 0;
    let term = (1 - sampleRate) ** others;
    for (let k = 0; k < threshold && k <= others; k++) {
      p += term;
      term = (term * (others - k) * sampleRate) / ((k + 1) * (1 - sampleRate));
    }
  }
  // 1 − (1 − p)^T, accurate for tiny p too.
  return -Math.expm1(rounds * Math.log1p(-Math.min(1, p)));
}

/**
 * Run FedAvg on `global` (updated in place). `onRound` sees each round's report and the new global
 * parameters (for diagnostics the simulation may compute; nothing of it is part of the protocol).
 */
export function runFedAvg(
  global: Float32Array,
  clients: readonly FederatedClient[],
  config: FedAvgConfig,
  onRound?: (report: RoundReport, global: Float32Array) => void,
): FedAvgResult {
  const c = fedAvgConfigSchema.parse(config);
  const n = clients.length;
  if (n === 0) throw new ConfigError('federated averaging needs at least one client', 'clients');
  const d = global.length;
  const dp = c.dp ? planClientDp(c.dp, n, c.clientFraction, c.rounds) : undefined;
  const totalSize = clients.reduce((s, k) => s + k.size, 0);
  // Sampling and noise draw from separate streams, so turning DP on does not change who is sampled.
  const root = new Rng(c.seed);
  const sampler = root.fork();
  const noise = root.fork();
  // Payload: the update (weighted, or clipped under DP) and, without DP, the weight.
  const width = dp ? d : d + 1;
  const agg = new Aggregator(
    clients.map((k) => k.id),
    width,
    { secureAgg: c.secureAgg, fixedPointBits: c.fixedPointBits, seed: c.seed, minParticipants: c.minParticipants },
  );
  const byId = new Map(clients.map((k) => [k.id, k]));
  const update = new Float64Array(d);
  const payload = new Float64Array(width);
  const reports: RoundReport[] = [];
  for (let round = 1; round <= c.rounds; round++) {
    const chosen = clients.filter(() => c.clientFraction >= 1 || sampler.next() < c.clientFraction);
    let normSum = 0;
    // Below the secure-aggregation threshold the round is skipped outright: nobody trains or
    // sends, no noise is drawn, the parameters stay. Under DP this is the simplest correct choice.
    // Releasing noise alone would not fit the accountant any better (the thresholded sum jumps by
    // up to t·C when one client lifts the count to t) and would only cost accuracy; releasing
    // nothing releases nothing about the updates. The round still counts as one of the
    // accountant's steps (ε is the plan's, as if it had run); the one thing the skip reveals is
    // that few clients were sampled, and `thresholdDelta` bounds what that adds to δ.
    if (!agg.enough(chosen.length)) {
      const report: RoundReport = { round, participants: chosen.length, skipped: true, bytesDown: 0, bytesUp: 0, meanUpdateNorm: 0 };
      if (dp) report.epsilon = clientDpEpsilonAfter(dp, round);
      reports.push(report);
      onRound?.(report, global);
      continue;
    }
    const sum = agg.sum(
      round,
      chosen.map((k) => k.id),
      (id) => {
        const k = byId.get(id)!;
        k.localUpdate(global, round, update);
        if (dp) {
          normSum += clipUpdate(update, dp.clip);
          payload.set(update);
          return payload;
        }
        const w = k.size / totalSize;
        let ss = 0;
        for (let j = 0; j < d; j++) {
          ss += update[j]! * update[j]!;
          payload[j] = w * update[j]!;
        }
        normSum += Math.sqrt(ss);
        payload[d] = w;
        return payload;
      },
    );
    if (dp) {
      // Every round is a step of the mechanism, even one that sampled nobody: noise is released regardless.
      addGaussianNoise(sum, dp.noiseMultiplier * dp.clip, noise);
      const scale = c.serverLearningRate / (c.clientFraction * n);
      for (let j = 0; j < d; j++) global[j] = global[j]! + scale * sum[j]!;
    } else if (chosen.length > 0) {
      const scale = c.serverLearningRate / sum[d]!;
      for (let j = 0; j < d; j++) global[j] = global[j]! + scale * sum[j]!;
    }
    const report: RoundReport = {
      round,
      participants: chosen.length,
      skipped: false,
      bytesDown: chosen.length * d * 4,
      bytesUp: chosen.length * width * agg.bytesPerWord,
      meanUpdateNorm: chosen.length > 0 ? normSum / chosen.length : 0,
    };
    if (dp) report.epsilon = clientDpEpsilonAfter(dp, round);
    reports.push(report);
    onRound?.(report, global);
  }
  return {
    rounds: reports,
    bytesDown: reports.reduce((s, r) => s + r.bytesDown, 0),
    bytesUp: reports.reduce((s, r) => s + r.bytesUp, 0),
    setupBytes: agg.setupBytes,
    ...(dp ? { dp, nonPrivate: [...NON_PRIVATE_ROUND_FIELDS] } : {}),
    ...(dp && c.secureAgg ? { dpThresholdDelta: thresholdDelta(n, c.clientFraction, c.rounds, c.minParticipants) } : {}),
  };
}
