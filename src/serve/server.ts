import type { FastifyInstance } from 'fastify';
import type { Dataset } from '../data/dataset.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { buildServer, type ServerOptions } from './app.js';
import { checkAdminKey, KeyRing } from './auth.js';
import { Engine, type EngineConfig } from './engine.js';
import { registryModels, type ModelFactory } from './model.js';

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
  const store = openStore(o.store);
  try {
    const engine = await Engine.open(store, o.dataset, o.models ?? registryModels, o.engine, log);
    const keys = new KeyRing(store);
    await keys.load();
    let generatedAdminKey: string | undefined;
    if (o.adminKey) {
      if (!keys.verify(o.adminKey)) await keys.add(o.adminKey, 'admin', 'CHORUS_ADMIN_KEY');
    } else if (!keys.hasAdmin()) {
      generatedAdminKey = (await keys.issue('admin', 'generated at first start')).key;
    }
    const app = await buildServer(engine, keys, o.server);
    const address = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 0 });
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
          await engine.close();
          await store.close();
        })()),
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}
