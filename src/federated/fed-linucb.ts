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
import { LinearSlateFeatures } from '../agents/linear-bandit.js';
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
  /** User-steps each client runs per round. */
  stepsPerRound: z.number().int().positive(),
  /** Parallel sessions in each client's simulator. */
  nEnvs: z.number().int().positive(),
  secureAgg: z.boolean(),
  /** Sums of φφᵀ grow with the steps: fewer fraction bits than FedAvg's updates leave room for them. */
  fixedPointBits: z.number().int().min(4).max(28).nullable(),
  seed: z.number().int(),
  /** LinUCB options (alpha, ridge, popularityPrior, shortlist). */
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

interface Client {
  id: number;
  agent: ManagedAgent;
  env: ReturnType<typeof createVecEnv>;
  obs: Observation[];
  features: LinearSlateFeatures;
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
  const clients: Client[] = Array.from({ length: c.clients }, (_, id) => {
    const env = createVecEnv(preset, c.nEnvs);
    const seed = seeds.nextUint32();
    return { id, agent: createAgent('linucb', ctx, { ...c.agent, seed }), env, obs: env.reset(seed), features: new LinearSlateFeatures(ctx) };
  });
  const tri = (d * (d + 1)) / 2;
  const agg = new Aggregator(
    clients.map((k) => k.id),
    tri + d,
    { secureAgg: c.secureAgg, fixedPointBits: c.fixedPointBits, seed: c.seed },
  );
  const payload = new Float64Array(tri + d);
  const phi = new Float64Array(d);
  const buf = new Int32Array(c.nEnvs * K);
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
        for (let done = 0; done < c.stepsPerRound; done += c.nEnvs) {
          buf.fill(-1);
          for (let s = 0; s < c.nEnvs; s++) {
            slates[s] = k.agent.act(k.obs[s]!, K);
            buf.set(slates[s]!.items.subarray(0, K), s * K);
          }
          const r = k.env.step(buf);
          for (let s = 0; s < c.nEnvs; s++) {
            const ended = r.done[s] === 1;
            const t: Transition = {
              observation: k.obs[s]!,
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
          k.obs = r.observations.slice();
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
