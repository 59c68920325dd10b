/** Worker side of `trainDistributed`: one team replica and its simulator shard. */
import { VecEnv } from '../env/vec-env.js';
import type { Observation, Slate } from '../env/types.js';
import { serveWorker } from '../util/workers.js';
import type { DistributedInit } from './distributed.js';
import { TeamAgent } from './team.js';

type Request = { op: 'init'; worker: number } | { op: 'round' } | { op: 'apply'; avg: Float64Array } | { op: 'save' };

let team: TeamAgent | null = null;
let env: VecEnv | null = null;
let obs: Observation[] = [];

serveWorker<DistributedInit>(async (payload, data) => {
  const req = payload as Request;
  if (req.op === 'init') {
    // Same seed in every replica: identical initial parameters; each shard draws its own users.
    team = new TeamAgent(data.ctx, data.team);
    env = new VecEnv(data.world, data.config, data.nEnvs);
    obs = env.reset(data.team.seed * 7919 + 1 + 104729 * req.worker);
    return true;
  }
  if (!team || !env) throw new Error('distributed worker: init first');
  if (req.op === 'round') {
    const K = env.slateSize;
    const n = env.n;
    const buf = new Int32Array(n * K).fill(-1);
    const slates: Slate[] = [];
    for (let s = 0; s < n; s++) {
      slates[s] = team.act(obs[s]!, K);
      buf.set(slates[s]!.items.subarray(0, K), s * K);
    }
    const r = env.step(buf);
    team.beginRound();
    for (let s = 0; s < n; s++) {
      const done = r.done[s] === 1;
      team.observe({ observation: obs[s]!, slate: slates[s]!, reward: r.rewards[s]!, parts: { R: r.R[s]!, G: r.G[s]!, A: r.A[s]!, itemG: r.g.slice(s * K, s * K + K) }, clicks: r.clicks.slice(s * K, s * K + K), next: done ? r.terminal[s]! : r.observations[s]!, done });
    }
    obs = r.observations.slice();
    return team.exportSync();
  }
  if (req.op === 'apply') {
    team.importSync(req.avg);
    return true;
  }
  return team.toJSON();
});
