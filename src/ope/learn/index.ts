// Learning from logs (issue 17): off-policy contextual-bandit regression, session logs (simulated or
// from the server's decision log), BC and CQL.
export * from './cb-regression.js';
export * from './session-log.js';
export * from './offline-agent.js';
export * from './bc.js';
export * from './cql.js';
export * from './register.js';
export * from './server-sessions.js';
