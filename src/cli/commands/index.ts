import type { Command } from 'commander';

/**
 * Every CLI command lives in its own module exporting `register(program)`. Add one import and
 * one entry below per command; src/cli/main.ts registers them in this order.
 */
export type RegisterCommand = (program: Command) => void;

export const COMMANDS: RegisterCommand[] = [];
