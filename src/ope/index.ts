// Off-policy evaluation: estimators for contextual bandits and slates, the logs they read (the
// server's, the simulator's, the Open Bandit Dataset), target policies, reward models, learning
// from logs, and simulator studies against the on-policy truth.
export * from './estimators.js';
export * from './slates.js';
export * from './regressors.js';
export * from './cross-fit.js';
export * from './logs.js';
export * from './obd.js';
export * from './policies.js';
export * from './sim-study.js';
export * from './learn/index.js';
export * from './run.js';
export * from './recommender-policy.js';
