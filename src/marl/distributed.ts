/**
 * Distributed learners: `workers` worker threads each run a replica of the team on its own
 * vectorised simulator shard. After every vector step each replica sends the update its gradient
 * steps made to the value models in that step (and its auxiliary parameters); the coordinator
 * averages them and sends the mean back; every replica sets its values to the round's start plus
 * the mean update, so the value models stay identical across replicas (synchronous
 * data-parallel SGD with one round per vector step). The item agent's exposure state stays local to
 * each replica. Supported for every coordination mode but the item critic (independent, vdn,
 * weighted-vdn, qmix and comm — their mixing network's and messages' parameters are averaged, each
 * replica keeps its own Adam moments — and value-sharing); the critics (item-critic,
 * central-critic) are trained by the single-thread runner.
 *
 * Replicas use the context's CF factors as the user agent's prior (functions such as `scoreUser`
 * cannot cross a thread boundary).
 */
import type { SimConfig } from '../env/config.js';
import type { SimWorld } from '../env/world.js';
import { presetFamily } from '../env/presets.js';
import { ConfigError } from '../errors.js';
import { WorkerPool, workerUrl } from '../util/workers.js';
import type { TeamContext } from './context.js';
import { checkCoordination, SAMPLING_MODES, TeamAgent, TEAM_DEFAULTS, type TeamConfig } from './team.js';

export interface DistributedOptions {
  world: SimWorld;
  config: SimConfig;
  ctx: TeamContext;
  team: Partial<TeamConfig> & { seed: number };
  workers: number;
  /** Total user-steps over all replicas. */
  trainSteps: number;
  /** Sessions per replica per vector step. */
  nEnvs: number;
}

export interface DistributedInit {
  world: SimWorld;
  config: SimConfig;
  ctx: TeamContext;
  team: TeamConfig;
  nEnvs: number;
}

/** A plain-data copy of the context (no functions), safe to post to a worker. */
function plainContext(ctx: TeamContext): TeamContext {
  const { scoreUser: _s, extras: _e, ...rest } = ctx as TeamContext & { scoreUser?: unknown };
  return rest as TeamContext;
}

/** Train a team with `workers` gradient-exchanging replicas; returns the trained team (in this thread). */
export async function trainDistributed(o: DistributedOptions): Promise<{ team: TeamAgent; rounds: number }> {
  const team: TeamConfig = { ...TEAM_DEFAULTS, ...o.team };
  if (SAMPLING_MODES.includes(checkCoordination(team.coordination))) throw new ConfigError('distributed learners support independent, vdn, weighted-vdn, qmix, value-sharing and comm, not the critics (item-critic, central-critic)', 'coordination');
  if (!(o.workers >= 1)) throw new ConfigError(`workers must be ≥ 1, got ${o.workers}`, 'workers');
  // The replicas rebuild the rating family's sessions from the world alone; other families are not shipped to workers.
  if (presetFamily(o.config) !== 'rating') throw new ConfigError(`distributed team training runs on the rating family's presets only, not ${o.config.preset}`, 'preset');
  const ctx = plainContext(o.ctx);
  const init: DistributedInit = { world: o.world, config: o.config, ctx, team, nEnvs: o.nEnvs };
  const pool = new WorkerPool(workerUrl(import.meta.url, './distributed-worker.js'), o.workers, init);
  // The pool unrefs idle workers; keep the event loop alive while we await them.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  let rounds = 0;
  try {
    await Promise.all(Array.from({ length: o.workers }, (_, w) => pool.run(w, { op: 'init', worker: w })));
    const perRound = o.workers * o.nEnvs;
    for (let done = 0; done < o.trainSteps; done += perRound) {
      const syncs = await Promise.all(Array.from({ length: o.workers }, (_, w) => pool.run<Float64Array>(w, { op: 'round' })));
      const avg = new Float64Array(syncs[0]!.length);
      for (const s of syncs) for (let j = 0; j < avg.length; j++) avg[j]! += s[j]! / syncs.length;
      await Promise.all(Array.from({ length: o.workers }, (_, w) => pool.run(w, { op: 'apply', avg })));
      rounds++;
    }
    const saved = await pool.run<ReturnType<TeamAgent['toJSON']>>(0, { op: 'save' });
    const out = new TeamAgent(o.ctx, team);
    out.load(saved);
    return { team: out, rounds };
  } finally {
    clearInterval(keepAlive);
    await pool.close();
  }
}
