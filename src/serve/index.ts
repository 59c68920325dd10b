export { buildServer, SERVER_DEFAULTS, type ServerOptions } from './app.js';
export { KeyRing, lookupId, newKeySecret, requestToken } from './auth.js';
export {
  Engine,
  ENGINE_DEFAULTS,
  type EngineConfig,
  type FeedbackRequest,
  type RankRequest,
  type RankResponse,
  type RecommendRequest,
  type RecommendResponse,
  type SlateItem,
} from './engine.js';
export { AuthError, ConflictError, RequestError } from './errors.js';
export { LinUcb, type LinUcbConfig, type LinUcbState } from './linucb.js';
export { registryModels, type ModelFactory, type ServedModel } from './model.js';
export { POLICY_DEFAULTS, SlatePolicy, type PolicyConfig } from './policy.js';
export { CB_DEFAULTS, CbPolicy, type CbConfig } from './cb-policy.js';
export { learnFromDecisionLog, saveWarmStart, WARM_START_DEFAULTS, type WarmStartOptions, type WarmStartReport } from './cb-warm-start.js';
export { EXPLORATION_KINDS, type ExplorationConfig, type ExplorationKind } from './exploration.js';
export { buildRow, hashName, hashPair, namespacesOf, parseInteractions, type Namespace, type SparseRow } from './namespaces.js';
export { REGRESSOR_DEFAULTS, SparseRegressor, type RegressorConfig } from './sparse-regressor.js';
export { AGENT_POLICY_DEFAULTS, AgentPolicy, type AgentPolicyConfig } from './agent-policy.js';
export type { Candidate, Choice, Explanation, PolicyInput, PolicyWeights, ServingPolicy } from './serving-policy.js';
export { startServer, type RunningServer, type StartOptions } from './server.js';
export { eraseFromStore, scrubSnapshotBody, Tombstones, ERASED_USER_ID } from './erasure.js';
