/**
 * A trained agent on disk (`chorus simulate --save-agent`, `chorus train --agent`), as the server
 * reads it back (`chorus serve --policy-file`).
 *
 * An agent's parameters mean something only over the item space it learned in: its item vectors,
 * genres, popularity and cold flags, and the CF vectors of the users it saw. Version 2 files carry
 * that space with the external ids of its items and users, so that a server whose snapshot holds
 * another list of items (fewer, more, in another order) can still map its items and users onto
 * the agent's, and serve the agent with what it learned rather than starting it afresh. Version 1
 * files (the agent alone) still restore in the simulator that wrote them, but cannot be served.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DataError } from '../errors.js';
import { fromJsonValue, toJsonValue } from '../util/serialize.js';
import type { SavedAgent } from './base.js';
import type { AgentContext, ItemSpace } from './state.js';

export const AGENT_FILE_FORMAT = 'chorus-agent';
export const AGENT_FILE_VERSION = 2;

/** The agent's world as saved: its item space, the users' CF vectors, and their external ids. */
export interface AgentSpace {
  items: ItemSpace;
  itemIds: string[];
  userIds: string[];
  /** Users' CF vectors (userIds.length × items.dim), when the agent had them. */
  userVectors?: Float32Array;
  slateSize: number;
  horizon: number;
  /**
   * Whether the agent's context had a myopic scorer (`AgentContext.scoreUser`: the simulator's ALS).
   * A served agent gets the served recommender in its place only then; without one the agents fall
   * back to the CF vectors' dot product, as they learned.
   */
  scorer?: boolean;
}

export interface AgentFile<T extends object = Record<string, unknown>> {
  format: typeof AGENT_FILE_FORMAT;
  version: 1 | 2;
  agent: SavedAgent;
  /** Where and how the agent was trained (the simulator's preset, seed, steps and data stamp). */
  trainedOn: T;
  /** The item space (version 2). Here and in `agent`, typed arrays are stored as util/serialize writes them. */
  space?: unknown;
}

/** The space of an agent context, with the external ids of its items and users, for saving. */
export function agentSpaceOf(ctx: AgentContext, itemIds: readonly string[], userIds: readonly string[]): AgentSpace {
  if (itemIds.length !== ctx.items.nItems) throw new RangeError(`agent space: ${itemIds.length} item ids for ${ctx.items.nItems} items`);
  if (userIds.length !== ctx.nUsers) throw new RangeError(`agent space: ${userIds.length} user ids for ${ctx.nUsers} users`);
  const space: AgentSpace = { items: ctx.items, itemIds: [...itemIds], userIds: [...userIds], slateSize: ctx.slateSize, horizon: ctx.horizon, scorer: ctx.scoreUser !== undefined };
  if (ctx.userVectors) space.userVectors = ctx.userVectors;
  return space;
}

/** The document `writeFile` stores (JSON.stringify-able: the space's typed arrays as base64). */
export function agentFileDocument<T extends object>(agent: SavedAgent, trainedOn: T, space: AgentSpace): AgentFile<T> {
  // Typed arrays (the neural agents' parameters, the space's vectors) as base64, so they load back bit-identical.
  return { format: AGENT_FILE_FORMAT, version: AGENT_FILE_VERSION, agent: toJsonValue(agent) as SavedAgent, trainedOn, space: toJsonValue(space) };
}

/** A served agent file: the saved agent and the space it acts in. */
export interface WarmAgent {
  file: string;
  agent: SavedAgent;
  space: AgentSpace;
  trainedOn: Record<string, unknown>;
  /**
   * sha256 of the saved agent document as read (the file's `agent` field, JSON): two files hold the
   * same learned agent exactly when these match, whatever else (`trainedOn`) differs. The server
   * keys its checkpoints by it, so a new file is never silently replaced by an old checkpoint.
   */
  agentSha256: string;
}

/** Read an agent file for serving; every problem names the file and the field. */
export function readAgentFile(path: string): WarmAgent {
  let doc: Partial<AgentFile>;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8')) as Partial<AgentFile>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError('agent file not found', { file: path }, 'E_NOT_FOUND');
    throw new DataError(`not a JSON agent file (${(e as Error).message})`, { file: path }, 'E_FORMAT');
  }
  const bad = (field: string, message: string): DataError => new DataError(message, { file: path, field }, 'E_FORMAT');
  if (doc.format !== AGENT_FILE_FORMAT) throw bad('format', `expected "${AGENT_FILE_FORMAT}", got ${JSON.stringify(doc.format)} (write one with chorus simulate --save-agent or chorus train --agent)`);
  if (doc.version === 1 || doc.space === undefined) {
    throw bad('space', 'this agent file (version 1) holds no item space, so its items cannot be matched with the served ones; save the agent again with this version of chorus');
  }
  if (doc.version !== AGENT_FILE_VERSION) throw bad('version', `version ${String(doc.version)} is not supported (this build reads ${AGENT_FILE_VERSION})`);
  const a = fromJsonValue(doc.agent) as SavedAgent | undefined;
  if (!a || typeof a.kind !== 'string' || typeof a.version !== 'number') throw bad('agent', 'expected the saved agent {kind, version, config, state}');
  const space = fromJsonValue(doc.space) as AgentSpace;
  const items = space?.items;
  if (!items || !(items.vectors instanceof Float32Array) || items.vectors.length !== items.nItems * items.dim) throw bad('space.items', 'item vectors missing or of the wrong size');
  if (!Array.isArray(space.itemIds) || space.itemIds.length !== items.nItems) throw bad('space.itemIds', `expected ${items.nItems} item ids`);
  if (!Array.isArray(space.userIds)) throw bad('space.userIds', 'expected the users\' ids');
  if (space.userVectors !== undefined && space.userVectors.length !== space.userIds.length * items.dim) throw bad('space.userVectors', 'user vectors of the wrong size');
  const agentSha256 = createHash('sha256').update(JSON.stringify(doc.agent)).digest('hex');
  return { file: path, agent: a, space, trainedOn: (doc.trainedOn ?? {}) as Record<string, unknown>, agentSha256 };
}
