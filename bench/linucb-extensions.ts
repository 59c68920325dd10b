/**
 * Does LinUCB leave anything that more learned parameters could take? A diagnostic for issue 18
 * (deep agents ≥ 1.10× LinUCB): LinUCB learns one shared ridge model over φ(state, item), so the
 * things a deeper learner could add are per-item and per-user parameters and a fuller user profile.
 * Each extension below is LinUCB itself plus one such part, learned online from the same
 * transitions, so a gain would show that the part pays within the documented budget:
 *
 *  - `item-intercept`: a per-item bias, Σ (r / c_p − θᵀφ) / (n + shrink) over the item's n
 *    impressions: the reward with its position's effect divided out, less the shared model's
 *    prediction. c_p, the position's observed reward ÷ predicted reward, is floored at 0.05, so a
 *    click at a rarely clicked position counts up to 20 times (without the correction, the items
 *    LinUCB puts on top collect positive residuals from position bias alone and lock in);
 *  - `user-ridge`: a per-user ridge model on [item vector, 1], fitted to the shared model's
 *    residuals (users recur across sessions, ~3 training sessions each at 20,000 steps);
 *  - `profile`: the user's implicit-ALS factor of the whole train split mixed into the state's
 *    recent-history vector h (a profile of every train item, not the last 10): LinUCB's own
 *    `profile` option (`StateConfig.profile`);
 *  - `quality`: not learned, a fixed tilt by the item's mean training value m_i (`itemMeanValue`'s
 *    feature), added (score + β·m_i) or multiplied (score·(1 + β·m_i)): what a document's quality
 *    is worth to a myopic scorer on the interest family, where it acts only after a click.
 *
 * Validation seeds only (default 101–102); nothing here changes a published agent.
 *
 *   node --import tsx bench/linucb-extensions.ts [--preset sim-ml-ls-v1] [--seeds 2] [--seed0 101]
 *        [--eval 300] [--steps 20000] [--data ../shared/datasets/ml-latest-small] [--only <label prefix,…>]
 */
import { loadavg } from 'node:os';
import { clickedReward } from '../src/agents/base.js';
import { LinUcbAgent, type LinUcbConfig } from '../src/agents/linucb.js';
import { agentEntry, agentNames, registerAgent } from '../src/agents/registry.js';
import { RidgeStats } from '../src/agents/ridge-stats.js';
import type { AgentContext } from '../src/agents/state.js';
import type { ActOptions, Transition } from '../src/agents/types.js';
import type { Observation, Slate } from '../src/env/types.js';
import { codeVersion } from '../src/eval/stamp.js';
import { quadForm } from '../src/util/linalg.js';
import { runSimulation } from '../src/eval/sim/simulate.js';

const args = process.argv.slice(2);
const flag = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};

/** θᵀφ(state, item) with the model's current θ (the features are set for the state already). */
function shared(agent: LinUcbAgent, item: number): number {
  const { f, theta, phiBuf } = agent['stats'];
  f.phi(item, phiBuf);
  let s = 0;
  for (let j = 0; j < phiBuf.length; j++) s += theta[j]! * phiBuf[j]!;
  return s;
}

/**
 * LinUCB whose mean scores get the extension's term added (`addTo`) before the shortlist and the
 * slate are taken; the confidence bonus is LinUCB's own, over φ, as in `LinUcbAgent.act`.
 */
abstract class ExtendedLinUcb extends LinUcbAgent {
  protected abstract addTo(obs: Observation, mean: Float64Array): void;
  protected abstract learnExtra(t: Transition): void;

  override act(obs: Observation, k: number, options?: ActOptions): Slate {
    const { f, theta, ainv, phiBuf } = this.stats;
    f.setState(obs);
    f.scoreAll(theta, this.mean);
    this.addTo(obs, this.mean);
    if (!this.training || this.config.alpha === 0) return this.greedySlate(this.mean, obs, k, options);
    const short = this.greedySlate(this.mean, obs, Math.max(k, this.config.shortlist), options);
    const ucb = Array.from(short.items, (item) => {
      f.phi(item, phiBuf);
      return this.mean[item]! + this.config.alpha * Math.sqrt(Math.max(0, quadForm(ainv, f.dim, phiBuf)));
    });
    const order = Array.from(ucb.keys()).sort((a, c) => ucb[c]! - ucb[a]! || short.items[a]! - short.items[c]!);
    const items = Int32Array.from(order.slice(0, k), (p) => short.items[p]!);
    return { items, scores: Float32Array.from(order.slice(0, k), (p) => ucb[p]!), propensities: new Float32Array(items.length).fill(1) };
  }

  override observe(t: Transition): boolean {
    this.stats.f.setState(t.observation);
    this.learnExtra(t);
    return super.observe(t);
  }
}

class ItemInterceptLinUcb extends ExtendedLinUcb {
  private readonly sum: Float64Array;
  private readonly count: Float64Array;
  private readonly rewardAt = new Float64Array(64);
  private readonly predAt = new Float64Array(64);
  constructor(
    ctx: AgentContext,
    config: LinUcbConfig & { shrink: number; itemBonus: number },
  ) {
    super(ctx, config);
    this.sum = new Float64Array(ctx.items.nItems);
    this.count = new Float64Array(ctx.items.nItems);
  }
  protected addTo(_obs: Observation, mean: Float64Array): void {
    const { shrink: k, itemBonus } = this.config as unknown as { shrink: number; itemBonus: number };
    // In training, an optional bonus for the intercept's own uncertainty (hybrid LinUCB's per-arm
    // term, ~1/sqrt(n + shrink)): without it an item whose first impressions were unlucky is never shown again.
    const b = this.training ? itemBonus : 0;
    for (let i = 0; i < mean.length; i++) mean[i]! += this.sum[i]! / (this.count[i]! + k) + b / Math.sqrt(this.count[i]! + k);
  }
  protected learnExtra(t: Transition): void {
    const items = t.slate.items;
    for (let p = 0; p < items.length && p < 64; p++) {
      const pred = shared(this, items[p]!);
      const r = clickedReward(t, p);
      this.rewardAt[p]! += r;
      this.predAt[p]! += pred;
      const c = this.predAt[p]! > 1 ? Math.max(0.05, this.rewardAt[p]! / this.predAt[p]!) : 1;
      this.sum[items[p]!]! += (r - c * pred) / c;
      this.count[items[p]!]! += 1;
    }
  }
}

class UserRidgeLinUcb extends ExtendedLinUcb {
  private readonly users = new Map<number, RidgeStats>();
  private readonly x: Float64Array;
  constructor(
    private readonly c: AgentContext,
    config: LinUcbConfig & { userRidge: number },
  ) {
    super(c, config);
    this.x = new Float64Array(c.items.dim + 1);
  }
  protected addTo(obs: Observation, mean: Float64Array): void {
    const s = this.users.get(obs.user);
    if (!s) return;
    s.refresh();
    const { vectors, dim } = this.c.items;
    const w = s.theta;
    for (let i = 0; i < mean.length; i++) {
      let a = w[dim]!;
      for (let j = 0; j < dim; j++) a += w[j]! * vectors[i * dim + j]!;
      mean[i]! += a;
    }
  }
  protected learnExtra(t: Transition): void {
    const u = t.observation.user;
    let s = this.users.get(u);
    if (!s) this.users.set(u, (s = new RidgeStats(this.x.length, (this.config as unknown as { userRidge: number }).userRidge)));
    const { vectors, dim } = this.c.items;
    for (let p = 0; p < t.slate.items.length; p++) {
      const it = t.slate.items[p]!;
      for (let j = 0; j < dim; j++) this.x[j] = vectors[it * dim + j]!;
      this.x[dim] = 1;
      s.add(this.x, clickedReward(t, p) - shared(this, it));
    }
  }
}

class QualityTiltLinUcb extends ExtendedLinUcb {
  constructor(
    private readonly c: AgentContext,
    config: LinUcbConfig & { beta: number; multiply: boolean },
  ) {
    super(c, config);
    if (!c.items.meanValue) throw new Error('quality tilt needs the item space\'s meanValue');
  }
  protected addTo(_obs: Observation, mean: Float64Array): void {
    const { beta, multiply } = this.config as unknown as { beta: number; multiply: boolean };
    const m = this.c.items.meanValue!;
    for (let i = 0; i < mean.length; i++) mean[i] = multiply ? mean[i]! * (1 + beta * m[i]!) : mean[i]! + beta * m[i]!;
  }
  protected learnExtra(): void {}
}

const VARIANTS: { label: string; agent: string; config: Record<string, unknown> }[] = [
  { label: 'linucb (defaults)', agent: 'linucb', config: {} },
  { label: 'item-intercept, shrink 20', agent: 'linucb-item-intercept', config: { shrink: 20 } },
  { label: 'item-intercept, shrink 5', agent: 'linucb-item-intercept', config: { shrink: 5 } },
  { label: 'item-intercept, shrink 20, bonus 0.3', agent: 'linucb-item-intercept', config: { shrink: 20, itemBonus: 0.3 } },
  { label: 'item-intercept, shrink 20, bonus 1', agent: 'linucb-item-intercept', config: { shrink: 20, itemBonus: 1 } },
  { label: 'user-ridge, ridge 30', agent: 'linucb-user-ridge', config: { userRidge: 30 } },
  { label: 'user-ridge, ridge 10', agent: 'linucb-user-ridge', config: { userRidge: 10 } },
  { label: 'profile 0.5', agent: 'linucb', config: { profile: 0.5 } },
  { label: 'profile 1', agent: 'linucb', config: { profile: 1 } },
  { label: 'quality + 0.1·m', agent: 'linucb-quality', config: { beta: 0.1, multiply: false } },
  { label: 'quality + 0.3·m', agent: 'linucb-quality', config: { beta: 0.3, multiply: false } },
  { label: 'quality × (1 + 0.3·m)', agent: 'linucb-quality', config: { beta: 0.3, multiply: true } },
  { label: 'quality × (1 + m)', agent: 'linucb-quality', config: { beta: 1, multiply: true } },
];

function register(): void {
  if (agentNames().includes('linucb-item-intercept')) return;
  const entry = (create: (ctx: AgentContext, c: Record<string, unknown>) => LinUcbAgent, extra: Record<string, unknown>) => ({
    description: 'diagnostic LinUCB extension (bench/linucb-extensions.ts)',
    defaults: { ...agentEntry('linucb').defaults, ...extra },
    learns: true,
    honoursOptions: true,
    create,
  });
  registerAgent('linucb-item-intercept', entry((ctx, c) => new ItemInterceptLinUcb(ctx, c as never), { shrink: 20, itemBonus: 0 }));
  registerAgent('linucb-user-ridge', entry((ctx, c) => new UserRidgeLinUcb(ctx, c as never), { userRidge: 30 }));
  registerAgent('linucb-quality', entry((ctx, c) => new QualityTiltLinUcb(ctx, c as never), { beta: 0, multiply: false }));
}

const preset = flag('preset', 'sim-ml-ls-v1');
const seeds = Number(flag('seeds', '2'));
const seed0 = Number(flag('seed0', '101'));
const evalSessions = Number(flag('eval', '300'));
const steps = Number(flag('steps', '20000'));
const dataDir = flag('data', '../shared/datasets/ml-latest-small');
register();
console.log(`${preset} · ${steps} training steps · seeds ${seed0}–${seed0 + seeds - 1} × ${evalSessions} evaluation sessions · code ${codeVersion()} · ${new Date().toISOString()} · load ${loadavg()[0]!.toFixed(2)}`);
console.log('| variant | return | per seed | CTR | session length |');
console.log('| --- | ---: | --- | ---: | ---: |');
const only = flag('only', '');
for (const v of VARIANTS.filter((x) => !only || only.split(',').some((o) => x.label.startsWith(o)))) {
  // One thread: the extensions are registered in this process only.
  const r = await runSimulation({ preset, dataDir, agent: v.agent, agentConfig: v.config, trainSteps: steps, seeds, firstSeed: seed0, evalSessions, workers: 1 });
  console.log(`| ${v.label} | ${r.return.mean.toFixed(3)} | ${r.perSeed.map((s) => s.return.toFixed(3)).join(', ')} | ${r.ctr.toFixed(3)} | ${r.sessionLength.toFixed(2)} |`);
}
