/**
 * `chorus train`: fit a model on a dataset (all of it, or P1's train split with --holdout) and
 * save it with its id index, ready for `chorus recommend` and the server.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { fitAndSave } from './fit-and-save.js';
// Through the eval layer's public index, so protocols registered there (P2, …) are known.
import { createEvalModel } from '../../eval/index.js';
import { agentEntry } from '../../agents/registry.js';
import { presetConfig, presetNames } from '../../env/presets.js';
import { trainSimAgent } from '../../eval/sim/simulate.js';
import { ConfigError } from '../../errors.js';
import { configSection, intFlag, loadConfig, parseParams, type ChorusConfig } from '../config.js';
import { DEFAULT_TRAIN_STEPS, SimulateConfigSchema, simulateDataPath } from './simulate.js';
import { addDataFlags, dataFlagOptions, dataPath, readOptions, type DataFlags } from '../data.js';
import { formatPrivacy, withCleanStdout, writeJson, writeOut } from '../output.js';
import { progressBar } from '../progress.js';
import { addPrivacyFlags, privacyOptions, withPrivacy, type PrivacyFlags, type PrivacyOptions } from '../privacy-flags.js';
import { privacyFromHyperparameters } from '../../privacy/config.js';
import { logLearners, trainAgentOnLog } from './train-log.js';
import { addFederatedFlags, checkFederatedFlags, trainFederated, type FederatedFlags } from './train-federated.js';

interface TrainFlags extends DataFlags, PrivacyFlags, FederatedFlags {
  model?: string;
  data?: string;
  param?: string[];
  out?: string;
  holdout?: boolean;
  config?: string;
  json?: boolean;
  agent?: string;
  preset?: string;
  steps?: string;
  seed?: string;
  log?: string;
  sessionIdle?: string;
  sessionLogOut?: string;
}

/**
 * `train --agent`: an agent trained in the simulator (the data calibrates its world), or with
 * `--log` on the server's decision log (./train-log.ts), saved to `--out`.
 */
async function trainAgent(flags: TrainFlags, config: ChorusConfig, privacy?: PrivacyOptions): Promise<void> {
  const agent = flags.agent!;
  agentEntry(agent); // unknown names fail before any work
  // The config's `simulate` section applies as it does to `simulate`, so both train the same agent.
  const sc = configSection(config, 'simulate', SimulateConfigSchema) ?? {};
  if (flags.log !== undefined) {
    if (flags.preset !== undefined) throw new ConfigError('--preset does not apply with --log: the agent learns from the log, not in a simulator', 'preset');
    // The data is read as `chorus serve` reads it, so the server's items and users are the agent's.
    const readFlag = Object.keys(dataFlagOptions(flags))[0];
    if (readFlag !== undefined) {
      const flag = readFlag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      throw new ConfigError(`--${flag} does not apply with --log: --data is read as chorus serve reads it`, flag);
    }
    return withCleanStdout(Boolean(flags.json), () =>
      trainAgentOnLog({
        agent,
        log: flags.log!,
        data: dataPath(flags.data, config),
        agentConfig: { ...(sc.agents?.[agent] ?? {}), ...parseParams(flags.param), ...(privacy ? { dp: { ...privacy } } : {}) },
        steps: flags.steps,
        seed: flags.seed,
        out: flags.out,
        sessionIdle: flags.sessionIdle,
        sessionLogOut: flags.sessionLogOut,
        json: Boolean(flags.json),
      }),
    );
  }
  for (const [flag, v] of [['session-idle', flags.sessionIdle], ['session-log-out', flags.sessionLogOut]] as const) {
    if (v !== undefined) throw new ConfigError(`--${flag} applies to training on a server log: give --log <store-url|events.jsonl>`, flag);
  }
  if (logLearners().includes(agent)) throw new ConfigError(`agent "${agent}" learns from a decision log: give --log <store-url|events.jsonl> (and --data, the data the server was started with)`, 'log');
  const preset = flags.preset ?? sc.preset ?? 'sim-ml-ls-v1';
  presetConfig(preset);
  const steps = intFlag(flags.steps, 'steps', 1) ?? sc.steps ?? DEFAULT_TRAIN_STEPS;
  const out = resolve(flags.out ?? `${agent}.agent.json`);
  const json = Boolean(flags.json);
  await withCleanStdout(json, async () => {
    const bar = progressBar(`train ${agent}`);
    let r: Awaited<ReturnType<typeof trainSimAgent>>;
    try {
      r = await trainSimAgent({
        preset,
        dataDir: simulateDataPath(flags.data, config),
        readOptions: readOptions(config, dataFlagOptions(flags)),
        lambda: sc.lambda,
        alpha: sc.alpha,
        embeddings: sc.embeddings ?? 'none',
        agent,
        agentConfig: { ...(sc.agents?.[agent] ?? {}), ...parseParams(flags.param), ...(privacy ? { dp: { ...privacy } } : {}) },
        trainSteps: steps,
        seed: intFlag(flags.seed, 'seed', 0) ?? 1,
        out,
        onProgress: (d, t) => bar.update(d, t, 'steps'),
      });
    } finally {
      bar.stop();
    }
    if (json) writeJson({ agent, preset, trainSteps: r.trainSteps, seconds: r.seconds, data: r.data, agentFile: r.file });
    else writeOut(`trained ${agent} in ${preset} for ${r.trainSteps.toLocaleString('en-US')} user-steps on "${r.data.name}" in ${r.seconds.toFixed(1)} s\nagent: ${r.file}`);
  });
}

export function register(program: Command): void {
  addFederatedFlags(addPrivacyFlags(addDataFlags(program
    .command('train'))))
    .description('fit a model and save it (with an id index for `chorus recommend`)')
    .option('-m, --model <name>', 'model: popularity, itemknn, userknn, als, bpr, mf, ease, sasrec, gru4rec, hybrid … (default als)')
    .option('-d, --data <path>', 'dataset folder, interaction file or snapshot (default: config "data", else the bundled demo data)')
    .option('-p, --param <key=value...>', 'model hyper-parameter (repeatable), e.g. -p factors=32')
    .option('-o, --out <file>', 'model file (default: <model>.model.json)')
    .option('--holdout', "fit on P1's train split only (the last 20 % of each user's interactions held out; a seeded random 20 % when the data has no timestamps, as protocol t20 does)")
    .option('--agent <name>', 'train an agent instead of a model, in a simulator calibrated on the data (or, with --log, on a server decision log); -p sets its hyper-parameters; saves it for `serve --policy-file`')
    .option('--preset <name>', `--agent: simulator preset (${presetNames().join(', ')}; default sim-ml-ls-v1)`)
    .option('--steps <n>', `--agent: training budget in user-steps (default ${DEFAULT_TRAIN_STEPS}); with --log, gradient steps (default the agent's own)`)
    .option('--seed <n>', '--agent: seed (default 1, the first seed of `simulate`)')
    .option('--log <store-url|file>', "--agent bc|cql: learn offline from the server's decision log, a store URL (sqlite:./chorus.db) or a GET /events export (.jsonl), in the item space of --data (the data the server was started with)")
    .option('--session-idle <seconds>', '--log: a user\'s decision after this long without one starts a new session (default 1800, as the server\'s)')
    .option('--session-log-out <file>', '--log: also write the converted session log (JSONL, readable by -p log=)')
    .action(async function (this: Command) {
      const flags = this.optsWithGlobals<TrainFlags>();
      const { config } = loadConfig(flags.config);
      checkFederatedFlags(flags);
      if (flags.federated) {
        if (flags.agent !== undefined) throw new ConfigError('--federated trains a model (als), not an agent', 'federated');
        // Agent-training flags would otherwise be ignored without a word.
        for (const [flag, v] of [['log', flags.log], ['preset', flags.preset], ['steps', flags.steps], ['seed', flags.seed], ['session-idle', flags.sessionIdle], ['session-log-out', flags.sessionLogOut]] as const) {
          if (v !== undefined) throw new ConfigError(`--${flag} applies to agent training (--agent), not to --federated`, flag);
        }
        return trainFederated(flags, config);
      }
      const privacy = privacyOptions(flags);
      if (flags.agent !== undefined) {
        // An agent trained in the simulator sees no user's data; one trained on a server log does.
        if (privacy && flags.log === undefined) throw new ConfigError('--dp-epsilon applies to agents trained on a decision log (--agent bc|cql --log …): an agent trained in the simulator learns from no user data', 'dp-epsilon');
        return trainAgent(flags, config, privacy);
      }
      if (flags.log !== undefined) throw new ConfigError(`--log trains an agent: give --agent (${logLearners().join(' or ')})`, 'log');
      const name = flags.model ?? config.model ?? 'als';
      const base = { ...(config.models?.[name] ?? {}), ...parseParams(flags.param) };
      const hyper = privacy ? withPrivacy(name, base, privacy) : base;
      const model = createEvalModel(name, hyper); // validates the name and config before any loading
      const out = resolve(flags.out ?? config.train?.out ?? `${name}.model.json`);
      const json = Boolean(flags.json);
      await withCleanStdout(json, async () => {
        const { dataset, train, fitSeconds, index } = await fitAndSave(model, name, out, flags, config);
        const spent = privacyFromHyperparameters(model.config);
        const info = { model: name, hyperparameters: { ...model.config }, dataset: dataset.name, trainInteractions: train.nInteractions, fitSeconds, modelFile: out, indexFile: index, ...(spent ? { privacy: spent } : {}) };
        if (json) writeJson(info);
        else {
          writeOut(`trained ${name} on ${train.nInteractions.toLocaleString('en-US')} interactions of "${dataset.name}" in ${fitSeconds.toFixed(2)} s`);
          if (spent) writeOut(formatPrivacy(spent));
          writeOut(`model: ${out}\nindex: ${index}`);
        }
      });
    });
}
