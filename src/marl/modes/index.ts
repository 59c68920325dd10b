/** One table from coordination name to its mode (team-config.ts lists the names). */
import { checkCoordination, type Coordination } from '../team-config.js';
import { ItemCriticMode } from './item-critic.js';
import { ValueSharingMode } from './value-sharing.js';
import { CentralCriticMode } from './central-critic.js';
import { CommMode } from './comm.js';
import { IndependentMode } from './independent.js';
import type { CoordinationMode, TeamCore } from './mode.js';
import { QmixMode } from './qmix.js';
import { VdnMode } from './vdn.js';
import { WeightedVdnMode } from './weighted-vdn.js';

export type { CoordinationMode, LearnStep, TeamCore } from './mode.js';
export { CentralCriticMode, CommMode, IndependentMode, ItemCriticMode, QmixMode, ValueSharingMode, VdnMode, WeightedVdnMode };

const MODES: Record<Coordination, (core: TeamCore) => CoordinationMode> = {
  independent: (c) => new IndependentMode(c),
  vdn: (c) => new VdnMode(c),
  'weighted-vdn': (c) => new WeightedVdnMode(c),
  qmix: (c) => new QmixMode(c),
  'item-critic': (c) => new ItemCriticMode(c),
  'central-critic': (c) => new CentralCriticMode(c),
  'value-sharing': (c) => new ValueSharingMode(c),
  comm: (c) => new CommMode(c),
};

export function createMode(core: TeamCore): CoordinationMode {
  return MODES[checkCoordination(core.config.coordination)](core);
}
