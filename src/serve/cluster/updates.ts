/**
 * The learner's announcements to the servers: "a new policy checkpoint is in the store", "snapshot
 * X is active now", "user U was erased". The bodies stay in the store (stored once; a policy
 * checkpoint can be megabytes); the announcement only says what changed, so a server reads it at
 * once instead of at its next poll.
 *
 * Checkpoint and snapshot notices go through a NATS JetStream stream that keeps the last notice
 * per subject, so a server that (re)connects starts from the newest one. Erasure notices name a
 * user, so they go over core NATS, which keeps nothing: no copy of the id is left on the bus's
 * disk. Servers never depend on the bus for correctness: they also poll the store's version key
 * (./cluster-sync.ts), so a missed notice costs at most one poll interval.
 */
import { createHash } from 'node:crypto';
import { DeliverPolicy, JSONCodec, RetentionPolicy, StorageType, type JetStreamManager, type NatsConnection, type ConsumerMessages } from 'nats';
import { connectBus } from '../../bus/nats.js';

export type UpdateNotice =
  | { kind: 'policy'; at: number; lastSeq: number }
  | { kind: 'snapshot'; id: string }
  | { kind: 'catalogue'; version: number }
  | { kind: 'erasure'; user: string };

const STREAM = 'CHORUS_UPDATES';
const SUBJECT = 'chorus.updates';
const ERASURE_SUBJECT = 'chorus.erasures';
const json = JSONCodec<UpdateNotice>();

/** One cluster per store: its notices are on subjects named after the store (its URL without secrets). */
export function clusterName(storeUrl: string): string {
  return createHash('sha256').update(storeUrl).digest('hex').slice(0, 16);
}

async function ensureStream(jsm: JetStreamManager): Promise<void> {
  try {
    await jsm.streams.info(STREAM);
  } catch {
    try {
      // The last notice per subject is all a server needs; an hour bounds what a dead cluster leaves.
      await jsm.streams.add({ name: STREAM, subjects: [`${SUBJECT}.>`], retention: RetentionPolicy.Limits, storage: StorageType.File, max_msgs_per_subject: 1, max_age: 3600 * 1e9 });
    } catch (e) {
      if (!/already in use/i.test((e as Error).message)) throw e;
    }
  }
}

export class UpdateBus {
  private readonly nc: NatsConnection;
  private readonly cluster: string;
  private readonly closers: (() => void)[] = [];

  private constructor(nc: NatsConnection, cluster: string) {
    this.nc = nc;
    this.cluster = cluster;
  }

  /** Connect (a long-lived client that keeps reconnecting) and make sure the stream exists. */
  static async open(url: string, storeUrl: string, name: string): Promise<UpdateBus> {
    const nc = await connectBus(url, name, 'bus', { reconnectForever: true });
    try {
      await ensureStream(await nc.jetstreamManager());
    } catch (e) {
      await nc.close();
      throw e;
    }
    return new UpdateBus(nc, clusterName(storeUrl));
  }

  /** Announce a change. Never throws: a notice that does not go out is caught up by the servers' poll. */
  async publish(n: UpdateNotice, log?: (m: string) => void): Promise<void> {
    try {
      if (n.kind === 'erasure') this.nc.publish(`${ERASURE_SUBJECT}.${this.cluster}`, json.encode(n));
      else await this.nc.jetstream().publish(`${SUBJECT}.${this.cluster}.${n.kind}`, json.encode(n));
    } catch (e) {
      log?.(`update bus: could not announce the ${n.kind} update (servers pick it up at their next poll): ${(e as Error).message}`);
    }
  }

  /** Hear every notice from now on (and the newest checkpoint and snapshot notices kept on the stream). */
  async subscribe(on: (n: UpdateNotice) => void): Promise<void> {
    const sub = this.nc.subscribe(`${ERASURE_SUBJECT}.${this.cluster}`, { callback: (err, m) => !err && on(json.decode(m.data)) });
    this.closers.push(() => sub.unsubscribe());
    const consumer = await this.nc.jetstream().consumers.get(STREAM, { filterSubjects: `${SUBJECT}.${this.cluster}.>`, deliver_policy: DeliverPolicy.LastPerSubject });
    const messages: ConsumerMessages = await consumer.consume();
    this.closers.push(() => void messages.close());
    void (async () => {
      for await (const m of messages) {
        try {
          on(json.decode(m.data));
        } catch {
          // A notice that does not decode is skipped: the poll reads the store anyway.
        }
      }
    })();
  }

  async close(): Promise<void> {
    for (const c of this.closers) c();
    await this.nc.drain().catch(() => undefined);
  }
}
