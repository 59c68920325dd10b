/**
 * What the team tells about its slates: per-item contributions with evidence (explain) and the
 * per-agent weights and contribution shares over the slates it showed in evaluation (summary).
 */
import { ConfigError } from '../errors.js';
import type { Evidence } from './explain.js';
import type { FusionName } from './fusion.js';
import type { Coordination } from './team-config.js';

export interface ItemExplanation {
  item: number;
  /** Fused score = Σ of the contributions. */
  score: number;
  contributions: Record<string, number>;
  evidence: Evidence[];
}

export interface TeamSummary {
  coordination: Coordination;
  fusion: FusionName;
  /** Per agent: mean fusion weight, mean contribution to a shown item's score, share of |contribution|. */
  agents: Record<string, { weight: number; contribution: number; share: number }>;
  /** Slates the statistics cover (evaluation mode). */
  slates: number;
}

/** Running per-agent statistics of the slates shown in evaluation mode. */
export class SummaryStats {
  private readonly statW: Float64Array;
  private readonly statC: Float64Array;
  private readonly statAbs: Float64Array;
  private statItems = 0;
  private statSlates = 0;

  constructor(private readonly memberNames: string[]) {
    const m = memberNames.length;
    this.statW = new Float64Array(m);
    this.statC = new Float64Array(m);
    this.statAbs = new Float64Array(m);
  }

  /** One slate of kk items: the mode's weights w and the shown items' contributions (kk × m). */
  record(w: Float64Array, contrib: Float64Array, kk: number): void {
    const m = this.memberNames.length;
    for (let a = 0; a < m; a++) {
      this.statW[a]! += w[a]!;
      for (let p = 0; p < kk; p++) {
        this.statC[a]! += contrib[p * m + a]!;
        this.statAbs[a]! += Math.abs(contrib[p * m + a]!);
      }
    }
    this.statItems += kk;
    this.statSlates++;
  }

  summary(coordination: Coordination, fusion: FusionName): TeamSummary {
    const m = this.memberNames.length;
    const agents: TeamSummary['agents'] = {};
    let abs = 0;
    for (let a = 0; a < m; a++) abs += this.statAbs[a]!;
    for (let a = 0; a < m; a++) {
      agents[this.memberNames[a]!] = {
        weight: this.statSlates > 0 ? this.statW[a]! / this.statSlates : NaN,
        contribution: this.statItems > 0 ? this.statC[a]! / this.statItems : NaN,
        share: abs > 0 ? this.statAbs[a]! / abs : NaN,
      };
    }
    return { coordination, fusion, agents, slates: this.statSlates };
  }
}

/** Mean of several teams' summaries (one per seed): weights, contributions and shares averaged per agent. */
export function mergeTeamSummaries(list: TeamSummary[]): TeamSummary {
  if (list.length === 0) throw new ConfigError('no team summaries to merge', 'teams');
  const agents: TeamSummary['agents'] = {};
  for (const name of Object.keys(list[0]!.agents)) {
    const xs = list.map((s) => s.agents[name]!).filter((a) => a !== undefined);
    const avg = (f: (a: { weight: number; contribution: number; share: number }) => number): number => xs.reduce((t, a) => t + f(a), 0) / xs.length;
    agents[name] = { weight: avg((a) => a.weight), contribution: avg((a) => a.contribution), share: avg((a) => a.share) };
  }
  return { coordination: list[0]!.coordination, fusion: list[0]!.fusion, agents, slates: list.reduce((t, s) => t + s.slates, 0) };
}
