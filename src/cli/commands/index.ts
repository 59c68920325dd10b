import type { Command } from 'commander';
import { register as attack } from './attack.js';
import { register as config } from './config.js';
import { register as demo } from './demo.js';
import { register as embed } from './embed.js';
import { register as evaluate } from './evaluate.js';
import { register as forget } from './forget.js';
import { register as importCmd } from './import.js';
import { register as list } from './list.js';
import { register as ope } from './ope.js';
import { register as recommend } from './recommend.js';
import { register as robust } from './robust.js';
import { register as serve } from './serve.js';
import { register as simulate } from './simulate.js';
import { register as train } from './train.js';
import { register as worker } from './worker.js';

/**
 * Every CLI command lives in its own module exporting `register(program)`. Add one import and
 * one entry below per command; src/cli/main.ts registers them in this order.
 */
export type RegisterCommand = (program: Command) => void;

export const COMMANDS: RegisterCommand[] = [importCmd, train, evaluate, recommend, simulate, serve, demo, config, embed, list, ope, worker, attack, robust, forget];
