/**
 * One shilling experiment: for each model × attack, fit on the clean training data, on the attacked
 * data, and (optionally) on the attacked data minus the profiles the detector flags, and measure the
 * pushed items for the genuine users each time. The CLI's `chorus robust` and bench/shilling.ts
 * both run this, so their tables mean the same thing.
 */
import type { Dataset } from '../data/dataset.js';
import { createEvalModel, modelTakesSeed } from '../eval/models.js';
import type { Recommender } from '../recommenders/types.js';
import { injectAttack, pickTargets, dropInteractionsOf, type AttackType } from './attacks.js';
import { applyDetector, detectionQuality, trainDetector, type DetectorConfig, type DetectorModel } from './detector.js';
import { pushMeasures, type PushMeasures } from './measures.js';

export interface AttackSpec {
  type: AttackType;
  /** Fake profiles as a fraction of the genuine users. */
  size: number;
  /** Filler items per profile as a fraction of the catalogue. */
  filler: number;
}

export interface ShillingOptions {
  /** Clean training data (the attack is injected into it). */
  train: Dataset;
  /** Genuine users to measure (e.g. a protocol's test users). */
  users: Int32Array;
  models: readonly string[];
  /** Per-model config overrides (registry defaults otherwise). */
  modelConfigs?: Readonly<Record<string, Record<string, unknown>>>;
  attacks: readonly AttackSpec[];
  /** Target item indices, or how many to pick (seeded, see `pickTargets`). */
  targets: Int32Array | number;
  /** Seed of the attack, the target pick and the models. */
  seed: number;
  /**
   * Run the detector: it is trained on validation attacks injected into the clean `train` (seeded
   * apart from the evaluated attack) and applied to each attacked dataset.
   */
  detector?: boolean | Omit<DetectorConfig, 'seed'> & { seed?: number };
  k?: number;
  /** Progress lines (what is being fitted). */
  onStep?: (message: string) => void;
}

export interface ShillingRow {
  model: string;
  attack: AttackSpec;
  fakeProfiles: number;
  hitRatioBefore: number;
  hitRatioAfter: number;
  /** After fitting without the flagged profiles; NaN without the detector. */
  hitRatioDetector: number;
  /** Mean rank before minus after (positive: pushed up). */
  rankShift: number;
  /** Mean predicted rating after minus before; NaN for ranking-only models. */
  predictionShift: number;
  precision: number;
  recall: number;
  /** Genuine users the detector flagged (they lose their rows in the filtered fit, and are scored by fold-in). */
  genuineFlagged: number;
}

export interface ShillingResult {
  targets: Int32Array;
  rows: ShillingRow[];
  detector?: DetectorModel;
}

function makeModel(name: string, config: Record<string, unknown> | undefined, seed: number): Recommender {
  const c = { ...(config ?? {}) };
  if (c.seed === undefined && modelTakesSeed(name)) c.seed = seed;
  return createEvalModel(name, c);
}

export async function runShilling(o: ShillingOptions): Promise<ShillingResult> {
  const k = o.k ?? 10;
  const say = o.onStep ?? (() => {});
  const targets = typeof o.targets === 'number' ? pickTargets(o.train, o.targets, o.seed) : o.targets;
  let detector: DetectorModel | undefined;
  const detCfg = typeof o.detector === 'object' ? o.detector : {};
  if (o.detector) {
    say('training the detector on validation attacks');
    // A seed apart from the evaluated attack's, so no validation attack repeats it.
    detector = trainDetector(o.train, { ...detCfg, seed: detCfg.seed ?? o.seed + 7919 });
  }
  // Attacks and detection do not depend on the model: do them once.
  const attacked = o.attacks.map((spec) => {
    const atk = injectAttack(o.train, { ...spec, targets, seed: o.seed });
    if (!detector) return { spec, atk };
    const det = applyDetector(atk.dataset, detector, detCfg.features);
    const q = detectionQuality(det.flagged, atk.fake);
    let genuineFlagged = 0;
    for (let u = 0; u < atk.genuineUsers; u++) genuineFlagged += det.flagged[u]!;
    return { spec, atk, det, q, genuineFlagged, filtered: dropInteractionsOf(atk.dataset, det.flagged) };
  });
  const rows: ShillingRow[] = [];
  for (const name of o.models) {
    const measure = async (data: Dataset, label: string, removed?: Uint8Array): Promise<PushMeasures> => {
      say(`${name}: fit ${label}`);
      const model = makeModel(name, o.modelConfigs?.[name], o.seed);
      await model.fit(data);
      return pushMeasures(model, o.train, o.users, targets, { k, removed });
    };
    const before = await measure(o.train, 'clean');
    for (const a of attacked) {
      const tag = `${a.spec.type} ${(a.spec.size * 100).toFixed(0)} %`;
      const after = await measure(a.atk.dataset, tag);
      const filtered = a.filtered && a.det ? await measure(a.filtered, `${tag} minus flagged`, a.det.flagged) : undefined;
      rows.push({
        model: name,
        attack: a.spec,
        fakeProfiles: a.atk.fake.length,
        hitRatioBefore: before.hitRatio,
        hitRatioAfter: after.hitRatio,
        hitRatioDetector: filtered?.hitRatio ?? NaN,
        rankShift: before.meanRank - after.meanRank,
        predictionShift: after.meanPrediction - before.meanPrediction,
        precision: a.q?.precision ?? NaN,
        recall: a.q?.recall ?? NaN,
        genuineFlagged: a.genuineFlagged ?? 0,
      });
    }
  }
  return detector ? { targets, rows, detector } : { targets, rows };
}
