/**
 * The message bus: a NATS server with JetStream (`nats://host:port`). Chorus uses it to hand work
 * to processes on any host that can reach the server (simulation seeds today, ../eval/sim/
 * rollout-farm.ts). This module only connects and names the failure clearly; what travels on it
 * is defined next to the code that sends it.
 */
import { connect, type NatsConnection } from 'nats';
import { ConfigError, ChorusError } from '../errors.js';

/** `nats://host[:port]` (several comma-separated for a cluster); anything else is a usage error naming the flag. */
export function checkBusUrl(url: string, field = 'bus'): string[] {
  const servers = url.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (servers.length === 0) throw new ConfigError(`expected a NATS URL such as nats://127.0.0.1:4222, got "${url}"`, field);
  for (const s of servers) {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      throw new ConfigError(`"${s}" is not a URL (expected nats://host:port)`, field);
    }
    if (u.protocol !== 'nats:') throw new ConfigError(`only nats:// URLs are supported, got "${s}"`, field);
  }
  return servers;
}

/**
 * Connect to the bus. Fails fast (a few seconds) with a message that says where it looked and how
 * the server is started, instead of retrying forever as the client would by default.
 */
export async function connectBus(url: string, name: string, field = 'bus', options: { reconnectForever?: boolean } = {}): Promise<NatsConnection> {
  const servers = checkBusUrl(url, field);
  try {
    // A short-lived client gives up after ~5 s without the server (and says so); a long-running
    // one (a worker) keeps reconnecting.
    return await connect({ servers, name, timeout: 5000, maxReconnectAttempts: options.reconnectForever ? -1 : 10, reconnectTimeWait: 500 });
  } catch (e) {
    throw new ChorusError(
      'E_BUS_UNREACHABLE',
      `cannot reach NATS at ${servers.join(', ')}: ${(e as Error).message} (start it with JetStream enabled, e.g. nats-server -js)`,
      { status: 503, location: { field } },
    );
  }
}
