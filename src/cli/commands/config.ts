/** `chorus config`: show the validated configuration in effect, or the file's JSON Schema. */
import type { Command } from 'commander';
import { configJsonSchema, loadConfig } from '../config.js';
import { writeJson, writeOut } from '../output.js';

export function register(program: Command): void {
  program
    .command('config')
    .description('validate and print the configuration in effect (or its JSON Schema with --schema)')
    .option('--schema', 'print the JSON Schema of chorus.config.json instead')
    .action(function (this: Command) {
      const flags = this.optsWithGlobals<{ schema?: boolean; config?: string; json?: boolean }>();
      if (flags.schema) {
        writeJson(configJsonSchema());
        return;
      }
      const { config, file } = loadConfig(flags.config);
      if (flags.json) writeJson({ file: file ?? null, config });
      else writeOut(`${file ? `${file}: valid` : 'no config file (defaults in effect)'}\n${JSON.stringify(config, null, 2)}`);
    });
}
