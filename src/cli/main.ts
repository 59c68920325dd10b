/**
 * `chorus <command>`: builds the commander program from the command table in ./commands and runs
 * it. Every failure ends as one line on stderr and a non-zero exit code, never a stack trace
 * (set CHORUS_DEBUG=1 to see one).
 */
import { Command, CommanderError } from 'commander';
import { ChorusError } from '../errors.js';
import { registerTeam } from '../marl/register.js';
import { registerOfflineAgents } from '../ope/learn/register.js';
import { COMMANDS } from './commands/index.js';
import { packageVersion } from './paths.js';

export function createProgram(): Command {
  // The one place the CLI fills the registries beyond their built-in tables: every command can
  // name the multi-agent team (`--agent team`, `--model team-blend`, saved team-blend models).
  registerTeam();
  registerOfflineAgents(); // bc, cql: agents learned from a session log (`--agent cql -p log=<file>`)
  const program = new Command();
  program
    .name('chorus')
    .description('Chorus: recommenders, evaluation and (multi-agent) reinforcement learning for Node.js')
    .version(packageVersion(), '-V, --version')
    .option('-c, --config <file>', 'config file (default: chorus.config.json/.yaml in the working directory)')
    .option('--json', 'print one JSON document on stdout instead of tables')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of COMMANDS) register(program);
  // Subcommands inherit exitOverride only if set on each (commander 14 copies settings at creation).
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/** Run the CLI; resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (err) {
    return reportError(err);
  }
}

function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // commander has already printed its message (or the help/version text)
    return err.exitCode === 0 ? 0 : err.exitCode || 1;
  }
  if (process.env.CHORUS_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  const message = err instanceof Error ? err.message : String(err);
  const code = err instanceof ChorusError ? ` [${err.code}]` : '';
  process.stderr.write(`chorus: ${message.trim().replace(/\s*\n\s*/g, ' ')}${code}\n`);
  return 1;
}
