import type { FastifyInstance } from 'fastify';
import type { Dataset } from '../data/dataset.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { ChorusError, ConfigError } from '../errors.js';
import { buildServer, type ServerOptions } from './app.js';
import { checkAdminKey, KeyRing } from './auth.js';
import { Engine, type EngineConfig } from './engine.js';
import { registryModels, type ModelFactory } from './model.js';
import { acquireLearnerLock, tryLearnerLock, type LearnerLock } from './cluster/learner-lock.js';
import { UpdateBus } from './cluster/updates.js';
import { checkPoolCacheTtl, DEFAULT_POOL_TTL_SECONDS, poolCacheIdentity, SharedPools } from './shared-pools.js';

export interface StartOptions {
  dataset: Dataset;
  /** Store URL, e.g. `sqlite:./.chorus/serve.db`. */
  store: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  engine?: Partial<EngineConfig>;
  server?: Partial<ServerOptions>;
  /**
   * Admin key to accept (CHORUS_ADMIN_KEY): at least 16 characters and about 56 bits of estimated
   * entropy, else the start fails (E_WEAK_KEY). Without it one is generated on first start.
   */
  adminKey?: string;
  models?: ModelFactory;
  log?: (msg: string) => void;
  /**
   * Cluster (engine.role server or learner, ./cluster/roles.ts): the NATS URL of the update bus
   * (servers then hear the learner's changes at once instead of at their next poll).
   */
  bus?: string;
  /**
   * A learner that loses its lock (./cluster/learner-lock.ts) has already stopped learning when
   * this is called; `chorus serve` exits here so that a supervisor restarts it as a standby.
   */
  onLearnerLockLost?: (reason: string) => void;
  /**
   * With `server.redis` (an error without it): whole seconds a candidate pool stays in the shared
   * cache in Redis (./shared-pools.ts; default 600, at most 7 days); 0 keeps pools in each process only.
   */
  poolCacheTtl?: number;
}

export interface RunningServer {
  app: FastifyInstance;
  engine: Engine;
  store: Store;
  keys: KeyRing;
  /** http://host:port */
  url: string;
  /** Set only when this start generated the first admin key (print it once). */
  generatedAdminKey?: string;
  close(): Promise<void>;
}

/** Open the store, the engine and the HTTP server, and listen. */
export async function startServer(o: StartOptions): Promise<RunningServer> {
  const log = o.log ?? (() => {});
  // Before the store opens: a weak key stops the start with nothing created.
  if (o.adminKey !== undefined) checkAdminKey(o.adminKey);
  if (o.poolCacheTtl !== undefined && !o.server?.redis) throw new ConfigError('--pool-cache-ttl sets how long candidate pools stay in Redis: give --redis too', 'pool-cache-ttl');
  const ttl = checkPoolCacheTtl(o.poolCacheTtl ?? DEFAULT_POOL_TTL_SECONDS);
  // The shared level of the pool cache: without it nothing of it runs (no identity in the store, no hashing).
  const sharedPools = !!o.server?.redis && ttl > 0;
  const store = openStore(o.store);
  const role = o.engine?.role ?? 'both';
  let lock: LearnerLock | null = null;
  let bus: UpdateBus | null = null;
  let pools = null as SharedPools | null;
  try {
    const keys = new KeyRing(store);
    if (role !== 'both' && !/^postgres(ql)?:/.test(o.store)) {
      throw new ConfigError(`--role ${role} needs a store that several processes share: --store postgres://…`, 'role');
    }
    let engine: Engine | undefined;
    const lost = (reason: string): void => {
      engine?.stopLearning(reason);
      o.onLearnerLockLost?.(reason);
    };
    if (role === 'learner') {
      // The store's schema first (the lock is keyed by it), then wait as a standby if need be.
      await store.state.getState('seeded');
      lock = await acquireLearnerLock(o.store, { log, onLost: lost });
      log('holding the learner lock');
    } else if (role === 'both' && /^postgres(ql)?:/.test(o.store)) {
      await store.state.getState('seeded');
      lock = await tryLearnerLock(o.store, { onLost: lost });
      if (!lock) {
        throw new ChorusError('E_LEARNER_BUSY', `another process learns on ${store.url} (it holds the learner lock): start this one with --role server (and that one with --role learner), see docs/cluster.md`, {
          status: 409,
          location: { field: 'role' },
        });
      }
    }
    if (o.bus !== undefined && role !== 'both') bus = await UpdateBus.open(o.bus, store.url, `chorus ${role} ${process.pid}`);
    // The pool cache's identity is created by the process that learns, before it seeds the store
    // (it holds the learner lock here), so a server, which starts once the store is seeded, finds it.
    const identity = sharedPools ? await poolCacheIdentity(store.state, role !== 'server') : null;
    engine = await Engine.open(store, o.dataset, o.models ?? registryModels, o.engine, log, { bus, reloadKeys: () => keys.reload(), sharedPools });
    let app: FastifyInstance;
    let address: string;
    let generatedAdminKey: string | undefined;
    try {
      // The learner serves no slates but erases users: it needs the connection to delete their entries.
      if (sharedPools && engine.config.poolCache > 0) {
        if (identity) {
          pools = await SharedPools.open(o.server!.redis!, identity, ttl);
          engine.useSharedPools(pools);
        } else log('the store has no pool-cache identity (its learner runs without --redis, or predates it): candidate pools are not shared through Redis');
      }
      await keys.load();
      if (o.adminKey) {
        if (!keys.verify(o.adminKey)) await keys.add(o.adminKey, 'admin', 'CHORUS_ADMIN_KEY');
      } else if (!keys.hasAdmin()) {
        generatedAdminKey = (await keys.issue('admin', 'generated at first start')).key;
      }
      app = await buildServer(engine, keys, o.server);
      address = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 0 });
    } catch (e) {
      // The engine is open (timers, a learner's tail): it closes before the store does.
      await engine.close().catch(() => undefined);
      throw e;
    }
    let closing: Promise<void> | undefined;
    return {
      app,
      engine,
      store,
      keys,
      url: address.replace('[::1]', 'localhost'),
      generatedAdminKey,
      close: () =>
        (closing ??= (async () => {
          await app.close();
          await engine!.close();
          await pools?.close();
          await bus?.close();
          await lock?.release();
          await store.close();
        })()),
    };
  } catch (e) {
    await pools?.close();
    await bus?.close();
    await lock?.release();
    await store.close();
    throw e;
  }
}
