/**
 * One table of agents: name → description, default config, constructor. `createAgent` and
 * `restoreAgent` are the front door used by src/eval/sim, the CLI and src/marl.
 *
 * To add an agent: write `src/agents/<name>.ts` exporting a class that implements `ManagedAgent`
 * (extend `BaseAgent`), then add one entry to `BUILTIN_AGENTS` below.
 */
import { ConfigError, UnknownNameError } from '../errors.js';
import type { ManagedAgent, SavedAgent } from './base.js';
import { A2cAgent, A2C_DEFAULTS } from './a2c.js';
import { DdpgAgent, DDPG_DEFAULTS } from './ddpg.js';
import { DqnAgent, DQN_DEFAULTS } from './dqn.js';
import { EpsilonGreedyAgent } from './egreedy.js';
import { GreedyAgent } from './greedy.js';
import { LinUcbAgent } from './linucb.js';
import { PopularityAgent } from './popularity.js';
import { PpoAgent, PPO_DEFAULTS } from './ppo.js';
import { QLearningAgent } from './qlearning.js';
import { RandomAgent } from './random.js';
import { ReinforceAgent, REINFORCE_DEFAULTS } from './reinforce.js';
import { SarsaAgent } from './sarsa.js';
import type { AgentContext } from './state.js';
import { ThompsonAgent } from './thompson.js';
import { TrpoAgent, TRPO_DEFAULTS } from './trpo.js';
import { Ucb1Agent } from './ucb.js';

export interface AgentEntry {
  description: string;
  /** Default hyper-parameters (every key a config may set; `seed` is always there). */
  defaults: Record<string, unknown>;
  /** True for learners whose training budget matters (the runner trains them). */
  learns: boolean;
  /**
   * The agent's `act` honours `ActOptions` (only the candidates, none of the excluded items): a
   * server then shows its slate as it is, with the agent's own propensities. Agents without it
   * (plug-ins) get their slate filtered by the server.
   */
  honoursOptions?: boolean;
  create(ctx: AgentContext, config: Record<string, unknown>): ManagedAgent;
}

// The built-in agents, a constant table. Each `create` receives the defaults merged with the
// caller's overrides (checked in `createAgent`).
const BUILTIN_AGENTS: Readonly<Record<string, AgentEntry>> = Object.freeze({
  random: {
    description: 'uniform random slate',
    defaults: { seed: 1 },
    learns: false,
    honoursOptions: true,
    create: (ctx, c) => new RandomAgent(ctx, c as never),
  },
  popularity: {
    description: 'most popular unseen training items',
    defaults: { seed: 1 },
    learns: false,
    honoursOptions: true,
    create: (ctx, c) => new PopularityAgent(ctx, c as never),
  },
  'greedy-als': {
    description: 'myopic ranking by ALS scores (train split)',
    defaults: { seed: 1, cacheUsers: 1024 },
    learns: false,
    honoursOptions: true,
    create: (ctx, c) => new GreedyAgent(ctx, c as never),
  },
  egreedy: {
    description: 'ε-greedy over items, popularity prior',
    defaults: { seed: 1, epsilon: 0.1, priorWeight: 2, priorScale: 0.3 },
    learns: true,
    honoursOptions: true,
    create: (ctx, c) => new EpsilonGreedyAgent(ctx, c as never),
  },
  ucb: {
    description: 'UCB1 over items',
    defaults: { seed: 1, c: 0.5 },
    learns: true,
    honoursOptions: true,
    create: (ctx, c) => new Ucb1Agent(ctx, c as never),
  },
  linucb: {
    description: 'LinUCB, shared linear model over (state, item) features',
    defaults: { seed: 1, alpha: 0.3, ridge: 1, popularityPrior: 0.5, shortlist: 50, profile: 0, itemMeanValue: false },
    learns: true,
    honoursOptions: true,
    create: (ctx, c) => new LinUcbAgent(ctx, c as never),
  },
  thompson: {
    description: 'linear Thompson sampling over (state, item) features',
    defaults: { seed: 1, v: 0.1, ridge: 1, popularityPrior: 0.5, resampleEvery: 1, propensitySamples: 32, profile: 0, itemMeanValue: false },
    learns: true,
    honoursOptions: true,
    create: (ctx, c) => new ThompsonAgent(ctx, c as never),
  },
  qlearning: {
    description: 'tabular Q-learning over genre × satiation × step states; actions = genres',
    defaults: { seed: 1, epsilon: 0.1, lr: 0.1, gamma: 0.9, init: 1, state: {} },
    learns: true,
    honoursOptions: true,
    create: (ctx, c) => new QLearningAgent(ctx, c as never),
  },
  sarsa: {
    description: 'tabular SARSA over genre × satiation × step states; actions = genres',
    defaults: { seed: 1, epsilon: 0.1, lr: 0.1, gamma: 0.9, init: 1, state: {} },
    learns: true,
    honoursOptions: true,
    create: (ctx, c) => new SarsaAgent(ctx, c as never),
  },
  dqn: {
    description: 'double DQN scoring (state, item) pairs over candidates; replay, target network, ε-greedy slates',
    defaults: { seed: 1, ...DQN_DEFAULTS, state: {} },
    learns: true,
    honoursOptions: true,
    create: (ctx, c) => new DqnAgent(ctx, c as never),
  },
  reinforce: {
    description: 'REINFORCE softmax slate policy with a value baseline and the top-K off-policy correction',
    defaults: { seed: 1, ...REINFORCE_DEFAULTS, state: {} },
    learns: true,
    honoursOptions: true,
    create: (ctx, c) => new ReinforceAgent(ctx, c as never),
  },
  a2c: {
    description: 'advantage actor-critic (softmax slate policy, V(s) critic)',
    defaults: { seed: 1, ...A2C_DEFAULTS, state: {} },
    learns: true,
    honoursOptions: true,
    create: (ctx, c) => new A2cAgent(ctx, c as never),
  },
  ddpg: {
    description: 'DDPG/Wolpertinger: proto-action in item-vector space → nearest items refined by the critic',
    defaults: { seed: 1, ...DDPG_DEFAULTS, state: {} },
    learns: true,
    honoursOptions: true,
    create: (ctx, c) => new DdpgAgent(ctx, c as never),
  },
  ppo: {
    description: 'PPO, clipped objective with GAE (softmax slate policy, V(s) critic)',
    defaults: { seed: 1, ...PPO_DEFAULTS, state: {} },
    learns: true,
    honoursOptions: true,
    create: (ctx, c) => new PpoAgent(ctx, c as never),
  },
  trpo: {
    description: 'TRPO, natural gradient by conjugate gradient in a KL trust region, with GAE (softmax slate policy, V(s) critic)',
    defaults: { seed: 1, ...TRPO_DEFAULTS, state: {} },
    learns: true,
    honoursOptions: true,
    create: (ctx, c) => new TrpoAgent(ctx, c as never),
  },
});

/** Agents added at run time by layers above this one (src/marl's team) and plug-ins. */
const added = new Map<string, AgentEntry>();

export function agentNames(): string[] {
  return [...Object.keys(BUILTIN_AGENTS), ...added.keys()];
}

/**
 * Whether `name` is a built-in agent. Only built-ins exist in every thread: agents registered at
 * run time (the team, offline learners, plug-ins) live in the thread that registered them.
 */
export function isBuiltinAgent(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(BUILTIN_AGENTS, name);
}

export function agentEntry(name: string): AgentEntry {
  const e = Object.prototype.hasOwnProperty.call(BUILTIN_AGENTS, name) ? BUILTIN_AGENTS[name] : added.get(name);
  if (!e) throw new UnknownNameError('agent', name, agentNames());
  return e;
}

/** Add an agent kind at run time (src/marl's team, plug-ins); a name is taken once. */
export function registerAgent(name: string, entry: AgentEntry): void {
  if (agentNames().includes(name)) throw new ConfigError(`agent "${name}" is already registered`, 'name', 'E_DUPLICATE_NAME');
  added.set(name, entry);
}

/** A new agent with the defaults overridden by `config` (unknown keys are an error naming the key). */
export function createAgent(name: string, ctx: AgentContext, config: Record<string, unknown> = {}): ManagedAgent {
  const e = agentEntry(name);
  for (const key of Object.keys(config)) {
    if (!(key in e.defaults)) throw new ConfigError(`agent "${name}" has no option "${key}"; options: ${Object.keys(e.defaults).join(', ')}`, `agent.${key}`);
  }
  return e.create(ctx, { ...e.defaults, ...config });
}

/** Rebuild an agent from `toJSON()` output (the context must describe the same item space). */
export function restoreAgent(saved: SavedAgent, ctx: AgentContext): ManagedAgent {
  const e = agentEntry(saved.kind);
  const agent = e.create(ctx, { ...e.defaults, ...(saved.config as Record<string, unknown>) });
  agent.load(saved);
  return agent;
}
