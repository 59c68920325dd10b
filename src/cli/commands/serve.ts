/**
 * `chorus serve`: the HTTP server (src/serve) on a dataset folder, the bundled demo data by default.
 * The admin key comes from CHORUS_ADMIN_KEY, or is generated on the first start and printed once.
 */
import { statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { isGgufSpec } from '../../llm/llama-cpp.js';
import { openChatModel, parseChatSpec } from '../../llm/spec.js';
import type { Dataset } from '../../data/dataset.js';
import { readItemMetadata } from '../../data/metadata.js';
import { readInteractions } from '../../data/read-interactions.js';
import { isSnapshotFile, loadDatasetFile } from '../../data/snapshot.js';
import { ConfigError, DataError } from '../../errors.js';
import { readAgentFile } from '../../agents/agent-file.js';
import { CB_DEFAULTS, validateCbConfig, type CbConfig } from '../../serve/cb-policy.js';
import { EXPLORATION_KINDS, type ExplorationKind } from '../../serve/exploration.js';
import { parseInteractions } from '../../serve/namespaces.js';
import { startServer } from '../../serve/server.js';
import { checkPoolCacheTtl, MAX_POOL_TTL_SECONDS } from '../../serve/shared-pools.js';
import { holdStore } from '../../serve/erasure.js';
import { ID_KEY_ENV, pseudonymiserFromEnv } from '../../privacy/pseudonym.js';
import { configSection, intFlag, loadConfig, parseParams } from '../config.js';
import { oneOf } from '../data.js';
import { writeErr, writeOut } from '../output.js';
import { checkBusUrl } from '../../bus/nats.js';
import { demoDataDir } from '../paths.js';

/** The `serve` section of chorus.config.json; flags override it. */
export const ServeConfigSchema = z.strictObject({
  port: z.number().int().min(0).max(65535).optional(),
  host: z.string().min(1).optional(),
  store: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  /** `cb` (default), `linucb-rerank`, or a registered agent name (src/agents registry). */
  policy: z.string().min(1).optional(),
  /** A trained agent file (simulate --save-agent, train --agent) to serve warm. */
  policyFile: z.string().min(1).optional(),
  /** `cb`: how it explores (`egreedy`, `softmax`, `squarecb`). */
  explore: z.enum(['egreedy', 'softmax', 'squarecb']).optional(),
  epsilon: z.number().min(0).max(1).optional(),
  alpha: z.number().min(0).optional(),
  /** `cb`: crossed namespaces, `context:action` (`*` for all). */
  interactions: z.array(z.string().regex(/^[^:]+:[^:]+$/)).optional(),
  /** `cb`: hash bits. */
  bits: z.number().int().min(4).max(28).optional(),
  /** Seconds a decision waits for feedback before its unrewarded items learn `defaultReward`. */
  rewardWait: z.number().min(0).optional(),
  defaultReward: z.number().min(-1).max(1).optional(),
  /** Seconds without a request after which a user's next request starts a new session. */
  sessionIdle: z.number().min(0).optional(),
  seed: z.number().int().optional(),
  retrainEvery: z.number().int().min(0).optional(),
  /** `dr`: activations and retrains are evaluated on the live log first and refused unless DR(candidate ranking) − DR(active ranking) has a 95 % lower bound above 0 (default `none`). */
  activationGate: z.enum(['dr', 'none']).optional(),
  /** Snapshots kept after each new one (plus the active one and rollback's target); 0 keeps all. */
  keepSnapshots: z.number().int().min(0).optional(),
  /** Online history kept in memory: items per user, and users (least recently used dropped). */
  historyLength: z.number().int().min(1).optional(),
  historyUsers: z.number().int().min(1).optional(),
  rateLimit: z.number().int().min(0).optional(),
  redis: z.string().optional(),
  /** With `redis`: whole seconds a candidate pool stays in Redis (default 600, at most 7 days); 0 keeps pools per process. */
  poolCacheTtl: z.number().int().min(0).max(MAX_POOL_TTL_SECONDS).optional(),
  /** A cluster on one PostgreSQL store (docs/cluster.md): `both` (default), `server` or `learner`. */
  role: z.enum(['both', 'server', 'learner']).optional(),
  /** The cluster's update bus, `nats://host:4222`. */
  bus: z.string().optional(),
  /** How often a cluster server pulls the learner's changes (and the learner reads the log), ms. */
  syncMs: z.number().int().min(20).max(60_000).optional(),
  llm: z.string().optional(),
  authFailureLimit: z.number().int().min(0).optional(),
  bodyLimit: z.number().int().min(1024).optional(),
  cors: z.array(z.string().min(1)).optional(),
  /** `pseudonymise`: user ids become keyed pseudonyms (key from CHORUS_ID_KEY) before anything stores them (docs/privacy.md). */
  privacy: z.strictObject({ pseudonymise: z.boolean().optional() }).optional(),
});

interface ServeFlags {
  port?: string;
  host?: string;
  data?: string;
  store?: string;
  model?: string;
  param?: string[];
  policy?: string;
  agentParam?: string[];
  policyFile?: string;
  epsilon?: string;
  explore?: string;
  alpha?: string;
  interactions?: string;
  bits?: string;
  policyParam?: string[];
  rewardWait?: string;
  defaultReward?: string;
  sessionIdle?: string;
  seed?: string;
  retrainEvery?: string;
  activationGate?: string;
  rateLimit?: string;
  llm?: string;
  redis?: string;
  poolCacheTtl?: string;
  role?: string;
  bus?: string;
  syncMs?: string;
  authFailureLimit?: string;
  cors?: string;
  log?: boolean;
  pseudonymise?: boolean;
  config?: string;
}

const INTERACTION_FILES = ['ratings.csv', 'ratings.dat', 'u.data', 'user_artists.dat', 'interactions.csv', 'interactions.jsonl'];

/** A dataset from a folder (MovieLens-style, with movies.csv titles and genres), a file, or a dataset snapshot. */
export async function loadServeData(path: string): Promise<Dataset> {
  if (!existsSync(path)) throw new DataError(`no such file or folder`, { file: path });
  if (statSync(path).isFile()) {
    if (await isSnapshotFile(path)) return loadDatasetFile(path);
    return (await readInteractions(path)).dataset;
  }
  const file = INTERACTION_FILES.map((f) => join(path, f)).find((f) => existsSync(f));
  if (!file) throw new DataError(`no interaction file in this folder; expected one of: ${INTERACTION_FILES.join(', ')}`, { file: path });
  const { dataset } = await readInteractions(file);
  const movies = join(path, 'movies.csv');
  if (existsSync(movies)) {
    await readItemMetadata(movies, dataset, {
      columns: { id: 'movieId', title: 'title', categories: 'genres' },
      format: 'csv',
      noneValues: ['(no genres listed)'],
    });
  }
  return dataset;
}

/** The `cb` policy's settings from flags over the config file; unknown keys and bad values name their flag. */
function cbSettings(flags: ServeFlags, sc: z.infer<typeof ServeConfigSchema>): Partial<CbConfig> {
  const out: Partial<CbConfig> = {};
  const explore = flags.explore ?? sc.explore;
  if (explore !== undefined) {
    if (!EXPLORATION_KINDS.includes(explore as ExplorationKind)) throw new ConfigError(`expected one of ${EXPLORATION_KINDS.join(', ')}, got "${explore}"`, 'explore');
    out.explore = explore as ExplorationKind;
  }
  const alpha = numFlag(flags.alpha, 'alpha') ?? sc.alpha;
  if (alpha !== undefined) {
    if (alpha < 0) throw new ConfigError(`expected a number >= 0, got ${alpha}`, 'alpha');
    out.alpha = alpha;
  }
  const interactions = flags.interactions !== undefined ? flags.interactions.split(',').map((x) => x.trim()).filter(Boolean) : sc.interactions;
  if (interactions !== undefined) {
    try {
      parseInteractions(interactions);
    } catch (e) {
      throw new ConfigError((e as Error).message, 'interactions');
    }
    out.interactions = interactions;
  }
  const bits = intFlag(flags.bits, 'bits', 4) ?? sc.bits;
  if (bits !== undefined) out.bits = bits;
  const numeric = ['lambda', 'ridgeDims', 'learningRate', 'temperature', 'gamma', 'gammaExponent', 'recommenderPrior', 'poolFactor', 'minPool'] as const;
  for (const [key, v] of Object.entries(parseParams(flags.policyParam))) {
    if (!(numeric as readonly string[]).includes(key)) throw new ConfigError(`unknown cb setting "${key}"; expected one of ${numeric.join(', ')}`, 'policy-param');
    if (typeof v !== 'number') throw new ConfigError(`${key}: expected a number, got ${typeof v === 'string' ? `"${v}"` : JSON.stringify(v)}`, 'policy-param');
    out[key as (typeof numeric)[number]] = v;
  }
  // The policy's own checks (ranges) run now, so that a bad value stops the start with its name.
  try {
    validateCbConfig({ ...CB_DEFAULTS, ...out });
  } catch (e) {
    throw new ConfigError((e as Error).message, 'policy-param');
  }
  return out;
}

function numFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ConfigError(`expected a number, got "${v}"`, flag);
  return n;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('HTTP server: recommend/feedback, Personalizer-compatible rank/reward, online learning, dashboard at /dashboard')
    .option('--port <port>', 'port (default 8080; 0 picks a free one)')
    .option('--host <host>', 'interface to listen on (default 127.0.0.1)')
    .option('-d, --data <path>', 'dataset folder or file (default: the bundled demo data)')
    .option('--store <url>', 'store URL: sqlite:path (default sqlite:./.chorus/serve.db) or postgres://user@host:port/db[?pool=10]')
    .option('-m, --model <name>', 'recommender for the first snapshot and retrains (default itemknn)')
    .option('-p, --param <key=value...>', 'model hyper-parameter (repeatable)')
    .option('--policy <name>', 'serving policy: cb (default: contextual bandit over namespace features), linucb-rerank (the pool re-ranked by a dense LinUCB), or a registered agent (random, ucb, linucb, dqn, ppo …)')
    .option('--agent-param <key=value...>', 'agent hyper-parameter for --policy <agent> (repeatable)')
    .option('--policy-file <file>', 'serve a trained agent warm: a file from chorus simulate --save-agent or chorus train --agent (its own settings; --policy, if given, must name its kind)')
    .option('--explore <kind>', 'cb: egreedy (default), softmax or squarecb')
    .option('--epsilon <x>', 'exploration share ε (cb default 0.02; linucb-rerank 0.1)')
    .option('--alpha <x>', 'optimism: score = mean + α·width (cb default 0.2)')
    .option('--interactions <list>', 'cb: crossed namespaces, comma-separated context:action pairs (default *:*)')
    .option('--bits <n>', 'cb: hash bits (default 18)')
    .option('--policy-param <key=value...>', 'cb: any other setting (lambda, ridgeDims, learningRate, temperature, gamma, gammaExponent, recommenderPrior, poolFactor, minPool)')
    .option('--reward-wait <seconds>', 'how long a decision waits for feedback before its unrewarded items learn the default reward (default 60)')
    .option('--default-reward <x>', 'reward learned for a shown item without feedback (default 0)')
    .option('--session-idle <seconds>', 'a user\'s next request after this long without one starts a new session (default 1800); /recommend may also name its session')
    .option('--seed <n>', 'exploration seed (default 42)')
    .option('--retrain-every <n>', 'refit the model after n feedback events (default 0: never)')
    .option('--activation-gate <gate>', 'dr: activate a snapshot (or a retrain) only if, on the live log, DR of its ranking minus DR of the active ranking has a 95 % lower bound above 0; none (default): always')
    .option('--rate-limit <n>', 'requests per minute per key (default 60000; 0 disables)')
    .option('--redis <url>', 'share state between servers in this Redis (redis://host:6379): the rate limits, and the candidate-pool cache (a pool one server computed is served by the others; docs/cluster.md)')
    .option('--pool-cache-ttl <seconds>', 'with --redis: how long a candidate pool stays in Redis, whole seconds up to 604800 (7 days; default 600; 0: pools stay per process)')
    .option('--role <role>', 'several processes on one PostgreSQL store (docs/cluster.md): server (serves, learns nothing, follows the learner), learner (holds the learner lock, learns from the log, takes admin changes; a second one waits as a standby) or both (default: one process does everything)')
    .option('--bus <url>', 'with --role: the NATS update bus (nats://host:4222) on which the learner announces checkpoints, snapshots and erasures; without it servers poll the store')
    .option('--sync-ms <ms>', 'with --role: how often a server pulls the learner\'s changes from the store (default 500)')
    .option('--auth-failure-limit <n>', 'requests with a missing or wrong key per minute per client address before 429 (default 60; 0 disables)')
    .option('--cors <origins>', 'comma-separated origins allowed by CORS (default: none, CORS off)')
    .option('--log', 'log every request (pino JSON on stdout)')
    .option('--llm <spec>', 'chat model for `explain: "text"` on /recommend: an OpenAI-compatible endpoint as <url>#<model> (llama.cpp server, Ollama, vLLM) or a local .gguf file (docs/llm.md)')
    .option('--pseudonymise', `replace every user id by a keyed HMAC pseudonym (key from ${ID_KEY_ENV}) before it is stored, logged or put in a snapshot; answers keep the caller's ids (docs/privacy.md)`)
    .action(async (flags: ServeFlags, cmd: Command) => {
      const globals = cmd.optsWithGlobals() as { config?: string };
      const { config } = loadConfig(globals.config);
      const sc = configSection(config, 'serve', ServeConfigSchema) ?? {};
      const model = flags.model ?? sc.model ?? config.model ?? 'itemknn';
      const rate = intFlag(flags.rateLimit, 'rate-limit', 0) ?? sc.rateLimit ?? 60_000;
      const authFailures = intFlag(flags.authFailureLimit, 'auth-failure-limit', 0) ?? sc.authFailureLimit ?? 60;
      const epsilon = numFlag(flags.epsilon, 'epsilon') ?? sc.epsilon;
      if (epsilon !== undefined && (epsilon < 0 || epsilon > 1)) throw new ConfigError(`expected a share in [0, 1], got ${epsilon}`, 'epsilon');
      const seed = intFlag(flags.seed, 'seed', 0) ?? sc.seed;
      const policyFile = flags.policyFile ?? sc.policyFile;
      const warm = policyFile !== undefined ? readAgentFile(policyFile) : undefined;
      if (warm && flags.agentParam?.length) throw new ConfigError('--agent-param does not apply to --policy-file: the agent keeps the settings it was trained with', 'agent-param');
      if (warm && (flags.policy ?? sc.policy) !== undefined && (flags.policy ?? sc.policy) !== warm.agent.kind) {
        throw new ConfigError(`--policy ${flags.policy ?? sc.policy} does not match ${policyFile}, which holds a "${warm.agent.kind}" agent`, 'policy');
      }
      const policyName = warm ? warm.agent.kind : (flags.policy ?? sc.policy ?? 'cb');
      const cb = cbSettings(flags, sc);
      const rewardWait = numFlag(flags.rewardWait, 'reward-wait') ?? sc.rewardWait;
      if (rewardWait !== undefined && rewardWait < 0) throw new ConfigError(`expected seconds >= 0, got ${rewardWait}`, 'reward-wait');
      const defaultReward = numFlag(flags.defaultReward, 'default-reward') ?? sc.defaultReward;
      if (defaultReward !== undefined && Math.abs(defaultReward) > 1) throw new ConfigError(`expected a reward in [-1, 1], got ${defaultReward}`, 'default-reward');
      const sessionIdle = numFlag(flags.sessionIdle, 'session-idle') ?? sc.sessionIdle;
      if (sessionIdle !== undefined && sessionIdle < 0) throw new ConfigError(`expected seconds >= 0, got ${sessionIdle}`, 'session-idle');
      const activationGate = oneOf(flags.activationGate, ['dr', 'none'] as const, 'activation-gate') ?? sc.activationGate ?? 'none';
      // Before the data is read: a missing key stops the start at once, with nothing opened.
      const llmSpec = flags.llm ?? sc.llm;
      if (llmSpec !== undefined && !isGgufSpec(llmSpec)) parseChatSpec(llmSpec);
      const pseudonyms = (flags.pseudonymise ?? sc.privacy?.pseudonymise ?? false) ? pseudonymiserFromEnv() : null;
      const role = oneOf(flags.role, ['both', 'server', 'learner'] as const, 'role') ?? sc.role ?? 'both';
      const bus = flags.bus ?? sc.bus;
      if (bus !== undefined && role === 'both') throw new ConfigError('--bus carries a cluster\'s updates: give it with --role server or --role learner', 'bus');
      if (bus !== undefined) checkBusUrl(bus);
      const syncMs = intFlag(flags.syncMs, 'sync-ms', 20) ?? sc.syncMs;
      const poolCacheTtl = numFlag(flags.poolCacheTtl, 'pool-cache-ttl') ?? sc.poolCacheTtl;
      if (poolCacheTtl !== undefined) {
        checkPoolCacheTtl(poolCacheTtl);
        if ((flags.redis ?? sc.redis) === undefined) throw new ConfigError('--pool-cache-ttl sets how long candidate pools stay in Redis: give --redis too', 'pool-cache-ttl');
      }
      const dataPath = flags.data ?? config.data ?? demoDataDir();
      const dataset = await loadServeData(dataPath);
      const s = await startServer({
        dataset,
        store: flags.store ?? sc.store ?? 'sqlite:./.chorus/serve.db',
        host: flags.host ?? sc.host ?? '127.0.0.1',
        port: intFlag(flags.port, 'port', 0) ?? sc.port ?? 8080,
        adminKey: process.env.CHORUS_ADMIN_KEY || undefined,
        engine: {
          model: { kind: model, config: { ...(config.models?.[model] ?? {}), ...parseParams(flags.param) } },
          serving: policyName === 'linucb-rerank' ? 'linucb-rerank' : 'cb',
          policy: {
            ...(policyName === 'linucb-rerank' ? {} : cb),
            ...(epsilon !== undefined ? { epsilon } : {}),
            ...(cb.alpha !== undefined ? { alpha: cb.alpha } : {}),
            ...(seed !== undefined ? { seed } : {}),
          },
          agent: warm
            ? { name: policyName, config: {}, warm }
            : policyName === 'cb' || policyName === 'linucb-rerank'
              ? null
              : { name: policyName, config: parseParams(flags.agentParam) },
          ...(rewardWait !== undefined ? { rewardWaitSeconds: rewardWait } : {}),
          ...(defaultReward !== undefined ? { defaultReward } : {}),
          ...(sessionIdle !== undefined ? { sessionIdleSeconds: sessionIdle } : {}),
          retrainEvery: intFlag(flags.retrainEvery, 'retrain-every', 0) ?? sc.retrainEvery ?? 0,
          activationGate,
          ...(sc.keepSnapshots !== undefined ? { keepSnapshots: sc.keepSnapshots } : {}),
          ...(sc.historyLength !== undefined ? { historyLength: sc.historyLength } : {}),
          ...(sc.historyUsers !== undefined ? { historyUsers: sc.historyUsers } : {}),
          pseudonyms,
          role,
          ...(syncMs !== undefined ? { syncMs } : {}),
          // A cluster learner announces every checkpoint, so it takes them often (at most once per
          // sync interval): the servers' policy lags the learner by about that much.
          ...(role === 'learner' ? { checkpointEvery: 1, checkpointSeconds: (syncMs ?? 500) / 1000 } : {}),
          // A request waits on the model: a short timeout and one retry, not the batch defaults
          // (120 s, 5 retries), so a dead model costs a slate its sentences, not minutes.
          llm: llmSpec !== undefined ? openChatModel(llmSpec, { timeoutMs: 15_000, maxRetries: 1, maxBackoffMs: 2_000 }) : null,
        },
        server: {
          rateLimit: rate > 0 ? { max: rate, windowMs: 60_000 } : false,
          authFailureLimit: authFailures > 0 ? { max: authFailures, windowMs: 60_000 } : false,
          corsOrigins: flags.cors ? flags.cors.split(',').map((x) => x.trim()).filter(Boolean) : (sc.cors ?? []),
          ...((flags.redis ?? sc.redis) !== undefined ? { redis: (flags.redis ?? sc.redis)! } : {}),
          logger: flags.log ?? false,
          ...(sc.bodyLimit ? { bodyLimit: sc.bodyLimit } : {}),
        },
        log: (m) => writeErr(`chorus serve: ${m}\n`),
        ...(bus !== undefined ? { bus } : {}),
        ...(poolCacheTtl !== undefined ? { poolCacheTtl } : {}),
        // Another learner may hold the lock a moment later: this one exits (a supervisor restarts it as a standby).
        onLearnerLockLost: (reason) => {
          writeErr(`chorus serve: the learner lock was lost (${reason}); exiting\n`);
          process.exit(75);
        },
      });
      writeOut(
        `chorus serve: ${dataset.name} (${dataset.nUsers} users, ${dataset.nItems} items, ${dataset.nInteractions} interactions), ` +
          `model ${s.engine.activeSnapshot.kind}, snapshot ${s.engine.activeSnapshot.id}, store ${s.store.url}${pseudonyms ? ', user ids pseudonymised' : ''}${role !== 'both' ? `, role ${role}` : ''}\n` +
          `chorus serve: listening on ${s.url} (dashboard ${s.url}/dashboard, API ${s.url}/openapi.json)\n`,
      );
      if (s.generatedAdminKey) {
        writeOut(`chorus serve: admin key (shown once, keep it): ${s.generatedAdminKey}\n`);
      }
      // Marks the store as served, so that `chorus forget` on it refuses while this runs (src/serve/erasure.ts).
      const held = await holdStore(s.store.state, (m) => writeErr(`chorus serve: ${m}\n`));
      await untilSignalThenClose(async () => {
        // A stop mark that fails to write costs nothing: the mark goes stale on its own.
        await held.stop().catch(() => undefined);
        await s.close();
      });
    });
}

/** How long a SIGTERM/SIGINT waits for the server to close before the process exits anyway. */
export const SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * Wait for SIGTERM or SIGINT, then close. The process always exits: when closing fails, the
 * returned promise rejects (exit code 1); when it has not finished (or the process is still up
 * after it did) SHUTDOWN_TIMEOUT_MS after the signal, the process exits with code 1; and a second
 * signal exits at once with 128 + the signal number.
 */
function untilSignalThenClose(close: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let closing = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (closing) {
        writeErr(`chorus serve: ${sig} again, exiting without finishing the close\n`);
        process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
      }
      closing = true;
      writeErr(`chorus serve: ${sig}, closing\n`);
      const watchdog = setTimeout(() => {
        writeErr(`chorus serve: still running ${SHUTDOWN_TIMEOUT_MS / 1000} s after ${sig}, exiting\n`);
        process.exit(1);
      }, SHUTDOWN_TIMEOUT_MS);
      let closed: Promise<void>;
      try {
        closed = close();
      } catch (e) {
        closed = Promise.reject(e);
      }
      closed.then(
        () => {
          // From here the process ends by itself; the unref'd watchdog fires only if something keeps it up.
          watchdog.unref();
          resolve();
        },
        (e: unknown) => {
          watchdog.unref();
          reject(new Error(`close failed: ${e instanceof Error ? e.message : String(e)}`));
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
