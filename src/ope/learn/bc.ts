/**
 * Behaviour cloning for slates: a softmax policy over items, π(i | s) ∝ exp f(s, i) with f an MLP
 * over (state, item) pair features, fitted by maximum likelihood to the logged slates read as
 * Plackett–Luce draws — position p chose the logged item among the step's candidate rows not
 * shown at positions before it (the logged slate plus sampled negatives, ./offline-agent.ts).
 * Acting takes the mode: the k items of highest f. The baseline every offline RL method must
 * beat: it reproduces the behaviour policy, exploration aside.
 */
import { Adam, Mlp, softmax } from '../../nn/index.js';
import type { AgentContext } from '../../agents/state.js';
import { grow } from '../../agents/neural.js';
import { OFFLINE_DEFAULTS, OfflineAgent, type OfflineConfig } from './offline-agent.js';
import type { LoggedStep } from './session-log.js';

export type BcConfig = OfflineConfig;

export const BC_DEFAULTS: Omit<BcConfig, 'seed'> = { ...OFFLINE_DEFAULTS };

export class BcAgent extends OfflineAgent<BcConfig> {
  readonly name = 'bc';
  readonly version = 1;
  readonly policy: Mlp;
  private readonly opt: Adam;
  private p: Float32Array = new Float32Array(0);
  private masked: Float32Array = new Float32Array(0);

  constructor(ctx: AgentContext, config: BcConfig) {
    super(ctx, config);
    this.policy = new Mlp({ sizes: [this.pairs.dim, ...config.hidden, 1] }, this.initRng);
    this.opt = new Adam(this.policy.params, this.policy.grads, { lr: config.lr, maxGradNorm: 10 });
  }

  protected scorer(): Mlp {
    return this.policy;
  }

  protected networks(): Record<string, { net: Mlp; opt?: Adam }> {
    return { policy: { net: this.policy, opt: this.opt } };
  }

  protected train(steps: LoggedStep[]): void {
    const { batchSize } = this.config;
    for (let it = 0; it < this.config.steps; it++) {
      const batch = Array.from({ length: batchSize }, () => steps[this.trainRng.int(steps.length)]!);
      this.policy.zeroGrad();
      this.batchGradient(batch, batchSize);
      this.opt.step();
    }
  }

  protected batchGradient(batch: LoggedStep[], div: number): void {
    const rows = batch.map((st) => this.stepRows(st));
    const total = this.fillBatch(batch, rows);
    const f = this.policy.forward(this.x, total);
    let o = 0;
    for (let b = 0; b < batch.length; b++) {
      const { items, logged } = rows[b]!;
      const n = items.length;
      this.p = grow(this.p, n);
      this.masked = grow(this.masked, n);
      for (let j = 0; j < n; j++) this.masked[j] = f[o + j]!;
      // Position p: softmax over rows p..n-1 (rows before p are the items already placed).
      for (let pos = 0; pos < logged; pos++) {
        softmax(this.masked, pos, n - pos, this.p);
        for (let j = pos; j < n; j++) this.g[o + j] += (this.p[j]! - (j === pos ? 1 : 0)) / (div * logged);
      }
      o += n;
    }
    this.policy.backward(this.g.subarray(0, total));
  }
}
