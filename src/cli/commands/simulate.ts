/**
 * `chorus simulate`: train agents in a simulator preset (P3) and evaluate them; prints a table
 * (or one JSON document with --json) and writes a report folder with SVG plots.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { agentNames, agentEntry, isBuiltinAgent } from '../../agents/registry.js';
import { presetNames, presetConfig } from '../../env/presets.js';
import { writeSimReport } from '../../eval/sim/report.js';
import { runSimulation, type SimulationResult } from '../../eval/sim/simulate.js';
import { codeVersion } from '../../eval/stamp.js';
import { checkBusUrl } from '../../bus/nats.js';
import { ConfigError } from '../../errors.js';
import { configSection, intFlag, loadConfig, parseParams, type ChorusConfig } from '../config.js';
import { addDataFlags, dataFlagOptions, dataPath, printLoadWarning, readOptions, type DataFlags } from '../data.js';
import { formatNumber, table, withCleanStdout, writeErr, writeJson, writeOut } from '../output.js';
import { progressBar } from '../progress.js';
// The multi-agent team (src/marl) registers agent `team` and recommenders `team`/`team-item` on import.
import { attachTeamContent, checkCoordination, fitExtras, parseExtrasSpec, checkFusion, collectTeams, mergeTeamSummaries, stopCollectingTeams, type TeamSummary } from '../../marl/index.js';
import { buildSetup } from '../../eval/sim/setup.js';
import { runLlmFidelity } from '../../eval/sim/llm-fidelity.js';
import { loadSimData } from '../../eval/sim/data.js';
import { ChatCache, defaultChatCachePath } from '../../llm/cache.js';
import { openChatModel } from '../../llm/spec.js';

interface SimulateFlags extends DataFlags {
  preset?: string;
  agent?: string;
  steps?: string;
  seeds?: string;
  lambda?: string;
  alpha?: string;
  evalSessions?: string;
  workers?: string;
  bus?: string;
  queue?: string;
  embeddings?: string;
  data?: string;
  out?: string;
  saveAgent?: string;
  report?: boolean;
  param?: string[];
  config?: string;
  json?: boolean;
  coordination?: string;
  fusion?: string;
  extras?: string;
  users?: string;
  llm?: string;
  llmCache?: string;
  llmConcurrency?: string;
  fidelity?: string | true;
  contentLlm?: string;
}

/** Intervals over seeds need this many seeds to mean anything; fewer draws a warning. */
export const MIN_SEEDS_FOR_INTERVALS = 5;

/** The preset's reference data when this checkout has it (the documented figures), else the demo data. */
const REFERENCE_DATA = '../shared/datasets/ml-latest-small';

export function simulateDataPath(flag: string | undefined, config: ChorusConfig): string {
  if (flag !== undefined || config.data !== undefined) return dataPath(flag, config);
  return existsSync(REFERENCE_DATA) ? REFERENCE_DATA : dataPath(undefined, config);
}

/** The `simulate` section of chorus.config.json (every field optional; flags override). */
export const SimulateConfigSchema = z.strictObject({
  preset: z.string().min(1).optional(),
  agent: z.string().min(1).optional(),
  steps: z.number().int().min(0).optional(),
  seeds: z.number().int().min(1).optional(),
  lambda: z.number().min(0).optional(),
  alpha: z.number().min(0).optional(),
  evalSessions: z.number().int().min(1).optional(),
  workers: z.number().int().min(1).optional(),
  bus: z.string().optional(),
  embeddings: z.enum(['none', 'builtin']).optional(),
  out: z.string().min(1).optional(),
  agents: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
});

/** Documented default training budget (user-steps per seed) of `sim-ml-ls-v1`. */
export const DEFAULT_TRAIN_STEPS = 20000;

function floatFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isFinite(x) || x < 0) throw new ConfigError(`expected a number ≥ 0, got "${v}"`, flag);
  return x;
}

export function register(program: Command): void {
  addDataFlags(program
    .command('simulate'))
    .description('train and evaluate agents in a simulated-user preset (protocol P3); writes a report folder')
    .option('--preset <name>', `simulator preset (${presetNames().join(', ')})`, undefined)
    .option('-a, --agent <names>', `agent, or several separated by commas (${agentNames().join(', ')})`)
    .option('--steps <n>', `training budget per seed in user-steps (default ${DEFAULT_TRAIN_STEPS})`)
    .option('--seeds <n>', 'number of seeds (default 5)')
    .option('--lambda <x>', 'weight λ of the exposure reward G (default: the preset\'s)')
    .option('--alpha <x>', 'weight α of the content reward A (default: the preset\'s)')
    .option('--eval-sessions <n>', 'evaluation sessions per seed (default 1000)')
    .option('--workers <n>', 'worker threads for parallel seeds (default: cores, max 2)')
    .option('--queue <name>', 'with --bus: the workers\' queue (default "default"; see `chorus worker --queue`)')
    .option('--bus <url>', 'run the seeds on `chorus worker` processes reached through this NATS JetStream server (e.g. nats://127.0.0.1:4222) instead of local threads; same numbers')
    .option('--embeddings <kind>', 'agent item features: none (CF factors, default) or builtin (CF + built-in text embeddings)')
    .option('-d, --data <path>', 'data to calibrate the world on: a MovieLens or Last.fm folder, a CSV/TSV/JSONL file or a snapshot (default: config "data", else ../shared/datasets/ml-latest-small when present, else the bundled demo data)')
    .option('-o, --out <dir>', 'report folder (default reports/<preset>-<agent>)')
    .option('--save-agent <file>', 'save the agent trained on the first seed (JSON, before evaluation); one --agent only')
    .option('--no-report', 'do not write a report folder')
    .option('-p, --param <key=value...>', 'agent hyper-parameter (repeatable; applies to every agent given)')
    .option('--coordination <mode>', 'team only: independent, vdn, weighted-vdn, qmix, item-critic, central-critic, value-sharing or comm (default vdn; README "Multi-agent team")')
    .option('--fusion <kind>', 'team only: weighted, borda, rrf or meta (default weighted)')
    .option('--users <kind>', 'who plays the users: param (the preset\'s choice model, default) or llm (a chat model; see docs/llm.md)')
    .option('--llm <url#model|file.gguf>', 'with --users llm: an OpenAI-compatible server and model, e.g. http://127.0.0.1:8080#llama-3, or a local GGUF file (node-llama-cpp)')
    .option('--llm-cache <file>', `with --users llm: response cache file, or "none" (default ${defaultChatCachePath()})`)
    .option('--llm-concurrency <n>', 'with --users llm: requests in flight at once (default 4)')
    .option('--content-llm <url#model>', 'team only: a chat model rates every item\'s appeal from its text, a feature of the content agent (docs/llm.md)')
    .option('--fidelity [users]', 'with --users llm: instead of training agents, run the fidelity protocol (how often the LLM user clicks the item the real user rated next, beside the parametric user and popularity, on the same slates) over this many P1 test users (default 100); docs/llm.md')
    .option('--extras <list>', 'team only: recommenders that join as extra agents, fitted on the train split, e.g. mf or \'mf{"epochs":40,"factors":200},ease\'')
    .action(async function (this: Command) {
      const flags = this.optsWithGlobals<SimulateFlags>();
      const { config } = loadConfig(flags.config);
      const sc = configSection(config, 'simulate', SimulateConfigSchema) ?? {};
      const preset = flags.preset ?? sc.preset ?? 'sim-ml-ls-v1';
      presetConfig(preset);
      const agents = (flags.agent ?? sc.agent ?? 'linucb').split(',').map((a) => a.trim()).filter((a) => a.length > 0);
      for (const a of agents) agentEntry(a);
      const steps = intFlag(flags.steps, 'steps', 0) ?? sc.steps ?? DEFAULT_TRAIN_STEPS;
      const seeds = intFlag(flags.seeds, 'seeds', 1) ?? sc.seeds ?? 5;
      const evalSessions = intFlag(flags.evalSessions, 'eval-sessions', 1) ?? sc.evalSessions ?? 1000;
      const workers = intFlag(flags.workers, 'workers', 1) ?? sc.workers;
      const lambda = floatFlag(flags.lambda, 'lambda') ?? sc.lambda;
      const alpha = floatFlag(flags.alpha, 'alpha') ?? sc.alpha;
      const embeddings = flags.embeddings ?? sc.embeddings ?? 'none';
      if (embeddings !== 'none' && embeddings !== 'builtin') throw new ConfigError(`expected none or builtin, got "${embeddings}"`, 'embeddings');
      const dataDir = simulateDataPath(flags.data, config);
      const readOpts = readOptions(config, dataFlagOptions(flags));
      const params = parseParams(flags.param);
      const extraSpecs = parseExtrasSpec(flags.extras ?? '');
      if (flags.saveAgent !== undefined && agents.length !== 1) throw new ConfigError('--save-agent saves one agent: give one --agent', 'save-agent');
      if (extraSpecs.length > 0 && !agents.includes('team')) throw new ConfigError('--extras adds agents to the team; give --agent team', 'extras');
      const json = Boolean(flags.json);
      const bus = flags.bus ?? sc.bus;
      if (flags.queue !== undefined && bus === undefined) throw new ConfigError('--queue names a queue on the bus: give --bus too', 'queue');
      if (bus !== undefined) {
        checkBusUrl(bus);
        if (flags.saveAgent !== undefined) throw new ConfigError('--save-agent runs in this process: leave out --bus, or train the agent with `chorus train --agent`', 'save-agent');
        for (const a of agents) if (!isBuiltinAgent(a)) throw new ConfigError(`--bus: agent "${a}" runs in this process only (worker processes run the built-in single agents)`, 'bus');
      }
      const users = flags.users ?? 'param';
      if (users !== 'param' && users !== 'llm') throw new ConfigError(`expected param or llm, got "${users}"`, 'users');
      if (users === 'llm') {
        if (flags.llm === undefined) throw new ConfigError('--users llm needs --llm <url#model>', 'llm');
        if (bus !== undefined) throw new ConfigError('LLM-played users run in this process: leave out --bus', 'bus');
      } else if (flags.llm !== undefined) throw new ConfigError('--llm names the model that plays the users: give --users llm too', 'llm');
      const llmConcurrency = intFlag(flags.llmConcurrency, 'llm-concurrency', 1);
      const llmCache = users === 'llm' && flags.llmCache !== 'none' ? new ChatCache(flags.llmCache ?? defaultChatCachePath()) : undefined;
      if (flags.contentLlm !== undefined && !agents.includes('team')) throw new ConfigError('--content-llm rates items for the team\'s content agent: give --agent team', 'content-llm');
      const contentCache = flags.contentLlm !== undefined && !llmCache && flags.llmCache !== 'none' ? new ChatCache(flags.llmCache ?? defaultChatCachePath()) : undefined;
      const chat = users === 'llm' ? openChatModel(flags.llm!, { cachePath: false, ...(llmCache ? { cache: llmCache } : {}), ...(llmConcurrency !== undefined ? { concurrency: llmConcurrency } : {}), onRetry: (r) => writeErr(`llm: retry ${r.attempt} in ${Math.round(r.delayMs)} ms: ${r.reason}`) }) : undefined;
      if (flags.fidelity !== undefined) {
        if (!chat) throw new ConfigError('--fidelity measures LLM-played users: give --users llm --llm <url#model>', 'fidelity');
        const n = typeof flags.fidelity === 'string' ? intFlag(flags.fidelity, 'fidelity', 1)! : 100;
        const chatModel = chat;
        await withCleanStdout(json, async () => {
          const data = await loadSimData(dataDir, readOpts);
          const setup = await buildSetup({ preset, dataDir, lambda, alpha, embeddings, readOptions: readOpts });
          const bar = progressBar('fidelity');
          const r = await runLlmFidelity({ full: data.full, train: data.train, world: setup.preset.world, config: setup.preset.config, chat: chatModel, users: n, seed: 0, ...(llmConcurrency !== undefined ? { concurrency: llmConcurrency } : {}), onProgress: (d, t) => bar.update(d, t, 'users') }).finally(() => bar.stop());
          const llm = { model: flags.llm!, ...chatModel.totals };
          if (json) {
            writeJson({ fidelity: r, llm, data: { name: data.summary.name, sha256: data.summary.sha256 } });
            return;
          }
          writeOut(`LLM-user fidelity · ${preset} · data ${data.summary.name} sha256:${data.summary.sha256.slice(0, 12)} · ${r.users} P1 test users · slates of ${r.slateSize} (their next item + ${r.slateSize - 1} unrated, seed ${r.seed}) · chance ${formatNumber(r.chance)}`);
          writeOut(
            table(
              ['user model', 'share of clicks on the next item', '95% CI', 'slates with a click'],
              [
                [`LLM (${flags.llm})`, r.llm.hit.mean, `[${formatNumber(r.llm.hit.ci95[0])}, ${formatNumber(r.llm.hit.ci95[1])}]`, r.llm.anyClick],
                ['parametric (preset choice model; fitted with the held-out data)', r.parametric.hit.mean, `[${formatNumber(r.parametric.hit.ci95[0])}, ${formatNumber(r.parametric.hit.ci95[1])}]`, r.parametric.anyClick],
                ['popularity (clicks the most-rated item)', r.popularity.hit.mean, `[${formatNumber(r.popularity.hit.ci95[0])}, ${formatNumber(r.popularity.hit.ci95[1])}]`, r.popularity.anyClick],
              ],
            ),
          );
          writeOut(`llm: ${llm.calls} calls, ${llm.cacheHits} cache hits, ${llm.promptTokens} prompt + ${llm.completionTokens} completion tokens, ${llm.retries} retries${r.ignoredClicks ? `; ${r.ignoredClicks} clicks on items not shown were ignored` : ''}`);
        }).finally(() => llmCache?.close());
        return;
      }
      // With --bus, Ctrl-C (or SIGTERM) withdraws the run's tasks from the queue before exiting.
      const interrupt = new AbortController();
      const onSignal = (): void => interrupt.abort();
      if (bus !== undefined) {
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
      }
      if (seeds < MIN_SEEDS_FOR_INTERVALS) {
        writeErr(`warning: ${seeds} seed${seeds === 1 ? '' : 's'}: the 95 % intervals are over seeds, and with fewer than ${MIN_SEEDS_FOR_INTERVALS} they are too wide or too unstable to compare agents on (use --seeds ${MIN_SEEDS_FOR_INTERVALS} or more)`);
      }
      try {
      await withCleanStdout(json, async () => {
        const runs: SimulationResult[] = [];
        const teamSummaries = new Map<number, TeamSummary>();
        for (const agent of agents) {
          const bar = progressBar(`simulate ${agent}`);
          const isTeam = agent === 'team';
          const teamConfig: Record<string, unknown> = {};
          if (isTeam) {
            // The team's reward weights are the environment's; its agents run in this thread (worker
            // threads do not load src/marl), and its content agent gets built-in text embeddings.
            const reward = presetConfig(preset).reward;
            teamConfig.lambda = lambda ?? reward.lambda;
            teamConfig.alpha = alpha ?? reward.alpha;
            if (flags.coordination) teamConfig.coordination = checkCoordination(flags.coordination);
            if (flags.fusion) teamConfig.fusion = checkFusion(flags.fusion);
            const setup = await buildSetup({ preset, dataDir, lambda, alpha, embeddings, readOptions: readOpts });
            const simData = await loadSimData(dataDir, readOpts);
            // The content member's appeal ratings, from a chat model (cached with the LLM users' answers).
            const contentChat = flags.contentLlm !== undefined ? openChatModel(flags.contentLlm, { cachePath: false, ...(llmCache ? { cache: llmCache } : contentCache ? { cache: contentCache } : {}) }) : undefined;
            const tctx = await attachTeamContent(setup.ctx, simData.full, 32, contentChat, simData.train);
            // The setup is cached per process: reset its extras so that each run gets exactly the ones asked for.
            tctx.extras = await fitExtras(extraSpecs, simData.train);
          }
          const teams = isTeam ? collectTeams() : [];
          try {
            runs.push(
              await runSimulation({
                preset,
                dataDir,
                readOptions: readOpts,
                saveAgent: flags.saveAgent,
                agent,
                agentConfig: { ...(sc.agents?.[agent] ?? {}), ...teamConfig, ...params },
                trainSteps: steps,
                seeds,
                evalSessions,
                embeddings,
                // Agents registered at run time exist only in this thread, and so does the chat model.
                workers: isBuiltinAgent(agent) && !chat ? workers : 1,
                ...(chat ? { llmUsers: { chat } } : {}),
                ...(bus !== undefined ? { bus, ...(flags.queue !== undefined ? { queue: flags.queue } : {}), onWarning: (m: string) => writeErr(`warning: ${m}`), signal: interrupt.signal } : {}),
                lambda,
                alpha,
                onProgress: (d, t) => bar.update(d, t, 'steps+sessions'),
              }),
            );
            if (isTeam) teamSummaries.set(runs.length - 1, mergeTeamSummaries(teams.map((t) => t.summary())));
          } finally {
            if (isTeam) stopCollectingTeams();
            bar.stop();
          }
        }
        printLoadWarning({ warning: runs[0]?.data.warning });
        let reportDir: string | undefined;
        if (flags.report !== false) {
          reportDir = flags.out ?? sc.out ?? join('reports', `${preset}-${agents.join('+')}`);
          await writeSimReport(reportDir, runs, { commit: codeVersion(), date: new Date().toISOString() });
        }
        if (json) {
          const strip = (r: SimulationResult, k: number) => ({ ...r, ...(teamSummaries.has(k) ? { agents: teamSummaries.get(k)!.agents, coordination: teamSummaries.get(k)!.coordination, fusion: teamSummaries.get(k)!.fusion } : {}), report: reportDir });
          // One shape whatever the number of agents: a run per agent under `runs`.
          writeJson({ runs: runs.map(strip), report: reportDir });
          return;
        }
        const r0 = runs[0]!;
        writeOut(`P3 · ${preset} v${r0.presetVersion} · data ${r0.data.name} sha256:${r0.data.sha256.slice(0, 12)} (${r0.data.split}${r0.data.valueMapping === 'identity' ? '' : `, values → stars by ${r0.data.valueMapping}`}) · γ ${r0.gamma} · λ ${r0.lambda} · α ${r0.alpha} · ${seeds} seeds × ${evalSessions} eval sessions`);
        writeOut(
          table(
            ['agent', 'train steps', 'return', '95% CI', 'CTR', 'session len', 'exposure Gini', 'cold share', 'wall s'],
            runs.map((r) => [r.agent, r.trainSteps, r.return.mean, `[${formatNumber(r.return.ci95[0])}, ${formatNumber(r.return.ci95[1])}]`, r.ctr, r.sessionLength, r.exposureGini, r.coldExposureShare, r.wallSeconds]),
          ),
        );
        for (const [k, sum] of teamSummaries) {
          const parts = Object.entries(sum.agents).map(([n, a]) => `${n} weight ${formatNumber(a.weight)} share ${formatNumber(a.share)}`);
          writeOut(`${runs[k]!.agent} (${sum.coordination}, ${sum.fusion}): ${parts.join(' · ')}`);
        }
        for (const r of runs) if (r.llm) writeOut(`${r.agent}: LLM users ${r.llm.model}: ${r.llm.calls} calls, ${r.llm.cacheHits} cache hits, ${r.llm.promptTokens} prompt + ${r.llm.completionTokens} completion tokens, ${r.llm.retries} retries`);
        if (reportDir) writeOut(`report: ${reportDir}/report.md`);
      }).finally(() => (llmCache?.close(), contentCache?.close()));
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
