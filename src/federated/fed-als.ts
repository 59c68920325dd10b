/**
 * Federated implicit-feedback ALS as a `Recommender`: `fit` partitions the training users into
 * simulated clients (./partition.ts), runs federated averaging of the item factors (./fedavg.ts)
 * with ALS clients (./als-client.ts), and ends as a plain fitted `Als` model (the same scoring,
 * fold-in and saved file as centralised ALS), so the evaluation and `chorus recommend` treat both
 * alike.
 *
 * The centralised counterpart is `Als` with the same hyper-parameters (factors, regularization,
 * alpha, solver, cgSteps, values); its `iterations` become rounds × local epochs here.
 *
 * What the fitted model holds is a simulation convenience: in a deployment each client keeps its
 * users' factors and scores them itself; here they are gathered into one model to be evaluated.
 */
import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { Als, ALS_DEFAULTS, alsConfigSchema, implicitMatrix } from '../recommenders/als.js';
import type { FitOptions, Ranked, RecommendOptions, Recommender, SavedModel, UserRef } from '../recommenders/types.js';
import { ModelStateError } from '../errors.js';
import { gram } from '../util/linalg.js';
import { Rng } from '../util/rng.js';
import { defaultThreads } from '../util/workers.js';
import { AlsClient } from './als-client.js';
import { FEDAVG_DEFAULTS, fedAvgConfigSchema, runFedAvg, type FedAvgResult, type RoundReport } from './fedavg.js';
import { partitionUsers } from './partition.js';
import type { ClientDpPlan } from '../privacy/federated/client-dp.js';

export const federatedOptionsSchema = fedAvgConfigSchema.omit({ seed: true }).extend({
  /** Number of simulated clients the users are split into. */
  clients: z.number().int().positive(),
  partition: z.enum(['iid', 'by-activity']),
  /** E: local ALS iterations (user solve, item solve) per round. */
  localEpochs: z.number().int().positive(),
  /** Re-solve every client's users against the final item factors (what a client does before serving). */
  refreshUsers: z.boolean(),
});
export type FederatedOptions = z.infer<typeof federatedOptionsSchema>;

export const FEDERATED_DEFAULTS: FederatedOptions = {
  ...(({ seed: _seed, ...rest }) => rest)(FEDAVG_DEFAULTS),
  clients: 10,
  partition: 'iid',
  localEpochs: 1,
  refreshUsers: true,
};

export const federatedAlsConfigSchema = alsConfigSchema.omit({ iterations: true }).extend({ federated: federatedOptionsSchema });
export type FederatedAlsConfig = z.infer<typeof federatedAlsConfigSchema>;

/** Per-round figures of a federated fit: the protocol's report plus the simulation's loss diagnostic. */
export interface FederatedRound extends RoundReport {
  /** The global ALS objective per training interaction after the round (computed by the simulator, not sent; not private). */
  loss: number;
}

/** The privacy a DP fit spent: the accountant's plan, plus the secure-aggregation threshold's δ. */
export type FederatedPrivacy = ClientDpPlan & {
  /** With secure aggregation: δ added by skipping rounds below the threshold; the guarantee is (ε, δ + thresholdDelta). */
  thresholdDelta?: number;
};

/** What a federated fit reports (the `"federated"` object of `--json`). */
export interface FederatedReport {
  clients: number;
  partition: string;
  clientSizes: { min: number; max: number };
  rounds: FederatedRound[];
  bytesDown: number;
  bytesUp: number;
  setupBytes: number;
  secureAgg: boolean;
  /** With secure aggregation: the fewest sampled clients a round needs (t); rounds below it are skipped. */
  minParticipants?: number;
  /** Client-level DP: the budget spent (absent without DP). */
  privacy?: FederatedPrivacy;
  /**
   * With DP: the per-round fields (`rounds[].…`) the budget does not cover: simulation diagnostics
   * read from the raw updates, the realised sample and every client's data. Not for publication.
   */
  nonPrivate?: string[];
}

export class FederatedAls implements Recommender {
  readonly kind = 'als';
  readonly config: Readonly<FederatedAlsConfig>;
  private model: Als | null = null;
  private fitReport: FederatedReport | null = null;

  /**
   * `initialItemFactors` (nItems × factors) replaces the server's seeded start: for comparing with
   * a centralised run from the same start.
   */
  constructor(
    config: Partial<Omit<FederatedAlsConfig, 'federated'>> & { federated?: Partial<FederatedOptions> } = {},
    private readonly initialItemFactors?: Float32Array,
  ) {
    const { iterations: _unused, ...als } = ALS_DEFAULTS;
    this.config = Object.freeze(federatedAlsConfigSchema.parse({ ...als, ...config, federated: { ...FEDERATED_DEFAULTS, ...config.federated } }));
  }

  /** The federated fit's report (rounds, communication, privacy). */
  get report(): FederatedReport {
    if (!this.fitReport) throw new ModelStateError('als (federated): call fit() first', 'E_NOT_FITTED');
    return this.fitReport;
  }

  async fit(train: Dataset, options: FitOptions = {}): Promise<void> {
    const { federated: fed, factors: f, regularization, solver, cgSteps, seed } = this.config;
    const m = implicitMatrix(train, this.config.alpha, this.config.values);
    const nU = m.rows;
    const counts = new Int32Array(nU);
    for (let u = 0; u < nU; u++) counts[u] = m.indptr[u + 1]! - m.indptr[u]!;
    const groups = partitionUsers(nU, fed.clients, fed.partition, seed, counts);
    const root = new Rng(seed);
    const global = new Float32Array(m.cols * f);
    if (this.initialItemFactors) {
      if (this.initialItemFactors.length !== global.length) throw new ModelStateError(`initial item factors have ${this.initialItemFactors.length} values, expected ${global.length}`, 'E_MODEL_CORRUPT');
      global.set(this.initialItemFactors);
    } else for (let k = 0; k < global.length; k++) global[k] = root.next() * 0.01;
    const threads = this.config.threads === 0 ? (m.indptr[nU]! >= 5_000 ? defaultThreads(2) : 1) : this.config.threads;
    const solve = { factors: f, regularization, solver, cgSteps, threads };
    // w_k, the client's share of the item ridge. Under DP it must not depend on the data: the user
    // total nU changes when a client is removed, so each client takes the public 1/N instead (the
    // share it has in expectation; both partitions give clients equal sizes within 1).
    const share = (users: Int32Array) => (fed.dp ? 1 / fed.clients : users.length / nU);
    const clients = groups.map((users, k) => new AlsClient(k, users, m, share(users), solve, fed.localEpochs, root.nextUint32()));
    const rounds: FederatedRound[] = [];
    const itemGram = new Float64Array(f * f);
    const nnz = Math.max(1, m.indptr[nU]!);
    const { clients: _c, partition: _p, localEpochs: _e, refreshUsers: _r, ...fedAvg } = fed;
    const result: FedAvgResult = runFedAvg(global, clients, { ...fedAvg, seed }, (report, items) => {
      gram(items, m.cols, f, itemGram);
      let loss = 0;
      for (const c of clients) loss += c.loss(items, itemGram);
      let ridge = 0;
      for (let k = 0; k < items.length; k++) ridge += items[k]! * items[k]!;
      rounds.push({ ...report, loss: (loss + regularization * ridge) / nnz });
      options.onProgress?.(report.round, fed.rounds, 'round');
    });
    if (fed.refreshUsers) for (const c of clients) c.solveUsers(global);
    const userFactors = new Float32Array(nU * f);
    for (const c of clients) c.users.forEach((u, r) => userFactors.set(c.userFactors.subarray(r * f, (r + 1) * f), u * f));
    const { federated: _fed, ...alsConfig } = this.config;
    const model = new Als({ ...alsConfig, iterations: fed.rounds * fed.localEpochs });
    const csr = train.byUser();
    model.restore({
      kind: 'als',
      version: model.version,
      config: model.config,
      state: { nUsers: nU, nItems: m.cols, seenIndptr: csr.indptr, seenIndices: csr.indices, factors: f, userFactors, itemFactors: global },
    });
    this.model = model;
    const sizes = groups.map((g) => g.length);
    this.fitReport = {
      clients: fed.clients,
      partition: fed.partition,
      clientSizes: { min: Math.min(...sizes), max: Math.max(...sizes) },
      rounds,
      // Refreshing users needs the final item factors at every client: one more download each.
      bytesDown: result.bytesDown + (fed.refreshUsers ? clients.length * global.length * 4 : 0),
      bytesUp: result.bytesUp,
      setupBytes: result.setupBytes,
      secureAgg: fed.secureAgg,
      ...(fed.secureAgg ? { minParticipants: fed.minParticipants } : {}),
      ...(result.dp ? { privacy: { ...result.dp, ...(result.dpThresholdDelta !== undefined ? { thresholdDelta: result.dpThresholdDelta } : {}) } } : {}),
      ...(result.nonPrivate ? { nonPrivate: [...result.nonPrivate, 'loss'] } : {}),
    };
  }

  /** The fitted centralised-form model (item factors and every client's user factors). */
  get als(): Als {
    if (!this.model) throw new ModelStateError('als (federated): call fit() before scoring', 'E_NOT_FITTED');
    return this.model;
  }

  score(user: UserRef, candidates: Int32Array): Float32Array {
    return this.als.score(user, candidates);
  }

  scoreAll(user: UserRef, out?: Float32Array): Float32Array {
    return this.als.scoreAll(user, out);
  }

  recommend(user: UserRef, k: number, options?: RecommendOptions): Ranked {
    return this.als.recommend(user, k, options);
  }

  /** An ALS model file: it loads as `als` (the federated options are in the fit's report, not the file). */
  toJSON(): SavedModel {
    return this.als.toJSON();
  }
}
