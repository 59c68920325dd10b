/**
 * The serving policy's checkpoint in the store: one state key, one body. Written by the engine
 * (./feedback.ts) and by the cb warm start (./cb-warm-start.ts), read at start (./recover.ts).
 */
import type { Store } from '../store/types.js';
import { parse, stringify } from '../util/serialize.js';

const KEY = 'bandit';

export interface PolicyCheckpoint {
  /** The policy's `getState()`. */
  state: unknown;
  /** The last feedback seq the state includes (a restart replays the log after it). */
  lastSeq: number;
  /** When it was taken (a restart learns the reward windows that closed after it). */
  at?: number;
  /** The oldest reward window still open then (a restart rescans the decisions logged since). */
  windowsFrom?: number;
}

/** The checkpoint as a state entry (an erasure writes it inside its own transaction). */
export function checkpointEntry(c: PolicyCheckpoint): { key: string; value: Buffer } {
  return { key: KEY, value: Buffer.from(stringify(c)) };
}

export async function writeCheckpoint(store: Store, c: PolicyCheckpoint): Promise<void> {
  const e = checkpointEntry(c);
  await store.state.putState(e.key, e.value);
}

export async function readCheckpoint(store: Store): Promise<PolicyCheckpoint | null> {
  const body = await store.state.getState(KEY);
  return body ? (parse(body.toString('utf8')) as PolicyCheckpoint) : null;
}
