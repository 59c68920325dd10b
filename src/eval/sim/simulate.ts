/**
 * `runSimulation`: the library entry behind `chorus simulate`. Seeds run in parallel on worker
 * threads (each worker builds the world once), or as tasks on worker processes over a NATS bus
 * (./rollout-farm.ts); results are aggregated over seeds.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { SavedAgent } from '../../agents/base.js';
import { agentEntry } from '../../agents/registry.js';
import { agentFileDocument, agentSpaceOf, type AgentFile } from '../../agents/agent-file.js';
import { presetConfig } from '../../env/presets.js';
import { ConfigError } from '../../errors.js';
import { defaultThreads, WorkerPool, workerUrl } from '../../util/workers.js';
import { SeedRun, type SeedMetrics, type SeedRunOptions } from './runner.js';
import { LlmSeedRun } from './llm-run.js';
import type { ChatProvider, ChatTotals } from '../../llm/types.js';
import { loadSimData, type SimData } from './data.js';
import { buildSetup, type SetupOptions } from './setup.js';
import { meanCi, type MeanCi } from './stats.js';

export interface SimulationOptions extends SetupOptions {
  agent: string;
  agentConfig?: Record<string, unknown>;
  /** Training budget per seed, in user-steps. */
  trainSteps: number;
  seeds: number;
  /** First seed (seeds are firstSeed, firstSeed+1, …). */
  firstSeed?: number;
  evalSessions?: number;
  nEnvs?: number;
  curvePoints?: number;
  /** Worker threads (1 = run in this thread). */
  workers?: number;
  /**
   * Write the agent trained on the first seed here (JSON: the agent's own `toJSON()` plus what it
   * was trained on), before it is evaluated; `chorus serve --policy-file` can serve it.
   */
  saveAgent?: string;
  /** Progress in units of user-steps (training) + sessions (evaluation). */
  onProgress?: (done: number, total: number) => void;
  /**
   * A NATS JetStream URL: the seeds run as tasks on `chorus worker` processes instead of this
   * process's threads (./rollout-farm.ts); the numbers are the same.
   */
  bus?: string;
  /** The workers' queue on the bus (default `default`). */
  queue?: string;
  /** Said when the run is waiting on the bus with no worker taking tasks, or a worker hands a task back. */
  onWarning?: (message: string) => void;
  /** With `bus`: aborting ends the run with an error after withdrawing its tasks. */
  signal?: AbortSignal;
  /**
   * Users played by this chat model instead of the preset's choice model (src/env/llm-users.ts;
   * rating-family presets only). Runs in this thread; the result gains `llm` (the model's totals
   * over this run) when the provider keeps totals (`ManagedChat`).
   */
  llmUsers?: { chat: ChatProvider & { readonly totals?: ChatTotals }; temperature?: number; maxTokens?: number };
}

export interface SimulationResult {
  protocol: string;
  preset: string;
  presetVersion: number;
  agent: string;
  agentConfig: Record<string, unknown>;
  seeds: number;
  seedList: number[];
  trainSteps: number;
  evalSessions: number;
  gamma: number;
  lambda: number;
  alpha: number;
  /** Item features of the agents: CF factors, or CF factors + built-in text embeddings. */
  embeddings: 'none' | 'builtin';
  return: MeanCi;
  ctr: number;
  sessionLength: number;
  exposureGini: number;
  coldExposureShare: number;
  /** 95 % intervals over seeds for every metric. */
  intervals: Record<'ctr' | 'sessionLength' | 'exposureGini' | 'coldExposureShare' | 'undiscountedReturn', MeanCi>;
  parts: { R: number; G: number; A: number };
  curve: { steps: number[]; mean: number[]; lo: number[]; hi: number[] };
  perSeed: SeedMetrics[];
  wallSeconds: number;
  /** The data the world was calibrated on: its own name and hash, and how it got there. */
  data: SimDataStamp;
  /** With LLM-played users: the chat model and what this run cost it. */
  llm?: { model: string } & ChatTotals;
}

export interface SimDataStamp {
  name: string;
  file: string;
  sha256: string;
  /** The agents' train split: P1's rule (t20), or random20 for data without timestamps. */
  split: 't20' | 'random20';
  /** How values reached the hidden model's star scale (see ./data.ts). */
  valueMapping: SimData['valueMapping'];
  /** The import's warning when it dropped more than its threshold of rows. */
  warning?: string;
}

export async function runSimulation(o: SimulationOptions): Promise<SimulationResult> {
  const t0 = performance.now();
  const entry = agentEntry(o.agent);
  const config = presetConfig(o.preset);
  if (!(o.seeds >= 1) || !Number.isInteger(o.seeds)) throw new ConfigError(`seeds must be a positive integer, got ${o.seeds}`, 'seeds');
  if (!(o.trainSteps >= 0) || !Number.isFinite(o.trainSteps)) throw new ConfigError(`steps must be ≥ 0, got ${o.trainSteps}`, 'steps');
  const evalSessions = o.evalSessions ?? 1000;
  if (!(evalSessions >= 1)) throw new ConfigError(`evalSessions must be ≥ 1, got ${evalSessions}`, 'evalSessions');
  const run: SeedRunOptions = { agent: o.agent, agentConfig: o.agentConfig, trainSteps: entry.learns ? o.trainSteps : 0, nEnvs: o.nEnvs ?? 16, curvePoints: o.curvePoints ?? 20 };
  const seedList = Array.from({ length: o.seeds }, (_, k) => (o.firstSeed ?? 1) + k);
  const total = seedList.length * (run.trainSteps + evalSessions);
  let done = 0;
  const tick = (n: number): void => {
    done += n;
    o.onProgress?.(Math.min(done, total), total);
  };
  const chunk = Math.max(run.nEnvs, Math.ceil(run.trainSteps / 50));
  const evalChunk = Math.max(1, Math.ceil(evalSessions / 10));
  const setupOpts: SetupOptions = { preset: o.preset, dataDir: o.dataDir, lambda: o.lambda, alpha: o.alpha, embeddings: o.embeddings, readOptions: o.readOptions };
  const data = await dataStamp(o.dataDir, o.readOptions);
  const nWorkers = Math.min(o.workers ?? defaultThreads(), seedList.length);
  let perSeed: SeedMetrics[];
  const llmBefore = o.llmUsers?.chat.totals ? { ...o.llmUsers.chat.totals } : undefined;
  if (o.llmUsers) {
    if (o.bus !== undefined) throw new ConfigError('LLM-played users run in this process: leave out --bus', 'bus');
    const setup = await buildSetup(setupOpts);
    const { train } = await loadSimData(o.dataDir, o.readOptions);
    perSeed = [];
    for (const seed of seedList) {
      const r = new LlmSeedRun(setup, run, seed, { ...o.llmUsers, train });
      while (r.trainStepsDone < run.trainSteps) tick(await r.train(chunk));
      if (o.saveAgent && seed === seedList[0]) await writeSavedAgent(o.saveAgent, r.agent.toJSON(), o, seed, run.trainSteps, data);
      let last = 0;
      perSeed.push(
        await r.evaluate(evalSessions, (f) => {
          if (f - last >= evalChunk || f === evalSessions) (tick(f - last), (last = f));
        }),
      );
    }
  } else if (o.bus !== undefined) {
    // The agent file is written from the trained agent's memory, which stays on the worker.
    if (o.saveAgent) throw new ConfigError('--save-agent runs in this process: leave out --bus, or train the agent with `chorus train --agent`', 'save-agent');
    // Loaded only here: the NATS client is not needed by in-process runs.
    const { runSeedsOnBus } = await import('./rollout-farm.js');
    const results = await runSeedsOnBus({
      bus: o.bus,
      ...(o.queue !== undefined ? { queue: o.queue } : {}),
      setup: { ...setupOpts, dataDir: resolve(setupOpts.dataDir) },
      runOptions: run,
      seeds: seedList,
      evalSessions,
      chunk,
      dataSha256: data.sha256,
      onProgress: tick,
      ...(o.onWarning ? { onWarning: o.onWarning } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    perSeed = seedList.map((s) => results.get(s)!);
  } else if (nWorkers <= 1) {
    const setup = await buildSetup(setupOpts);
    perSeed = [];
    for (const seed of seedList) {
      const r = new SeedRun(setup, run, seed);
      while (r.trainStepsDone < run.trainSteps) tick(r.train(chunk));
      if (o.saveAgent && seed === seedList[0]) await writeSavedAgent(o.saveAgent, r.agent.toJSON(), o, seed, run.trainSteps, data);
      // Evaluation reports per finished session; pass it through in chunks.
      let last = 0;
      perSeed.push(
        r.evaluate(evalSessions, (f) => {
          if (f - last >= evalChunk || f === evalSessions) (tick(f - last), (last = f));
        }),
      );
    }
  } else {
    // spawnWorker registers tsx inside the worker when run from the TS sources, and the pool
    // keeps a worker referenced while a request waits on it.
    const pool = new WorkerPool(workerUrl(import.meta.url, './worker.js'), nWorkers, { setup: setupOpts, run });
    try {
      const results = new Map<number, SeedMetrics>();
      await Promise.all(
        Array.from({ length: nWorkers }, async (_, w) => {
          for (let k = w; k < seedList.length; k += nWorkers) {
            const seed = seedList[k]!;
            await pool.run(w, { op: 'init', seed });
            let trained = 0;
            while (trained < run.trainSteps) {
              const n = await pool.run<number>(w, { op: 'train', seed, steps: chunk });
              trained += n;
              tick(n);
            }
            if (o.saveAgent && seed === seedList[0]) await writeSavedAgent(o.saveAgent, await pool.run<SavedAgent>(w, { op: 'save', seed }), o, seed, run.trainSteps, data);
            results.set(seed, await pool.run<SeedMetrics>(w, { op: 'eval', seed, sessions: evalSessions }));
            tick(evalSessions);
          }
        }),
      );
      perSeed = seedList.map((s) => results.get(s)!);
    } finally {
      await pool.close();
    }
  }
  const pick = (f: (m: SeedMetrics) => number): MeanCi => meanCi(perSeed.map(f));
  const ret = pick((m) => m.return);
  const intervals = {
    ctr: pick((m) => m.ctr),
    sessionLength: pick((m) => m.sessionLength),
    exposureGini: pick((m) => m.exposureGini),
    coldExposureShare: pick((m) => m.coldExposureShare),
    undiscountedReturn: pick((m) => m.undiscountedReturn),
  };
  const curveSteps = perSeed[0]?.curve.steps ?? [];
  const curve = { steps: curveSteps, mean: [] as number[], lo: [] as number[], hi: [] as number[] };
  for (let p = 0; p < curveSteps.length; p++) {
    const ci = meanCi(perSeed.map((m) => m.curve.value[p]!).filter((v) => Number.isFinite(v)));
    curve.mean.push(ci.mean);
    curve.lo.push(ci.ci95[0]);
    curve.hi.push(ci.ci95[1]);
  }
  const lambda = o.lambda ?? config.reward.lambda;
  const alpha = o.alpha ?? config.reward.alpha;
  return {
    protocol: 'P3',
    preset: o.preset,
    presetVersion: config.version,
    agent: o.agent,
    agentConfig: { ...entry.defaults, ...(o.agentConfig ?? {}) },
    seeds: seedList.length,
    seedList,
    trainSteps: run.trainSteps,
    evalSessions,
    gamma: config.gamma,
    lambda,
    alpha,
    embeddings: o.embeddings ?? 'none',
    return: ret,
    ctr: intervals.ctr.mean,
    sessionLength: intervals.sessionLength.mean,
    exposureGini: intervals.exposureGini.mean,
    coldExposureShare: intervals.coldExposureShare.mean,
    intervals,
    parts: { R: mean(perSeed.map((m) => m.parts.R)), G: mean(perSeed.map((m) => m.parts.G)), A: mean(perSeed.map((m) => m.parts.A)) },
    curve,
    perSeed,
    wallSeconds: (performance.now() - t0) / 1000,
    data,
    ...(o.llmUsers ? { llm: llmTotalsSince(o.llmUsers.chat.id, llmBefore, o.llmUsers.chat.totals) } : {}),
  };
}

/** What the chat model did between two snapshots of its totals (zeros when it keeps none). */
function llmTotalsSince(model: string, before: ChatTotals | undefined, after: ChatTotals | undefined): { model: string } & ChatTotals {
  const keys = ['calls', 'cacheHits', 'modelCalls', 'promptTokens', 'completionTokens', 'retries', 'failures'] as const;
  const out = { model, calls: 0, cacheHits: 0, modelCalls: 0, promptTokens: 0, completionTokens: 0, retries: 0, failures: 0 };
  if (after) for (const k of keys) out[k] = after[k] - (before?.[k] ?? 0);
  return out;
}

export interface TrainAgentOptions extends SetupOptions {
  agent: string;
  agentConfig?: Record<string, unknown>;
  trainSteps: number;
  seed?: number;
  /** Where to write the agent (see `SavedSimAgent`). */
  out: string;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Train one agent in a simulator preset for `trainSteps` user-steps on one seed and save it — the
 * first half of a `simulate` run, without the evaluation (`chorus train --agent`).
 */
export async function trainSimAgent(o: TrainAgentOptions): Promise<{ file: string; trainSteps: number; seconds: number; data: SimDataStamp }> {
  const t0 = performance.now();
  const entry = agentEntry(o.agent);
  if (!entry.learns) throw new ConfigError(`agent "${o.agent}" does not learn; there is nothing to train`, 'agent');
  if (!(o.trainSteps >= 1) || !Number.isFinite(o.trainSteps)) throw new ConfigError(`steps must be ≥ 1, got ${o.trainSteps}`, 'steps');
  const setupOpts: SetupOptions = { preset: o.preset, dataDir: o.dataDir, lambda: o.lambda, alpha: o.alpha, embeddings: o.embeddings, readOptions: o.readOptions };
  const data = await dataStamp(o.dataDir, o.readOptions);
  const setup = await buildSetup(setupOpts);
  const seed = o.seed ?? 1;
  const run = new SeedRun(setup, { agent: o.agent, agentConfig: o.agentConfig, trainSteps: o.trainSteps, nEnvs: 16, curvePoints: 20 }, seed);
  const chunk = Math.max(16, Math.ceil(o.trainSteps / 50));
  while (run.trainStepsDone < o.trainSteps) {
    run.train(chunk);
    o.onProgress?.(Math.min(run.trainStepsDone, o.trainSteps), o.trainSteps);
  }
  await writeSavedAgent(o.out, run.agent.toJSON(), o, seed, o.trainSteps, data);
  return { file: o.out, trainSteps: run.trainStepsDone, seconds: (performance.now() - t0) / 1000, data };
}

/** The data's stamp for reports and saved agents. */
async function dataStamp(dataDir: string, readOptions: SetupOptions['readOptions']): Promise<SimDataStamp> {
  const simData = await loadSimData(dataDir, readOptions);
  const data: SimDataStamp = {
    name: simData.summary.name,
    file: simData.summary.file,
    sha256: simData.summary.sha256,
    split: simData.summary.timestamped >= 1 ? 't20' : 'random20',
    valueMapping: simData.valueMapping,
  };
  if (simData.summary.warning) data.warning = simData.summary.warning;
  return data;
}

/** A simulator-trained agent on disk: the agent itself, what it learned on, and its item space (src/agents/agent-file.ts). */
export type SavedSimAgent = AgentFile<{ preset: string; seed: number; trainSteps: number; lambda?: number; alpha?: number; embeddings: string; data: SimDataStamp }>;

async function writeSavedAgent(path: string, agent: SavedAgent, o: SetupOptions, seed: number, trainSteps: number, data: SimDataStamp): Promise<void> {
  // The agents' context is the same on every seed (built from the data alone) and cached per
  // process, so the space saved here is the one the agent learned in, also when a worker trained it.
  const setup = await buildSetup({ preset: o.preset, dataDir: o.dataDir, lambda: o.lambda, alpha: o.alpha, embeddings: o.embeddings, readOptions: o.readOptions });
  if (!setup.ids) throw new Error('simulator setup without item ids');
  const trainedOn: SavedSimAgent['trainedOn'] = { preset: o.preset, seed, trainSteps, lambda: o.lambda, alpha: o.alpha, embeddings: o.embeddings ?? 'none', data };
  const doc = agentFileDocument(agent, trainedOn, agentSpaceOf(setup.ctx, setup.ids.items, setup.ids.users));
  await mkdir(dirname(resolve(path)), { recursive: true });
  await writeFile(path, JSON.stringify(doc));
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

