/**
 * What a Chorus process does in a deployment (`chorus serve --role`):
 * - `both` (the default): one process serves requests and learns from them, as a single server
 *   always has. On a PostgreSQL store it takes the learner lock (./learner-lock.ts) and refuses to
 *   start when another learner holds it.
 * - `server`: answers /recommend, /rank, /feedback and reads; logs every event to the shared store
 *   before it answers; learns nothing itself. It serves the learner's newest policy checkpoint and
 *   snapshot (announced on the bus, and polled from the store) and follows the feedback log for
 *   users' histories. Admin writes (snapshots, retrains, catalogue, erasure) go to the learner.
 * - `learner`: holds the learner lock (a standby waits for it), follows the decision and feedback
 *   log that the servers write, learns from it with the same reward windows a single server uses,
 *   checkpoints, retrains, and announces each change. It answers admin and read requests, not
 *   decisions or feedback.
 */
export type ServeRole = 'both' | 'server' | 'learner';

export const SERVE_ROLES: readonly ServeRole[] = ['both', 'server', 'learner'];

/**
 * The store's state key the learner writes after each checkpoint, activation, catalogue change
 * and erasure: small, so that servers can poll it every second (the bodies are read only when it
 * changed).
 */
export const CLUSTER_VERSION_KEY = 'cluster.version';

export interface ClusterVersion {
  /** `at` of the newest policy checkpoint. */
  checkpointAt: number;
  /** The active snapshot's id. */
  snapshot: string;
  /** Bumped on each catalogue change through the learner. */
  catalogue: number;
  /** Bumped on each erasure (a server that missed the notice rebuilds its per-user memory). */
  erasures: number;
}
