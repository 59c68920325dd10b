// The multi-agent team (issue 5). `registerTeam()` adds agent `team` and recommenders `team-blend`, `team-item`.
export * from './context.js';
export * from './views.js';
export * from './mixer.js';
export * from './qmix-network.js';
export * from './messages.js';
export * from './slate-critic.js';
export * from './modes/index.js';
export * from './fusion.js';
export * from './explain.js';
export * from './team.js';
export * from './team-blend.js';
export * from './offline-explain.js';
export * from './item-recommender.js';
export * from './register.js';
export * from './content.js';
export * from './extras.js';
export * from './distributed.js';
