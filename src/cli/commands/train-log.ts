/**
 * `chorus train --agent bc|cql --log <store-url|events.jsonl> --data <dir|file>`: offline RL on the
 * server's own decision log. The log becomes a session log in the item space of the data the
 * server was started with (src/ope/learn/server-sessions.ts, rules there), the agent learns from
 * it, and the agent file it writes is what `chorus serve --policy-file` serves warm.
 */
import { isStoreUrl } from '../../store/open.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { agentFileDocument, agentSpaceOf } from '../../agents/agent-file.js';
import { agentEntry, agentNames, createAgent } from '../../agents/registry.js';
import { itemSpaceFromTrain, type AgentContext } from '../../agents/state.js';
import { ConfigError } from '../../errors.js';
import { OfflineAgent } from '../../ope/learn/offline-agent.js';
import { readEventsExport, readStoreDecisions, serverSessionLog, type ServerDecisionLog, type ServerSessionCounts } from '../../ope/learn/server-sessions.js';
import { writeSessionLog } from '../../ope/learn/session-log.js';
import { AGENT_POLICY_DEFAULTS, CONTEXT_DIMS } from '../../serve/agent-policy.js';
import { hashInto } from '../../serve/features.js';
import { intFlag } from '../config.js';
import { writeJson, writeOut } from '../output.js';
import { loadServeData } from './serve.js';

export interface TrainLogFlags {
  agent: string;
  log: string;
  data: string;
  /** The agent's config: the config file's `simulate.agents.<name>` with `-p` over it. */
  agentConfig: Record<string, unknown>;
  steps?: string;
  seed?: string;
  out?: string;
  sessionIdle?: string;
  sessionLogOut?: string;
  json: boolean;
}

/** What an agent trained on a server log records of it in its file. */
export interface LogTrainedOn {
  log: { source: string; sha256?: string };
  data: { name: string; items: number; users: number };
  sessionIdleSeconds: number;
  /** Counts of the log (left out of a DP-trained agent's file: exact counts are not private). */
  decisions?: number;
  decisionsUsed?: number;
  sessions?: number;
  steps?: number;
  agentSteps: number;
  seed: number;
}

/** The agents whose config names a session log to learn from (bc, cql): the ones `--log` can train. */
export function logLearners(): string[] {
  return agentNames().filter((n) => 'log' in agentEntry(n).defaults);
}

/** `--log`: a store URL (`sqlite:…`, `postgres:…`) unless a file of that name exists. */
async function readServerLog(log: string): Promise<ServerDecisionLog> {
  if (isStoreUrl(log)) return readStoreDecisions(log);
  return readEventsExport(log);
}

function skippedText(c: ServerSessionCounts): string {
  const parts: string[] = [];
  const { noUser, inactive, badPropensities, noKnownItems } = c.skipped;
  if (noUser) parts.push(`${noUser} without a user`);
  if (inactive) parts.push(`${inactive} never activated`);
  if (badPropensities) parts.push(`${badPropensities} with propensities not matching their items`);
  if (noKnownItems) parts.push(`${noKnownItems} showing no item of the data`);
  if (c.droppedPositions) parts.push(`${c.droppedPositions} shown positions dropped (item not in the data or propensity not in (0, 1])`);
  return parts.length > 0 ? ` (skipped: ${parts.join(', ')})` : '';
}

export async function trainAgentOnLog(f: TrainLogFlags): Promise<void> {
  const entry = agentEntry(f.agent);
  if (!('log' in entry.defaults)) {
    throw new ConfigError(`--log trains agents that learn from logs (${logLearners().join(', ')}); "${f.agent}" learns by interacting: drop --log to train it in the simulator`, 'agent');
  }
  if ('log' in f.agentConfig) throw new ConfigError('-p log= does not apply with --log: the agent learns from the --log decision log', 'param');
  const seed = intFlag(f.seed, 'seed', 0) ?? 1;
  const steps = intFlag(f.steps, 'steps', 1);
  let idle = AGENT_POLICY_DEFAULTS.sessionIdleSeconds;
  if (f.sessionIdle !== undefined) {
    idle = Number(f.sessionIdle);
    if (!Number.isFinite(idle) || idle < 0) throw new ConfigError(`expected seconds >= 0, got "${f.sessionIdle}"`, 'session-idle');
  }
  const out = resolve(f.out ?? `${f.agent}.agent.json`);
  const t0 = performance.now();
  const dataset = await loadServeData(f.data);
  const logged = await readServerLog(f.log);
  const { log, counts } = serverSessionLog(logged.decisions, dataset, {
    sessionIdleSeconds: idle,
    historyLength: AGENT_POLICY_DEFAULTS.historyKept,
    contextOf: (raw) => {
      const c = new Float32Array(CONTEXT_DIMS);
      hashInto(raw ?? null, c, 0, CONTEXT_DIMS);
      return c;
    },
  });
  if (f.sessionLogOut) {
    await mkdir(dirname(resolve(f.sessionLogOut)), { recursive: true });
    writeSessionLog(f.sessionLogOut, log);
  }
  if (log.steps.length === 0) {
    throw new ConfigError(`${logged.source}: none of its ${counts.decisions} decisions can be learned from in "${dataset.name}"${skippedText(counts)}`, 'log');
  }
  // The item space the server's own agent policy builds from the same data (its factors and seed),
  // so the agent sees the items as a cold-started served agent would.
  const space = itemSpaceFromTrain(dataset, { dim: AGENT_POLICY_DEFAULTS.factors, seed: AGENT_POLICY_DEFAULTS.seed });
  let slateSize = 1;
  for (const st of log.steps) slateSize = Math.max(slateSize, st.items.length);
  const ctx: AgentContext = { items: space.items, userVectors: space.userVectors, nUsers: dataset.nUsers, slateSize, horizon: AGENT_POLICY_DEFAULTS.horizon };
  // Under dp, --steps is the number of DP-SGD steps (it sets the privacy budget's composition).
  const dp = f.agentConfig.dp as Record<string, unknown> | undefined;
  const config = dp ? { ...f.agentConfig, dp: { ...dp, ...(steps !== undefined ? { steps } : {}) } } : { ...f.agentConfig, ...(steps !== undefined ? { steps } : {}) };
  const agent = createAgent(f.agent, ctx, { ...config, seed });
  if (!(agent instanceof OfflineAgent)) throw new ConfigError(`agent "${f.agent}" does not learn from a session log`, 'agent');
  agent.fit(log);
  // A DP-trained agent's file is the release: the log's hash and exact counts, which one user
  // changes, stay out of it (the operator still sees them printed, and in --json's `conversion`).
  const trainedOn: LogTrainedOn = {
    log: { source: logged.source, ...(logged.sha256 && !agent.privacy ? { sha256: logged.sha256 } : {}) },
    data: { name: dataset.name, items: dataset.nItems, users: dataset.nUsers },
    sessionIdleSeconds: idle,
    ...(agent.privacy ? {} : { decisions: counts.decisions, decisionsUsed: counts.used, sessions: counts.sessions, steps: counts.steps }),
    agentSteps: agent.trainedSteps,
    seed,
  };
  const doc = agentFileDocument(agent.toJSON(), trainedOn, agentSpaceOf(ctx, dataset.items.ids(), dataset.users.ids()));
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(doc));
  const seconds = (performance.now() - t0) / 1000;
  if (f.json) {
    writeJson({ agent: f.agent, trainedOn, conversion: counts, seconds, agentFile: out, ...(agent.privacy ? { privacy: agent.privacy } : {}), ...(f.sessionLogOut ? { sessionLog: resolve(f.sessionLogOut) } : {}) });
    return;
  }
  const n = (x: number) => x.toLocaleString('en-US');
  writeOut(
    `trained ${f.agent} on ${n(counts.steps)} logged steps (${n(counts.sessions)} sessions of ${n(counts.users)} users, session idle ${idle} s) from ${n(counts.used)} of ${n(counts.decisions)} decisions in ${logged.source}${skippedText(counts)}`,
  );
  writeOut(`item space of "${dataset.name}" (${n(dataset.nItems)} items, ${n(dataset.nUsers)} users); ${n(agent.trainedSteps)} gradient steps, seed ${seed}, ${seconds.toFixed(1)} s`);
  const p = agent.privacy;
  if (p) writeOut(`differential privacy: (ε = ${p.epsilon.toPrecision(3)}, δ = ${p.delta.toPrecision(3)}) per ${p.unit}, DP-SGD with noise multiplier ${p.noiseMultiplier.toPrecision(3)} (docs/privacy.md)`);
  writeOut(`agent: ${out}${f.sessionLogOut ? `\nsession log: ${resolve(f.sessionLogOut)}` : ''}`);
}
