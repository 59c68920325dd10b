/**
 * `chorus train --federated`: federated ALS over simulated clients (src/federated), with optional
 * client sampling, secure aggregation and client-level DP; prints each round's communication, loss
 * and privacy spent, and saves an ALS model file like `chorus train --model als`.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { fitAndSave } from './fit-and-save.js';
import { ConfigError } from '../../errors.js';
import { FederatedAls, type FederatedOptions, type FederatedReport } from '../../federated/fed-als.js';
import { intFlag, parseParams, type ChorusConfig } from '../config.js';
import type { DataFlags } from '../data.js';
import { formatNumber, withCleanStdout, writeJson, writeOut } from '../output.js';
import { privacyOptions, type PrivacyFlags } from '../privacy-flags.js';

export interface FederatedFlags extends DataFlags, PrivacyFlags {
  federated?: boolean;
  clients?: string;
  rounds?: string;
  localEpochs?: string;
  clientFraction?: string;
  partition?: string;
  secureAgg?: boolean;
  minClients?: string;
  dpNoise?: string;
  dpClip?: string;
  model?: string;
  data?: string;
  param?: string[];
  out?: string;
  holdout?: boolean;
  json?: boolean;
}

/** Flags that only mean something with --federated (option name → flag). */
const ONLY_FEDERATED = [
  ['clients', 'clients'],
  ['rounds', 'rounds'],
  ['localEpochs', 'local-epochs'],
  ['clientFraction', 'client-fraction'],
  ['partition', 'partition'],
  ['secureAgg', 'secure-agg'],
  ['minClients', 'min-clients'],
  ['dpNoise', 'dp-noise'],
  ['dpClip', 'dp-clip'],
] as const;

export function addFederatedFlags(cmd: Command): Command {
  return cmd
    .option('--federated', 'federated averaging over simulated clients that each hold their own users (model als; docs/privacy.md "Federated learning")')
    .option('--clients <n>', '--federated: number of clients the users are split into (default 10)')
    .option('--rounds <n>', '--federated: communication rounds (default 20)')
    .option('--local-epochs <n>', '--federated: local ALS iterations per round (default 1)')
    .option('--client-fraction <q>', '--federated: probability that a client takes part in a round, 0 < q ≤ 1 (default 1)')
    .option('--partition <scheme>', '--federated: iid (seeded random split) or by-activity (non-IID: clients of heavy or light users)')
    .option('--secure-agg', '--federated: secure aggregation by pairwise masking (the server sees only the sum)')
    .option('--min-clients <t>', '--secure-agg: a round needs at least t sampled clients, else it is skipped (default 2, the least that hides an update)')
    .option('--dp-noise <σ>', '--federated: client-level DP with this noise multiplier (or give --dp-epsilon)')
    .option('--dp-clip <C>', '--federated with DP: L2 bound on each client update (default 1)');
}

/** Refuse the federated-only flags without --federated. */
export function checkFederatedFlags(flags: FederatedFlags): void {
  if (flags.federated) return;
  for (const [key, flag] of ONLY_FEDERATED) if (flags[key] !== undefined) throw new ConfigError(`--${flag} applies to federated training: add --federated`, flag);
}

function positive(value: string | undefined, flag: string, max = Infinity): number | undefined {
  if (value === undefined) return undefined;
  const x = Number(value);
  if (!(value.trim() !== '' && x > 0 && x <= max)) throw new ConfigError(`expected a number in (0, ${max}], got "${value}"`, flag);
  return x;
}

/** The federated options the flags set (the rest take FederatedAls's defaults). */
export function federatedOptions(flags: FederatedFlags): Partial<FederatedOptions> {
  const o: Partial<FederatedOptions> = {};
  const clients = intFlag(flags.clients, 'clients', 1);
  const rounds = intFlag(flags.rounds, 'rounds', 1);
  const localEpochs = intFlag(flags.localEpochs, 'local-epochs', 1);
  const clientFraction = positive(flags.clientFraction, 'client-fraction', 1);
  if (clients !== undefined) o.clients = clients;
  if (rounds !== undefined) o.rounds = rounds;
  if (localEpochs !== undefined) o.localEpochs = localEpochs;
  if (clientFraction !== undefined) o.clientFraction = clientFraction;
  if (flags.partition !== undefined) {
    if (flags.partition !== 'iid' && flags.partition !== 'by-activity') throw new ConfigError(`expected iid or by-activity, got "${flags.partition}"`, 'partition');
    o.partition = flags.partition;
  }
  if (flags.secureAgg) o.secureAgg = true;
  const minClients = intFlag(flags.minClients, 'min-clients', 2);
  if (minClients !== undefined) {
    if (!flags.secureAgg) throw new ConfigError('--min-clients is the secure-aggregation threshold: add --secure-agg', 'min-clients');
    o.minParticipants = minClients;
  }
  const noise = positive(flags.dpNoise, 'dp-noise');
  if (noise !== undefined && flags.dpEpsilon !== undefined) throw new ConfigError('give --dp-epsilon (a target budget) or --dp-noise (a noise multiplier), not both', 'dp-noise');
  // With --dp-noise, --dp-delta is still the δ at which ε is reported (validated as with --dp-epsilon).
  const budget = privacyOptions(noise === undefined ? flags : { dpEpsilon: '1', dpDelta: flags.dpDelta });
  if (budget?.unit === 'interaction') throw new ConfigError('federated DP protects a whole client (--dp-unit interaction is for a centralised mf or bpr)', 'dp-unit');
  const delta = budget?.delta !== undefined ? { delta: budget.delta } : {};
  const clip = positive(flags.dpClip, 'dp-clip') ?? 1;
  if (noise !== undefined) o.dp = { clip, noiseMultiplier: noise, ...delta };
  else if (budget) o.dp = { clip, epsilon: budget.epsilon, ...delta };
  else if (flags.dpClip !== undefined) throw new ConfigError('--dp-clip needs --dp-epsilon or --dp-noise', 'dp-clip');
  return o;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** One line per round: participants (or why it was skipped), bytes down and up, the loss diagnostic, ε spent so far. */
export function formatRounds(report: FederatedReport): string[] {
  const width = String(report.rounds.length).length;
  return report.rounds.map((r) => {
    const clients = `${r.participants} client${r.participants === 1 ? '' : 's'}`;
    const what = r.skipped
      ? `${clients} sampled, skipped (secure aggregation needs at least ${report.minParticipants ?? 2})`
      : `${clients}, down ${mb(r.bytesDown)}, up ${mb(r.bytesUp)}`;
    return `round ${String(r.round).padStart(width)}/${report.rounds.length}: ${what}, loss ${r.loss.toFixed(4)}` + (r.epsilon !== undefined ? `, ε ${formatNumber(r.epsilon)}` : '');
  });
}

export async function trainFederated(flags: FederatedFlags, config: ChorusConfig): Promise<void> {
  const name = flags.model ?? config.model ?? 'als';
  if (name !== 'als') throw new ConfigError(`--federated trains als (federated ALS with local user solves); "${name}" has no federated path`, 'model');
  const params = parseParams(flags.param);
  if ('iterations' in params) throw new ConfigError('with --federated, --rounds × --local-epochs replace iterations', 'iterations');
  // The config file's als section applies, less `iterations` (rounds replace it).
  const { iterations: _iterations, ...fromConfig } = (config.models?.als ?? {}) as Record<string, unknown>;
  const model = new FederatedAls({ ...fromConfig, ...params, federated: federatedOptions(flags) });
  const out = resolve(flags.out ?? config.train?.out ?? 'als.model.json');
  const json = Boolean(flags.json);
  await withCleanStdout(json, async () => {
    const { dataset, train, fitSeconds, index } = await fitAndSave(model, 'als', out, flags, config, 'fit als (federated)');
    const { privacy, ...federated } = model.report;
    if (json) {
      writeJson({
        model: 'als',
        hyperparameters: { ...model.config },
        dataset: dataset.name,
        trainInteractions: train.nInteractions,
        fitSeconds,
        modelFile: out,
        indexFile: index,
        federated,
        ...(privacy ? { privacy } : {}),
      });
      return;
    }
    const c = model.config.federated;
    writeOut(formatRounds(model.report).join('\n'));
    writeOut(
      `trained als (federated: ${c.clients} clients, ${c.partition}, ${c.rounds} rounds × ${c.localEpochs} local epoch${c.localEpochs === 1 ? '' : 's'}, q = ${c.clientFraction}${c.secureAgg ? ', secure aggregation' : ''}) ` +
        `on ${train.nInteractions.toLocaleString('en-US')} interactions of "${dataset.name}" in ${fitSeconds.toFixed(2)} s`,
    );
    writeOut(`communication: down ${mb(federated.bytesDown)}, up ${mb(federated.bytesUp)}${federated.setupBytes > 0 ? `, key setup ${federated.setupBytes.toLocaleString('en-US')} bytes` : ''}`);
    const skipped = model.report.rounds.filter((r) => r.skipped).length;
    if (skipped > 0) writeOut(`skipped: ${skipped} of ${c.rounds} rounds sampled fewer than ${c.minParticipants} clients (the secure-aggregation threshold, --min-clients)`);
    if (privacy) {
      writeOut(
        `privacy: (ε = ${formatNumber(privacy.epsilon)}, δ = ${privacy.delta.toPrecision(3)}) spent, client-level, dp-fedavg, noise multiplier ${formatNumber(privacy.noiseMultiplier)}, clip ${privacy.clip} (docs/privacy.md)`,
      );
      if (privacy.thresholdDelta !== undefined) {
        writeOut(`privacy: with the secure-aggregation threshold (${c.minParticipants} clients) the guarantee is (ε, δ + ${privacy.thresholdDelta.toPrecision(3)}): a skipped round shows that few clients were sampled`);
      }
      writeOut('privacy: not covered by ε: the per-round client counts, bytes and loss above (simulation diagnostics from the raw data; do not publish them)');
    }
    writeOut(`model: ${out}\nindex: ${index}`);
  });
}
