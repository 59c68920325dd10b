// Off-policy evaluation: estimators for contextual bandits and slates.
export * from './estimators.js';
export * from './slates.js';
