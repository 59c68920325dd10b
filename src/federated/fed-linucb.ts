/**
 * Federated LinUCB in the simulator: clients each run their own stream of simulated sessions
 * (their own `VecEnv`, seeded per client) with a LinUCB agent, and share only the agent's
 * sufficient statistics. Ridge regression's statistics add exactly: A = λI + Σ φφᵀ and b = λm + Σ r·φ
 * over every shown item, so the server's sum of the clients' round increments (ΔA_k, Δb_k) is the
 * statistics one agent would hold had it observed every client's transitions itself. Federated
 * averaging with the sum in place of the weighted mean (a sum is what these statistics need).
 *
 * Each round: the server sends A⁻¹ and b; each client's agent starts from them, acts and learns
 * locally during the round (Sherman–Morrison updates, as the centralised agent does), and uploads
 * its increments (the upper triangle of ΔA and Δb; ./aggregate.ts sums them, optionally under
 * secure aggregation); the server adds them to A and b and inverts A (Cholesky).
 *
 * The simulator draws each session's user itself, so clients here are session streams over the
 * same user population, not a partition of users as in federated ALS (./fed-als.ts). No DP path.
 */
import { z } from 'zod';
import { createAgent } from '../agents/registry.js';
import type { ManagedAgent } from '../agents/base.js';
import { clickedReward } from '../agents/base.js';
import { LinearSlateFeatures, linearBanditState } from '../agents/linear-bandit.js';
import type { Transition } from '../agents/types.js';
import type { Observation, Slate } from '../env/types.js';
import { createVecEnv } from '../env/presets.js';
import type { SimSetup } from '../eval/sim/runner.js';
import { ModelStateError } from '../errors.js';
import { cholesky, choleskySolve } from '../util/linalg.js';
import { Rng } from '../util/rng.js';
import { Aggregator } from './aggregate.js';

export const federatedBanditConfigSchema = z.strictObject({
  clients: z.number().int().positive(),
  rounds: z.number().int().positive(),
  /** User-steps each client runs per round, exactly (see `nEnvs`). */
  stepsPerRound: z.number().int().positive(),
  /**
   * Parallel sessions in each client's simulator. When it does not divide stepsPerRound, the
   * remainder runs on a second, narrower batch of sessions of the client's own.
   */
  nEnvs: z.number().int().positive(),
  secureAgg: z.boolean(),
  /** Sums of φφᵀ grow with the steps: fewer fraction bits than FedAvg's updates leave room for them. */
  fixedPointBits: z.number().int().min(4).max(28).nullable(),
  seed: z.number().int(),
  /** LinUCB options (alpha, ridge, popularityPrior, shortlist, profile). */
  agent: z.record(z.string(), z.unknown()),
});
export type FederatedBanditConfig = z.infer<typeof federatedBanditConfigSchema>;

export const FEDERATED_BANDIT_DEFAULTS: FederatedBanditConfig = {
  clients: 4,
  rounds: 10,
  stepsPerRound: 200,
  nEnvs: 8,
  secureAgg: false,
  fixedPointBits: 12,
  seed: 1,
  agent: {},
};

export interface BanditRound {
  round: number;
  participants: number;
  bytesDown: number;
  bytesUp: number;
  /** User-steps the clients ran this round, together (clients × stepsPerRound). */
  userSteps: number;
  /** Clicks per shown slate over the clients' sessions this round (a diagnostic of the simulation). */
  ctr: number;
}

export interface FederatedBanditResult {
  /** A LinUCB agent holding the global statistics (ready for SeedRun evaluation or saving). */
  agent: ManagedAgent;
  rounds: BanditRound[];
  setupBytes: number;
  /** Each client's local agent as it ended the last round (for inspecting the simulation). */
  clientAgents: ManagedAgent[];
}

/** A batch of parallel sessions: its simulator, their current observations, the slate buffer. */
interface Batch {
  env: ReturnType<typeof createVecEnv>;
  obs: Observation[];
  buf: Int32Array;
}

interface Client {
  id: number;
  agent: ManagedAgent;
  /** nEnvs sessions, and the `stepsPerRound mod nEnvs` sessions that make up the rest of a round (null when it divides). */
  main: Batch;
  tail: Batch | null;
  features: LinearSlateFeatures;
}

function batch(preset: SimSetup['preset'], n: number, slateSize: number, seed: number): Batch {
  const env = createVecEnv(preset, n);
  return { env, obs: env.reset(seed), buf: new Int32Array(n * slateSize) };
}

export function trainFederatedLinUcb(setup: SimSetup, config: Partial<FederatedBanditConfig> = {}): FederatedBanditResult {
  const c = federatedBanditConfigSchema.parse({ ...FEDERATED_BANDIT_DEFAULTS, ...config });
  const { ctx, preset } = setup;
  const K = preset.config.slateSize;
  const seeds = new Rng(c.seed);
  const server = createAgent('linucb', ctx, { ...c.agent, seed: c.seed });
  const start = server.toJSON().state as { ainv: Float64Array; b: Float64Array };
  const d = start.b.length;
  // The server keeps A itself (the clients' increments add to it); A⁻¹ is what it sends.
  const A = invertSpd(start.ainv, d);
  const b = Float64Array.from(start.b);
  const rest = c.stepsPerRound % c.nEnvs;
  const clients: Client[] = Array.from({ length: c.clients }, (_, id) => {
    const seed = seeds.nextUint32();
    return {
      id,
      agent: createAgent('linucb', ctx, { ...c.agent, seed }),
      main: batch(preset, c.nEnvs, K, seed),
      // Its own sessions, from a seed of its own (an offset, so the main batch's draws are unchanged).
      tail: rest > 0 ? batch(preset, rest, K, (seed + 0x9e3779b9) >>> 0) : null,
      // The client agent's own state options (its `profile`), so that what it uploads is what it learns from.
      features: new LinearSlateFeatures(ctx, linearBanditState(c.agent)),
    };
  });
  const tri = (d * (d + 1)) / 2;
  const agg = new Aggregator(
    clients.map((k) => k.id),
    tri + d,
    { secureAgg: c.secureAgg, fixedPointBits: c.fixedPointBits, seed: c.seed },
  );
  const payload = new Float64Array(tri + d);
  const phi = new Float64Array(d);
  const slates: Slate[] = [];
  const rounds: BanditRound[] = [];
  let ainv = start.ainv;
  for (let round = 1; round <= c.rounds; round++) {
    let clicks = 0;
    let shown = 0;
    const sum = agg.sum(
      round,
      clients.map((k) => k.id),
      (id) => {
        const k = clients[id]!;
        setStats(k.agent, ainv, b);
        k.agent.setTraining(true);
        payload.fill(0);
        for (let done = 0; done < c.stepsPerRound; ) {
          // Full batches while a full batch fits, then the narrower tail: exactly stepsPerRound user-steps.
          const bt = c.stepsPerRound - done >= c.nEnvs ? k.main : k.tail!;
          const n = bt.env.n;
          bt.buf.fill(-1);
          for (let s = 0; s < n; s++) {
            slates[s] = k.agent.act(bt.obs[s]!, K);
            bt.buf.set(slates[s]!.items.subarray(0, K), s * K);
          }
          const r = bt.env.step(bt.buf);
          for (let s = 0; s < n; s++) {
            const ended = r.done[s] === 1;
            const t: Transition = {
              observation: bt.obs[s]!,
              slate: slates[s]!,
              reward: r.rewards[s]!,
              parts: { R: r.R[s]!, G: r.G[s]!, A: r.A[s]!, itemG: r.g.slice(s * K, s * K + K) },
              clicks: r.clicks.slice(s * K, s * K + K),
              next: ended ? r.terminal[s]! : r.observations[s]!,
              done: ended,
            };
            k.agent.observe(t);
            // The same increments the agent's statistics take (LinearBanditStats.observe), kept as sums.
            k.features.setState(t.observation);
            for (let p = 0; p < t.slate.items.length; p++) {
              k.features.phi(t.slate.items[p]!, phi);
              const rew = clickedReward(t, p);
              let o = 0;
              for (let i = 0; i < d; i++) {
                for (let j = i; j < d; j++) payload[o++] += phi[i]! * phi[j]!;
              }
              for (let i = 0; i < d; i++) payload[tri + i] += rew * phi[i]!;
              clicks += t.clicks?.[p] ? 1 : 0;
            }
            shown++;
          }
          k.agent.update();
          bt.obs = r.observations.slice();
          done += n;
        }
        return payload;
      },
    );
    let o = 0;
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        A[i * d + j] += sum[o]!;
        if (j !== i) A[j * d + i] += sum[o]!;
        o++;
      }
    }
    for (let i = 0; i < d; i++) b[i] += sum[tri + i]!;
    ainv = invertSpd(A, d);
    rounds.push({
      round,
      participants: clients.length,
      // A⁻¹ and b down as float64 (the agents compute in float64); the increments up.
      bytesDown: clients.length * (d * d + d) * 8,
      bytesUp: clients.length * (tri + d) * agg.bytesPerWord,
      userSteps: shown,
      ctr: shown > 0 ? clicks / shown : 0,
    });
  }
  setStats(server, ainv, b);
  return { agent: server, rounds, setupBytes: agg.setupBytes, clientAgents: clients.map((k) => k.agent) };
}

/** Give an agent the statistics A⁻¹ and b (copies), through its saved-state interface. */
function setStats(agent: ManagedAgent, ainv: Float64Array, b: Float64Array): void {
  const saved = agent.toJSON();
  agent.load({ ...saved, state: { ...(saved.state as Record<string, unknown>), ainv: Float64Array.from(ainv), b: Float64Array.from(b) } });
}

/** The inverse of a symmetric positive definite d×d matrix (Cholesky, one solve per column). */
function invertSpd(m: Float64Array, d: number): Float64Array {
  const l = Float64Array.from(m);
  if (!cholesky(l, d)) throw new ModelStateError('federated LinUCB: the statistics matrix is not positive definite', 'E_MODEL_STATE');
  const inv = new Float64Array(d * d);
  const col = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    col.fill(0);
    col[j] = 1;
    choleskySolve(l, d, col);
    for (let i = 0; i < d; i++) inv[i * d + j] = col[i]!;
  }
  return inv;
}
