/**
 * The one way the server connects to Redis (`chorus serve --redis`): the rate limits (./edge.ts)
 * and the shared candidate-pool cache (./shared-pools.ts) each open their own connection here,
 * with the same options, so that a Redis that dies or stalls never holds a request.
 */
import { Redis } from 'ioredis';
import { ChorusError } from '../errors.js';

export interface RedisLink {
  client: Redis;
  /** Say on stderr that Redis is not answering and what that costs, at most once a minute. */
  notice(why: string): void;
  /** Close politely (or drop the connection when Redis does not answer), saying nothing. */
  close(): Promise<void>;
}

/**
 * Connect and ping before the server starts: a wrong URL or an unreachable Redis stops the start
 * with a message naming it. `consequence` finishes the line printed when, once running, Redis stops
 * answering ("rate limits are not enforced until it is back").
 */
export async function connectRedis(url: string, consequence: string, commandTimeoutMs = 500): Promise<RedisLink> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ChorusError('E_CONFIG', `"${url}" is not a URL (expected redis://host:6379)`, { location: { field: 'redis' } });
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new ChorusError('E_CONFIG', `expected a redis:// or rediss:// URL, got "${url}"`, { location: { field: 'redis' } });
  // Few retries and a short connect timeout: a request must not wait on a dead Redis.
  // No offline queue: while the connection is down a command fails at once instead of waiting for
  // reconnects; a connected Redis that stalls times out after commandTimeoutMs.
  const client = new Redis(url, { connectTimeout: 2000, maxRetriesPerRequest: 1, lazyConnect: true, enableOfflineQueue: false, commandTimeout: commandTimeoutMs });
  let connected = false;
  let closing = false;
  let said = 0;
  // ioredis reports a lost connection here (and reconnects on its own); once running, say so at
  // most once a minute. Before that, the failed start below says it.
  const notice = (why: string): void => {
    if (!connected || closing || Date.now() - said < 60_000) return;
    said = Date.now();
    process.stderr.write(`chorus serve: Redis at ${url} is not answering (${why}); ${consequence}\n`);
  };
  client.on('error', (e: Error) => notice(e.message));
  client.on('close', () => notice('connection closed'));
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    client.disconnect();
    throw new ChorusError('E_REDIS_UNREACHABLE', `cannot reach Redis at ${url}: ${(e as Error).message}`, { status: 503, location: { field: 'redis' } });
  }
  connected = true;
  const close = async (): Promise<void> => {
    // Our own close is no outage: its 'close' event says nothing.
    closing = true;
    await client.quit().catch(() => client.disconnect());
  };
  return { client, notice, close };
}
