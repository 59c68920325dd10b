/** Robustness to fake profiles: attack kit, push measures, detector, rate anomalies. */
export { ATTACK_TYPES, attackScale, injectAttack, itemStats, pickTargets, dropInteractionsOf, type AttackConfig, type AttackResult, type AttackScale, type AttackType, type ItemStats } from './attacks.js';
export { pushMeasures, pushShift, type PushMeasures, type PushOptions, type PushShift } from './measures.js';
export {
  FEATURE_NAMES,
  applyDetector,
  detectShills,
  detectionQuality,
  featureMatrix,
  profileFeatures,
  trainDetector,
  type Detection,
  type DetectorConfig,
  type DetectorModel,
  type FeatureName,
  type FeatureOptions,
  type ProfileFeatures,
} from './detector.js';
export { scanRates, type RateAnomalyOptions, type RateEvent, type RateFlag } from './rate-anomaly.js';
export { runShilling, type AttackSpec, type ShillingOptions, type ShillingResult, type ShillingRow } from './experiment.js';
